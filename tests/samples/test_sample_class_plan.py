"""The sample class's plan (samples/class.toml) is a realistic term: broken files broken the way the
plan says, written answers that vary, submission times around the deadlines, a roster with
real-looking names, and two planted near-copies. Fast: builds the notebooks, never grades them."""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import timedelta

import nbformat
import pytest

from autograde import bundled
from autograde.course import deadlines, roster
from autograde.samples import answer_bank, sample_class
from autograde.course.release import assignments

STUDENTS = sample_class.students()
PLANS = sample_class.expected()
ASSIGNMENTS = assignments()
#: Damage after which nothing can be graded, so the submission scores zero.
UNGRADABLE = {"empty-file", "invalid-json", "no-notebook"}
DEADLINES = deadlines.load_file(sample_class.DEADLINES_FILE)


def test_the_class_has_between_15_and_30_students_with_unique_safe_ids():
    ids = [s["id"] for s in STUDENTS]
    assert 15 <= len(ids) <= 30
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+", i) for i in ids), ids


def test_every_student_has_a_profile_and_plans_only_for_real_assignments():
    for student in STUDENTS:
        assert student.get("profile"), student["id"]
        assert set(student.get("assignments", {})) <= set(ASSIGNMENTS), student["id"]


@pytest.mark.parametrize("key", sorted(PLANS), ids=lambda k: f"{k[0]}-{k[1][:2]}")
def test_each_plan_names_bank_answers_and_expects_what_they_earn(key):
    plan = PLANS[key]
    assert plan["base"] in ("solution", "untouched")
    assert plan["expect"] in ("full", "partial", "zero")
    assert plan["damage"] is None or plan["damage"] in sample_class.DAMAGES, plan["damage"]
    answers = [answer_bank.find(key[1], name, label) for name, label in plan["answers"].items()]
    wrong = [a for a in answers if a.kind == "wrong"]
    if plan["damage"] in UNGRADABLE:
        assert plan["expect"] == "zero", "nothing gradable was handed in"
    elif wrong:
        assert plan["expect"] != "full", f"wrong answers {[a.label for a in wrong]} cannot earn full marks"
    elif plan["base"] == "solution":
        assert plan["expect"] == "full", "only right answers on a solved notebook"
    else:
        assert not answers and plan["expect"] == "zero", "an untouched notebook earns nothing"


def test_every_assignment_has_at_least_12_submissions():
    counts = Counter(a for (_, a) in PLANS)
    assert all(counts[a] >= 12 for a in ASSIGNMENTS), counts


def test_some_student_skipped_an_assignment_yet_handed_in_a_later_one():
    def skipped_midway(handed_in: set[str]) -> bool:
        return any(a not in handed_in and any(b > a for b in handed_in) for a in ASSIGNMENTS)
    assert any(skipped_midway(set(s.get("assignments", {}))) for s in STUDENTS)


def test_the_wrong_answers_chosen_show_varied_and_recurring_misconceptions():
    tags = Counter(answer_bank.find(a, name, label).tag
                   for (_, a), plan in PLANS.items() for name, label in plan["answers"].items()
                   if answer_bank.find(a, name, label).kind == "wrong")
    assert len(tags) >= 6, tags
    assert tags.most_common(1)[0][1] >= 3, tags


def test_every_kind_of_damage_appears_in_the_class():
    assert {p["damage"] for p in PLANS.values()} - {None} == set(sample_class.DAMAGES)


def test_unknown_damage_is_refused(tmp_path):
    notebook = tmp_path / "01.ipynb"
    notebook.write_text("{}")
    with pytest.raises(ValueError, match="unknown damage 'shredded'"):
        sample_class.damage(notebook, "shredded")


@pytest.fixture(scope="module")
def placed(tmp_path_factory):
    course = sample_class.prepare_course(tmp_path_factory.mktemp("plan") / "c")
    return course, sample_class.place_submissions(course)


def test_one_submission_folder_per_plan_and_none_for_skipped_assignments(placed):
    course, count = placed
    folders = {(f.parent.name, f.name) for f in (course / "submitted").glob("*/*") if f.is_dir()}
    assert count == len(PLANS) and folders == set(PLANS)


@pytest.mark.parametrize("key", sorted(PLANS), ids=lambda k: f"{k[0]}-{k[1][:2]}")
def test_each_submission_is_written_healthy_or_broken_as_planned(placed, key):
    course, _ = placed
    student, assignment = key
    folder = course / "submitted" / student / assignment
    files = sorted(p.name for p in folder.iterdir() if p.name != "timestamp.txt")
    damage = PLANS[key]["damage"]
    notebook = folder / f"{assignment}.ipynb"
    if damage == "empty-file":
        assert files == [notebook.name] and notebook.stat().st_size == 0
    elif damage == "invalid-json":
        assert files == [notebook.name] and notebook.stat().st_size > 0
        with pytest.raises(json.JSONDecodeError):
            json.loads(notebook.read_text())
    elif damage == "no-notebook":
        assert files == [sample_class.NOTES_FILE] and (folder / sample_class.NOTES_FILE).read_text().strip()
    else:
        name = sample_class.RENAMED_AS if damage == "renamed" else notebook.name
        assert files == [name]
        nbformat.validate(nbformat.read(folder / name, as_version=4))


# ---- a term: deadlines, written answers, a roster, planted copies --------------------------------

