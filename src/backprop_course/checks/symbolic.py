"""Checks of SymPy answers: is it an evaluated expression, in the allowed symbols, equal to the oracle?

Equality is decided in three steps so that no equal form fails:
1. structural equality after rewriting in exponentials;
2. ``simplify`` of the difference, bounded in time (it can run for minutes on some forms);
3. when that is undecided, evaluation at seeded random points on a declared domain that
   includes negative values, with 30 significant digits. One point that differs proves
   the answer wrong; agreement at every point is accepted (SymPy cannot always prove equal
   forms equal, for example σ written with tanh).
"""
from __future__ import annotations

import hashlib
import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterable, Mapping, Optional

import numpy as np
import sympy as sp

from ..seeding import rng
from .feedback import GENERIC_TAG, Mistake, fail, fail_plain, reject_refused, short_repr

DEFAULT_DOMAIN = (-4.0, 4.0)
N_POINTS = 12
SIMPLIFY_SECONDS = 2.0
_UNEVALUATED = (sp.Derivative, sp.Integral, sp.Subs, sp.Limit)

#: Verdicts `equivalent` has reached, by `_memo_key`; None (the default) remembers nothing. The
#: trusted grader sets a table shared by the notebooks it checks: the verdict is a function of the two
#: expressions, the domain and the seed alone, so twenty students with the same answer cost one
#: simplify, not twenty. (Only how a remembered verdict was reached may differ: a simplify cut off by
#: its time limit on a busy machine would have said "numeric" instead of "simplify".)
decided: Optional[dict] = None


