"""docs/authoring.md's "Adding a notebook, end to end", followed once on its example `08_dummy`.

In a scratch copy of the course, each step is done as the doc says, with what the doc gives:
the contract entry, the cells and their nbgrader metadata (from the doc's Cells table), the
answer bank and the sample students are read from the doc's blocks. The notebook is released
with nbgrader (what `python -m autograde release 08_dummy` runs) and graded by the batch
grader; the checks are those the doc's test step runs on a real notebook.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from support.course_contract import graded_names, names_by_notebook

from autograde import pipeline
from autograde.course import release
from autograde.samples import answer_bank, sample_class, submissions
from autograde.course.release import REPO

DOC = REPO / "docs" / "authoring.md"
AID = "08_dummy"
SKELETON = ["nbgrader_config.py", "solutions", "course", "samples", "docs"]
CELL = re.compile(r"^\*\*Cell (\d+) · ([a-z ]+?)(?: · `(\w+)`)?\*\*\n\n```(\w+)\n(.*?)\n```", re.M | re.S)


def _step(title: str) -> str:
    """The text of the walk-through's step ``### N. title``, up to the next heading outside a code block."""
    lines, found, fenced = [], False, False
    for line in DOC.read_text().splitlines():
        heading = line.startswith("#") and not fenced
        if heading and found:
            break
        found = found or (heading and re.fullmatch(rf"### \d\. {re.escape(title)}", line) is not None)
        fenced = fenced != line.startswith("```")
        lines += [line] if found else []
    assert found, f"docs/authoring.md has no step '{title}'"
    return "\n".join(lines[1:]) + "\n"


def _blocks(text: str, language: str) -> list[str]:
    return [b.strip("\n") + "\n" for b in re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)]


def _flags(text: str) -> dict:
    """`solution: true, points: 2, grade_id: test_<name>` → {"solution": True, "points": 2, ...}."""
    pairs = (item.split(": ", 1) for item in text.split(", "))
    return {k: {"true": True, "false": False}.get(v, int(v) if v.isdigit() else v) for k, v in pairs}


def metadata_table() -> dict[str, dict]:
    """The Cells table of docs/authoring.md: cell kind → the nbgrader metadata it prescribes."""
    table = re.search(r"^\| cell \| nbgrader metadata \((.*?)\) \|.*?\n\|[-| ]+\|\n(.*?)\n\n", DOC.read_text(), re.M | re.S)
    common = _flags(", ".join(re.findall(r"`([^`]+)`", table.group(1))))
    rows = [row.split(" | ") for row in table.group(2).splitlines()]
    return {kind.strip("| "): {**common, **_flags(re.search(r"`([^`]+)`", meta).group(1))} for kind, meta, *_ in rows}


def notebook_from_doc() -> nbformat.NotebookNode:
    """Step 2's cells, in order, with the metadata of their row of the Cells table."""
    table, cells = metadata_table(), []
    for _, kind, grade_id, language, source in CELL.findall(_step("The notebook")):
        make = new_markdown_cell if language == "markdown" else new_code_cell
        if kind in ("markdown", "setup"):
            cells.append(make(source))
            continue
        meta = dict(table[kind])
        pattern = re.sub(r"<\w+>", r"[a-z_]+", meta["grade_id"])
        assert re.fullmatch(pattern, grade_id), f"{grade_id} does not follow the table's {meta['grade_id']}"
        cells.append(make(source, metadata={"nbgrader": {**meta, "grade_id": grade_id}}))
    nb = new_notebook(cells=cells)
    nb.metadata = nbformat.read(REPO / "solutions" / "01_gradient_descent" / "01_gradient_descent.ipynb",
                                as_version=4).metadata
    return nb


def insert_plans(class_file: Path, snippet: str) -> None:
    """Step 4: each `# in <id>'s entry` part goes at the end of that student's [[student]] entry."""
    text = class_file.read_text()
    for student, part in re.findall(r"^# in (\w+)'s entry\n(.*?)(?=^# in |\Z)", snippet, re.M | re.S):
        start = text.index(f'\nid = "{student}"\n')
        end = text.find("\n[[student]]", start)
        end = len(text) if end < 0 else end
        text = text[:end].rstrip("\n") + "\n" + part.rstrip("\n") + "\n" + text[end:]
    class_file.write_text(text)


