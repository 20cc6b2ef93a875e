"""Similarity leads on a bank with planted copies and honest look-alikes.

The bank, per assignment: honest students whose answers are the answer bank's entries
(samples/answers/*.toml, written independently, right and wrong) and the model solution, no two
with the same entry in any cell; then planted copies of some of them, disguised the ways students
disguise copies (variables renamed, helper functions reordered, comments rewritten, literal values
changed, reformatted), made by program on every assignment and by hand on two. A planted pair is
found when it is a lead; an honest pair (every pair that is not a copy and its source) that is a
lead is a false lead. The figures are printed (pytest -s) for the closing note.
"""
from __future__ import annotations

import ast
import random
from dataclasses import dataclass

import nbformat
import pytest

from autograde.outputs import similarity
from autograde.samples import answer_bank, submissions
from autograde.course.release import REPO, assignments
from autograde.outputs.similarity import AnswerCell, Pair, Submission, align, code_tokens, compare, reference_cells

ASSIGNMENTS = assignments()


# --- the honest class ----------------------------------------------------------------------------

def released_cells(assignment: str) -> dict[str, AnswerCell]:
    return similarity._notebook_cells(REPO / "course" / assignment)


def contract_names(assignment: str) -> set[str]:
    """Names the released answer cells define (the graded functions and variables): a copier keeps them."""
    names = set()
    for cell in released_cells(assignment).values():
        if cell.kind == "code":
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.FunctionDef):
                    names.add(node.name)
                names |= {t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)}
    return names


def honest_class(assignment: str) -> list[Submission]:
    """honest0 hands in the model solution; honest1… each a different bank entry in every code cell
    (entries shuffled per cell, seeded), as many students as the smallest cell's bank allows."""
    released, solution = released_cells(assignment), submissions.solution_sources(assignment)
    draw = random.Random(f"similarity-{assignment}")
    pools = {}
    for key, cell in released.items():
        if cell.kind == "code":
            pools[key] = [a.code for a in answer_bank.load(assignment) if a.name == key]
            draw.shuffle(pools[key])
    students = []
    for number in range(1 + min(len(pool) for pool in pools.values())):
        cells = {key: AnswerCell(key, cell.kind, cell.source if cell.kind != "code"
                                 else solution[key] if number == 0 else pools[key][number - 1])
                 for key, cell in released.items()}
        students.append(Submission(f"honest{number}", assignment, cells))
    return students


# --- copies made by program ----------------------------------------------------------------------

