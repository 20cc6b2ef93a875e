"""The notebooks' text says what the code shows: every number and formula stated in the sentences that
issue 12 corrected is recomputed here, and the sentence must show the recomputed number. Also: one H1
per notebook with headings in order, and the points each notebook announces are the points nbgrader
gives."""
from __future__ import annotations

import math
import re

import mpmath
import nbformat
import numpy as np
import pytest
from executed import markdown, namespace

from autograde.course.release import REPO, assignments
from backprop_course.misconceptions import one_hidden_layer, symbolic_derivatives


def says(assignment: str, *phrases: str) -> None:
    text = markdown(assignment)
    for phrase in phrases:
        assert phrase in text, f"{assignment} no longer says {phrase!r}"


# --- headings and points ---------------------------------------------------------------------

@pytest.mark.parametrize("folder", ["solutions", "course"])
@pytest.mark.parametrize("assignment", assignments())
def test_one_h1_first_and_headings_never_skip_a_level(assignment, folder):
    levels = [len(m.group(1)) for m in re.finditer(r"^(#{1,6})\s", markdown(assignment, folder), re.MULTILINE)]
    assert levels[0] == 1 and levels.count(1) == 1, f"{assignment}: heading levels {levels}"
    skips = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
    assert not skips, f"{assignment}: a heading jumps from level {skips[0][0]} to {skips[0][1]}"


