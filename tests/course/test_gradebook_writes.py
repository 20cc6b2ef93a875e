"""`autograde.course.gradebook_writes.SaveAutoGrades` writes what nbgrader's own SaveAutoGrades
writes, in one transaction per notebook."""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_output
from nbgrader import preprocessors
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import event

from autograde.course import gradebook_writes, nbgrader_steps
from autograde.course.nbgrader_app import api
from autograde.intake import staging
from autograde.samples import submissions

ASSIGNMENT = "04_single_neuron"


@pytest.fixture(scope="module")
def course(tmp_path_factory, released):
    """A released course with three sanitized submissions (the untouched release: its answer cells get
    nbgrader's "No response." comment) waiting for their scores."""
    root = released(tmp_path_factory.mktemp("writes"))
    grader = api(root)
    for student in ("ada", "bob", "cy"):
        submissions.write(submissions.build(ASSIGNMENT, "untouched"), root, student, ASSIGNMENT)
    staging.scan_submitted(root, [ASSIGNMENT], grader.coursedir.release_directory)
    for student in ("ada", "bob", "cy"):
        nbgrader_steps.sanitize(grader, ASSIGNMENT, student)
    return grader


def executed(grader, student: str):
    """The student's sanitized notebook as if run: the first two graded test cells failed."""
    nb = nbformat.reads(nbgrader_steps.sanitized_notebooks(grader, ASSIGNMENT, student)[ASSIGNMENT], as_version=4)
    tests = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    for cell in tests[:2]:
        cell.outputs = [new_output("error", ename="AssertionError", evalue="wrong", traceback=[])]
    return nb


def save(grader, preprocessor, nb, student: str) -> int:
    """Run ``preprocessor`` on ``nb`` for ``student``; return how many transactions it committed."""
    url = grader.coursedir.db_url
    resources = {"nbgrader": {"notebook": ASSIGNMENT, "assignment": ASSIGNMENT, "student": student, "db_url": url}}
    with Gradebook(url) as gradebook:  # the engine every Gradebook of this URL shares (internals.shared_engines)
        engine = gradebook.engine
    commits = []
    listener = lambda connection: commits.append(1)  # noqa: E731
    event.listen(engine, "commit", listener)
    try:
        preprocessor(parent=grader).preprocess(nb, resources)
    finally:
        event.remove(engine, "commit", listener)
    return len(commits)


def stored(grader, student: str) -> tuple[dict, dict]:
    with Gradebook(grader.coursedir.db_url) as gb:
        notebook = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        grades = {g.name: (g.auto_score, g.needs_manual_grade) for g in notebook.grades}
        comments = {c.name: c.auto_comment for c in notebook.comments}
    return grades, comments


def test_the_same_scores_and_comments_as_nbgraders_own_in_one_transaction(course):
    nbgraders = save(course, preprocessors.SaveAutoGrades, executed(course, "ada"), "ada")
    ours = save(course, gradebook_writes.SaveAutoGrades, executed(course, "bob"), "bob")
    grades, comments = stored(course, "bob")
    assert (grades, comments) == stored(course, "ada")
    failed = [c.metadata.nbgrader.grade_id for c in executed(course, "bob").cells if c.get("outputs")][:2]
    assert [grades[name][0] for name in failed] == [0, 0]
    assert sum(1 for score, _ in grades.values() if score) >= 5  # passes recorded too
    assert any(comment is not None for comment in comments.values())
    # Opening a Gradebook commits once (nbgrader's check_course); then one commit for the notebook's
    # scores, against one per grade and per answer cell.
    assert ours == 2 and nbgraders > len(grades) + 1


def test_a_notebook_that_fails_half_way_stores_none_of_its_scores(course):
    nb = executed(course, "cy")
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    tests[-1].metadata.nbgrader.grade_id = "not_in_the_gradebook"  # nbgrader's find_grade raises on it
    with pytest.raises(MissingEntry):
        save(course, gradebook_writes.SaveAutoGrades, nb, "cy")
    grades, _ = stored(course, "cy")
    assert grades and all(score is None for score, _ in grades.values())
