"""What a failed check says: the call, what came back, what was expected, and a tagged misconception.

Every failure is a `CheckFailure` whose first tag in square brackets (for example
``[sigmoid-sign]``) is stable, so that a class report can count how often each
misconception occurs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

#: Tag used when no known misconception explains a wrong value.
GENERIC_TAG = "wrong-value"


class CheckFailure(AssertionError):
    """A check did not pass. The message is written for the student."""

    def __init__(self, message: str, tag: str = GENERIC_TAG):
        super().__init__(message)
        self.tag = tag


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer and what it reveals.

    ``value`` is the wrong result (a number, an array, a SymPy expression, or a callable
    taking the same arguments as the student's function); ``when`` is a predicate on what
    came back (a float64 array or a SymPy expression). A mistake matches when either does.
    """

    tag: str
    hint: str
    value: Any = None
    when: Optional[Callable[[Any], bool]] = field(default=None, compare=False)


def short_repr(value: Any, limit: int = 80, details: bool = True) -> str:
    """A one-line description of a value, short enough for a failure message."""
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=6, threshold=6, edgeitems=2, linewidth=10_000):
            body = np.array2string(value, separator=", ")
        extra = f", shape={value.shape}, dtype={value.dtype}" if details else ""
        text = f"array({body}{extra})" if value.ndim else repr(value)
    elif callable(value) and hasattr(value, "__name__"):
        text = value.__name__ if value.__name__ != "<lambda>" else "a lambda"
    else:
        try:
            text = repr(value)
        except Exception:  # a student's object whose __repr__ fails  # noqa: BLE001
            text = f"<{type(value).__name__} object>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_call(name: str, args: tuple = (), kwargs: Optional[dict] = None) -> str:
    """``name(arg, ...)`` with each argument shortened."""
    parts = [short_repr(a, 40, details=False) for a in args]
    parts += [f"{k}={short_repr(v, 40, details=False)}" for k, v in (kwargs or {}).items()]
    return f"{name}({', '.join(parts)})"


def fail(what: str, got: str, expected: str, tag: str = GENERIC_TAG, hint: str = "") -> None:
    """Raise a `CheckFailure` saying what was checked, what came back and what was expected."""
    __tracebackhide__ = True
    verb = "returned" if what.endswith(")") else "is"
    lines = [f"{what} {verb} {got}", f"  expected: {expected}"]
    lines.append(f"[{tag}] {hint}" if hint else f"[{tag}] Compare your code with the formula stated above.")
    raise CheckFailure("\n".join(lines), tag)


def fail_plain(message: str, tag: str) -> None:
    """Raise a `CheckFailure` with a message that does not fit the got/expected form."""
    __tracebackhide__ = True
    raise CheckFailure(f"{message}\n[{tag}]", tag)


def reject_refused(value: Any, what: str) -> None:
    """Fail with the grader's own reason and tag when ``value`` stands for an answer the grader
    refused before checking it (its placeholder carries ``refusal_tag`` and ``refusal_reason``:
    a SymPy object too large to check safely); do nothing for any other value."""
    __tracebackhide__ = True
    try:
        tag, reason = getattr(value, "refusal_tag", None), getattr(value, "refusal_reason", None)
    except Exception:  # a student's object whose attribute lookup fails is no refusal  # noqa: BLE001
        return
    if type(tag) is str and type(reason) is str:
        raise CheckFailure(f"{what} was refused before checking: {reason}\n[{tag}] No answer here needs "
                           "numbers, powers or nesting this large: build it from the given symbols with small "
                           "powers (x**2, not x**(10**9)) and sp.exp, sp.tanh, sp.diff.", tag)


def defined(name: str, namespace: dict) -> Any:
    """The value a notebook gave ``name``, or a failure telling the student to run its answer cell."""
    __tracebackhide__ = True
    if name not in namespace:
        fail_plain(f"{name} is not defined yet: write it in its answer cell (replacing "
                   "`raise NotImplementedError()`) and run that cell.", "not-implemented")
    return namespace[name]


def passed(name: str, hidden: bool = True) -> None:
    """Say that the visible tests passed, and that more tests run at grading time."""
    note = " Hidden tests with other inputs run when your notebook is graded." if hidden else ""
    print(f"✔ Visible tests for {name} passed.{note}")
