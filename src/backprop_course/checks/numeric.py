"""Checks of numbers and arrays: coerce to plain float64, check shape and dtype, compare.

What a student returns is never trusted to compare itself: it is copied into a plain
float64 NumPy array first, so an object whose ``__eq__`` always says True cannot pass.
Student code runs with NumPy's floating-point warnings captured, so nothing reaches
stderr (nbgrader scores a test cell that writes to stderr as zero).
"""
from __future__ import annotations

import copy
import warnings
from typing import Any, Callable, Iterable, Optional

import numpy as np

from .feedback import GENERIC_TAG, Mistake, describe_call, fail, fail_plain, reject_refused, short_repr

RTOL, ATOL = 1e-7, 1e-10


def _real_scalar(value: Any) -> Optional[float]:
    """The plain float held by a real number, bypassing any overridden dunder methods."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, float):  # includes np.float64
        return float.__float__(value)
    if isinstance(value, int):
        return float(int.__index__(value))
    if isinstance(value, (np.integer, np.floating)):
        return float(np.asarray(value, dtype=np.float64))
    if type(value) is np.ndarray and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value.astype(np.float64))
    return None


def as_float(value: Any, what: str) -> float:
    """``value`` as a plain Python float, or a failure that says what came back instead."""
    __tracebackhide__ = True
    number = _real_scalar(value)
    if number is None:
        reject_refused(value, what)
        hint = "Return a single number (a Python float)."
        if isinstance(value, np.ndarray):
            hint += " You returned an array; if it holds one value, use float(...) on it."
        fail(what, f"{short_repr(value)} of type {type(value).__name__}", "a float", "not-a-float", hint)
    return number


def as_float_array(value: Any, what: str, shape: Optional[tuple] = None) -> np.ndarray:
    """``value`` as a fresh plain float64 array of the given shape, or a failure."""
    __tracebackhide__ = True
    if not isinstance(value, np.ndarray):
        reject_refused(value, what)
        fail(what, f"{short_repr(value)} of type {type(value).__name__}",
             f"a NumPy array{'' if shape is None else f' of shape {shape}'}", "not-an-array",
             "Return a NumPy array (np.array(...) or array arithmetic), not a list, tuple or number.")
    kind = value.dtype.kind
    if kind != "f" or value.dtype.itemsize != 8:
        tag = "not-float64" if kind in "biuf" else "not-a-number"
        fail(what, f"an array of dtype {value.dtype}", "dtype float64", tag,
             "Floats in this course are float64: start from float arrays (for example np.zeros(n) "
             "or np.asarray(x, dtype=float)), and do not convert to float32 or int.")
    plain = np.array(np.asarray(value), dtype=np.float64, copy=True)
    if shape is not None and plain.shape != tuple(shape):
        fail(what, f"an array of shape {plain.shape}", f"shape {tuple(shape)}", "wrong-shape",
             "Check how many entries you create and whether you reshaped or summed over the wrong axis.")
    return plain


def close(got: Any, expected: Any, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """True when two float arrays (or floats) agree elementwise; NaN only equals NaN."""
    a = np.asarray(got, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        return False
    with np.errstate(all="ignore"):
        both_nan = np.isnan(a) & np.isnan(b)
        same_inf = np.isinf(a) & (a == b)
        near = np.isfinite(b) & (np.abs(a - b) <= atol + rtol * np.abs(b))
    return bool(np.all(both_nan | same_inf | near))


def _coerce(value: Any, kind: str, what: str, shape: Optional[tuple]) -> np.ndarray:
    __tracebackhide__ = True
    if kind == "float":
        return np.asarray(as_float(value, what))
    if kind == "array":
        return as_float_array(value, what, shape)
    raise ValueError(f"kind must be 'float' or 'array', not {kind!r}")


def _first_difference(got: np.ndarray, expected: np.ndarray) -> str:
    if got.ndim == 0:
        return ""
    with np.errstate(all="ignore"):
        err = np.abs(got - expected)
    err = np.where(np.isnan(err), np.inf, err)
    index = np.unravel_index(int(np.argmax(err)), got.shape)
    where = index[0] if len(index) == 1 else index
    return f" (largest difference at index {where}: {got[index]:.10g} instead of {expected[index]:.10g})"


def _diagnose(got: np.ndarray, mistakes: Iterable[Mistake], args: tuple, kwargs: dict,
              rtol: float, atol: float) -> Optional[Mistake]:
    """The first known mistake that explains ``got``."""
    for mistake in mistakes:
        if mistake.when is not None:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    if mistake.when(got):
                        return mistake
                except Exception:  # noqa: BLE001
                    pass
        if mistake.value is not None:
            wrong = mistake.value
            if callable(wrong):
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        wrong = wrong(*copy.deepcopy(args), **copy.deepcopy(kwargs))
                    except Exception:  # this mistake cannot be evaluated here: it does not explain got  # noqa: BLE001
                        continue
            if close(got, wrong, rtol, atol):
                return mistake
    return None


def check_value(got: Any, expected: Any, what: str, *, kind: str = "float",
                shape: Optional[tuple] = None, mistakes: Iterable[Mistake] = (),
                rtol: float = RTOL, atol: float = ATOL, hint: str = "",
                args: tuple = (), kwargs: Optional[dict] = None) -> np.ndarray:
    """Check that ``got`` (a float or a float64 array) equals ``expected``; return it as float64.

    ``what`` names what is checked (``"df(8.0)"`` or ``"max_stable_learning_rate"``).
    On a mismatch the first matching `Mistake` names the misconception; ``hint`` is the
    advice given when none matches.
    """
    __tracebackhide__ = True
    expected_arr = np.asarray(expected, dtype=np.float64)
    if kind == "array" and shape is None:
        shape = expected_arr.shape
    if kind == "array":
        plain = as_float_array(got, what)
        if plain.shape != tuple(shape):  # a mistake's `when` may explain the shape (an entry short, …)
            found = _diagnose(plain, [m for m in mistakes if m.when is not None], args, kwargs or {}, rtol, atol)
            fail(what, f"an array of shape {plain.shape}", f"shape {tuple(shape)}",
                 found.tag if found else "wrong-shape", found.hint if found else
                 "Check how many entries you create and whether you reshaped or summed over the wrong axis.")
    plain = _coerce(got, kind, what, shape)
    if close(plain, expected_arr, rtol, atol):
        return plain
    found = _diagnose(plain, mistakes, args, kwargs or {}, rtol, atol)
    fail(what, short_repr(plain if kind == "array" else float(plain)) + _first_difference(plain, expected_arr),
         short_repr(expected_arr if kind == "array" else float(expected_arr)),
         found.tag if found else GENERIC_TAG, found.hint if found else hint)


def call(function: Callable, *args: Any, name: Optional[str] = None, kwargs: Optional[dict] = None,
         no_warnings: bool = False, warning_hint: str = "", inputs_unchanged: bool = True) -> Any:
    """Call a student's function on copies of ``args`` and return what it returns.

    Failures say which call failed: a stub that still raises NotImplementedError, an
    exception, a floating-point warning (when ``no_warnings``), or an input the function
    modified in place. Warnings are captured, never printed.
    """
    __tracebackhide__ = True
    kwargs = kwargs or {}
    name = name or getattr(function, "__name__", "your function")
    what = describe_call(name, args, kwargs)
    if not callable(function):
        fail_plain(f"{name} should be a function, but it is {short_repr(function)}.", "not-a-function")
    given_args, given_kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn", under="ignore"):
        warnings.simplefilter("always")
        try:
            result = function(*given_args, **given_kwargs)
        except NotImplementedError:
            fail_plain(f"{what} raised NotImplementedError: {name} is still the stub. Replace "
                       "`raise NotImplementedError()` in its answer cell with your code and run that cell.",
                       "not-implemented")
        except Exception as error:  # the student's code raised: report it as feedback  # noqa: BLE001
            try:
                text = str(error)
            except Exception:  # an exception whose __str__ fails still gets reported  # noqa: BLE001
                text = "(its message could not be shown)"
            fail_plain(f"{what} raised {type(error).__name__}: {text[:300]}", "raised-error")
    if no_warnings and caught:
        first = caught[0]
        fail_plain(f"{what} emitted {first.category.__name__}: {first.message}. "
                   + (warning_hint or "Rewrite the computation so that no intermediate value overflows."),
                   "overflow-warning")
    if inputs_unchanged:
        pairs = list(zip(args, given_args)) + [(kwargs[k], given_kwargs[k]) for k in kwargs]
        for before, after in pairs:
            if isinstance(before, np.ndarray) and not np.array_equal(before, after, equal_nan=True):
                fail_plain(f"{what} changed its input array in place. Work on a copy "
                           "(x = x.copy()) or restore every entry you perturb.", "mutates-input")
    return result


def check_call(function: Callable, *args: Any, expected: Any, kind: str = "float",
               shape: Optional[tuple] = None, mistakes: Iterable[Mistake] = (),
               rtol: float = RTOL, atol: float = ATOL, hint: str = "", name: Optional[str] = None,
               kwargs: Optional[dict] = None, no_warnings: bool = False,
               warning_hint: str = "") -> np.ndarray:
    """Call ``function(*args)`` and check its result like `check_value`; return it as float64."""
    __tracebackhide__ = True
    name = name or getattr(function, "__name__", "your function")
    result = call(function, *args, name=name, kwargs=kwargs, no_warnings=no_warnings,
                  warning_hint=warning_hint)
    return check_value(result, expected, describe_call(name, args, kwargs), kind=kind, shape=shape,
                       mistakes=mistakes, rtol=rtol, atol=atol, hint=hint, args=args, kwargs=kwargs)
