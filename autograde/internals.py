"""The private attributes of nbclient and nbgrader this package relies on, all in one place.

Each is used because the public API has no equivalent (see the functions). pyproject.toml pins
the versions they were read from (nbclient <0.12, nbgrader <0.10) and tests/test_internals.py
fails as soon as one of them is gone, so an upgrade breaks a test, not a grade.
"""
from __future__ import annotations

import atexit


def on_cell_timeout(client, handler) -> None:
    """nbclient calls ``await handler(timeout, cell)`` when a cell outlives its timeout (instead of
    interrupting the kernel: the grader kills it and skips the cell). Public only as a trait that
    cannot raise out of the execution loop."""
    client._async_handle_timeout = handler


def assign_resources(client, path: str) -> None:
    """What ``NotebookClient.execute`` does with its resources before starting a kernel: the
    kernel's working folder. The grader starts the kernel itself, so it calls this directly."""
    client._check_assign_resources({"metadata": {"path": path}})


def forget_cleanup(client) -> None:
    """nbclient registers an atexit hook per client that failed to start a kernel; a grader that
    runs thousands of notebooks would keep each client alive until it exits."""
    atexit.unregister(client._cleanup_kernel)


def sanitize_only(converter) -> None:
    """nbgrader's ``Autograde`` switched to its first pass (sanitizing): ``convert_single_notebook``
    then runs only the preprocessors that restore the course's cells into the submission."""
    converter._sanitizing = True
    converter._init_preprocessors()
