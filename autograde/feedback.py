"""Per-student feedback pages: what failed and the check's explanation, never hidden test code.

nbgrader's own generate_feedback renders the autograded notebook as is, and that notebook's test
cells hold the hidden tests, which its tracebacks quote too (nbgrader issue #917). Here every test
and locked cell shows the source the student was released, hidden-test regions are cut out again
for safety, and every error shows only "ename: evalue": the check library's tagged message.
"""
from __future__ import annotations

import re
from html import escape
from pathlib import Path

import nbformat

from .results import SubmissionResult

MAX_OUTPUT_CHARS = 20_000
# Output types shown to the student; HTML, SVG and JavaScript outputs could carry active content.
SAFE_MIME_TYPES = ("text/plain", "image/png", "image/jpeg")


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _written_by_nbgrader(cell) -> bool:
    """Test cells (graded, no solution) and locked cells: their source comes from the release."""
    meta = _nbgrader(cell)
    return bool((meta.get("grade") and not meta.get("solution")) or meta.get("locked"))


def strip_hidden_tests(source: str) -> str:
    """``source`` without the lines from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS``
    (an unclosed region runs to the end)."""
    kept, hiding = [], False
    for line in source.splitlines(keepends=True):
        if "BEGIN HIDDEN TESTS" in line:
            hiding = True
        elif "END HIDDEN TESTS" in line:
            hiding = False
        elif not hiding:
            kept.append(line)
    return "".join(kept)


def _truncate(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[:MAX_OUTPUT_CHARS] + f"\n… [{len(text) - MAX_OUTPUT_CHARS} more characters cut from the feedback]"


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _safe_output(output) -> nbformat.NotebookNode | None:
    """The output as the student may see it: errors as one line, text truncated, no active content."""
    kind = output.get("output_type")
    if kind == "error":
        line = f"{output.get('ename', '')}: {output.get('evalue', '')}"
        return nbformat.v4.new_output("error", ename=output.get("ename", ""), evalue=output.get("evalue", ""),
                                      traceback=[line])
    if kind == "stream":
        return nbformat.v4.new_output("stream", name=output.get("name", "stdout"), text=_truncate(_text(output.text)))
    if kind in ("display_data", "execute_result"):
        data = {mime: _truncate(_text(value)) if mime.startswith("text/") else value
                for mime, value in output.get("data", {}).items() if mime in SAFE_MIME_TYPES}
        if not data:
            return None
        extra = {"execution_count": output.get("execution_count")} if kind == "execute_result" else {}
        return nbformat.v4.new_output(kind, data=data, **extra)
    return None


def _released_sources(released_notebook: Path) -> dict[str, str]:
    nb = nbformat.read(released_notebook, as_version=4)
    return {_nbgrader(c)["grade_id"]: c.source for c in nb.cells if _nbgrader(c).get("grade_id")}


def feedback_notebook(autograded_notebook: Path, released_notebook: Path) -> nbformat.NotebookNode:
    """The autograded notebook with released sources in test and locked cells and safe outputs."""
    graded = nbformat.read(autograded_notebook, as_version=4)
    released = _released_sources(released_notebook)
    nb = nbformat.v4.new_notebook(metadata={"language_info": graded.metadata.get("language_info", {"name": "python"})})
    for cell in graded.cells:
        source = cell.source
        if _written_by_nbgrader(cell):
            source = released.get(_nbgrader(cell).get("grade_id"), "")  # not released: show nothing
        source = strip_hidden_tests(source)
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(source, execution_count=cell.get("execution_count"))
            new.outputs = [o for o in map(_safe_output, cell.get("outputs", [])) if o is not None]
        elif cell.cell_type == "markdown":
            # A student's written answer: raw HTML shows as text, Markdown still renders.
            text = escape(source, quote=False) if _nbgrader(cell).get("solution") else source
            new = nbformat.v4.new_markdown_cell(text)
            if cell.get("attachments"):
                new.attachments = cell.attachments
        else:
            new = nbformat.v4.new_raw_cell(source)
        nb.cells.append(new)
    return nb


SUMMARY_STYLE = """.feedback-summary{font-family:sans-serif;margin:1rem 2rem 2rem}
.feedback-summary table{border-collapse:collapse}.feedback-summary pre{white-space:pre-wrap;margin:0}
.feedback-summary td,.feedback-summary th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;
vertical-align:top}"""


def _score(cell) -> str:
    if cell.score is None:
        return f"awaits hand grading / {cell.max_score:g}"
    return f"{cell.score:g} / {cell.max_score:g}"


def summary_html(result: SubmissionResult, order: list[str] | None = None) -> str:
    """The header of the page: student, assignment, score, and each graded cell's score and message."""
    position = {grade_id: i for i, grade_id in enumerate(order or [])}
    cells = sorted(result.cells, key=lambda c: (position.get(c.grade_id, len(position)), c.grade_id))
    rows = "".join(f"<tr><td>{escape(c.grade_id)}</td><td>{escape(_score(c))}</td>"
                   f"<td><pre>{escape(c.message)}</pre></td></tr>" for c in cells)
    lines = [f"<h1>Feedback: {escape(result.assignment)}</h1>",
             f"<p>Student: <b>{escape(result.student)}</b></p>",
             f"<p>Autograded score: <b>{result.auto_score:g} / {result.auto_max:g}</b></p>"]
    if result.written_pending:
        waiting = "written answer awaits" if result.written_pending == 1 else "written answers await"
        lines.append(f"<p>{result.written_pending} {waiting} hand grading.</p>")
    if result.error:
        lines.append(f"<p>Grading failed: {escape(result.error)}</p>")
    lines.append("<table><thead><tr><th>cell</th><th>score</th><th>message</th></tr></thead>"
                 f"<tbody>{rows}</tbody></table>")
    return f'<style>{SUMMARY_STYLE}</style><header class="feedback-summary">{"".join(lines)}</header>'


def write_feedback(result: SubmissionResult, autograded_notebook: Path, released_notebook: Path, out: Path) -> Path:
    """Render the feedback page of one student's notebook to ``out`` (an .html file) and return it."""
    from nbconvert import HTMLExporter

    nb = feedback_notebook(Path(autograded_notebook), Path(released_notebook))
    order = [_nbgrader(c)["grade_id"] for c in nbformat.read(autograded_notebook, as_version=4).cells
             if _nbgrader(c).get("grade_id")]
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    title = f"{result.student} — {result.assignment}"  # the template escapes it
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    # The summary goes right after <body ...>; it is built here from escaped text only.
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + summary_html(result, order), body, count=1)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out
