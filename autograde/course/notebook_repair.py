"""Give a damaged submission back the nbgrader metadata of the released notebook, cell by cell.

Students damage the metadata nbgrader grades by: a test cell turned into an answer cell while
editing, every cell's metadata stripped by another editor, grade ids renamed, cells copied. Plain
nbgrader then refuses the whole notebook ("Notebook failed to validate") or silently drops the
written answers from hand grading. `repair(submitted, released)` matches each cell of the released
notebook (course/<id>/<id>.ipynb) to one cell of the submission — by grade id, then by cell id,
then by position and content — and gives every matched cell that nbgrader tracks (answer, test,
locked cells) the released cell's nbgrader metadata and cell type. A cell that claims nbgrader
metadata but matches no released cell loses that metadata and stays as an ordinary cell, so it
can earn nothing. Sources are never changed here: nbgrader's own `OverwriteCells` then puts back
the locked cells (the tests) from the gradebook. Repairs never raise a score above what the
answers earn: points and tests come from the course, never from the submission.
"""
from __future__ import annotations

import copy
from difflib import SequenceMatcher

#: Least likeness of two sources (0..1) for a cell to match a released cell by content alone.
SAME_CONTENT = 0.6
_FLAGS = ("grade", "solution", "locked", "task")


def _meta(cell) -> dict:
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def _tracked(cell) -> bool:
    """A released cell nbgrader records in the gradebook (it has a grade id)."""
    return bool(_meta(cell).get("grade_id"))


def _claims(cell) -> bool:
    """A submitted cell whose metadata says nbgrader should grade, lock or record it."""
    meta = _meta(cell)
    return bool(meta.get("grade_id")) or any(meta.get(flag) for flag in _FLAGS)


def _role(meta: dict, cell_type: str) -> str:
    if meta.get("solution"):
        return "written answer" if cell_type == "markdown" else "answer"
    if meta.get("grade"):
        return "test" if cell_type == "code" else "graded cell"
    return "task" if meta.get("task") else "locked cell"


def _likeness(a: str, b: str) -> float:
    """How alike two sources are, 0..1: by lines for longer sources, by characters for short ones."""
    if a == b:
        return 1.0
    lines_a, lines_b = a.splitlines(), b.splitlines()
    if max(len(lines_a), len(lines_b)) > 3:
        matcher = SequenceMatcher(None, lines_a, lines_b, autojunk=False)
    else:
        matcher = SequenceMatcher(None, a[:400], b[:400], autojunk=False)
    if matcher.real_quick_ratio() < 0.3 or matcher.quick_ratio() < 0.3:
        return 0.0
    return matcher.ratio()


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


# ---- matching ---------------------------------------------------------------------------------

def match(submitted: list, released: list) -> dict[int, tuple[int, str]]:
    """released index → (submitted index, "grade id" | "cell id" | "position and content")."""
    pairs = _by_grade_id(submitted, released)
    taken = {j for j, _ in pairs.values()}
    by_id = {cell.get("id"): i for i, cell in enumerate(released) if cell.get("id")}
    for j, cell in enumerate(submitted):
        i = by_id.get(cell.get("id"))
        if i is not None and i not in pairs and j not in taken:
            pairs[i] = (j, "cell id")
            taken.add(j)
    chain = _increasing(sorted((i, j) for i, (j, _) in pairs.items()))
    for (i0, j0), (i1, j1) in zip([(-1, -1)] + chain, chain + [(len(released), len(submitted))]):
        free_r = [i for i in range(i0 + 1, i1) if i not in pairs]
        free_s = [j for j in range(j0 + 1, j1) if j not in taken]
        for i, j in _align(free_r, free_s, released, submitted):
            pairs[i] = (j, "position and content")
    return pairs


def _by_grade_id(submitted: list, released: list) -> dict[int, tuple[int, str]]:
    """Released tracked cells claimed by grade id; of several claimants, the one with the same
    cell id, else (locked cells) the most alike, else the last (as nbgrader's DeduplicateIds)."""
    index = {_meta(cell)["grade_id"]: i for i, cell in enumerate(released) if _tracked(cell)}
    claims: dict[int, list[int]] = {}
    for j, cell in enumerate(submitted):
        i = index.get(_meta(cell).get("grade_id"))
        if i is not None:
            claims.setdefault(i, []).append(j)
    pairs = {}
    for i, candidates in claims.items():
        same_id = [j for j in candidates if released[i].get("id") and submitted[j].get("id") == released[i]["id"]]
        if same_id:
            j = same_id[0]
        elif _meta(released[i]).get("locked"):
            j = max(reversed(candidates), key=lambda k: _likeness(_source(released[i]), _source(submitted[k])))
        else:
            j = candidates[-1]
        pairs[i] = (j, "grade id")
    return pairs


