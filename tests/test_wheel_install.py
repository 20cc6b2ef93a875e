"""`pip install .` (not editable) gives a package that carries its own course: built as a wheel
and installed into a fresh virtual environment, it finds the bundled solutions/ and samples/ in
its site-packages with importlib.resources, and from an empty folder outside the checkout its
command line releases all seven assignments and grades a sample submission."""
from __future__ import annotations

import csv
import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograde.samples import sample_class

CHECKOUT = Path(__file__).resolve().parents[1]
FIRST = "01_gradient_descent"
STUDENT = "ada"  # her plan for FIRST: the model answers, full marks


def _run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done


@dataclass
class Installed:
    source: Path  # the files the wheel was built from
    venv: Path
    site_packages: Path
    env: dict[str, str]

    def run(self, argv: list, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, cwd=cwd,
                              env=self.env)

    def python(self, code: str, cwd: Path) -> dict:
        """What ``code`` prints as JSON, run by the environment's Python in isolated mode."""
        done = self.run([self.venv / "bin" / "python", "-I", "-c", code], cwd)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    """The wheel of the working tree's files (what git tracks, and new files it does not ignore),
    installed with --no-deps into a new virtual environment. Its dependencies come from this test
    environment's site-packages, named by a .pth file as a plain folder, so the editable install of
    the checkout there is never activated: the checkout is not importable in the new environment."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=CHECKOUT, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the wheel is built from the files git lists")
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (CHECKOUT / name).is_file():  # not a file deleted in the working tree
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(CHECKOUT / name, source / name)
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp / "dist", source])
    (wheel,) = (tmp / "dist").glob("*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    _run([*pip, "--python", venv / "bin" / "python", "install", "-q", "--no-deps", "--no-index", wheel])
    purelib = _run([venv / "bin" / "python", "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    site_packages = Path(purelib.stdout.strip())
    (site_packages / "test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # nbgrader's alembic and nbconvert's page templates come with the dependencies, from this environment.
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")])
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    return Installed(source, venv, site_packages, env)


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_the_wheel_carries_every_file_of_both_packages_and_the_course(installed):
    """Packages are found, not listed by hand: a new module or subpackage ships without a change."""
    site_packages, source = installed.site_packages, installed.source
    assert _files(site_packages / "backprop_course") == _files(source / "src" / "backprop_course")
    packaged = site_packages / "autograde" / "course_files"
    assert _files(site_packages / "autograde") - {"course_files" / p for p in _files(packaged)} \
        == _files(source / "autograde")
    assert _files(packaged) == {p for p in _files(source) if p.parts[0] in ("solutions", "samples")} \
        | {Path("nbgrader_config.py")}


def test_a_wheel_for_students_leaves_the_model_answers_and_hidden_tests_out(installed, tmp_path):
    """Built again in the same tree, whose build/ still holds the course files of the first build."""
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", tmp_path, installed.source], env={**os.environ, "BACKPROP_STUDENT_IMAGE": "1"})
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "backprop_course/checks/__init__.py" in names and "autograde/cli.py" in names
    assert not [n for n in names if "course_files" in n or n.endswith(".ipynb")]


def test_the_installed_package_reads_its_bundled_course_from_site_packages(installed, tmp_path):
    found = installed.python(
        "import json, autograde, backprop_course\n"
        "from autograde import bundled\nfrom autograde.engine import fork_server\n"
        "visible, hidden = fork_server.sandbox_paths()\n"
        "print(json.dumps({'packages': [autograde.__file__, backprop_course.__file__], 'root': str(bundled.ROOT),\n"
        "                  'visible': [str(p) for p in visible], 'hidden': [str(p) for p in hidden]}))", tmp_path)
    site_packages = installed.site_packages
    assert [Path(p) for p in found["packages"]] == [site_packages / "autograde" / "__init__.py",
                                                    site_packages / "backprop_course" / "__init__.py"]
    root = Path(found["root"])
    assert root == site_packages / "autograde" / "course_files"
    # Kernels see the installed packages, never the checkout; the solutions inside them stay covered.
    visible = [Path(p) for p in found["visible"]]
    assert {site_packages / "autograde", site_packages / "backprop_course"} <= set(visible)
    assert not [p for p in visible if p.is_relative_to(CHECKOUT)]
    assert [Path(p) for p in found["hidden"]] == [root]


def test_the_demo_releases_every_assignment_and_grades_in_an_empty_folder(installed, tmp_path):
    """The console script, run where there is no course: it builds the sample course under the
    current folder from the bundled one, releases all seven notebooks and grades one student's
    first notebook (the whole class is `make demo`). No sandbox: the new environment's
    dependencies live in the test environment's folder, which a sandbox does not show."""
    assert sample_class.expected()[(STUDENT, FIRST)]["expect"] == "full"
    done = installed.run(["backprop-grade", "demo", FIRST, "--student", STUDENT, "--workers", "1",
                          "--no-sandbox", "--no-progress"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    course = tmp_path / "build" / "sample-class"
    assert f"made the course folder {course} from the bundled solutions/ ({installed.site_packages}" in done.stdout
    released = sorted(p.parent.name for p in (course / "course").glob("*/*.ipynb"))
    assert released == sorted(p.parent.name for p in (installed.source / "solutions").glob("*/*.ipynb"))
    assert len(released) == 7
    assert "1 submissions graded" in done.stdout
    rows = list(csv.DictReader((course / "grades.csv").open()))
    (row,) = [r for r in rows if (r["student_id"], r["assignment"]) == (STUDENT, FIRST)]
    assert float(row["score"]) > 0  # her autograded points; the written answers wait for hand grading
    assert (course / "feedback" / STUDENT / FIRST / f"{FIRST}.html").is_file()
