"""The grading bar every notebook must meet, shared by the per-notebook test modules."""
from __future__ import annotations


def assert_full_marks(result) -> None:
    assert not result.error, result.error
    lost = [(c.grade_id, c.message) for c in result.failed()]
    assert result.auto_max > 0 and result.auto_score == result.auto_max, f"lost points: {lost}"


def assert_zero(result) -> None:
    assert not result.error, result.error
    earned = [c.grade_id for c in result.cells if c.score]
    assert result.auto_max > 0 and result.auto_score == 0, f"an untouched notebook earned points in {earned}"
    assert all(c.score == 0 for c in result.cells if c.written), "an untouched written answer earned points"


def assert_loses_with_tag(result, answer) -> None:
    assert not result.error, result.error
    failed = result.failed(f"test_{answer.name}")
    assert failed, f"{answer.label}: the wrong answer kept every point of test_{answer.name}*"
    tags = {t for c in failed for t in c.tags}
    messages = "\n".join(c.message for c in failed)
    assert answer.tag in tags, f"{answer.label}: expected [{answer.tag}], the failures said:\n{messages}"