def _seconds_late(key) -> float:
    """How late the plan hands in, after the student's extension (the plan's own times, not the grader's)."""
    student, assignment = key
    when = sample_class.submission_time(PLANS[key], student, assignment, DEADLINES.due).replace(tzinfo=None)
    return (when - DEADLINES.due[assignment] - (DEADLINES.extension(student, assignment) or timedelta())).total_seconds()


def test_every_assignment_has_a_due_date_and_every_extension_a_planned_submission():
    assert set(DEADLINES.due) == set(ASSIGNMENTS)
    assert set(DEADLINES.extensions) <= set(PLANS)


@pytest.mark.parametrize("key", sorted(PLANS), ids=lambda k: f"{k[0]}-{k[1][:2]}")
def test_late_percent_is_what_ten_percent_per_day_begun_gives(key):
    late = _seconds_late(key)
    assert PLANS[key]["late_percent"] == (min(100, 10 * math.ceil(late / 86400)) if late > 0 else 0)


def test_the_term_has_late_submissions_an_extension_that_saves_one_and_one_that_does_not():
    late = [k for k in PLANS if PLANS[k]["late_percent"] > 0]
    extended = [k for k in PLANS if DEADLINES.extension(*k)]
    assert len(late) >= 5 and len({PLANS[k]["late_percent"] for k in late}) >= 3
    assert any(PLANS[k]["late_percent"] == 0 and PLANS[k]["submitted"].startswith("+") for k in extended)
    assert any(PLANS[k]["late_percent"] > 0 for k in extended)
    unstamped = [k for k in PLANS if not PLANS[k]["timestamp"]]
    assert {PLANS[k]["late_percent"] > 0 for k in unstamped} == {True, False}


def test_written_answers_vary_and_every_text_answers_a_real_written_cell():
    texts = sample_class.written_texts()
    written_cells = {}
    for assignment in ASSIGNMENTS:
        nb = nbformat.read(bundled.SOLUTIONS / assignment / f"{assignment}.ipynb", as_version=4)
        written_cells.update({c.metadata["nbgrader"]["grade_id"]: assignment for c in nb.cells
                              if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")})
    assert set(texts) == set(written_cells)
    assert all(set(labels) == {"brief", "wrong"} and all(labels.values()) for labels in texts.values())
    used = Counter(label for (_, a), plan in PLANS.items() for g, label in plan["written"].items()
                   if written_cells[g] == a)
    assert sum(len(plan["written"]) for plan in PLANS.values()) == sum(used.values())  # each in its own notebook
    assert used["brief"] >= 8 and used["wrong"] >= 8 and used["empty"] >= 5, used


def test_the_roster_has_real_looking_names_and_leaves_one_student_out():
    people = sample_class.roster_people()
    ids = [p.id for p in people]
    in_class = {s["id"] for s in STUDENTS}
    assert len(ids) == len(set(ids))
    assert in_class - set(ids) == {s["id"] for s in STUDENTS if not s.get("in_roster", True)} != set()
    assert set(ids) - in_class and not (set(ids) - in_class) & {k[0] for k in PLANS}  # enrolled, never handed in
    names = [p.full_name for p in people]
    assert any(not n.isascii() for n in names) and any(n.count(" ") >= 2 for n in names)
    assert len(names) != len(set(names))  # two people share a name


def test_the_written_roster_reads_back(tmp_path):
    path = sample_class.write_roster(tmp_path)
    assert roster.load(path) == sample_class.roster_people()


def test_two_planted_copies_differ_in_text_but_not_once_names_and_order_are_undone():
    copies = [k for k, plan in PLANS.items() if plan["copy_of"]]
    assert len(copies) == 2
    for student, assignment in copies:
        plan = PLANS[(student, assignment)]
        original = sample_class.answer_sources(assignment, PLANS[(plan["copy_of"], assignment)])
        copied = sample_class.answer_sources(assignment, plan)
        assert plan["code"] and set(copied) == set(original)
        for name in plan["code"]:
            assert copied[name] != original[name]
            undone = sample_class.disguise(copied[name], {new: old for old, new in plan["renames"].items()})
            blocks = lambda code: sorted(b.strip() for b in re.split(r"\n(?=\S)", code.strip()))  # noqa: E731
            assert blocks(undone) == blocks(original[name]) and len(blocks(undone)) >= 2


def test_submissions_are_dated_as_planned(placed):
    from nbgrader.utils import parse_utc

    course, _ = placed
    for key, plan in PLANS.items():
        folder = course / "submitted" / key[0] / key[1]
        when = sample_class.submission_time(plan, *key, DEADLINES.due)
        stamp = folder / "timestamp.txt"
        assert stamp.is_file() == plan["timestamp"], key
        if plan["timestamp"]:
            assert parse_utc(stamp.read_text()) == when.replace(tzinfo=None)
        assert {p.stat().st_mtime for p in folder.iterdir()} == {when.timestamp()}


def test_written_answers_are_placed_as_planned(placed):
    course, _ = placed
    texts = sample_class.written_texts()
    for (student, assignment), plan in PLANS.items():
        if plan["damage"] or not plan["written"]:
            continue
        nb = nbformat.read(course / "submitted" / student / assignment / f"{assignment}.ipynb", as_version=4)
        cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
        for grade_id, label in plan["written"].items():
            expected = sample_class.EMPTY_ANSWER if label == "empty" else texts[grade_id][label].strip()
            assert cells[grade_id] == expected, (student, grade_id)