class _OutOfTime(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    """Raise `_OutOfTime` in the block after ``seconds`` (main thread only; elsewhere no bound)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        raise _OutOfTime  # cannot bound the time here: leave the decision to the numbers

    def on_alarm(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, on_alarm)
    outer, started = signal.getitimer(signal.ITIMER_REAL)[0], time.monotonic()  # an enclosing limit
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer) if outer else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # the enclosing limit goes on with what is left of it (the grader's cell timeout)
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 1e-3))


def as_expression(value: Any, what: str) -> sp.Expr:
    """``value`` as an evaluated SymPy expression, or a failure saying what it is instead."""
    __tracebackhide__ = True
    if isinstance(value, int) and not isinstance(value, bool):
        value = sp.Integer(int.__index__(value))  # a constant answer such as 0 is still exact
    if not isinstance(value, sp.Expr):
        reject_refused(value, what)
        fail(what, f"{short_repr(value)} of type {type(value).__name__}", "a SymPy expression", "not-sympy",
             "Build the answer from the provided SymPy symbols and sp.exp, sp.tanh, sp.diff …; "
             "a string, a Python function or a number computed with math/NumPy is not an expression.")
    if value.has(*_UNEVALUATED):
        fail(what, short_repr(value), "an evaluated expression", "unevaluated-derivative",
             "Your answer still contains an unevaluated Derivative (or Integral/Subs/Limit). "
             "Use sp.diff(expr, x), or call .doit() on it, so that SymPy actually differentiates.")
    return value


def check_symbols(expr: sp.Expr, allowed: Iterable[sp.Symbol], what: str) -> None:
    """Fail when ``expr`` uses a symbol outside ``allowed``."""
    __tracebackhide__ = True
    allowed = set(allowed)
    extra = expr.free_symbols - allowed
    redefined = sorted(str(s) for s in extra if str(s) in {str(a) for a in allowed})
    if redefined:
        names = ", ".join(redefined)
        fail_plain(f"{what} uses a symbol named {names} that is not the notebook's {names}: it was created "
                   f"again with other assumptions (sp.Symbol({redefined[0]!r}) without real=True?), and SymPy "
                   f"treats two symbols with different assumptions as different variables. Use the notebook's "
                   f"{names}; don't redefine it (rerun the setup cell to get it back).", "redefined-symbol")
    if extra:
        names = ", ".join(sorted(str(s) for s in extra))
        may = ", ".join(sorted(str(s) for s in allowed)) or "no symbols"
        fail(what, f"an expression using {names}: {short_repr(expr)}", f"an expression in {may} only",
             "wrong-symbols", f"Write it with {may} only; {names} must not appear.")


def _points(symbols: list, domain: Mapping, n: int, seed: int) -> list[dict]:
    generator = rng(seed)
    points = []
    for _ in range(n):
        point = {}
        for s in symbols:
            lo, hi = domain.get(s, DEFAULT_DOMAIN)
            point[s] = sp.Float(float(generator.uniform(lo, hi)), 30)
        points.append(point)
    return points


def _value(expr: sp.Expr, point: dict) -> Optional[complex]:
    """The value of ``expr`` at ``point`` as a complex number, or None where it is not finite."""
    try:
        number = complex(sp.N(expr.subs(point), 30))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if np.isfinite(number.real) and np.isfinite(number.imag) else None


def numeric_counterexample(a: sp.Expr, b: sp.Expr, domain: Mapping = None, n: int = N_POINTS,
                           seed: int = 0, rtol: float = 1e-12) -> Optional[tuple[dict, Any, Any]]:
    """A point where ``a`` and ``b`` differ (with both values), or None if they agree everywhere tried."""
    domain = domain or {}
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    for point in _points(symbols, domain, n, seed):
        va, vb = _value(a, point), _value(b, point)
        if va is None and vb is None:
            continue
        if va is None or vb is None or abs(va - vb) > rtol * max(1.0, abs(vb)):
            return point, va, vb
    return None


def _simplifies_to_zero(difference: sp.Expr, seconds: float) -> Optional[bool]:
    try:
        with _time_limit(seconds):
            return sp.simplify(difference) == 0
    except _OutOfTime:
        return None


def equivalent(a: sp.Expr, b: sp.Expr, domain: Mapping = None, seed: int = 0,
               seconds: float = SIMPLIFY_SECONDS) -> tuple[bool, str]:
    """Decide whether two expressions are equal; return (verdict, how it was decided).

    ``how`` is one of ``"structure"``, ``"simplify"``, ``"numeric"`` (equal at every sampled
    point, not proven) or ``"counterexample"`` (unequal).
    """
    table, key = decided, None
    if table is not None:
        key = _memo_key(a, b, domain, seed, seconds)
        if key in table:
            verdict, how = table[key]
            return bool(verdict), str(how)
    verdict = _equivalent(a, b, domain, seed, seconds)
    if table is not None:
        table[key] = list(verdict)
    return verdict


def _memo_key(a, b, domain: Optional[Mapping], seed: int, seconds: float) -> str:
    """Everything a verdict of `equivalent` depends on; symbols with their assumptions (`srepr`)."""
    sampled = sorted((sp.srepr(s), tuple(map(float, span))) for s, span in (domain or {}).items())
    what = (sp.srepr(sp.sympify(a)), sp.srepr(sp.sympify(b)), sampled, seed, seconds, N_POINTS, DEFAULT_DOMAIN)
    return hashlib.sha256(repr(what).encode()).hexdigest()


def _equivalent(a, b, domain: Optional[Mapping], seed: int, seconds: float) -> tuple[bool, str]:
    a_exp, b_exp = sp.sympify(a).rewrite(sp.exp), sp.sympify(b).rewrite(sp.exp)
    if a_exp == b_exp or a == b:
        return True, "structure"
    if numeric_counterexample(a, b, domain, seed=seed) is not None:
        return False, "counterexample"
    if _simplifies_to_zero(a_exp - b_exp, seconds):
        return True, "simplify"
    return True, "numeric"


def _describe_point(point: dict) -> str:
    return ", ".join(f"{s} = {float(v):.4g}" for s, v in point.items())


def _format_number(value: Optional[complex]) -> str:
    if value is None:
        return "not a finite number"
    return f"{value.real:.6g}" if abs(value.imag) < 1e-15 else f"{value:.6g}"


def check_expression(got: Any, expected: sp.Expr, what: str, *, allowed: Iterable[sp.Symbol],
                     domain: Mapping = None, substitute: Mapping = None,
                     mistakes: Iterable[Mistake] = (), expected_text: str = "", hint: str = "",
                     seed: int = 0) -> sp.Expr:
    """Check that ``got`` is a SymPy expression in ``allowed`` symbols equal to ``expected``.

    ``substitute`` maps symbols of the answer to expressions before comparing (to check an
    expression in s = σ(x) against σ'(x), pass ``{s: sigma_of_x}``). ``domain`` maps each
    symbol to the (low, high) range sampled for numeric comparison. Mistakes are compared
    with the answer as written, before substitution. Returns the expression.
    """
    __tracebackhide__ = True
    expr = as_expression(got, what)
    check_symbols(expr, allowed, what)
    domain = dict(domain or {})
    compared = expr.subs(substitute) if substitute else expr
    same, _ = equivalent(compared, expected, domain, seed)
    if same:
        return expr
    found = None
    for mistake in mistakes:
        try:
            matched = mistake.when is not None and bool(mistake.when(expr))
        except Exception:  # noqa: BLE001
            matched = False
        if matched:
            found = mistake
            break
        if mistake.value is not None and equivalent(expr, sp.sympify(mistake.value), domain, seed)[0]:
            found = mistake
            break
    where = numeric_counterexample(compared, expected, domain, seed=seed)
    detail = ""
    if where is not None:
        point, mine, right = where
        detail = (f"\n  at {_describe_point(point)} your expression gives {_format_number(mine)}, "
                  f"the correct one gives {_format_number(right)}")
    fail(what, f"{short_repr(expr)}{detail}", expected_text or "an expression equal to the correct one",
         found.tag if found else GENERIC_TAG, found.hint if found else hint)


def check_tuple(got: Any, length: int, what: str) -> tuple:
    """Check that ``got`` is a tuple (or list) of ``length`` items; return it as a tuple."""
    __tracebackhide__ = True
    if not isinstance(got, (tuple, list)) or len(got) != length:
        reject_refused(got, what)
        fail_plain(f"{what} should be a tuple of {length} items, but it is {short_repr(got)}.", "wrong-shape")
    return tuple(got)
