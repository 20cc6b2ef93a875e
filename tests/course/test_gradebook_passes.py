"""`autograde.course.gradebook_passes`: its `OverwriteCells` restores what nbgrader's own restores
and its `SaveAutoGrades` writes what nbgrader's own writes, with one query per kind of row and (for
the scores) one transaction per notebook."""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_output
from nbgrader import preprocessors
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import event

from autograde.course import gradebook_passes, nbgrader_steps
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


def counted(grader, preprocessor, nb, student: str, resources: dict | None = None) -> tuple[object, int, int]:
    """Run ``preprocessor`` on ``nb`` for ``student``: (the notebook it returns, the transactions
    it committed, the SELECTs it sent); ``resources`` gets what it adds to them."""
    url = grader.coursedir.db_url
    resources = {} if resources is None else resources
    resources["nbgrader"] = {"notebook": ASSIGNMENT, "assignment": ASSIGNMENT, "student": student, "db_url": url}
    with Gradebook(url) as gradebook:  # the engine every Gradebook of this URL shares (internals.shared_engines)
        engine = gradebook.engine
    commits, queries = [], []
    on_commit = lambda connection: commits.append(1)  # noqa: E731
    on_query = lambda conn, cursor, statement, *args: queries.append(statement.lstrip().startswith("SELECT"))  # noqa: E731
    event.listen(engine, "commit", on_commit)
    event.listen(engine, "before_cursor_execute", on_query)
    try:
        nb, _ = preprocessor(parent=grader).preprocess(nb, resources)
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "before_cursor_execute", on_query)
    return nb, len(commits), sum(queries)


def save(grader, preprocessor, nb, student: str) -> int:
    """Run ``preprocessor`` on ``nb`` for ``student``; return how many transactions it committed."""
    return counted(grader, preprocessor, nb, student)[1]


def stored(grader, student: str) -> tuple[dict, dict]:
    with Gradebook(grader.coursedir.db_url) as gb:
        notebook = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        grades = {g.name: (g.auto_score, g.needs_manual_grade) for g in notebook.grades}
        comments = {c.name: c.auto_comment for c in notebook.comments}
    return grades, comments


def test_the_same_scores_and_comments_as_nbgraders_own_in_one_transaction(course):
    nbgraders = save(course, preprocessors.SaveAutoGrades, executed(course, "ada"), "ada")
    ours = save(course, gradebook_passes.SaveAutoGrades, executed(course, "bob"), "bob")
    grades, comments = stored(course, "bob")
    assert (grades, comments) == stored(course, "ada")
    failed = [c.metadata.nbgrader.grade_id for c in executed(course, "bob").cells if c.get("outputs")][:2]
    assert [grades[name][0] for name in failed] == [0, 0]
    assert sum(1 for score, _ in grades.values() if score) >= 5  # passes recorded too
    assert any(comment is not None for comment in comments.values())
    # One commit for the notebook's scores (the course was checked at the first opening of this
    # gradebook: `internals.course_checked_once`), against one per grade and per answer cell.
    assert ours == 1 and nbgraders > len(grades)


def test_the_scores_are_read_with_one_query_per_kind_of_row(course):
    _, _, nbgraders = counted(course, preprocessors.SaveAutoGrades, executed(course, "ada"), "ada")
    _, _, ours = counted(course, gradebook_passes.SaveAutoGrades, executed(course, "bob"), "bob")
    grades, comments = stored(course, "bob")
    # the grades', the comments', against one or two per grade and per comment
    assert ours == 2 and nbgraders >= len(grades) + len(comments)


def test_feedback_reads_the_same_scores_comments_and_totals_as_nbgraders_own(course):
    save(course, gradebook_passes.SaveAutoGrades, executed(course, "bob"), "bob")
    theirs, ours = {}, {}
    nbgraders, _, their_queries = counted(course, preprocessors.GetGrades, executed(course, "bob"), "bob", theirs)
    read, _, our_queries = counted(course, gradebook_passes.GetGrades, executed(course, "bob"), "bob", ours)
    assert read == nbgraders and ours == theirs and ours["nbgrader"]["max_score"] > ours["nbgrader"]["score"] > 0
    scored = [c.metadata.nbgrader for c in read.cells if "score" in c.metadata.get("nbgrader", {})]
    # the grades', the comments', the submitted notebook and its two totals'
    assert len(scored) >= 10 and our_queries == 5 and their_queries > 2 * len(scored)


def tampered(grader, student: str):
    """The student's submission with what OverwriteCells puts right: a test cell's source changed,
    another's points raised, a third made markdown, and a cell whose name the gradebook does not know."""
    from autograde.course.nbgrader_steps import submitted_notebooks

    nb = nbformat.reads(submitted_notebooks(grader, ASSIGNMENT, student)[ASSIGNMENT], as_version=4)
    named = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")]
    tests = [c for c in named if c.metadata.nbgrader.get("grade") and c.cell_type == "code"]
    tests[0].source += "\nchanged by the student"
    tests[1].metadata.nbgrader.points = 100
    tests[2].cell_type = "markdown"
    del tests[2]["outputs"], tests[2]["execution_count"]
    named[-1].metadata.nbgrader.grade_id = "not_in_the_gradebook"
    return nb


def test_sanitizing_restores_the_same_cells_as_nbgraders_own_with_one_query_per_kind(course):
    nbgraders, _, their_queries = counted(course, preprocessors.OverwriteCells, tampered(course, "ada"), "ada")
    ours, _, our_queries = counted(course, gradebook_passes.OverwriteCells, tampered(course, "ada"), "ada")
    assert ours == nbgraders != tampered(course, "ada")
    cells = sum(1 for c in ours.cells if c.metadata.get("nbgrader", {}).get("grade_id"))
    # the source cells, the grade cells, the task cells; the unknown name is asked of the gradebook
    # as nbgrader asks it (its MissingEntry makes nbgrader drop the name)
    assert our_queries == 4 and their_queries > cells > 5


def test_a_notebook_that_fails_half_way_stores_none_of_its_scores(course):
    nb = executed(course, "cy")
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    tests[-1].metadata.nbgrader.grade_id = "not_in_the_gradebook"  # nbgrader's find_grade raises on it
    with pytest.raises(MissingEntry):
        save(course, gradebook_passes.SaveAutoGrades, nb, "cy")
    grades, _ = stored(course, "cy")
    assert grades and all(score is None for score, _ in grades.values())
