"""What a feedback page may show: the nbgrader feedback preprocessor of this course.

nbgrader's own `generate_feedback` renders the autograded notebook as it is, hidden tests and the
tracebacks that quote them included (nbgrader issue #917). `SafeFeedback` is set for nbgrader's
`GenerateFeedback` converter in nbgrader_config.py, so the CLI, the formgrader's button and
`python -m autograde grade` all run it on the notebook before it is rendered:

- test and locked cells show the instructor's source from the gradebook (what nbgrader's
  `OverwriteCells` restores) with every hidden-test region cut out, between `ClearHiddenTests`'
  `begin_test_delimeter` and `end_test_delimeter`;
- an error shows "ename: evalue" only, never a traceback (tracebacks quote test code);
- a hidden test's failure shows its `[tag]` and the tag's explanation only, never what was called,
  what came back or what was expected (`redact_failure`); its printed output is dropped;
- outputs keep plain text and images only, truncated; written answers show raw HTML as text;
- `resources["feedback"]` holds the page's summary, built from the cells once they are safe.

`SafeFeedback.reveal_hidden_details = True` (for after the deadline) shows hidden tests' messages and
printed output in full; their code is never shown.
"""
from __future__ import annotations

import re
from functools import lru_cache
from html import escape

import nbformat
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Bool, Integer, List

from autograde.course.gradebook_passes import Prefetched

# The check library's failure layout (backprop_course.checks.feedback): `fail` writes "what returned
# got", "  expected: …", "[tag] hint"; `fail_plain` writes its message, then "[tag]" alone.
CHECK_FAILURE = "CheckFailure"
TAG_LINE = re.compile(r"^\[(?P<tag>[a-z][a-z0-9]*(?:-[a-z0-9]+)*)\](?: (?P<hint>\S.*))?$")
HIDDEN_NOTE = "(a hidden test: its inputs and expected values are not shown)"
UNKNOWN_TAG = "A hidden test found this mistake with inputs of its own."
# Output types shown to the student; HTML, SVG and JavaScript outputs could carry active content.
SAFE_MIME_TYPES = ("text/plain", "image/png", "image/jpeg")

# What the check library's `fail_plain` tags mean, for hidden tests, whose own text names the call.
PLAIN_TAG_EXPLANATIONS = {
    "not-implemented": "The function is still the stub, or a name is not defined: write it in its answer "
                       "cell and run that cell.",
    "not-a-function": "This name should hold a function (def …), not a value.",
    "raised-error": "Your function raised an exception on a hidden input: make it work for every input the "
                    "task allows (other values, shapes and sizes).",
    "overflow-warning": "NumPy warned of an overflow or an invalid value on a hidden input: rewrite the "
                        "computation so that no intermediate value overflows.",
    "mutates-input": "Your function changed its input array in place: work on a copy, or restore every "
                     "entry you change before returning.",
    "wrong-shape": "For a hidden input the result has the wrong shape, number of items or keys: check how "
                   "it depends on the size of the input.",
    "wrong-value": "A value is wrong for a hidden input: compare each step of your code with the formula "
                   "in the text.",
}


@lru_cache(maxsize=1)
def tag_explanations() -> dict[str, str]:
    """tag → explanation, for failures whose message carries none on its tag line: the check library's
    own tags, its gradient ratios, and each course misconception whose tag has a single hint.
    (Imported late: the check library loads SymPy.)"""
    import importlib
    import pkgutil

    import backprop_course.misconceptions as course
    from backprop_course.checks.feedback import Mistake
    from backprop_course.checks.gradients import TELLING_RATIOS

    hints: dict[str, set[str]] = {}
    for module in pkgutil.iter_modules(course.__path__):
        for value in vars(importlib.import_module(f"{course.__name__}.{module.name}")).values():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, Mistake):
                    hints.setdefault(item.tag, set()).add(item.hint)
    found = {tag: hint.pop() for tag, hint in hints.items() if len(hint) == 1}
    found.update({tag: meaning[0].upper() + meaning[1:] + "." for _, tag, meaning in TELLING_RATIOS})
    return {**found, **PLAIN_TAG_EXPLANATIONS}


def redact_failure(ename: str, evalue: str) -> str:
    """What a hidden test's failure may say: "[tag] explanation", or "" when it is not a check failure.

    Only the last line is read: the check library writes it ("[tag] hint" from `fail`, "[tag]" from
    `fail_plain`), after everything a student's code returned, raised or named, none of which is kept.
    """
    if ename != CHECK_FAILURE:
        return ""
    last = TAG_LINE.match(evalue.rstrip("\n").split("\n")[-1])
    if last is None:
        return ""
    if last.group("hint"):  # the course's explanation of the tag
        return last.group(0)
    tag = last.group("tag")
    return f"[{tag}] {tag_explanations().get(tag, UNKNOWN_TAG)}"


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _error(ename: str, evalue: str) -> nbformat.NotebookNode:
    line = f"{ename}: {evalue}" if evalue else ename
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[line])


def _before_first(source: str, begin: str) -> str:
    lines = source.split("\n")
    return "\n".join(lines[:next((i for i, line in enumerate(lines) if begin in line), len(lines))])


