"""What the trusted checker needs from the course's own notebook (never from the submission):
its code cells in order, the test cells with their hidden tests, and the names students define.
"""
from __future__ import annotations

import ast
import functools
import re

import nbformat

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


def mark_needed(cells: list[dict]) -> None:
    """A course cell runs in the checker only if the test cells after it need a name it binds
    (directly or through another needed cell). The others (plots, demonstrations that train a
    network through the student's functions) only cost time there: the student's kernel runs them."""
    needed: set[str] = set()
    for cell in reversed(cells):
        names = names_in(cell["source"])
        if cell["kind"] == "test":
            needed |= names[1] if names else set()
            continue
        cell["needed"] = names is None or bool(names[0] & needed)
        if cell["needed"] and names:
            needed |= names[1]


def spec(source_notebook: str) -> dict:
    """{"cells": [{"kind": "setup"|"test", "source", "grade_id"} (setup cells: "defines", "needed")], "student_names": [...],
    "tests": {grade_id: the test cell}} from the course's source notebook (JSON text)."""
    nb = nbformat.reads(source_notebook, as_version=4)
    cells, student, instructor, tests = [], [], set(), {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = _nbgrader(cell)
        if meta.get("solution"):
            student += defined_names(cell.source)
        elif is_test(cell):
            cells.append({"kind": "test", "grade_id": meta["grade_id"], "source": _python(cell.source)})
            tests[meta["grade_id"]] = nbformat.from_dict(cell)
        else:
            cells.append({"kind": "setup", "grade_id": meta.get("grade_id"), "source": _python(cell.source),
                          "defines": defined_names(cell.source)})
            instructor.update(defined_names(cell.source))
    names = [n for n in dict.fromkeys(student) if n not in instructor]
    mark_needed(cells)
    return {"cells": cells, "student_names": names, "tests": tests}
