"""Known wrong answers for 07_training_lab: the saturated fraction and a learning rate that reaches a target.

Nothing here computes a correct saturated fraction or picks a good learning rate. Mistakes that
differ from the right fraction by a complement or a count are built by factories from the
expected value the test cell computes itself; the others are wrong formulas written out.
"""
from __future__ import annotations

import numpy as np

from ..checks import Mistake, close


def _sigma(z: np.ndarray) -> np.ndarray:
    """σ(z) without overflow (used only to build wrong results)."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=float)))


def _fraction(mask: np.ndarray) -> float:
    return float(np.mean(mask)) if np.size(mask) else 0.0


_UNSCALED = ("You compared σ'(z) with the threshold itself. The definition compares it with threshold · σ'(0), "
             "and σ'(0) = ¼: a unit is saturated when its slope is below 1% of the largest slope a sigmoid has.")
_COMPLEMENT = ("You counted the units that are NOT saturated (σ'(z) above the threshold). Saturated means a small "
               "slope: count the entries where σ'(z) < threshold · σ'(0).")
_SIGMA_NOT_PRIME = ("You thresholded σ(z) itself, the unit's output, instead of its slope σ'(z) = σ(z)(1 − σ(z)). "
                    "Saturation is about the slope: both very large and very negative z saturate.")
_COUNT = ("You returned how many entries are saturated. The function returns a FRACTION between 0 and 1: divide "
          "by the number of entries (Z.size), or take the mean of the boolean mask.")

#: For ``call(sigmoid_saturation, ..., no_warnings=True)``: its overflow failure already carries this tag.
OVERFLOW_TAG = "overflow-warning"
OVERFLOW_HINT = ("np.exp(-z) overflows for z below about −709. Compute σ from e^(−|z|) only (as the setup cell's "
                 "sigmoid does), or use σ'(z) = ¼ · sech²(z/2).")


def saturation_mistakes(Z, threshold: float, expected: float) -> list[Mistake]:
    """Why ``sigmoid_saturation(Z, threshold)`` did not return ``expected`` (computed by the test cell)."""
    z = np.asarray(Z, dtype=float)
    with np.errstate(all="ignore"):
        s = _sigma(z)
        slope = s * (1.0 - s)
    mistakes = [
        Mistake("threshold-not-scaled", _UNSCALED, value=_fraction(slope < threshold)),
        Mistake("saturation-complement", _COMPLEMENT, when=lambda got: close(got, 1.0 - expected)),
        Mistake("sigma-not-slope", _SIGMA_NOT_PRIME, value=_fraction(s < threshold * 0.25)),
        Mistake("sigma-not-slope", _SIGMA_NOT_PRIME, value=_fraction(s < threshold)),
        Mistake("sigma-not-slope", _SIGMA_NOT_PRIME, value=_fraction(s > 1 - threshold * 0.25)),
    ]
    if z.size > 1 and expected > 0:
        mistakes.append(Mistake("count-not-fraction", _COUNT, when=lambda got: close(got, expected * z.size)))
    return mistakes


# --- good_learning_rate ---------------------------------------------------------------------
OUTSIDE_RANGE = Mistake("lr-outside-range", "Pick the learning rate from the slider's range: move the slider, read "
                        "off a value that works, and type that number.")
DIVERGES = Mistake("lr-diverges", "With this learning rate the loss grows until it overflows: each step overshoots "
                   "the valley by more than it gains. Take a smaller learning rate.")
OSCILLATES = Mistake("lr-too-large", "With this learning rate the loss jumps up and down instead of settling and "
                     "ends above the target: the steps overshoot. Take a somewhat smaller learning rate.")
TOO_SMALL = Mistake("lr-too-small", "With this learning rate the loss falls, but too slowly to reach the target in "
                    "the stated number of epochs. Take a larger learning rate.")


def rate_mistake(losses) -> Mistake:
    """Which of DIVERGES, OSCILLATES, TOO_SMALL describes a run (its losses) that missed the target.

    A rate that is too small never makes the loss rise; any rise means overshooting. (On the lab's data
    the runs that miss by being too small rise 0 times; those that miss by overshooting rise 2 to 50
    times, 1.3 only twice, so counting "many" rises would blame them on a rate too small.)"""
    losses = np.asarray(losses, dtype=float)
    if not np.all(np.isfinite(losses)) or losses[-1] > losses[0]:
        return DIVERGES
    with np.errstate(all="ignore"):
        rises = int(np.sum(np.diff(losses) > 1e-12))
    return OSCILLATES if rises > 0 else TOO_SMALL
