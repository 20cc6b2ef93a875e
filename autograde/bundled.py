"""The course this package ships: solutions/, samples/ and nbgrader_config.py, found with importlib.resources.

Instructors edit them at the top of the repository. A wheel carries a copy inside the package, in
autograde/course_files/ (setup.py copies it at build time); a checkout, or an editable install of
one, has no such folder and reads the repository's own. Nothing here is the course folder an
instructor releases and grades in: that is the current folder, or --course.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGED = "course_files"  # the copy's folder inside an installed package

_package = Path(files(__package__))
#: The folder holding the bundled solutions/, samples/ and nbgrader_config.py.
ROOT = _package / PACKAGED if (_package / PACKAGED).is_dir() else _package.parent
SOLUTIONS = ROOT / "solutions"
SAMPLES = ROOT / "samples"
NBGRADER_CONFIG = ROOT / "nbgrader_config.py"
