"""The check library's memo of SymPy verdicts goes from one notebook's trusted checker to the next
(`autograde.trusted.run.MEMOS`): the second notebook with the same answers decides nothing again,
and its verdicts are the same."""
from autograde.samples import submissions
from autograde.trusted import run
from support.checked_bank import checked_run, trimmed

ASSIGNMENT = "02_symbolic_derivatives"
TABLE = "backprop_course.checks.symbolic:decided"


def _checked(nb) -> dict:
    """grade_id → the outputs' text of each test cell of sigmoid_expr, as the trusted checker ran it."""
    cut, tests = trimmed(nb, ASSIGNMENT, "sigmoid_expr")
    done, why = checked_run(cut, ASSIGNMENT, tests, timeout=60)
    assert why == ""
    return {c.metadata["nbgrader"]["grade_id"]: [f"{o.get('ename', '')} {o.get('evalue') or o.get('text', '')}"
                                                 for o in c.outputs]
            for c in done.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}


def test_the_second_notebook_reuses_the_first_ones_verdicts(monkeypatch):
    monkeypatch.setitem(run._memos, TABLE, {})
    wrong = submissions.build(ASSIGNMENT, "solution", {"sigmoid_expr": "sigmoid_expr = 1 / (1 + sp.exp(x))"})
    first = _checked(wrong)
    learned = dict(run._memos[TABLE])
    assert learned, "the first notebook's checks decided no SymPy equivalence"
    second = _checked(wrong)
    assert run._memos[TABLE] == learned  # nothing new: every question was answered from the memo
    assert second == first
    assert any("sigmoid-sign" in str(text) for text in first["test_sigmoid_expr"])  # still failed, by name
