"""The README's main job: the bundled sample class graded end to end by the batch grader on
nbgrader's gradebook, in SQLite and in a real PostgreSQL server, and on a local Dask cluster; its
late penalties, its totals (the CLI's = the formgrader's = grades.csv's) and its LMS exports.

The run grades the submissions that carry something of the term (`covering`): every broken file,
late or extended submission, planted copy and its source, disguised copy and missing timestamp;
then, where still missing, one submission of each student and of each kind of result per
assignment. Every answer the other plans combine is graded by the answer-bank tests
(tests/notebooks/test_grading.py), and every plan is checked to name bank answers that earn what
it expects (tests/samples/test_sample_class_plan.py); `make demo` grades the whole class."""
from __future__ import annotations

import csv
import html
import io
import re
import shutil

import pytest
from support.postgres import postgres_server

from backprop_course import figure_style

from autograde import cli, pipeline
from autograde.outputs import export, report
from autograde.course import deadlines
from autograde.samples import sample_class, submissions
from autograde.course.nbgrader_app import api

pytestmark = pytest.mark.xdist_group("sample-class")
BROKEN = {"empty-file", "invalid-json", "no-notebook"}


def covering(plans: dict[tuple[str, str], dict]) -> dict[tuple[str, str], dict]:
    """The plans that show each feature of the term once (see the module's docstring)."""
    extended = deadlines.load_file(sample_class.DEADLINES_FILE).extensions
    copied = {(plan["copy_of"], assignment) for (_, assignment), plan in plans.items() if plan["copy_of"]}
    keep = [key for key, plan in plans.items()
            if plan["damage"] or plan["late_percent"] or plan["copy_of"] or plan["renames"]
            or not plan["timestamp"] or key in extended or key in copied]
    for feature in (lambda key: key[0], lambda key: (key[1], plans[key]["expect"])):
        seen = {feature(key) for key in keep}
        for key in plans:
            if feature(key) not in seen:
                keep.append(key)
                seen.add(feature(key))
    return {key: plans[key] for key in plans if key in keep}


PLANS = covering(sample_class.expected())


def _settings(**kw) -> pipeline.Settings:
    return pipeline.Settings(progress=False, **kw)


# Session-scoped: pytest-xdist may hand this module's tests to its worker in several batches with
# other modules' tests between them, and a module-scoped class would then be graded twice.
@pytest.fixture(scope="session")
def placed(tmp_path_factory, released):
    """A course folder with the whole sample class submitted, not yet graded."""
    course = released(tmp_path_factory.mktemp("placed"))
    count = sample_class.place_submissions(course, keys=set(PLANS))
    return course, count


@pytest.fixture(scope="session")
def graded_class(placed, tmp_path_factory):
    course = tmp_path_factory.mktemp("sqlite") / "course"
    shutil.copytree(placed[0], course)
    outcome = pipeline.run(course, _settings())
    return course, outcome, {(r.student, r.assignment): r for r in outcome.results}


def _grades(path) -> list[dict]:
    """nbgrader's CSV rows, without the columns that record when grading happened."""
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    return sorted(({k: v for k, v in row.items() if k not in ("timestamp",)} for row in rows),
                  key=lambda r: (r["assignment"], r["student_id"]))


def test_the_covering_plans_show_every_feature_of_the_term_and_every_student():
    whole = sample_class.expected()
    assert len(whole) >= 15 * 7 - 20 and len(PLANS) < len(whole) / 3
    assert {plan["damage"] for plan in PLANS.values()} - {None} == set(sample_class.DAMAGES)
    assert {key for key, plan in whole.items() if plan["late_percent"] or plan["copy_of"]} <= set(PLANS)
    assert {student for student, _ in PLANS} == {s["id"] for s in sample_class.students()}
    assert {(a, plan["expect"]) for (_, a), plan in PLANS.items()} == {(a, plan["expect"]) for (_, a), plan in whole.items()}


def test_every_planned_submission_is_graded(placed, graded_class):
    _, outcome, results = graded_class
    assert placed[1] == len(PLANS)
    assert set(results) == set(PLANS)


@pytest.mark.parametrize("student", sample_class.students(), ids=lambda s: s["id"])
def test_each_sample_student_scores_as_their_profile_says(graded_class, student):
    _, _, results = graded_class
    for (who, assignment), plan in PLANS.items():
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
    for (who, assignment), plan in PLANS.items():
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
    readable = [k for k, plan in PLANS.items() if plan["damage"] not in BROKEN]
    assert len(outcome.feedback) == len(readable)
    page = outcome.report.read_text()
    assert "sigmoid-sign" in page and "gradient-sign" in page