def _student_id(answer: answer_bank.Answer) -> str:
    return f"bank_{answer.kind}_{answer.label}".replace("-", "_")


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    """The six steps in a scratch copy of the course; then every submission graded once."""
    root = tmp_path_factory.mktemp("walkthrough") / "course"
    root.mkdir()
    for name in SKELETON:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, root / name)

    # 1. The contract
    contract = root / "docs" / "course-contract.md"
    (entry,) = _blocks(_step("The contract"), "markdown")
    contract.write_text(contract.read_text().rstrip("\n") + "\n\n" + entry)
    # 2. The notebook
    notebook = root / "solutions" / AID / f"{AID}.ipynb"
    notebook.parent.mkdir()
    nbformat.write(notebook_from_doc(), notebook)
    # 3. The answer bank
    (bank,) = _blocks(_step("The answer bank"), "toml")
    (root / "samples" / "answers" / f"{AID}.toml").write_text(bank)
    # 4. Sample students
    (plans,) = _blocks(_step("Sample students"), "toml")
    insert_plans(root / "samples" / "class.toml", plans)
    # 5. Release: the doc's command, run as the CLI runs it, on the scratch copy
    assert f"python -m autograde release {AID}" in _step("Release")
    release.generate(root, [AID])
    # 6. Tests: what tests/notebooks/test_grading.py and the sample class grade, here
    answers = answer_bank.load(AID, root / "samples" / "answers")
    for base in ("solution", "untouched"):
        submissions.write(submissions.build(AID, base, root=root), root, base, AID)
    for answer in answers:
        nb = submissions.build(AID, "solution", {answer.name: answer.code}, root)
        submissions.write(nb, root, _student_id(answer), AID)
    plans = {who: plan for (who, aid), plan in sample_class.expected(root / "samples" / "class.toml").items()
             if aid == AID}
    bank = {(a.name, a.label): a.code for a in answers}
    for who, plan in plans.items():
        chosen = {name: bank[(name, label)] for name, label in plan["answers"].items()}
        submissions.write(submissions.build(AID, plan["base"], chosen, root), root, who, AID)
    settings = pipeline.Settings(assignments=[AID], progress=False, feedback=False, report=False)
    outcome = pipeline.run(root, settings)
    return root, answers, plans, {r.student: r for r in outcome.results}


def test_the_contract_entry_names_what_the_notebook_grades(walked):
    root, *_ = walked
    promised = names_by_notebook((root / "docs" / "course-contract.md").read_text())[AID]
    assert promised == graded_names(root / "solutions" / AID / f"{AID}.ipynb") == {"sigmoid"}


def test_the_cells_carry_the_tables_metadata(walked):
    root, *_ = walked
    nb = nbformat.read(root / "solutions" / AID / f"{AID}.ipynb", as_version=4)
    meta = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata}
    assert set(meta) == {"sigmoid", "test_sigmoid", "test_sigmoid_hidden", "written_saturation"}
    assert meta["sigmoid"]["solution"] and not meta["sigmoid"]["grade"]
    assert (meta["test_sigmoid"]["points"], meta["test_sigmoid_hidden"]["points"]) == (1, 2)
    assert all(m["schema_version"] == 3 and m["task"] is False for m in meta.values())


def test_the_release_shows_no_solution_or_hidden_test(walked):
    root, *_ = walked
    released = nbformat.read(root / "course" / AID / f"{AID}.ipynb", as_version=4)
    text = "\n".join(c.source for c in released.cells)
    assert "raise NotImplementedError()" in text and "YOUR ANSWER HERE" in text
    for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "1.0 / (1.0 + np.exp(-z))", "rng(8001)", "about 0.001"):
        assert secret not in text, secret


def test_the_solutions_score_full_marks_and_leave_the_written_answer(walked):
    *_, results = walked
    solved = results["solution"]
    assert not solved.error, solved.error
    assert solved.auto_score == solved.auto_max == 3, [c.message for c in solved.failed()]
    assert solved.written_pending == 1


def test_the_untouched_notebook_scores_zero(walked):
    *_, results = walked
    assert results["untouched"].auto_max == 3 and results["untouched"].auto_score == 0


def test_the_right_bank_entry_keeps_full_marks(walked):
    _, answers, _, results = walked
    (right,) = [a for a in answers if a.kind == "right"]
    result = results[_student_id(right)]
    assert not result.error and result.auto_score == result.auto_max == 3, [c.message for c in result.failed()]


def test_the_wrong_bank_entry_loses_points_naming_its_mistake(walked):
    _, answers, _, results = walked
    (wrong,) = [a for a in answers if a.kind == "wrong"]
    result = results[_student_id(wrong)]
    failed = result.failed(f"test_{wrong.name}")
    assert not result.error and failed, "the wrong answer kept every point"
    assert {wrong.tag} <= {t for c in failed for t in c.tags}, [c.message for c in failed]


def test_the_sample_students_score_as_their_plans_say(walked):
    *_, plans, results = walked
    assert set(plans) == {"ada", "ben"}
    for who, plan in plans.items():
        score, top = results[who].auto_score, results[who].auto_max
        assert {"full": score == top, "zero": score == 0}.get(plan["expect"], 0 < score < top), (who, score)
