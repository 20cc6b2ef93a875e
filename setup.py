"""The one build step pyproject.toml cannot declare: a wheel carries the course it was built from.

solutions/, samples/ and nbgrader_config.py stay at the top of the repository, where instructors
edit them. Building a wheel copies them into the package as autograde/course_files/, which
`autograde.bundled` finds with importlib.resources; an editable install reads them where they are.
Everything else about the build is in pyproject.toml.

solutions/ holds the model answers and hidden tests: an installation students can read (their
JupyterHub image) is built without it, `BACKPROP_STUDENT_IMAGE=1 pip install /path/to/clone`.
"""
import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
COURSE_FILES = ("solutions", "samples", "nbgrader_config.py")
PACKAGED = Path("autograde", "course_files")  # autograde.bundled.PACKAGED
SKIPPED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


class BuildWithCourseFiles(build_py):
    """setuptools' build_py, then the course files copied into the built package."""

    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib, PACKAGED)
        shutil.rmtree(target, ignore_errors=True)  # nothing left over from an earlier build
        if os.environ.get("BACKPROP_STUDENT_IMAGE", "0") != "0":
            return
        target.mkdir(parents=True)
        for name in COURSE_FILES:
            if (HERE / name).is_dir():
                shutil.copytree(HERE / name, target / name, ignore=SKIPPED)
            else:
                shutil.copy(HERE / name, target / name)


setup(cmdclass={"build_py": BuildWithCourseFiles})
