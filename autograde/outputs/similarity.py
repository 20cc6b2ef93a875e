"""Similar answers: pairs of submissions whose answer cells are unusually alike, as leads for a person.

What it does. For one assignment, every answer cell (nbgrader metadata ``solution: true``) of every
submission is turned into a stream of normalised tokens. Code is parsed and rewritten by
``ast.unparse`` (parentheses, quotes and line breaks settled the same way for everyone), then read by
Python's own tokenizer: comments and layout are dropped, every identifier a student chooses becomes
``V``, every number ``N``, every string ``S``; keywords, operators, builtins and attribute names such
as ``np.mean`` are kept, since they carry the structure. Written answers (markdown) become lower-case
words, numbers ``N``, sentence by sentence. A cell's fingerprints are its token k-grams, as in MOSS
(Schleimer, Wilkerson and Aiken, "Winnowing", SIGMOD 2003) but keeping every k-gram: answer cells
are a few lines long, so winnowing would drop most of the evidence and buys no speed at class scale.

Two submissions are compared by the weighted Jaccard similarity of their fingerprints, cell by cell
and summed over the submission. A fingerprint's weight is its rarity in the class, ln((N + 1) / n)
for N submissions of which n hold it in the same cell, so what every solution shares (a signature,
``return``, the obvious one-liner) counts for almost nothing. Fingerprints of the released notebook
and of the model solution weigh zero: handing back the starter code or the textbook answer is not a
sign of copying. A pair is a lead when its score reaches ``LEAD_SCORE`` and what it shares is worth
``MIN_EVIDENCE`` fingerprints that no other submission holds, a line or two of code: two students who
both write the same one-line alternative to the model answer share about six, and are not a lead.

Why. Renaming variables, rewording comments, reformatting, changing constants and reordering helper
functions leave the token k-grams (nearly) intact, while independent answers to the same question
differ in structure. A lead is a place to start reading, never a verdict: students may work together
as allowed, use a common source, or write a short answer the only sensible way. Everything is
computed on this machine from the course folder; nothing is uploaded, and student code is parsed,
never run. The evidence a person needs, the two cells side by side with the lines that agree
marked, comes from ``align``.
"""
from __future__ import annotations

import ast
import builtins
import difflib
import functools
import json
import keyword
import math
import re
import tokenize
from dataclasses import dataclass, field
from io import StringIO
from itertools import combinations
from pathlib import Path
from statistics import median
from typing import Iterable

CODE_K = 5  # tokens per code fingerprint
PROSE_K = 3  # words per written-answer fingerprint
LEAD_SCORE = 0.5  # weighted Jaccard over the submission from which a pair is a lead
MIN_EVIDENCE = 8.0  # and what the two share, in fingerprints that only they hold
MAX_LEADS = 20  # leads shown in the report; the rest are counted
MAX_BLOCKS = 60  # top-level statements per cell paired by likeness; beyond, the cells are aligned as wholes
PAIRING_TOKENS = 400  # tokens of two blocks compared to pair them side by side (difflib is quadratic)
MAX_CELL_CHARS = 20_000  # of a cell's text compared and aligned (a pasted data dump is not an answer)

_KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
_DROPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
_ROUGH = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\S")


@dataclass(frozen=True)
class AnswerCell:
    key: str  # the cell's grade_id (notebook/grade_id when an assignment has several notebooks)
    kind: str  # "code" or "markdown"
    source: str


@dataclass
class Submission:
    student: str
    assignment: str
    cells: dict[str, AnswerCell] = field(default_factory=dict)


@dataclass
class CellEvidence:
    key: str
    score: float  # weighted Jaccard of this cell's fingerprints
    shared: float  # the weight the two cells share
    left: AnswerCell
    right: AnswerCell


@dataclass
class Pair:
    assignment: str
    left: str  # student ids, in sorted order
    right: str
    score: float  # weighted Jaccard over all answer cells
    shared: float  # the weight of all fingerprints the two share
    cells: list[CellEvidence]  # the cells that share anything, most shared first
    rare: float = 1.0  # the weight of a fingerprint held by these two submissions alone

    @property
    def evidence(self) -> float:
        """What the two share, counted in fingerprints that no other submission holds."""
        return self.shared / self.rare

    @property
    def is_lead(self) -> bool:
        return self.score >= LEAD_SCORE and self.evidence >= MIN_EVIDENCE


