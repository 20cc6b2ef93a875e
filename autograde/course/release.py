"""Generate the student notebooks in course/ from solutions/ with nbgrader, and prove they match.

Every function takes the course folder it works in; the default is the bundled course
(`autograde.bundled`), which in a checkout is the repository itself.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from autograde import bundled
from autograde.course.nbgrader_app import api

#: The bundled course's folder: in a checkout, the top of the repository (the tests read docs/ and
#: course/ there too); in an installed wheel, the copy inside the package.
REPO = bundled.ROOT


def assignments(root: Path = REPO) -> list[str]:
    """Assignment ids: the folders of solutions/ that hold a notebook of the same name, sorted."""
    return sorted(p.name for p in (root / "solutions").iterdir() if (p / f"{p.name}.ipynb").exists())


def generate(root: Path = REPO, ids: list[str] | None = None, **overrides) -> list[str]:
    """Run nbgrader generate_assignment for each assignment; return the ids generated.

    ``overrides`` are config values on top of the course's ("CourseDirectory.db_url": …)."""
    grader = api(root, **overrides)
    done = []
    for aid in ids or assignments(root):
        result = grader.generate_assignment(aid, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not generate {aid}:\n{result.get('error') or result.get('log')}")
        done.append(aid)
    return done


def fresh_release(root: Path = REPO) -> Path:
    """Generate course/ from a copy of solutions/ in a temporary folder; return that folder."""
    scratch = Path(tempfile.mkdtemp(prefix="release-"))
    shutil.copy(root / "nbgrader_config.py", scratch)
    shutil.copytree(root / "solutions", scratch / "solutions")
    generate(scratch)
    return scratch


def release_drift(root: Path = REPO) -> list[str]:
    """Files of course/ that differ from a fresh generation (missing, extra or changed)."""
    scratch = fresh_release(root)
    try:
        fresh = {p.relative_to(scratch / "course") for p in (scratch / "course").rglob("*") if p.is_file()}
        committed = {p.relative_to(root / "course") for p in (root / "course").rglob("*")
                     if p.is_file() and ".ipynb_checkpoints" not in p.parts}
        drift = [f"missing: course/{p}" for p in sorted(fresh - committed)]
        drift += [f"not generated: course/{p}" for p in sorted(committed - fresh)]
        for rel in sorted(fresh & committed):
            a, b = scratch / "course" / rel, root / "course" / rel
            same = (json.loads(a.read_text()) == json.loads(b.read_text())) if rel.suffix == ".ipynb" \
                else a.read_bytes() == b.read_bytes()
            if not same:
                drift.append(f"changed: course/{rel}")
        return drift
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