def _increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of pairs increasing in both indices (anchors that keep the cells' order)."""
    best: list[list[tuple[int, int]]] = []
    for pair in pairs:
        chains = [chain for chain in best if chain[-1][1] < pair[1]]
        best.append((max(chains, key=len) if chains else []) + [pair])
    return max(best, key=len) if best else []


def _score(r, s) -> float | None:
    """How well submitted cell ``s`` stands in for released cell ``r`` at the same place, or None."""
    if r.get("cell_type") != s.get("cell_type"):
        return None
    likeness = _likeness(_source(r), _source(s))
    claims = 0.3 if _claims(s) else 0.0
    if _meta(r).get("solution"):  # the student replaced the stub: place matters, content little
        return 0.5 + claims + 0.2 * likeness
    if likeness >= SAME_CONTENT:
        return likeness + claims
    if _tracked(r) and claims:  # a cell that says it is graded, where a graded cell was
        return 0.4 + likeness / 4
    return None


def _align(free_r: list[int], free_s: list[int], released: list, submitted: list) -> list[tuple[int, int]]:
    """Best order-keeping pairing of the unmatched cells between two anchors (dynamic programming)."""
    n, m = len(free_r), len(free_s)
    if not n or not m:
        return []
    score = [[_score(released[i], submitted[j]) for j in free_s] for i in free_r]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for a in range(1, n + 1):
        for b in range(1, m + 1):
            here = score[a - 1][b - 1]
            best[a][b] = max(best[a - 1][b], best[a][b - 1],
                             best[a - 1][b - 1] + here if here is not None else float("-inf"))
    found, a, b = [], n, m
    while a and b:
        here = score[a - 1][b - 1]
        if here is not None and best[a][b] == best[a - 1][b - 1] + here:
            found.append((free_r[a - 1], free_s[b - 1]))
            a, b = a - 1, b - 1
        elif best[a][b] == best[a - 1][b]:
            a -= 1
        else:
            b -= 1
    return found[::-1]


# ---- repairing --------------------------------------------------------------------------------

def _what_changed(have: dict, want: dict, cell_type: str, was_type: str) -> str:
    if not have:
        words = ["nbgrader metadata missing"]
    elif have.get("grade_id") not in (None, want["grade_id"]):
        words = [f"grade id was {have['grade_id']!r}"]
    else:
        words = []
    if have:
        before, after = _role(have, was_type) if any(have.get(f) for f in _FLAGS) else "ordinary cell", \
            _role(want, cell_type)
        if before != after:
            words.append(f"had been made {'an' if before[0] in 'aeiou' else 'a'} {before}")
        flags = [f for f in (*_FLAGS, "points") if have.get(f) != want.get(f)]
        if flags and before == after:
            words.append(", ".join(flags) + " changed")
    if was_type != cell_type:
        words.append(f"had been turned into a {was_type} cell")
    return "; ".join(words) or "other nbgrader fields changed"


def _set_type(cell, cell_type: str) -> None:
    """Turn a cell into ``cell_type`` as nbgrader's OverwriteCells.update_cell_type does."""
    cell["cell_type"] = cell_type
    if cell_type == "code":
        cell["outputs"], cell["execution_count"] = [], None
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


class Unmatched(ValueError):
    """The submission is not a copy of the released notebook (another assignment's, say)."""


def _foreign(cells: list, reference: list) -> str | None:
    """Why the submission cannot be the released notebook, or None: it has graded cells, yet none
    of their grade ids and none of its cell ids is the released notebook's."""
    claimed = sorted({_meta(c)["grade_id"] for c in cells if _claims(c) and _meta(c).get("grade_id")})
    known = {_meta(c)["grade_id"] for c in reference if _tracked(c)}
    ids = {c.get("id") for c in reference if c.get("id")}
    if not claimed or set(claimed) & known or any(c.get("id") in ids for c in cells):
        return None
    listing = ", ".join(map(repr, claimed[:4])) + (", …" if len(claimed) > 4 else "")
    return (f"none of its graded cells ({listing}) and none of its cell ids is in the released notebook "
            "(is it another assignment's notebook?)")


def repair(submitted, released) -> list[str]:
    """Restore ``submitted``'s nbgrader metadata (in place) from ``released``; plain-words notes.
    Raises `Unmatched` for a notebook that shares no grade id and no cell id with ``released``
    though it has graded cells."""
    cells, reference = submitted.cells, released.cells
    why = _foreign(cells, reference)
    if why:
        raise Unmatched(why)
    pairs = match(cells, reference)
    restored: dict[str, list[str]] = {}
    dropped, missing = [], []
    kept = set()
    for i, (j, how) in sorted(pairs.items()):
        r, s = reference[i], cells[j]
        if not _tracked(r):
            continue
        kept.add(j)
        want, have, was_type = _meta(r), _meta(s), s.get("cell_type")
        if have == want and was_type == r["cell_type"]:
            continue
        restored.setdefault(f"{_what_changed(have, want, r['cell_type'], was_type)}; matched by {how}",
                            []).append(repr(want["grade_id"]))
        if was_type != r["cell_type"]:
            _set_type(s, r["cell_type"])
        s.setdefault("metadata", {})["nbgrader"] = copy.deepcopy(want)
    for j, s in enumerate(cells):
        if j in kept or "nbgrader" not in s.get("metadata", {}):
            continue
        meta = s["metadata"].pop("nbgrader")
        if _claims({"metadata": {"nbgrader": meta}}):
            points = meta.get("points")
            points = f", {points:g} point{'s' * (points != 1)}" if isinstance(points, (int, float)) else ""
            dropped.append(f"cell {j + 1} ({_role(meta, s.get('cell_type', ''))} {meta.get('grade_id', '')!r}"
                           f"{points})")
    for i, r in enumerate(reference):
        if _tracked(r) and i not in pairs:
            missing.append(f"{_role(_meta(r), r['cell_type'])} {_meta(r)['grade_id']!r}")
    notes = []
    if restored:
        notes.append("nbgrader metadata restored from the released notebook: "
                     + "; ".join(f"{', '.join(ids)} ({why})" for why, ids in restored.items()))
    if dropped:
        notes.append("nbgrader metadata ignored where it matches no cell of the released notebook, so these "
                     "cells are graded as ordinary cells and earn nothing: " + ", ".join(dropped))
    if missing:
        notes.append("not found in the notebook: " + ", ".join(missing))
    return notes
