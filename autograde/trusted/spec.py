"""What the trusted checker needs from the course's own notebook (never from the submission):
its code cells in order, the test cells with their hidden tests, and the names students define
(a `Spec`, built once per assignment by `spec`).
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import re
from dataclasses import dataclass

import nbformat
from nbformat.notebooknode import NotebookNode

_MAGIC = re.compile(r"^(\s*)([%!].*)$", re.MULTILINE)


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test(cell) -> bool:
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _python(source: str) -> str:
    """Cell source with IPython magics and shell escapes turned into comments."""
    return _MAGIC.sub(r"\1# \2", source)


def defined_names(source: str) -> list[str]:
    """Names a cell binds at top level by def, class or assignment (imports are not answers)."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(names))


@functools.lru_cache(maxsize=4096)
def names_in(source: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """(names the cell binds at top level, imports included; every name it mentions anywhere),
    or None when that cannot be known (a syntax error, a star import). Worked out once per
    distinct source in a process (the course's cells recur in every notebook)."""
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return None
    binds, mentions = set(defined_names(source)), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return None
        if isinstance(node, (ast.Import, ast.ImportFrom)) and node in tree.body:
            binds.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name):
            mentions.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            mentions.add(node.value)  # globals()["name"], defined("name", globals())
    for node in tree.body:  # for-loop and with targets bound at top level
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store) \
                    and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                binds.add(inner.id)
    return frozenset(binds), frozenset(mentions)


@dataclass(frozen=True)
class CourseCell:
    """A code cell of the course's notebook as the checker runs it (magics turned into comments)."""
    kind: str  # "setup" (the instructor's own code) or "test"
    grade_id: str | None
    source: str
    defines: tuple[str, ...] = ()  # a setup cell's names, bound at top level
    needed: bool = True  # a setup cell a later test cell needs (`needed_only`); the others are skipped

    @property
    def is_test(self) -> bool:
        return self.kind == "test"

    def wire(self) -> dict:
        """As the checker's task file holds it (JSON)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, data: dict) -> CourseCell:
        return cls(data["kind"], data["grade_id"], data["source"], tuple(data.get("defines", ())),
                   data.get("needed", True))


@dataclass(frozen=True)
class Spec:
    """What the trusted checker needs of one course notebook."""
    cells: tuple[CourseCell, ...]  # its code cells but the answers, in order
    student_names: tuple[str, ...]  # names the students' answer cells define
    tests: dict[str, NotebookNode]  # grade_id → the course's test cell (restored if a submission lost it)

    def only(self, grade_ids: set[str]) -> Spec:
        """This spec with only the test cells ``grade_ids`` (and the setup cells they need)."""
        cells = [c for c in self.cells if not c.is_test or c.grade_id in grade_ids]
        return Spec(needed_only(cells), self.student_names, {g: c for g, c in self.tests.items() if g in grade_ids})


def needed_only(cells) -> tuple[CourseCell, ...]:
    """The cells, each setup cell marked needed only if the test cells after it need a name it binds
    (directly or through another needed cell). The others (plots, demonstrations that train a
    network through the student's functions) only cost time in the checker: the student's kernel runs them."""
    needed: set[str] = set()
    marked = []
    for cell in reversed(cells):
        names = names_in(cell.source)
        if cell.is_test:
            needed |= names[1] if names else set()
            marked.append(cell)
            continue
        keep = names is None or bool(names[0] & needed)
        if keep and names:
            needed |= names[1]
        marked.append(dataclasses.replace(cell, needed=keep))
    return tuple(reversed(marked))


def spec(source_notebook: str) -> Spec:
    """The `Spec` of the course's source notebook (JSON text)."""
    nb = nbformat.reads(source_notebook, as_version=4)
    cells, student, instructor, tests = [], [], set(), {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = _nbgrader(cell)
        if meta.get("solution"):
            student += defined_names(cell.source)
        elif is_test(cell):
            cells.append(CourseCell("test", meta["grade_id"], _python(cell.source)))
            tests[meta["grade_id"]] = nbformat.from_dict(cell)
        else:
            cells.append(CourseCell("setup", meta.get("grade_id"), _python(cell.source),
                                    tuple(defined_names(cell.source))))
            instructor.update(defined_names(cell.source))
    names = tuple(n for n in dict.fromkeys(student) if n not in instructor)
    return Spec(needed_only(cells), names, tests)
