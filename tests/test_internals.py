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
