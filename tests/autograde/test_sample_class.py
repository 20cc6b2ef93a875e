"""The README's main job: the bundled sample class graded end to end by the batch grader on
nbgrader's gradebook, in SQLite and in a real PostgreSQL server, and on a local Dask cluster."""
from __future__ import annotations

import csv
import io
import shutil

import pytest
from support.postgres import postgres_server

from autograde import grade_class, report, sample_class, submissions

pytestmark = pytest.mark.xdist_group("sample-class")
BROKEN = {"empty-file", "invalid-json", "no-notebook"}


def _settings(**kw) -> grade_class.Settings:
    return grade_class.Settings(progress=False, release=True, **kw)


@pytest.fixture(scope="module")
def placed(tmp_path_factory):
    """A course folder with the whole sample class submitted, not yet graded."""
    course = sample_class.prepare_course(tmp_path_factory.mktemp("placed") / "course")
    count = sample_class.place_submissions(course)
    return course, count


@pytest.fixture(scope="module")
def graded_class(placed, tmp_path_factory):
    course = tmp_path_factory.mktemp("sqlite") / "course"
    shutil.copytree(placed[0], course)
    outcome = grade_class.run(course, _settings())
    return course, outcome, {(r.student, r.assignment): r for r in outcome.results}


def _grades(path) -> list[dict]:
    """nbgrader's CSV rows, without the columns that record when grading happened."""
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    return sorted(({k: v for k, v in row.items() if k not in ("timestamp",)} for row in rows),
                  key=lambda r: (r["assignment"], r["student_id"]))


def test_every_planned_submission_is_graded(placed, graded_class):
    _, outcome, results = graded_class
    assert placed[1] == len(sample_class.expected()) >= 15 * 7 - 20
    assert set(results) == set(sample_class.expected())


@pytest.mark.parametrize("student", sample_class.students(), ids=lambda s: s["id"])
def test_each_sample_student_scores_as_their_profile_says(graded_class, student):
    _, _, results = graded_class
    for (who, assignment), plan in sample_class.expected().items():
        if who != student["id"]:
            continue
        result = results[(who, assignment)]
        if plan["damage"] in BROKEN:
            assert result.auto_score == 0 and result.error, f"{who}/{assignment}: broken file must score 0 with a reason"
            continue
        assert not result.error, result.error
        if plan["expect"] == "full":
            assert result.auto_score == result.auto_max, [c.message for c in result.failed()]
        elif plan["expect"] == "zero":
            assert result.auto_score == 0
        else:
            assert 0 < result.auto_score < result.auto_max, f"{who}/{assignment}: {result.auto_score}"
        for name in plan.get("answers", {}):
            if plan["expect"] != "full":
                assert result.failed(f"test_{name}"), f"{who}: {name} should lose points"


def test_broken_files_are_named_in_plain_words(graded_class):
    _, outcome, _ = graded_class
    said = {(p.student, p.assignment): p.message for p in outcome.problems}
    for (who, assignment), plan in sample_class.expected().items():
        if plan["damage"] == "empty-file":
            assert "empty" in said[(who, assignment)]
        elif plan["damage"] == "invalid-json":
            assert "not a readable notebook" in said[(who, assignment)]
        elif plan["damage"] == "no-notebook":
            assert "no notebook" in said[(who, assignment)].lower()
        elif plan["damage"] == "renamed":
            assert "Untitled.ipynb" in said[(who, assignment)]


def test_outputs_are_written(graded_class):
    course, outcome, results = graded_class
    assert outcome.csv == course / "grades.csv" and len(_grades(outcome.csv)) >= len(results)
    assert outcome.report.exists() and len(list(outcome.report.parent.glob("*.png"))) == 4
    readable = [k for k, plan in sample_class.expected().items() if plan["damage"] not in BROKEN]
    assert len(outcome.feedback) == len(readable)
    page = outcome.report.read_text()
    assert "sigmoid-sign" in page and "gradient-sign" in page


def test_score_table_lists_every_student(graded_class):
    _, outcome, _ = graded_class
    table = report.score_table(outcome.results)
    assert all(s["id"] in table for s in sample_class.students())


def test_the_same_class_in_a_postgresql_gradebook_gives_the_same_csv(placed, graded_class, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(placed[0], course)
    with postgres_server() as url:
        outcome = grade_class.run(course, _settings(db_url=url, feedback=False, report=False))
        assert outcome.db_url == url and outcome.graded > 100
        assert _grades(outcome.csv) == _grades(graded_class[1].csv)


def test_a_local_dask_cluster_grades_the_same(placed, graded_class, tmp_path):
    """Dask workers run the notebooks; the coordinator stays the only gradebook writer."""
    from distributed import LocalCluster

    course = tmp_path / "course"
    shutil.copytree(placed[0], course)
    part = ["01_gradient_descent", "04_single_neuron"]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        outcome = grade_class.run(course, _settings(assignments=part, dask=cluster.scheduler_address,
                                                    feedback=False, report=False))
    ours = {(r.student, r.assignment): (r.auto_score, r.error) for r in outcome.results}
    reference = {k: (r.auto_score, r.error) for k, r in graded_class[2].items() if k[1] in part}
    assert ours == reference and outcome.graded >= 30


def test_a_submission_naming_an_unknown_answer_cell_is_refused():
    assignment = next(iter(sample_class.students()[0]["assignments"]))
    with pytest.raises(KeyError, match="no answer cell named nonexistent"):
        submissions.build(assignment, "untouched", {"nonexistent": "x = 1"})
