"""The sample class's plan (samples/class.toml) is a realistic class, and its broken files are
broken the way the plan says. Fast: builds the notebooks, never grades them."""
from __future__ import annotations

import json
import re
from collections import Counter

import nbformat
import pytest

from autograde import answer_bank, sample_class
from autograde.release import assignments

STUDENTS = sample_class.students()
PLANS = sample_class.expected()
ASSIGNMENTS = assignments()
#: Damage after which nothing can be graded, so the submission scores zero.
UNGRADABLE = {"empty-file", "invalid-json", "no-notebook"}


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
    files = sorted(p.name for p in folder.iterdir())
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