def test_figures_are_not_drawn_while_grading_and_their_text_alternatives_stay(graded_class):
    """c.Grader.draw_figures is off by default: the feedback pages hold each figure's note and its
    "Figure: …" line instead of a picture, the sliders' first frames included, and 05's timing plot
    times nothing (the browser tests grade with pictures on)."""
    _, outcome, _ = graded_class
    pages = {page: page.read_text() for page in outcome.feedback}
    assert not [page for page, text in pages.items() if re.search(r'<img [^>]*src="data:image/png', text)]
    described = [text for text in pages.values() if "Figure: " in text]
    assert described and all(html.escape(figure_style.NOT_DRAWN) in text for text in described)
    timed = [text for page, text in pages.items() if page.stem == "05_single_path_backprop" and "Figure: log-log" in text]
    assert timed and all("not timed while grading" in text for text in timed)


def test_score_table_lists_every_student(graded_class):
    _, outcome, _ = graded_class
    table = report.score_table(outcome.results)
    assert all(s["id"] in table for s in sample_class.students())


#: The gradebook and the cluster change where results go and where notebooks run, not what they
#: score: one assignment of the class proves each the same as the SQLite run (the whole class
#: graded again would cost minutes and prove nothing more).
PARITY = {"postgresql": "04_single_neuron", "dask": "03_numerical_checks"}


def _rows_of(path, assignment: str) -> list[dict]:
    """nbgrader's CSV rows of the students who handed ``assignment`` in (a gradebook that graded only
    it knows no other student)."""
    handed_in = {student for student, a in PLANS if a == assignment}
    return [row for row in _grades(path) if row["assignment"] == assignment and row["student_id"] in handed_in]


def test_the_same_class_in_a_postgresql_gradebook_gives_the_same_csv(placed, graded_class, tmp_path):
    course, part = tmp_path / "course", PARITY["postgresql"]
    shutil.copytree(placed[0], course)
    with postgres_server() as url:
        outcome = pipeline.run(course, _settings(db_url=url, assignments=[part], feedback=False, report=False))
        assert outcome.db_url == url and outcome.graded >= 2
        assert _rows_of(outcome.csv, part) == _rows_of(graded_class[1].csv, part)


def test_a_local_dask_cluster_grades_the_same(placed, graded_class, tmp_path):
    """Dask workers run the notebooks; the coordinator stays the only gradebook writer."""
    from distributed import LocalCluster

    course, part = tmp_path / "course", PARITY["dask"]
    shutil.copytree(placed[0], course)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        outcome = pipeline.run(course, _settings(assignments=[part], dask=cluster.scheduler_address,
                                                    feedback=False, report=False))
    ours = {(r.student, r.assignment): (r.auto_score, r.error) for r in outcome.results}
    reference = {k: (r.auto_score, r.error) for k, r in graded_class[2].items() if k[1] == part}
    assert ours == reference and outcome.graded >= 2


def test_a_submission_naming_an_unknown_answer_cell_is_refused():
    assignment = next(iter(sample_class.students()[0]["assignments"]))
    with pytest.raises(KeyError, match="no answer cell named nonexistent"):
        submissions.build(assignment, "untouched", {"nonexistent": "x = 1"})


# ---- a term: late penalties, totals everywhere, hand grading, LMS exports -------------------------

def test_late_penalties_are_what_the_plan_worked_out(graded_class):
    _, outcome, _ = graded_class
    found = outcome.course.by_key()
    penalised = 0
    for key, plan in PLANS.items():
        result = found[key]
        assert result.late_penalty == pytest.approx(result.score * plan["late_percent"] / 100), key
        penalised += result.late_penalty > 0
    assert penalised >= 5


def _table_totals(text: str) -> dict[str, tuple[str, str]]:
    """student → (total, after late penalties) as the CLI printed them."""
    lines = text.splitlines()
    header = lines[0]
    total_at, final_at = header.index("total"), header.index("after late penalties")
    rows = {}
    for line in lines[2:]:
        if not line.strip():
            break
        rows[line.split()[0]] = (line[total_at:final_at].split()[0], line[final_at:].split()[0])
    return rows


def _totals_everywhere(course, printed):
    """(CLI, formgrader, grades.csv) totals per student, as text: "score/max" and the final score."""
    cli_totals = _table_totals(printed)
    formgrader = {s["id"]: f"{report.num(s['score'])}/{report.num(s['max_score'])}" for s in api(course).get_students()}
    exported: dict[str, list[float]] = {}
    for row in csv.DictReader((course / "grades.csv").open()):
        sums = exported.setdefault(row["student_id"], [0.0, 0.0, 0.0])
        sums[0] += float(row["raw_score"])
        sums[1] += float(row["score"])
        sums[2] += float(row["max_score"])
    csv_totals = {s: (f"{report.num(raw)}/{report.num(most)}", f"{report.num(final)}/{report.num(most)}")
                  for s, (raw, final, most) in exported.items()}
    return cli_totals, formgrader, csv_totals


