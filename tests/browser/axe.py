"""axe-core, the accessibility engine, run inside a Playwright page against the WCAG 2.1 A and AA rules.

The engine is the npm package axe-core at a pinned version, installed on first use into
build/axe/ (git-ignored) with npm, the way the Makefile installs Chromium when it is missing.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from autograde.course.release import REPO

VERSION = "4.10.3"
FOLDER = REPO / "build" / "axe"
SCRIPT = FOLDER / "node_modules" / "axe-core" / "axe.min.js"
#: The rule tags of WCAG 2.0 and 2.1, levels A and AA.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def script() -> Path:
    """axe.min.js, installed with npm when it is missing; a one-line error when that cannot be done."""
    if not SCRIPT.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to install axe-core for the accessibility tests: apt-get install npm")
        FOLDER.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(FOLDER),
                        f"axe-core@{VERSION}"], check=True, capture_output=True, timeout=600)
    return SCRIPT


def run(page, include: str, exclude: list[str] = ()) -> list[dict]:
    """The WCAG 2.1 AA violations axe finds in the part of ``page`` that matches the CSS selector
    ``include``, minus the parts matching ``exclude``: one dict per rule, with its nodes."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(script()))
    context = {"include": [[include]], "exclude": [[selector] for selector in exclude]}
    result = page.evaluate("([context, tags]) => axe.run(context, {runOnly: {type: 'tag', values: tags}})",
                           [context, WCAG_21_AA])
    return result["violations"]


def summary(violations: list[dict]) -> str:
    """One line per violated rule: its id, impact, how many elements, and the first element's HTML."""
    return "\n".join(f"{v['id']} ({v['impact']}, {len(v['nodes'])} elements): {v['nodes'][0]['html'][:160]} at {v['nodes'][0]['target']}"  # noqa: E501
                     for v in violations)