class SafeFeedback(ClearHiddenTests):
    """Make an autograded notebook safe to show its student; put the page's summary in resources.

    Runs after nbgrader's `GetGrades` in `GenerateFeedback.preprocessors`.
    """

    reveal_hidden_details = Bool(
        False,
        help="Show hidden tests' failure messages (inputs, returned and expected values) and printed "
             "output in full, e.g. after the deadline. Their code is never shown.",
    ).tag(config=True)

    # HTMLExporter configures NbConvertBase.display_data_priority; declared here (unused), as nbgrader's
    # GetGrades does, so that configuring it is not reported as an unknown option.
    display_data_priority = List().tag(config=True)

    max_output_chars = Integer(20_000, help="Longest text output kept per output; the rest is cut.").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            self._gradebook = Prefetched(gradebook, info["notebook"], info["assignment"], info["student"])
            nb, resources = super().preprocess(nb, resources)
        nb.metadata["title"] = f"Feedback on {info['notebook']} for {info['student']}"
        resources["feedback"] = self._summary(nb, resources)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        hidden = self._show_released_source(cell, resources) if utils.is_locked(cell) else False
        if cell.cell_type == "code":
            cell.outputs = self._safe_outputs(cell.get("outputs", []), hidden)
        elif cell.cell_type == "markdown" and utils.is_solution(cell):
            cell.source = escape(cell.source, quote=False)  # raw HTML in a written answer shows as text
        if utils.is_grade(cell) or utils.is_task(cell):
            cell.metadata["feedback"] = self._cell_summary(cell, meta, resources, hidden)
        return cell, resources

    # --- sources -----------------------------------------------------------------------------------

    def _show_released_source(self, cell, resources) -> bool:
        """Put the gradebook's source, hidden regions cut, into a test or locked cell; True if it had any."""
        info = resources["nbgrader"]
        try:
            cell.source = self._gradebook.find_source_cell(
                cell.metadata["nbgrader"].get("grade_id", ""), info["notebook"], info["assignment"]).source
        except MissingEntry:
            pass  # not in the gradebook: the notebook's own source, cut the same way
        try:
            return self._remove_hidden_test_region(cell)  # nbgrader's own cut, with its delimiters
        except RuntimeError:  # a region left open or nested: nothing from its first begin on is shown
            cell.source = _before_first(cell.source, self.begin_test_delimeter)
            return True

    # --- outputs -----------------------------------------------------------------------------------

    def _truncate(self, text: str) -> str:
        cut = len(text) - self.max_output_chars
        return text if cut <= 0 else f"{text[:self.max_output_chars]}\n… [{cut} more characters cut from the feedback]"

    def _safe_outputs(self, outputs, hidden: bool) -> list:
        redact = hidden and not self.reveal_hidden_details
        safe = []
        for output in outputs:
            kind = output.get("output_type")
            if kind == "error":
                ename, evalue = output.get("ename", ""), output.get("evalue", "")
                if redact:
                    evalue = "\n".join(filter(None, [redact_failure(ename, evalue), HIDDEN_NOTE]))
                safe.append(_error(ename, self._truncate(evalue)))
            elif redact:
                continue  # printed output of a hidden test can echo its inputs
            elif kind == "stream":
                safe.append(nbformat.v4.new_output("stream", name=output.get("name", "stdout"),
                                                   text=self._truncate(_text(output.get("text", "")))))
            elif kind in ("display_data", "execute_result"):
                data = {mime: self._truncate(_text(value)) if mime.startswith("text/") else value
                        for mime, value in output.get("data", {}).items() if mime in SAFE_MIME_TYPES}
                if data:
                    extra = {"execution_count": output.get("execution_count")} if kind == "execute_result" else {}
                    safe.append(nbformat.v4.new_output(kind, data=data, metadata=_image_metadata(output), **extra))
        return safe

    # --- summary -----------------------------------------------------------------------------------

    def _cell_summary(self, cell, meta: dict, resources, hidden: bool) -> dict:
        info = resources["nbgrader"]
        grade_id = meta.get("grade_id", "")
        try:
            grade = self._gradebook.find_grade(grade_id, info["notebook"], info["assignment"], info["student"])
            pending = grade.auto_score is None and grade.manual_score is None
            score, points = (None if pending else grade.score), grade.max_score
        except MissingEntry:
            score, points = None, float(meta.get("points", 0) or 0)
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        return {"grade_id": grade_id, "written": cell.cell_type == "markdown", "hidden": hidden,
                "score": score, "points": points, "comment": meta.get("comment") or "",
                "message": "\n".join(o.traceback[0] for o in errors)}

    def _summary(self, nb, resources) -> dict:
        info = resources["nbgrader"]
        cells = [c.metadata["feedback"] for c in nb.cells if "feedback" in c.metadata]
        auto = [c for c in cells if not c["written"]]
        return {"student": info["student"], "assignment": info["assignment"], "notebook": info["notebook"],
                "cells": cells, "auto_score": sum(c["score"] or 0.0 for c in auto),
                "auto_max": sum(c["points"] for c in auto),
                "pending_written": sum(1 for c in cells if c["written"] and c["score"] is None),
                "late_penalty": info.get("late_penalty") or 0.0, "reveal": self.reveal_hidden_details}


def _image_metadata(output) -> dict:
    """Only an image's size and stored text alternative are kept from an output's metadata."""
    kept = {}
    for mime in ("image/png", "image/jpeg"):
        found = output.get("metadata", {}).get(mime, {})
        picked = {k: found[k] for k in ("width", "height", "alt") if isinstance(found, dict) and k in found}
        if picked:
            kept[mime] = picked
    return kept