def test_totals_are_the_same_in_the_cli_the_formgrader_and_grades_csv(graded_class, capsys):
    course, outcome, _ = graded_class
    cli._print(outcome)
    cli_totals, formgrader, csv_totals = _totals_everywhere(course, capsys.readouterr().out)
    assert set(cli_totals) == set(formgrader) == set(csv_totals) == {s["id"] for s in sample_class.students()}
    for student, (total, final) in cli_totals.items():
        assert total == formgrader[student] == csv_totals[student][0], student
        assert final == csv_totals[student][1], student
    assert cli_totals["dana"][0].endswith("/130") and formgrader["dana"].endswith("/130")


def test_points_given_by_hand_count_everywhere_and_are_penalised_when_late(graded_class, tmp_path):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    shutil.copytree(graded_class[0], course)
    late = ("ben", "03_numerical_checks")
    with Gradebook(api(course).coursedir.db_url) as gb:
        for notebook in gb.find_submission(late[1], late[0]).notebooks:
            for grade in notebook.grades:
                if grade.cell.cell_type == "markdown":
                    grade.manual_score = 1.5  # graded by hand in the formgrader
        gb.db.commit()
    export.export(course, "csv")  # brings nbgrader's penalties up to date, as `grade` does
    from autograde.outputs import results

    graded = results.read_course(course)
    ben = graded.by_key()[late]
    assert ben.written_pending == 0 and ben.written_score == 3.0
    assert ben.late_penalty == pytest.approx(0.1 * (ben.auto_score + 3.0))
    from autograde.pipeline import export_csv

    export_csv(api(course), course / "grades.csv")
    printed = report.score_table(graded.submissions, points=graded.points, students=graded.students)
    cli_totals, formgrader, csv_totals = _totals_everywhere(course, printed)
    assert cli_totals["ben"] == (formgrader["ben"], csv_totals["ben"][1]) and formgrader["ben"] == csv_totals["ben"][0]


def test_the_demo_names_late_submissions_and_the_export_files(graded_class, capsys):
    course, outcome, _ = graded_class
    cli._demo_outputs(course, outcome)
    printed = capsys.readouterr().out
    for (student, assignment), plan in PLANS.items():
        if plan["late_percent"] and outcome.course.by_key()[(student, assignment)].score > 0:
            assert f"  {student} / {assignment}: " in printed
    for fmt in export.FORMATS:
        path = course / "exports" / export.DEFAULT_NAMES[fmt]
        assert f"wrote {path} (" in printed and path.is_file()
    assert "not in the roster" in printed and "vik" in printed
    assert "no timestamp.txt" in printed and "lena / 02_symbolic_derivatives" in printed


def test_the_canvas_export_lists_the_roster_with_late_penalties_taken(graded_class):
    course, outcome, _ = graded_class
    done = export.export(course, "canvas", sample_class.write_roster(course))
    rows = list(csv.reader(io.StringIO(done.path.read_text(encoding="utf-8"))))
    people = sample_class.roster_people()
    assert [row[3] for row in rows[2:]] == [p.sis_login_id for p in people]
    assert rows[1][5:] == [report.num(p) for p in outcome.course.points.values()]
    found = outcome.course.by_key()
    for person, row in zip(people, rows[2:]):
        for assignment, cell in zip(outcome.course.points, row[5:]):
            result = found.get((person.id, assignment))
            assert cell == ("" if result is None else report.num(result.final_score)), (person.id, assignment)
    assert [row[5:] for row in rows[2:] if row[3] in ("lmuller", "xochitl")] == [[""] * 7] * 2


def test_reading_many_submissions_at_once_gives_each_ones_own_reading(graded_class):
    """`results.read_many` (one gradebook session, as the coordinator reads a run's results) gives
    what `results.read` gives for each submission, and says so of a submission it does not hold."""
    from autograde.outputs import results

    course, outcome, _ = graded_class
    pairs = [(r.student, r.assignment) for r in outcome.results if r.cells][:30] + [("nobody", "01_gradient_descent")]
    many = results.read_many(course, pairs, outcome.db_url)
    assert many == [results.read(course, assignment, student, outcome.db_url) for student, assignment in pairs]
    assert [(r.student, r.assignment) for r in many] == pairs and all(r.cells for r in many[:-1])
    assert many[-1].error == "no graded submission in the gradebook" and not many[-1].cells
    assert any(c.message for r in many for c in r.cells)  # the failure messages come from the graded notebooks