class _Disguise(ast.NodeTransformer):
    def __init__(self, names: dict[str, str], literals: bool):
        self.names, self.literals = names, literals

    def visit_Name(self, node):
        node.id = self.names.get(node.id, node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.names.get(node.arg, node.arg)
        return node

    def visit_FunctionDef(self, node):
        node.name = self.names.get(node.name, node.name)
        self.generic_visit(node)
        return node

    def visit_Constant(self, node):
        if self.literals and isinstance(node.value, float):
            node.value = round(node.value * 1.7 + 0.01, 6)
        return node


def disguise(source: str, keep: set[str], rename=False, reorder=False, literals=False, comments=False) -> str:
    """The copier's edits: every name the cell binds renamed (but the graded ones), top-level functions
    in reverse order, floats changed, the comments replaced; reformatted by ast.unparse throughout."""
    tree = ast.parse(source)
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    bound |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    names = {name: f"my_{name.lower()}_2" for name in bound - keep} if rename else {}
    body = _Disguise(names, literals).visit(tree).body
    if reorder:
        defs = [node for node in body if isinstance(node, ast.FunctionDef)]
        body = defs[::-1] + [node for node in body if not isinstance(node, ast.FunctionDef)]
    lines = []
    for number, node in enumerate(body, 1):
        lines += [f"# part {number}, see my notes"] if comments else []
        lines.append(ast.unparse(node))
    return "\n".join(lines) + "\n"


DISGUISES = [dict(rename=True, comments=True), dict(reorder=True, literals=True),
             dict(rename=True, reorder=True, literals=True, comments=True)]


def program_copies(assignment: str, honest: list[Submission]) -> list[tuple[Submission, str]]:
    """(copy, the student copied): honest1…3 copied, each with one set of edits of DISGUISES."""
    keep = contract_names(assignment)
    copies = []
    for number, edits in enumerate(DISGUISES, 1):
        source = honest[number]
        cells = {key: AnswerCell(key, c.kind, disguise(c.source, keep, **edits) if c.kind == "code" else c.source)
                 for key, c in source.cells.items()}
        copies.append((Submission(f"copy-of-{source.student}", assignment, cells), source.student))
    return copies


# --- copies made by hand: helpers reordered, names and comments changed, one loop rewritten ------------

HAND_MADE = {
    "04_single_neuron": ({
        "predict": "def predict(X, w, b):\n    z = X @ w + b          # pre-activations, one per row\n"
                   "    return sigmoid(z)\n",
        "gradients": '''
def _slope(out):
    """σ'(z) written with the output s = σ(z)."""
    return out * (1.0 - out)


def _error_signal(X, y, w, b):
    out = predict(X, w, b)
    return (out - y) * _slope(out)


def gradients(X, y, w, b):
    g = _error_signal(X, y, w, b)
    count = X.shape[0]
    return (X.T @ g) / count, float(g.sum() / count)
''',
        "train": '''
def train(X, y, learning_rate, n_steps):
    weights = np.zeros(X.shape[1])
    bias = 0.0
    history = np.zeros(n_steps + 1)
    history[0] = cost(predict(X, weights, bias), y)
    for step in range(1, n_steps + 1):
        grad_w, grad_b = gradients(X, y, weights, bias)
        weights -= learning_rate * grad_w
        bias -= learning_rate * grad_b
        history[step] = cost(predict(X, weights, bias), y)
    return weights, bias, history
''',
        "worked_delta": "out = 1.0 / (1.0 + np.exp(1.28))   # σ(-1.28)\n"
                        "worked_delta = float((1.0 - out) * out * (1.0 - out))\n",
    }, {
        "predict": "def predict(X, w, b):\n    # linear part then squash\n    lin = X @ w + b\n    return sigmoid(lin)\n",
        "gradients": '''
def gradients(X, y, w, b):
    # gradient of the cost
    sig = error_term(X, y, w, b)
    m = X.shape[0]
    return (X.T @ sig) / m, float(sig.sum() / m)


def error_term(X, y, w, b):
    p = predict(X, w, b)
    return (p - y) * deriv(p)


def deriv(p):
    # derivative of sigmoid
    return p * (1 - p)
''',
        "train": '''
def train(X, y, learning_rate, n_steps):
    W = np.zeros(X.shape[1])
    B = 0.0
    losses = np.zeros(n_steps + 1)
    losses[0] = cost(predict(X, W, B), y)
    for i in range(1, n_steps + 1):
        gW, gB = gradients(X, y, W, B)
        W -= learning_rate * gW
        B -= learning_rate * gB
        losses[i] = cost(predict(X, W, B), y)  # keep track
    return W, B, losses
''',
        "worked_delta": "o = 1 / (1 + np.exp(1.28))\nworked_delta = float((1 - o) * o * (1 - o))\n",
    }),
    "05_single_path_backprop": ({
        "chain_deltas": '''
def _unit_slope(a_l):
    return a_l * (1 - a_l)


def _step_back(delta_next, theta_next, a_l):
    return delta_next * theta_next * _unit_slope(a_l)


def chain_deltas(x, y, thetas):
    z, a = chain_forward(x, thetas)
    L = len(thetas)
    out = np.empty(L)
    out[L - 1] = a[L] - y
    for l in range(L - 1, 0, -1):
        out[l - 1] = _step_back(out[l], thetas[l], a[l])
    return out
''',
        "chain_gradient": '''
def chain_gradient(x, y, thetas):
    z, a = chain_forward(x, thetas)
    d = chain_deltas(x, y, thetas)
    grad = np.empty_like(d)
    for l in range(len(d)):
        grad[l] = d[l] * a[l]
    return grad
''',
    }, {
        "chain_deltas": '''
# backward recursion for the deltas
def chain_deltas(x, y, thetas):
    zs, acts = chain_forward(x, thetas)
    n = len(thetas)
    result = np.empty(n)
    result[n - 1] = acts[n] - y   # output layer
    for k in reversed(range(1, n)):
        result[k - 1] = back_one(result[k], thetas[k], acts[k])
    return result


def back_one(d, t, act):
    return d * t * slope_of(act)


def slope_of(act):
    return act * (1.0 - act)  # sigmoid derivative
''',
        "chain_gradient": '''
def chain_gradient(x, y, thetas):
    zs, acts = chain_forward(x, thetas)
    ds = chain_deltas(x, y, thetas)
    g = np.empty_like(ds)
    for k in range(len(ds)):
        g[k] = ds[k] * acts[k]
    return g
''',
    }),
}


def hand_made(assignment: str) -> list[Submission]:
    """The hand-written original and its copy; their other cells are the model solution."""
    if assignment not in HAND_MADE:
        return []
    solution, released = submissions.solution_sources(assignment), released_cells(assignment)
    made = []
    for student, answers in zip(("hand-original", "hand-copy"), HAND_MADE[assignment]):
        cells = {key: AnswerCell(key, cell.kind, answers.get(key, solution[key] if cell.kind == "code" else cell.source))
                 for key, cell in released.items()}
        made.append(Submission(student, assignment, cells))
    return made


# --- the bank, compared --------------------------------------------------------------------------

@dataclass
class Bank:
    pairs: list[Pair]  # every pair of every assignment
    planted: set[tuple[str, str, str]]  # (assignment, student, student) of each copy and its source

    def is_planted(self, pair: Pair) -> bool:
        return (pair.assignment, pair.left, pair.right) in self.planted

    def ranked(self) -> list[Pair]:
        return similarity.ranked(self.pairs)


def _key(assignment: str, a: str, b: str) -> tuple[str, str, str]:
    return (assignment, *sorted((a, b)))


@pytest.fixture(scope="module")
def bank() -> Bank:
    pairs, planted = [], set()
    for assignment in ASSIGNMENTS:
        honest = honest_class(assignment)
        copies = program_copies(assignment, honest)
        planted |= {_key(assignment, copy.student, source) for copy, source in copies}
        made = hand_made(assignment)
        if made:
            planted.add(_key(assignment, made[0].student, made[1].student))
        pairs += compare(honest + [copy for copy, _ in copies] + made, reference_cells(REPO, assignment))
    return Bank(pairs, planted)


def test_every_planted_copy_is_a_lead_and_no_honest_pair_is(bank):
    planted = [p for p in bank.pairs if bank.is_planted(p)]
    honest = [p for p in bank.pairs if not bank.is_planted(p)]
    found = [p for p in planted if p.is_lead]
    false_leads = [p for p in honest if p.is_lead]
    missed = [f"{p.assignment} {p.left}/{p.right} score {p.score:.2f}, {p.evidence:.1f} fingerprints"
              for p in planted if not p.is_lead]
    print(f"\nsimilarity on the planted bank: found {len(found)}/{len(planted)} planted copies; "
          f"false leads {len(false_leads)} among {len(honest)} honest pairs; missed: {missed or 'none'}")
    assert len(planted) == len(bank.planted) == 3 * len(ASSIGNMENTS) + len(HAND_MADE)
    assert false_leads == []
    assert len(found) >= len(planted) - 1, missed  # at most one copy of a few-line answer goes unflagged


def test_planted_pairs_rank_above_every_honest_pair(bank):
    ranked = bank.ranked()
    planted_ranks = [rank for rank, p in enumerate(ranked, 1) if bank.is_planted(p) and p.is_lead]
    honest_ranks = [rank for rank, p in enumerate(ranked, 1) if not bank.is_planted(p)]
    worst_found = ranked[planted_ranks[-1] - 1]
    best_honest = max((p for p in bank.pairs if not bank.is_planted(p)), key=lambda p: p.score)
    print(f"\nlowest-ranked planted lead: rank {planted_ranks[-1]} of {len(ranked)} (score {worst_found.score:.2f}); "
          f"highest-ranked honest pair: rank {honest_ranks[0]}; highest honest score {best_honest.score:.2f} "
          f"({best_honest.assignment} {best_honest.left}/{best_honest.right})")
    assert max(planted_ranks) < min(honest_ranks)
    assert worst_found.score > 1.5 * best_honest.score  # on the score alone too, with a margin


def test_the_hand_made_copies_are_leads_and_name_their_cells(bank):
    for assignment, (original, _) in HAND_MADE.items():
        pair = next(p for p in bank.pairs if (p.assignment, p.left, p.right) == (assignment, "hand-copy", "hand-original"))
        assert pair.is_lead, (assignment, pair.score, pair.evidence)
        assert {e.key for e in pair.cells} >= set(original)


# --- normalisation -------------------------------------------------------------------------------

def test_names_comments_layout_and_literals_do_not_change_the_tokens():
    original = "def total(values, scale=0.5):\n    acc = 0\n    for v in values:\n        acc += v * scale\n    return acc\n"
    disguised = ("def summed(xs, factor=2.0):  # my own\n    s = 0\n\n    for item in xs:\n"
                 "        s += (item * factor)\n    return s\n")
    assert code_tokens(original) == code_tokens(disguised)
    assert "V" in code_tokens(original) and "N" in code_tokens(original)


def test_structure_attributes_and_builtins_do_change_the_tokens():
    assert code_tokens("y = np.mean(x)") != code_tokens("y = np.sum(x)")
    assert code_tokens("y = len(x)") != code_tokens("y = max(x)")
    assert code_tokens("y = a - b") != code_tokens("y = a + b")


def test_unfinished_code_is_still_read():
    tokens = code_tokens("def f(x):\n    return (x + ")
    assert tokens[:3] == ["def", "V", "("] and "+" in tokens


def test_the_released_code_and_the_model_answer_weigh_nothing():
    assignment = "04_single_neuron"
    solution, released = submissions.solution_sources(assignment), released_cells(assignment)
    untouched = [Submission(s, assignment, dict(released)) for s in ("u1", "u2")]
    solved = [Submission(s, assignment, {k: AnswerCell(k, c.kind, solution.get(k, c.source)) for k, c in released.items()})
              for s in ("s1", "s2")]
    pairs = compare(untouched + solved, reference_cells(REPO, assignment))
    assert [(p.score, p.shared) for p in pairs] == [(0.0, 0.0)] * 6


def test_material_every_submission_holds_weighs_less_than_what_two_share():
    shared_by_all = "def f(x):\n    return helper(x) + 1\n"
    students = [Submission(f"s{i}", "a", {"f": AnswerCell("f", "code", shared_by_all + extra)})
                for i, extra in enumerate(["q = 1\n", "r = [1]\n", "t = {}\n", "u = (1, 2)\n"])]
    twins = [Submission(f"t{i}", "a", {"f": AnswerCell("f", "code", shared_by_all + "w = sorted(x)[::-1][:3]\n")})
             for i in range(2)]
    pairs = {(p.left, p.right): p for p in compare(students + twins)}
    assert pairs[("t0", "t1")].score > 3 * pairs[("s0", "s1")].score
    assert [p.is_lead for p in pairs.values()].count(True) == 1


def test_two_students_writing_the_same_short_alternative_are_not_a_lead():
    """Both write df as 2 * (x - 2) and the model answer elsewhere: alike, but not a lead."""
    assignment = "01_gradient_descent"
    honest = honest_class(assignment)
    solution, released = submissions.solution_sources(assignment), released_cells(assignment)
    factored = answer_bank.find(assignment, "df", "factored").code
    twins = [Submission(s, assignment, {k: AnswerCell(k, c.kind, factored if k == "df" else solution.get(k, c.source))
                                        for k, c in released.items()}) for s in ("f1", "f2")]
    pair = next(p for p in compare(honest + twins, reference_cells(REPO, assignment)) if (p.left, p.right) == ("f1", "f2"))
    assert pair.score == pytest.approx(1.0) and not pair.is_lead
    assert 0 < pair.evidence < similarity.MIN_EVIDENCE


def test_a_copied_written_answer_is_a_lead_and_independent_ones_are_not():
    answers = {
        "ana": "At zero every pre-activation is zero, so the mirrored sigmoid agrees with the real one and the "
               "sign error slips through. Check at a random point instead, where different formulas disagree.",
        "bea": "Check at a random point instead, where the different formulas disagree. At zero every "
               "pre-activation is zero, so the mirrored sigmoid agrees with the true one and the sign error "
               "slips through unnoticed.",  # ana's sentences swapped, three words changed
        "cal": "Because z = 0 for every sample, both formulas return the same slope of one quarter; the sign "
               "mistake is invisible. Testing with nonzero weights would reveal it.",
        "dev": "Symmetric points hide errors. With w = 0 and b = 0 the wrong and the right gradient coincide, "
               "so use several random inputs and weights for a gradient check.",
    }
    students = [Submission(s, "04", {"why": AnswerCell("why", "markdown", text)}) for s, text in answers.items()]
    pairs = {(p.left, p.right): p for p in compare(students)}
    assert pairs[("ana", "bea")].is_lead
    assert [key for key, p in pairs.items() if p.is_lead] == [("ana", "bea")]


# --- evidence side by side -----------------------------------------------------------------------

def test_reordered_helpers_face_each_other_and_lines_say_how_alike_they_are():
    original, copy = (AnswerCell("chain_deltas", "code", answers["chain_deltas"])
                      for answers in HAND_MADE["05_single_path_backprop"])
    rows = align(original, copy)
    by_left = {row.left.strip(): row for row in rows if row.left.strip()}
    helper = by_left["return a_l * (1 - a_l)"]
    assert helper.right.strip() == "return act * (1.0 - act)  # sigmoid derivative"
    assert helper.agreement == "same after normalising"
    assert by_left["for l in range(L - 1, 0, -1):"].agreement == "differs"
    for cell, side in ((original, "left"), (copy, "right")):  # every line of both cells, once, in order within blocks
        numbers = [getattr(row, f"{side}_line") for row in rows if getattr(row, f"{side}_line")]
        assert sorted(numbers) == list(range(1, len(cell.source.splitlines()) + 1))
    assert all(row.agreement == "only on one side" for row in rows if row.left_line is None or row.right_line is None)


def test_identical_lines_are_marked_identical():
    cell = AnswerCell("f", "code", "def f(x):\n    return x + 1\n")
    assert {row.agreement for row in align(cell, cell)} == {"identical"}


# --- reading a course folder ---------------------------------------------------------------------

def test_answer_cells_are_read_from_the_course_folder_autograded_first(tmp_path):
    assignment = "01_gradient_descent"
    wrong = "def df(x):\n    return 2 * x\n"
    submissions.write(submissions.build(assignment, "solution", {"df": wrong}), tmp_path, "ada", assignment)
    graded = tmp_path / "autograded" / "ben" / assignment
    graded.mkdir(parents=True)
    nbformat.write(submissions.build(assignment, "untouched"), graded / f"{assignment}.ipynb")
    (tmp_path / "submitted" / "cy" / assignment).mkdir(parents=True)
    (tmp_path / "submitted" / "cy" / assignment / f"{assignment}.ipynb").write_text("{ not json")
    ada = similarity.read_submission(tmp_path, "ada", assignment)
    assert ada.cells["df"].source == wrong and ada.cells["written_stability"].kind == "markdown"
    assert "raise NotImplementedError" in similarity.read_submission(tmp_path, "ben", assignment).cells["df"].source
    assert similarity.read_submission(tmp_path, "cy", assignment).cells == {}


def test_reference_cells_hold_the_released_notebook_and_the_model_answers_without_markers():
    cells = reference_cells(REPO, "04_single_neuron")
    sources = [cell.source for cell in cells]
    assert any("raise NotImplementedError" in s for s in sources)
    assert any("return sigmoid(X @ w + b)" in s for s in sources)
    assert not any("BEGIN SOLUTION" in s for s in sources)


def test_class_pairs_compare_each_assignment_of_a_course_folder(tmp_path):
    assignment = "04_single_neuron"
    course = tmp_path / "course"
    (course / "course").mkdir(parents=True)
    for folder in ("course", "solutions"):
        (course / folder / assignment).mkdir(parents=True, exist_ok=True)
        (course / folder / assignment / f"{assignment}.ipynb").write_bytes(
            (REPO / folder / assignment / f"{assignment}.ipynb").read_bytes())
    (course / "nbgrader_config.py").write_bytes((REPO / "nbgrader_config.py").read_bytes())
    original, copy = HAND_MADE[assignment]
    for student, answers in (("amal", original), ("bo", copy), ("cy", {})):
        submissions.write(submissions.build(assignment, "solution", answers), course, student, assignment)
    pairs = similarity.class_pairs(course, [(s, assignment) for s in ("amal", "bo", "cy")])
    assert [(p.left, p.right, p.is_lead) for p in pairs[assignment]][0] == ("amal", "bo", True)
    assert sum(p.is_lead for p in pairs[assignment]) == 1


def test_huge_and_deeply_nested_cells_are_read_and_aligned_within_bounds():
    nested = AnswerCell("k", "code", "x = " + "+".join(["a"] * 20000))  # ast.unparse would recurse too deep
    assert code_tokens(nested.source)[:3] == ["V", "=", "V"]
    many = AnswerCell("k", "code", "\n".join(f"v{i} = {i} + w{i}" for i in range(3000)))
    rows = align(many, many)
    shown = len(many.source[:similarity.MAX_CELL_CHARS].splitlines())
    assert len(rows) == shown < 3000 and {row.agreement for row in rows} == {"identical"}
