"""Per-student feedback pages, the same from every route: what failed and why, never a hidden test.

Pages are written by nbgrader's own `GenerateFeedback` converter, configured in nbgrader_config.py
with this course's preprocessor (`feedback_safety.SafeFeedback`: what a page may show) and exporter
(`FeedbackExporter`: how it looks). `nbgrader generate_feedback`, the formgrader's "Generate
Feedback" button and `python -m autograde grade` (through `write_pages`) therefore all write the
same page to feedback/<student>/<assignment>/<notebook>.html.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import re
import secrets
from pathlib import Path

from jinja2 import BytecodeCache, pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.strings import clean_html
from traitlets import default
from traitlets.config import Config

from autograde import internals

TEMPLATES = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=4096)
def _cleaned(text: str) -> str:
    return clean_html(text)


def clean_html_once(element) -> str:
    """nbconvert's `clean_html` (bleach), worked out once per distinct text in this process: the pages
    of an assignment repeat the course's own cells student after student, and bleach was a quarter
    of a page's time."""
    return _cleaned(element.decode() if isinstance(element, bytes) else str(element))


@functools.lru_cache(maxsize=4096)
def _highlighted(source: str, language: str, magics: str | None) -> str:
    return Highlight2HTML(pygments_lexer=language)(source, metadata={"magics_language": magics} if magics else None)


class HighlightOnce:
    """nbconvert's `Highlight2HTML` (Pygments), worked out once per distinct cell in this process:
    the course's own cells are the same on every page of an assignment. ``lexer`` is the notebook's
    (`FeedbackExporter` sets it from the notebook's language_info, as HTMLExporter does).

    On nbconvert's route (pages with images), while a page is rendered (`deferred`), each cell's
    code is a token at first, put back by `put_back` once nbconvert has run BeautifulSoup over the
    page: the code's thousands of Pygments tags were most of what it parsed (a third of a page's
    time), and it changes nothing in them (it adds alt text to images and tabindex to cell wrappers,
    which stay in the page it parses).
    A token is a random word, which bleach's `clean_html` in the template leaves as it is; the
    code put back is cleaned as the template would have cleaned it."""

    lexer = "ipython3"

    def __init__(self):
        self.pending: dict[str, str] | None = None
        self.nonce = ""

    def __call__(self, source: str, language: str | None = None, metadata=None) -> str:
        html = _highlighted(source, language or self.lexer, (metadata or {}).get("magics_language"))
        if self.pending is None:
            return html
        token = f"{self.nonce}x{len(self.pending)}x"  # ended: "…x1x" never reads as "…x12x"
        self.pending[token] = html
        return token

    @contextlib.contextmanager
    def deferred(self):
        self.pending, self.nonce = {}, f"code{secrets.token_hex(8)}"
        try:
            yield self
        finally:
            self.pending = None

    def put_back(self, page: str) -> str:
        return re.sub(rf"{self.nonce}x\d+x", lambda token: _cleaned(self.pending[token.group()]), page)


#: Markdown that may show an image: rendered each time (the image is read from the student's folder).
_MAY_SHOW_IMAGE = re.compile(r"!\[|<img|attachment:", re.IGNORECASE)
_MARKDOWN_KEPT = 4096


class _MarkdownOnce:
    """nbconvert's ``markdown2html`` (mistune), worked out once per distinct text and settings in this
    process: the course's own text cells are the same on every page of an assignment. Markdown that
    may show an image, or has attachments, is rendered every time."""

    def __init__(self):
        self.html: dict[tuple, str] = {}

    def __call__(self, render, context, source: str, settings: tuple) -> str:
        if context.get("cell", {}).get("attachments") or _MAY_SHOW_IMAGE.search(source):
            return render(context, source)
        key = (source, settings)
        if key not in self.html:
            if len(self.html) >= _MARKDOWN_KEPT:
                self.html.pop(next(iter(self.html)))
            self.html[key] = render(context, source)
        return self.html[key]


_MARKDOWN = _MarkdownOnce()


class _CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates, kept in memory for this process's next page: nbgrader makes a new
    exporter, so a new Jinja environment that compiles every template again, for each page. Jinja
    checks each template's source checksum before using what is kept."""

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