@pytest.mark.parametrize("assignment", assignments())
def test_the_points_the_notebook_announces_are_the_points_nbgrader_gives(assignment):
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    grades = [c.metadata["nbgrader"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    total = sum(float(g["points"]) for g in grades)
    announced = re.search(r"(\d+)\s+(?:points in total|in all)", nb.cells[0].source)
    assert announced and float(announced.group(1)) == total, f"{assignment}: nbgrader gives {total} points"
    for name in {g["grade_id"][5:].removesuffix("_hidden") for g in grades if g["grade_id"].startswith("test_")}:
        tests = [g for g in grades if g["grade_id"] in (f"test_{name}", f"test_{name}_hidden")]
        assert sum(float(g["points"]) for g in tests) == 3, f"{assignment}: {name} is not worth 3 points"


# --- 02: the left tail ------------------------------------------------------------------------

def test_02_left_tail_numbers():
    sigma = lambda z: 1 / (1 + mpmath.exp(-z))  # noqa: E731
    assert f"{float(sigma(-40)):.1e}" == "4.2e-18" and f"{float(sigma(-710)):.2e}" == "4.48e-309"
    assert float(sigma(-710)) < np.finfo(float).tiny < 2.3e-308  # subnormal, below the smallest normal float
    z = np.linspace(-45.0, -30.0, 15001)
    cancelled = z[0.5 * (1 + np.tanh(z / 2)) == 0]
    assert round(cancelled.max()) == -38
    with np.errstate(under="ignore"):  # whatever an earlier test on this worker left numpy set to
        assert np.exp(-745.0) > 0 and np.exp(-746.0) == 0
    with np.errstate(over="ignore"):
        assert 1 / (1 + np.exp(710.0)) == 0.0
    says("02_symbolic_derivatives", r"$\sigma(-40) \approx 4.2 \cdot 10^{-18}$", r"$\sigma(-710) \approx 4.48 \cdot 10^{-309}$",
         r"normal float $2.2 \cdot 10^{-308}$", r"$z \approx -38$", r"$z \approx -745$")
    hints = " ".join(symbolic_derivatives._TAIL.values())
    assert "4.48e−309" in hints and "4.2e−18" in hints and "about −38" in hints


# --- 03: the seed's step, the metrics, the best steps ------------------------------------------

def _seed_error(names, x: float) -> float:
    forward, rel = names["forward_difference"], names["relative_error"]
    return rel(forward(names["sigmoid"], x, 1e-13), names["sigmoid_prime"](x))


def test_03_the_seed_step_in_the_flat_tails():
    names = namespace("03_numerical_checks", 20)
    at5, at6, at7 = (_seed_error(names, x) for x in (5.0, 6.0, 7.0))
    assert (f"{at5:.1g}", f"{at6:.2f}", at7) == ("0.002", "0.10", 1.0)
    xs = np.linspace(-10, 10, 1000)  # the plot's grid
    left = np.array([_seed_error(names, float(x)) for x in xs[xs < -8]])
    right = np.array([_seed_error(names, float(x)) for x in xs[xs > 7]])
    assert left.min() >= 0.4 and np.mean(left == 1.0) > 0.5 and np.mean(right == 1.0) > 0.5
    direct = lambda z: np.exp(z) / (1 + np.exp(z))  # noqa: E731
    at_minus_8 = names["relative_error"](names["forward_difference"](direct, -8.0, 1e-13), names["sigmoid_prime"](-8.0))
    assert f"{at_minus_8:.1g}" == "0.001"
    assert np.spacing(1.0) / 2 == pytest.approx(1.1e-16, rel=0.01)
    says("03_numerical_checks", "from $0.002$ at $x = 5$ to $0.10$ at $x = 6$", "beyond $x = 7$",
         "at most points the computed difference is $0$", "Below $x = -8$ the error is at least $0.4$, and $1$ at most points", "the\nerror at $x = -8$ is $0.001$",  # noqa: E501
         r"about $1.1 \cdot 10^{-16}$")


def test_03_the_norm_error_is_never_larger_than_the_elementwise_one():
    names = namespace("03_numerical_checks", 20)
    from backprop_course.checks import gradient_error

    draw = np.random.default_rng(12)
    for _ in range(300):
        a = draw.normal(size=draw.integers(1, 8)) * 10.0 ** draw.integers(-3, 4)
        b = a * (1 + draw.normal(scale=10.0 ** draw.integers(-8, 0), size=a.size)) * draw.choice([1, -1], size=a.size)
        elementwise, norm = names["relative_error"](a, b), gradient_error(a, b)
        assert norm <= elementwise * (1 + 1e-12)
        if a.size == 1:
            assert norm >= elementwise / 2 * (1 - 1e-12)
    example = (np.array([1000.0, 1.0]), np.array([1000.0, 2.0]))
    assert f"{gradient_error(*example):.0e}" == "5e-04" and names["relative_error"](*example) == 0.5
    says("03_numerical_checks", r"the norm error is $5 \cdot 10^{-4}$, the elementwise one $0.5$",
         r"$\operatorname{rel}_{\lVert\cdot\rVert}(a, b) \le \operatorname{rel}(a, b)$")


def test_03_best_steps_and_the_seed_error_in_the_summary():
    names = namespace("03_numerical_checks", 33)
    eps = np.finfo(float).eps
    assert round(math.log10(eps ** 0.5)) == -8 and round(math.log10(eps ** (1 / 3))) == -5
    assert names["best_step"] == 1e-5
    assert 5e-4 < names["seed_step_error"] < 1e-3  # "off by nearly 10⁻³"
    says("03_numerical_checks", r"$\varepsilon^{1/2} \approx 10^{-8}$",
         r"$\varepsilon^{1/3} \approx 10^{-5}$ for the central difference", r"off by nearly $10^{-3}$")


def test_03_restoring_by_arithmetic_leaves_most_entries_changed():
    x = np.random.default_rng(3).uniform(-2, 2, 1000)
    y = x.copy()
    y += 1e-5
    y -= 2e-5
    y += 1e-5
    assert np.mean(y != x) > 0.5
    says("03_numerical_checks", "leaves a rounding error in most\n  entries")


# --- 06: the XOR spike ------------------------------------------------------------------------

def test_06_the_xor_spike_as_measured():
    names = namespace("06_one_hidden_layer", 22)
    losses = names["train"](names["X_xor"], names["T_xor"], 3, 0.5, 1500, activation="tanh", seed=0)[1]
    peak = int(np.argmax(losses[1:])) + 1
    low = int(np.argmin(losses[:peak]))
    assert abs(low - 230) <= 10 and f"{losses[low]:.0e}" == "2e-05"
    growth = losses[low + 4: low + 14]
    assert np.all(np.abs(growth[1:] / growth[:-1] - 2) < 0.3)  # "about doubles at every epoch"
    assert peak - low == 17 and f"{losses[peak]:.2f}" == "0.28" and f"{losses[0]:.2f}" == "0.38"
    assert round(losses[peak] / losses[0], 1) == 0.7  # "three quarters of the starting"
    back = peak + int(np.argmax(losses[peak:] <= losses[low]))
    assert abs(back - 310) <= 10
    says("06_one_hidden_layer", "Around epoch 230", r"$2 \cdot 10^{-5}$", "about doubles at every epoch",
         "Some 17 epochs", "about $0.28$, three quarters of the starting $0.38$", "around epoch\n310")


def test_06_the_table_carries_the_1_over_N_of_the_code():
    says("06_one_hidden_layer", r"$\delta^{(n)}_k = (a^{(n)}_k - t^{(n)}_k)/N$ | `delta2 = (Y - T) / N`",
         r"$\partial E/\partial w_{jk} = \sum_n \delta^{(n)}_k a^{(n)}_j$ | `dW2 = A1.T @ delta2`")
    names = namespace("06_one_hidden_layer", 16)
    draw = np.random.default_rng(6)
    X, T = draw.normal(size=(5, 3)), draw.normal(size=(5, 2))
    params = names["init_params"](3, 4, 2, seed=1)
    Y, cache = names["forward"](X, params)
    delta2 = (Y - T) / len(X)  # the table's first row, then its second
    dW2 = sum(np.outer(cache["A1"][n], delta2[n]) for n in range(len(X)))
    assert np.allclose(dW2, names["backward"](T, params, cache)["dW2"])


def test_06_mean_over_outputs_hint_points_at_the_idea_not_the_line():
    hint = one_hidden_layer._LOSS_MEAN_ALL
    assert "np.sum" not in hint and "Y.shape" not in hint and "(Y - T)" not in hint


# --- 07: learning rates and saturation ----------------------------------------------------------

def _final_loss(names, rate: float) -> float:
    with np.errstate(all="ignore"):
        return float(names["train"](names["X_lab"], names["T_lab"], 8, rate, 300)[1][-1])


def test_07_which_learning_rates_reach_the_target():
    names = namespace("07_training_lab", 6)
    from backprop_course.lab_widgets import RATE_EXPONENTS

    notches = 10 ** np.round(np.arange(RATE_EXPONENTS[0], RATE_EXPONENTS[1] + 1e-9, 0.05), 2)
    passing = [r for r in notches if _final_loss(names, float(r)) < 0.03]
    assert (f"{passing[0]:.3g}", f"{passing[-1]:.3g}") == ("0.355", "1")
    assert passing == [r for r in notches if passing[0] <= r <= passing[-1]]  # the notches: one run of them
    assert [_final_loss(names, r) < 0.03 for r in (0.87, 0.9, 1.05, 1.2, 1.1, 1.12)] == [False, False, True, True,
                                                                                          False, False]
    with np.errstate(all="ignore"):
        at_two = names["train"](names["X_lab"], names["T_lab"], 8, 2.0, 300)[1]
    assert int(np.argmax(at_two > 5)) == 3 and int(np.argmin(np.isfinite(at_two))) == 148
    says("07_training_lab", "every slider\n  notch from 0.355 to 1", "0.87 and 0.9 miss the target",
         "1.05 and 1.2 reach it while 1.1 and 1.12", "at epoch 3\nand overflows at epoch 148",
         r"($1 - \eta\lambda$ near $-1$ in the steepest direction)")


def test_07_saturation_numbers():
    slope = lambda z: math.exp(-z) / (1 + math.exp(-z)) ** 2  # noqa: E731
    assert round(slope(3.0) / slope(0.0), 2) == 0.18
    limit = mpmath.findroot(lambda z: mpmath.exp(-z) / (1 + mpmath.exp(-z)) ** 2 - 0.0025, 6.0)
    assert f"{float(limit):.2f}" == "5.99" and 0.01 * 0.25 == 0.0025
    says("07_training_lab", "as fast as a unit at $z = 0$", "runs at 18 % of the peak slope", r"$z = \pm 5.99$",
         r"$0.01\cdot\sigma'(0) = 0.0025$")
