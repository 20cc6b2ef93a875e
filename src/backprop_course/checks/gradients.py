"""Gradient checks: compare a student's gradients with a reference, parameter by parameter.

The reference comes from the test cell (SymPy or a finite-difference oracle computed there);
this module only compares and explains. The error measure is the one common in gradient
checking, ‖a − r‖ / (‖a‖ + ‖r‖), per parameter. When the student's gradient is a constant
multiple of the reference, the ratio usually tells the mistake: −1 a flipped sign, N a
missing 1/N, 2 a cost without ½.
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from .feedback import GENERIC_TAG, fail_plain
from .numeric import as_float, as_float_array

TOLERANCE = 1e-6

#: (ratio as a function of N, tag, what it means)
TELLING_RATIOS = (
    (lambda n: -1.0, "gradient-sign", "your gradient has the opposite sign: check the sign of the error "
                                      "(prediction − target) and of every derivative along the chain"),
    (lambda n: float(n), "missing-mean-factor", "your gradient is N times too large: the cost averages over "
                                                "the N samples, so its gradient carries the factor 1/N"),
    (lambda n: 1.0 / n, "double-mean-factor", "your gradient is N times too small: you divided by N twice"),
    (lambda n: 2.0, "missing-half", "your gradient is twice too large: the cost has a factor ½ that "
                                    "cancels the 2 from differentiating the square"),
    (lambda n: 0.5, "extra-half", "your gradient is half the right size: the 2 from differentiating "
                                  "the square cancels the ½ of the cost, do not halve again"),
)


def gradient_error(got: np.ndarray, reference: np.ndarray) -> float:
    """‖got − reference‖ / (‖got‖ + ‖reference‖), 0 when both are zero."""
    scale = np.linalg.norm(got) + np.linalg.norm(reference)
    return 0.0 if scale == 0 else float(np.linalg.norm(got - reference) / scale)


def telling_ratio(got: np.ndarray, reference: np.ndarray, n_samples: Optional[int] = None,
                  rtol: float = 1e-3) -> Optional[tuple[str, str]]:
    """(tag, explanation) when ``got`` is a telling constant multiple of ``reference``, else None."""
    mask = np.abs(reference) > 1e-8 * max(1.0, float(np.max(np.abs(reference), initial=0.0)))
    if not mask.any():
        return None
    ratios = got[mask] / reference[mask]
    ratio = float(np.median(ratios))
    if not np.all(np.abs(ratios - ratio) <= rtol * abs(ratio) + 1e-12):
        return None  # not a constant multiple
    for make, tag, meaning in TELLING_RATIOS:
        if n_samples is None and tag in ("missing-mean-factor", "double-mean-factor"):
            continue
        target = make(n_samples or 1)
        if target != 1.0 and abs(ratio - target) <= rtol * abs(target):
            return tag, meaning
    return None


def check_gradients(got: Mapping, reference: Mapping, what: str, *, n_samples: Optional[int] = None,
                    tolerance: float = TOLERANCE) -> dict[str, float]:
    """Check every parameter's gradient in ``got`` against ``reference`` (both dicts name → array or float).

    Fails naming the first wrong parameter, its error, and the misconception when the ratio
    tells one. Returns the error per parameter.
    """
    __tracebackhide__ = True
    if not isinstance(got, Mapping):
        fail_plain(f"{what} should give a dict of gradients with keys {sorted(reference)}, "
                   f"but gave a {type(got).__name__}.", "wrong-shape")
    missing = sorted(set(reference) - set(got))
    if missing:
        fail_plain(f"{what} has no gradient for {', '.join(missing)}; expected keys {sorted(reference)}.",
                   "wrong-shape")
    errors = {}
    for name, ref in reference.items():
        ref = np.asarray(ref, dtype=np.float64)
        mine = (np.asarray(as_float(got[name], f"{what}[{name!r}]")) if ref.ndim == 0
                else as_float_array(got[name], f"{what}[{name!r}]", ref.shape))
        errors[name] = gradient_error(mine, ref)
        if not errors[name] <= tolerance:
            told = telling_ratio(mine, ref, n_samples)
            tag, meaning = told if told else (GENERIC_TAG, "compare each factor of your chain rule with the "
                                                           "derivation above, one parameter at a time")
            fail_plain(f"{what}: the gradient for {name} is wrong (relative error {errors[name]:.2e}, "
                       f"tolerance {tolerance:.0e}); {meaning}.", tag)
    return errors