#: What nbconvert's HTMLExporter does with BeautifulSoup after rendering, on a page without images:
#: every input wrapper and output area in the notebook's body gets ``tabindex="0"`` (a tag the course's
#: templates wrote: student text on the page is escaped, so no such tag comes from a student).
_IMAGE_TAG = re.compile(r"<img\b", re.IGNORECASE)
_FOCUSABLE_AREA = re.compile(r'(<div class="(?:[^"]* )?(?:jp-Cell-inputWrapper|jp-OutputArea-output)(?: [^"]*)?"'
                             r'(?: (?!tabindex=)[a-z-]+="[^"]*")*)>')


def _may_show_image(nb) -> bool:
    """Whether a page of ``nb`` may show an image (an image output, markdown with one): it takes
    nbconvert's whole route at once, not after a first rendering that finds it."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (cell.get("attachments") or _MAY_SHOW_IMAGE.search(cell.source)):
            return True
        if any(mime.startswith("image/") for out in cell.get("outputs", []) for mime in out.get("data", {})):
            return True
    return False


class FeedbackExporter(HTMLExporter):
    """nbconvert's lab HTML with the course's feedback template: a score summary on top, each graded
    cell labelled with its points, accessible colours. The template is fixed (not configurable):
    nbgrader's API sets `HTMLExporter.template_name = 'feedback'`, whose page shows more."""

    def __init__(self, config=None, **kwargs):
        if config is None and kwargs.get("parent") is not None:
            config = kwargs["parent"].config
        fixed = copy.deepcopy(config) if config is not None else Config()  # the caller's stays as it was
        # This class's own section outranks HTMLExporter's, which nbgrader's API and GenerateFeedback set.
        fixed.FeedbackExporter.template_name = "course_feedback"
        fixed.FeedbackExporter.extra_template_basedirs = [str(TEMPLATES)]
        super().__init__(config=fixed, **kwargs)

    @default("filters")
    def _filters_default(self):
        return {"clean_html": clean_html_once, "highlight_code": HighlightOnce()}

    def from_notebook_node(self, nb, resources=None, **kw):
        self.environment.bytecode_cache = _COMPILED
        language = nb.metadata.get("language_info", {})
        highlight = self.filters["highlight_code"]
        highlight.lexer = language.get("pygments_lexer", language.get("name")) or "ipython3"
        if not _may_show_image(nb):
            page, found = internals.html_page_before_its_soup(self, nb, resources, **kw)
            if not _IMAGE_TAG.search(page):  # nbconvert's BeautifulSoup pass would only make areas focusable
                return _FOCUSABLE_AREA.sub(r'\1 tabindex="0">', page), found
        with highlight.deferred():
            page, resources = super().from_notebook_node(nb, resources, **kw)
            return highlight.put_back(page), resources

    @pass_context
    def markdown2html(self, context, source):
        settings = (self.embed_images, self.anchor_link_text, self.exclude_anchor_links, repr(self.lexer_options))
        return _MARKDOWN(super().markdown2html, context, source, settings)

    @default("embed_images")
    def _embed_images_default(self):
        return True

    @default("exclude_input_prompt")
    def _exclude_input_prompt_default(self):
        return True  # "In [7]:" means nothing to a reader of feedback

    @default("exclude_output_prompt")
    def _exclude_output_prompt_default(self):
        return True


def write_pages(grader, student: str, assignment: str) -> list[Path]:
    """Write the feedback pages of one graded submission with nbgrader's GenerateFeedback, exactly as
    the formgrader's button does; return them. Raises RuntimeError (one line) when nbgrader fails."""
    outcome = grader.generate_feedback(assignment, student, force=True)
    if not outcome["success"]:
        last = (outcome.get("error") or outcome.get("log") or "no reason given").strip().splitlines()[-1]
        raise RuntimeError(f"feedback for {student} / {assignment} could not be written: {last}")
    folder = Path(grader.coursedir.format_path(grader.coursedir.feedback_directory, student, assignment))
    return sorted(folder.glob("*.html"))
