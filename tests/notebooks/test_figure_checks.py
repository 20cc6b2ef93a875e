"""The figure checker finds what it is meant to find: overlapping text, colours outside the palette,
legend entries that differ in colour only; and passes a figure drawn in the course's style."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from figure_checks import check  # noqa: E402

from backprop_course.figure_style import SERIES  # noqa: E402


def test_a_figure_in_the_course_style_passes():
    fig, ax = plt.subplots(figsize=(6, 4))
    for index in range(3):
        ax.plot(np.arange(10), np.arange(10) * (index + 1), label=f"series {index}", **SERIES[index])
    ax.set(title="three series", xlabel="x", ylabel="y")
    ax.legend()
    result = check(fig)
    plt.close(fig)
    assert result["text"] == result["colour"] == result["colour_only"] == []


def test_crowded_ticks_default_colours_and_colour_only_legends_are_found():
    fig, (left, right) = plt.subplots(1, 2, figsize=(4, 2))
    left.loglog([4, 8, 16, 32, 64], [1, 2, 4, 8, 16], label="a")
    left.loglog([4, 8, 16, 32, 64], [1, 4, 16, 64, 256], label="b")
    left.legend()
    left.set_title("a long title that runs into its neighbour's title")
    right.set_title("the neighbour's own title, just as long")
    result = check(fig)
    plt.close(fig)
    assert any("overlaps" in p for p in result["text"])
    assert any("#1f77b4" in p for p in result["colour"])
    assert result["colour_only"] == ["axes 0: legend entries 'a' and 'b' differ in colour only"]


def test_text_outside_a_figure_counts_unless_it_is_saved_tight():
    fig, ax = plt.subplots(figsize=(3, 2))
    fig.subplots_adjust(left=0.0, bottom=0.0)
    ax.set(xlabel="x label", ylabel="y label")
    assert any("sticks out" in p for p in check(fig)["text"])
    assert not any("sticks out" in p for p in check(fig, saved_tight=True)["text"])
    plt.close(fig)
