"""The answer bank: alternative correct answers and plausible wrong ones, per assignment.

Stored as data in samples/answers/<assignment>.toml (see docs/authoring.md). The tests grade
every entry with the real nbgrader; the sample class reuses entries by name and label.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from autograde import bundled

BANK_DIR = bundled.SAMPLES / "answers"


@dataclass(frozen=True)
class Answer:
    assignment: str
    name: str
    label: str
    kind: str  # "right" or "wrong"
    code: str
    tag: str = ""

    @property
    def key(self) -> str:
        return f"{self.assignment}:{self.name}:{self.label}"


def load(assignment: str, bank_dir: Path = BANK_DIR) -> list[Answer]:
    """Every entry of one assignment's answer bank (an empty list when it has none)."""
    path = bank_dir / f"{assignment}.toml"
    if not path.exists():
        return []
    entries = tomllib.loads(path.read_text())["answer"]
    answers = [Answer(assignment, e["name"], e["label"], e["kind"], e["code"].strip("\n") + "\n", e.get("tag", ""))
               for e in entries]
    for a in answers:
        if a.kind not in ("right", "wrong") or (a.kind == "wrong") != bool(a.tag):
            raise ValueError(f"{path}: {a.name}/{a.label}: a wrong answer needs a tag, a right one none")
    labels = [(a.name, a.label) for a in answers]
    if len(labels) != len(set(labels)):
        raise ValueError(f"{path}: two entries share a name and label")
    return answers


def find(assignment: str, name: str, label: str) -> Answer:
    for answer in load(assignment):
        if (answer.name, answer.label) == (name, label):
            return answer
    raise KeyError(f"no answer {name}/{label} in the {assignment} answer bank")
