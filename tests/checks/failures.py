"""Helpers for the check-library tests: catch a CheckFailure and read its [tag]."""
import re

import pytest

from backprop_course.checks import CheckFailure


def first_tag(message: str) -> str:
    """The first ``[tag]`` in a failure message."""
    found = re.search(r"\[([A-Za-z0-9_-]+)\]", message)
    assert found, f"no [tag] in {message!r}"
    return found.group(1)


def failure(function, *args, **kwargs) -> CheckFailure:
    """The CheckFailure raised by ``function(*args, **kwargs)``; its .tag must match its message."""
    with pytest.raises(CheckFailure) as info:
        function(*args, **kwargs)
    assert info.value.tag == first_tag(str(info.value))
    return info.value