# --- normalisation -------------------------------------------------------------------------------

def code_tokens(source: str) -> list[str]:
    """The cell's Python tokens with names, numbers, strings, comments and layout normalised.

    Code that parses is first rewritten by ``ast.unparse``, which settles parentheses, quotes and
    line breaks the same way for everyone; code that does not is read as it is."""
    try:
        source = ast.unparse(ast.parse(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # deeply nested or broken: as written
        pass
    try:
        raw = list(tokenize.generate_tokens(StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):  # unfinished code: a rougher reading
        return _rough_tokens(source)
    tokens: list[str] = []
    for token in raw:
        if token.type in _DROPPED:
            continue
        tokens.append(_normal(token, tokens[-1] if tokens else ""))
    return tokens


def _rough_tokens(source: str) -> list[str]:
    tokens: list[str] = []
    for word in _ROUGH.findall(_without_comments(source)):
        if word[0].isdigit():
            tokens.append("N")
        elif word[0].isalpha() or word[0] == "_":
            tokens.append(_name(word, tokens[-1] if tokens else ""))
        else:
            tokens.append(word)
    return tokens


def _name(name: str, previous: str) -> str:
    return name if name in _KEPT_NAMES or previous == "." else "V"


def _normal(token: tokenize.TokenInfo, previous: str) -> str:
    if token.type == tokenize.NAME:
        return _name(token.string, previous)
    return {tokenize.NUMBER: "N", tokenize.STRING: "S", tokenize.NEWLINE: ";", tokenize.INDENT: "{",
            tokenize.DEDENT: "}"}.get(token.type, token.string)


def _without_comments(source: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in source.splitlines())


def prose_tokens(text: str) -> list[str]:
    """A written answer's words in lower case, numbers as N."""
    return ["N" if word[0].isdigit() else word for word in re.findall(r"[^\W_]+", text.lower())]


def sentences(text: str) -> list[str]:
    return [part for part in re.split(r"(?<=[.!?;:])\s+|\n\s*\n", text) if part.strip()]


def fingerprints(cell: AnswerCell) -> frozenset[tuple[str, ...]]:
    """The cell's k-grams of normalised tokens; a written answer's never span two sentences, so
    sentences put in another order keep theirs."""
    return _fingerprints(cell.kind, cell.source)


@functools.lru_cache(maxsize=4096)  # many cells are the same text (starter code, model answers)
def _fingerprints(kind: str, source: str) -> frozenset[tuple[str, ...]]:
    source = source[:MAX_CELL_CHARS]
    if kind == "code":
        return _kgrams(code_tokens(source), CODE_K)
    return frozenset().union(*(_kgrams(prose_tokens(sentence), PROSE_K) for sentence in sentences(source)))


def _kgrams(stream: list[str], k: int) -> frozenset[tuple[str, ...]]:
    """Every run of k tokens (the whole stream when it is shorter)."""
    if len(stream) <= k:
        return frozenset([tuple(stream)]) if stream else frozenset()
    return frozenset(tuple(stream[i:i + k]) for i in range(len(stream) - k + 1))


# --- comparison ----------------------------------------------------------------------------------

def compare(submissions: list[Submission], common: Iterable[AnswerCell] = ()) -> list[Pair]:
    """Every pair of one assignment's submissions, most alike first.

    ``common`` are cells whose fingerprints weigh nothing: the released notebook and the model solution.
    """
    discounted = frozenset().union(*(fingerprints(cell) for cell in common))
    prints = {s.student: {key: fingerprints(cell) - discounted for key, cell in s.cells.items()}
              for s in submissions}
    weights = _rarity(list(prints.values()))
    mass = {student: {key: _weigh(found, weights[key]) for key, found in cells.items()}
            for student, cells in prints.items()}
    by_student = {s.student: s for s in submissions}
    pairs = []
    for left, right in combinations(sorted(by_student), 2):
        evidence, shared, union = [], 0.0, 0.0
        for key in sorted(set(prints[left]) | set(prints[right])):
            a, b = prints[left].get(key, frozenset()), prints[right].get(key, frozenset())
            common_weight = _weigh(a & b, weights.get(key, {}))
            cell_union = mass[left].get(key, 0.0) + mass[right].get(key, 0.0) - common_weight
            shared, union = shared + common_weight, union + cell_union
            if common_weight > 0:
                evidence.append(CellEvidence(key, common_weight / cell_union, common_weight,
                                             by_student[left].cells[key], by_student[right].cells[key]))
        evidence.sort(key=lambda e: (-e.shared, e.key))
        pairs.append(Pair(submissions[0].assignment, left, right, shared / union if union else 0.0, shared, evidence,
                          _rare(len(submissions))))
    return sorted(pairs, key=lambda p: (-p.score, -p.shared, p.left, p.right))


def _rarity(cells_by_student: list[dict[str, frozenset]]) -> dict[str, dict[tuple, float]]:
    """cell key → fingerprint → ln((N + 1) / n), n the submissions holding it in that cell."""
    holders: dict[str, dict[tuple, int]] = {}
    for cells in cells_by_student:
        for key, found in cells.items():
            counts = holders.setdefault(key, {})
            for gram in found:
                counts[gram] = counts.get(gram, 0) + 1
    total = len(cells_by_student)
    return {key: {gram: math.log((total + 1) / n) for gram, n in counts.items()} for key, counts in holders.items()}


def _rare(total: int) -> float:
    return math.log((total + 1) / 2)


def _weigh(found: frozenset, weights: dict[tuple, float]) -> float:
    return sum(weights.get(gram, 0.0) for gram in found)


def ranked(pairs: Iterable[Pair]) -> list[Pair]:
    """Leads first, most alike first; then the other pairs in the same order."""
    return sorted(pairs, key=lambda p: (not p.is_lead, -p.score, -p.evidence, p.assignment, p.left, p.right))


def typical_score(pairs: list[Pair]) -> float:
    """The median pair's score: what 'alike' means in this assignment."""
    return median(p.score for p in pairs) if pairs else 0.0


# --- evidence, side by side ----------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    left_line: int | None  # 1-based line number in the left cell, None where it has no line here
    left: str
    right_line: int | None
    right: str
    agreement: str  # "identical", "same after normalising", "differs", "only on one side"


def align(left: AnswerCell, right: AnswerCell) -> list[Row]:
    """The two cells line by line: top-level blocks (functions, statements, paragraphs) paired by
    likeness, so reordered helpers still face each other; then lines within each pair of blocks."""
    left_blocks, right_blocks = _blocks(left), _blocks(right)
    if max(len(left_blocks), len(right_blocks)) > MAX_BLOCKS:  # pairing is quadratic: one block each
        left_blocks, right_blocks = [sum(left_blocks, [])], [sum(right_blocks, [])]
    theirs = [_block_tokens(block, right.kind) for block in right_blocks]
    unused = list(range(len(right_blocks)))
    rows: list[Row] = []
    for block in left_blocks:
        partner = _best_partner(_block_tokens(block, left.kind), theirs, unused)
        if partner is None:
            rows += _lines(block, [], left.kind)
        else:
            unused.remove(partner)
            rows += _lines(block, right_blocks[partner], left.kind)
    for index in unused:
        rows += _lines([], right_blocks[index], left.kind)
    return rows


Block = list[tuple[int, str]]  # (line number, text)


def _blocks(cell: AnswerCell) -> list[Block]:
    text = cell.source[:MAX_CELL_CHARS]
    lines = list(enumerate(text.splitlines(), 1))
    if cell.kind == "code":
        try:
            ends = [node.end_lineno for node in ast.parse(text).body]
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            ends = []
    else:
        ends = [number for number, text in lines if not text.strip()]  # paragraphs
    blocks, start = [], 0
    for end in ends + [len(lines)]:
        block = [(n, t) for n, t in lines[start:end]]
        if any(t.strip() for _, t in block):
            blocks.append(block)
        start = max(start, end)
    return blocks


def _normalised(text: str, kind: str) -> list[str]:
    return code_tokens(text) if kind == "code" else prose_tokens(text)


def _block_tokens(block: Block, kind: str) -> list[str]:
    return _normalised("\n".join(text for _, text in block), kind)[:PAIRING_TOKENS]


def _best_partner(mine: list[str], candidates: list[list[str]], unused: list[int]) -> int | None:
    """The unused candidate most like ``mine`` (at least half alike), judged on their first tokens."""
    best, best_ratio = None, 0.5
    for index in unused:
        ratio = difflib.SequenceMatcher(None, mine, candidates[index], autojunk=False).ratio()
        if ratio > best_ratio:
            best, best_ratio = index, ratio
    return best


def _lines(left: Block, right: Block, kind: str) -> list[Row]:
    key = [" ".join(_normalised(t.strip(), kind)) for _, t in left]
    other = [" ".join(_normalised(t.strip(), kind)) for _, t in right]
    rows = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, key, other, autojunk=False).get_opcodes():
        if tag == "equal":
            for (ln, lt), (rn, rt) in zip(left[i1:i2], right[j1:j2]):
                same = "identical" if lt.strip() == rt.strip() else "same after normalising"
                rows.append(Row(ln, lt, rn, rt, same))
            continue
        mine, theirs = left[i1:i2], right[j1:j2]
        for index in range(max(len(mine), len(theirs))):
            ln, lt = mine[index] if index < len(mine) else (None, "")
            rn, rt = theirs[index] if index < len(theirs) else (None, "")
            rows.append(Row(ln, lt, rn, rt, "differs" if ln and rn else "only on one side"))
    return rows


# --- reading a course folder ---------------------------------------------------------------------

def _cells(notebook: Path) -> list[dict]:
    """The notebook's cells as plain JSON, with each source as one string ([] when it cannot be read).
    Plain JSON rather than nbformat: only sources and metadata are needed, and validating every
    submission again would double the section's time."""
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8", errors="replace"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    readable = []
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, dict) and cell.get("cell_type") in ("code", "markdown"):
            source = cell.get("source", "")
            readable.append({**cell, "source": "".join(source) if isinstance(source, list) else str(source)})
    return readable


def answer_cells(notebook: Path, strip_markers: bool = False) -> dict[str, AnswerCell]:
    """grade_id → the answer cell of one notebook ({} when it cannot be read)."""
    found = {}
    for cell in _cells(notebook):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and meta.get("solution") and meta.get("grade_id"):
            source = cell["source"]
            if strip_markers:
                source = "\n".join(line for line in source.splitlines() if not _MARKER.match(line))
            found[meta["grade_id"]] = AnswerCell(meta["grade_id"], cell["cell_type"], source)
    return found


def _code_cells(notebook: Path) -> list[AnswerCell]:
    return [AnswerCell("", cell["cell_type"], cell["source"]) for cell in _cells(notebook)]


def _notebook_cells(folder: Path, strip_markers: bool = False) -> dict[str, AnswerCell]:
    notebooks = sorted(Path(folder).glob("*.ipynb"))
    cells = {}
    for notebook in notebooks:
        for grade_id, cell in answer_cells(notebook, strip_markers).items():
            key = grade_id if len(notebooks) == 1 else f"{notebook.stem}/{grade_id}"
            cells[key] = AnswerCell(key, cell.kind, cell.source)
    return cells


def _directories(course: Path) -> tuple[str, str]:
    """The course's source (solutions) and release folder names, from its nbgrader_config.py."""
    from autograde.course.nbgrader_app import course_config

    try:
        settings = course_config(course).CourseDirectory
    except Exception:  # noqa: BLE001 - no config: nbgrader's defaults
        return "source", "release"
    return settings.get("source_directory", "source"), settings.get("release_directory", "release")


def reference_cells(course: Path, assignment: str) -> list[AnswerCell]:
    """Cells whose material is shared by design: the released notebook's cells and the model answers."""
    source, release = _directories(course)
    released = [cell for nb in sorted((Path(course) / release / assignment).glob("*.ipynb")) for cell in _code_cells(nb)]
    model = list(_notebook_cells(Path(course) / source / assignment, strip_markers=True).values())
    return released + model


def read_submission(course: Path, student: str, assignment: str) -> Submission:
    """One submission's answer cells: the autograded copy (what was graded) or else submitted/."""
    for stage in ("autograded", "submitted"):
        folder = Path(course) / stage / student / assignment
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            return Submission(student, assignment, _notebook_cells(folder))
    return Submission(student, assignment)


def class_pairs(course: Path, keys: Iterable[tuple[str, str]]) -> dict[str, list[Pair]]:
    """assignment → every pair of its submissions (``keys``: (student, assignment)), most alike first."""
    by_assignment: dict[str, list[Submission]] = {}
    for student, assignment in sorted(set(keys)):
        submission = read_submission(course, student, assignment)
        if submission.cells:
            by_assignment.setdefault(assignment, []).append(submission)
    return {assignment: compare(found, reference_cells(course, assignment))
            for assignment, found in sorted(by_assignment.items()) if len(found) > 1}
