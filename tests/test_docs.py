"""The README and docs/ stand on their own: every link and path they give resolves inside this
repository, and the course contract in docs/ names exactly what the notebooks grade."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.course_contract import graded_names, names_by_notebook

from autograde.course.release import REPO, assignments

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
# Top-level folders and files of the repository: a code span starting with one of them is a path here.
REPO_PATH = re.compile(r"^(?:(?:autograde|benchmarks|course|docs|samples|solutions|src|tests)/[\w./-]*"
                       r"|nbgrader_config\.py|Makefile|pyproject\.toml|environment\.yml)$")
OUTSIDE = re.compile(r"(?<![\w.])\.\./")
EXAMPLE_ID = "08_dummy"  # docs/authoring.md's walk-through notebook: its test creates these paths


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def _links(path: Path) -> list[str]:
    return [target for target in LINK.findall(path.read_text())
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]  # http:, https:, mailto: leave the repository


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_nothing_points_outside_the_repository(doc):
    text = doc.read_text()
    outside = sorted({line.strip() for line in text.splitlines() if OUTSIDE.search(line)})
    assert not outside, f"{doc.name} points outside the repository: {outside}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve_inside_the_repository(doc):
    broken = []
    for target in _links(doc):
        file_part, _, anchor = target.partition("#")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        if target.startswith("/") or not resolved.is_relative_to(REPO) or not resolved.exists():
            broken.append(f"{target}: not a file of this repository")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    assert not broken, f"{doc.name}: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_paths_named_in_code_exist(doc):
    named = {span for span in CODE_SPAN.findall(doc.read_text())
             if REPO_PATH.match(span) and not re.search(r"[<*{]", span) and EXAMPLE_ID not in span}
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert not missing, f"{doc.name} names paths this repository does not have: {missing}"


def test_the_link_check_catches_a_link_outside(tmp_path):
    """The control: a page with the README's old pointer and a dangling link fails both checks."""
    page = tmp_path / "page.md"
    page.write_text("The contract is `../shared/course-contract.md`; see [deploy](missing.md).\n")
    assert OUTSIDE.search(page.read_text())
    assert [t for t in _links(page) if not (page.parent / t).exists()] == ["missing.md"]


CONTRACT = REPO / "docs" / "course-contract.md"


def test_the_contract_has_a_section_for_every_notebook_and_no_other():
    sections = set(names_by_notebook(CONTRACT.read_text()))
    assert sections == set(assignments()), f"contract sections {sorted(sections)} vs notebooks {assignments()}"


@pytest.mark.parametrize("assignment", assignments())
def test_the_contract_names_exactly_the_graded_answer_cells(assignment):
    promised = names_by_notebook(CONTRACT.read_text())[assignment]
    graded = graded_names(REPO / "solutions" / assignment / f"{assignment}.ipynb")
    assert promised == graded, (f"{assignment}: only in the contract {sorted(promised - graded)}, "
                                f"only in the notebook {sorted(graded - promised)}")
