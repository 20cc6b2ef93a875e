"""The private nbclient and nbgrader attributes `autograde.internals` uses still exist, with the
meaning it relies on: an upgrade that removes one fails here, not in a student's grade."""
from __future__ import annotations

import inspect

import nbclient.client
from nbclient import NotebookClient
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute


def test_nbclient_still_has_the_hooks_the_grader_uses():
    assert inspect.iscoroutinefunction(NotebookClient._async_handle_timeout)
    assert list(inspect.signature(NotebookClient._async_handle_timeout).parameters)[1:] == ["timeout", "cell"]
    assert "await self._async_handle_timeout(timeout, cell)" in inspect.getsource(nbclient.client)
    assert callable(Execute._check_assign_resources) and callable(NotebookClient._cleanup_kernel)


def test_nbgrader_autograde_still_sanitizes_in_a_first_pass():
    source = inspect.getsource(Autograde)
    assert "self._sanitizing" in source and "def _init_preprocessors" in source


def test_new_gradebooks_get_the_schema_version_alembic_itself_gives():
    """`autograde.internals.alembic_head_in_process` answers nbgrader's question in process; the
    answer is the one nbgrader's own `alembic heads` process gives, and nbgrader still asks it."""
    from nbgrader import api as gradebook_api

    from autograde import internals
    from autograde.course.nbgrader_app import ensure_tools_on_path

    internals.alembic_head_in_process()
    ensure_tools_on_path()
    assert gradebook_api.get_alembic_version.in_process
    assert gradebook_api.get_alembic_version() == gradebook_api.get_alembic_version.original()
    assert "alembic_version = get_alembic_version()" in inspect.getsource(gradebook_api.Gradebook.__init__)
    assert "_temp_alembic_ini" in inspect.getsource(gradebook_api.get_alembic_version.original)
