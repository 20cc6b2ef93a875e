"""An nbgrader API object for a course folder, configured from that folder's nbgrader_config.py."""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader


def ensure_tools_on_path() -> None:
    """nbgrader shells out to `alembic`: make the running environment's bin/ findable."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def course_config(root: Path, **overrides) -> Config:
    """The course's nbgrader_config.py, with ``overrides`` ({"Class.trait": value}) on top."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    for dotted, value in overrides.items():
        section, trait = dotted.rsplit(".", 1)
        config[section][trait] = value
    return config


def api(root: Path, **overrides):
    """An `NbGraderAPI` rooted at ``root`` (imported lazily: nbgrader is slow to import)."""
    ensure_tools_on_path()
    from sqlalchemy.exc import SAWarning

    # nbgrader's own gradebook code trips SQLAlchemy's autoflush warning; it is harmless noise.
    warnings.filterwarnings("ignore", category=SAWarning)
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograde import internals

    internals.alembic_head_in_process()
    internals.shared_engines()
    internals.schema_checked_once()
    internals.tables_made_once()
    internals.course_checked_once()

    config = course_config(Path(root), **overrides)
    config.CourseDirectory.root = str(Path(root).resolve())
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def gradebook_url(root: Path) -> str:
    return f"sqlite:///{Path(root).resolve() / 'gradebook.db'}"
