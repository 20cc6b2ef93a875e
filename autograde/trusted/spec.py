"""What the trusted checker needs from the course's own notebook (never from the submission):
its code cells in order, the test cells with their hidden tests, and the names students define.
"""
from __future__ import annotations

import ast
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


def spec(source_notebook: str) -> dict:
    """{"cells": [{"kind": "setup"|"test", "source", "grade_id"}], "student_names": [...],
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
    return {"cells": cells, "student_names": names, "tests": tests}
