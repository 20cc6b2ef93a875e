"""A real JupyterLab in headless Chromium: the widget notebooks run, their sliders redraw the plots,
no cell shows an error, and the nbgrader extension's entries are in the menu.

Chromium is Debian's (`.ci/run` installs it where missing); Playwright drives it. Screenshots are
kept in build/test-artifacts/browser/ for a person to look at.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page, sync_playwright

from autograde.samples import submissions
from autograde.course.release import REPO, assignments

pytestmark = pytest.mark.xdist_group("browser")

ARTIFACTS = REPO / "build" / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WIDGET_NOTEBOOKS = [a for a in ("01_gradient_descent", "07_training_lab") if a in assignments()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on loopback whose root holds the widget notebooks, solved."""
    root = tmp_path_factory.mktemp("lab")
    for aid in WIDGET_NOTEBOOKS:
        nbformat.write(submissions.build(aid, "solution"), root / f"{aid}.ipynb")
    # Render every cell (no windowing) so that the test sees each prompt and output; no news pop-up.
    for extension, name, value in (("notebook-extension", "tracker", '{"windowingMode": "none"}'),
                                   ("apputils-extension", "notification", '{"fetchNews": "false"}')):
        folder = root / ".settings" / "@jupyterlab" / extension
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.jupyterlab-settings").write_text(value)
    # Matplotlib says on stderr when it builds its font cache: build it before any notebook runs.
    subprocess.run([sys.executable, "-c", "import matplotlib.pyplot"], check=True, capture_output=True)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTERLAB_WORKSPACES_DIR=str(root / ".workspaces"),
               JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start:\n{(root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield url, token
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Chromium is missing: `.ci/run` installs Debian's chromium"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


#: The notebook on show (other panels may linger hidden in the DOM).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def _open(browser, lab, notebook: str) -> Page:
    """A page with ``notebook`` alone in a workspace of its own, its kernel started and idle."""
    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    workspace = notebook.replace(".", "-")
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={token}")
    page.wait_for_selector(f"{PANEL} .jp-Cell", timeout=90_000)
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(timeout=120_000)
    page.locator(f"{PANEL} .jp-Cell").first.click()  # the Run menu acts on the focused notebook
    return page


def _menu(page: Page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def _run_all(page: Page) -> None:
    """Run every cell and wait until each code cell shows an execution count."""
    _menu(page, "Run", "Run All Cells")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        prompts = page.locator(f"{PANEL} .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        if prompts and all(p.strip().startswith("[") and p.strip()[1:2].isdigit() for p in prompts):
            return
        time.sleep(0.5)
    pytest.fail(f"cells did not finish running: prompts {prompts}")


def _errors(page: Page) -> list[str]:
    """Text of every error or stderr output shown (JupyterLab renders both with this MIME type)."""
    return page.locator(f'{PANEL} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()


def _drag_first_slider(page: Page, widget, pixels: int) -> None:
    handle = widget.locator(".widget-slider .noUi-handle").first
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + pixels, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()


@pytest.mark.parametrize("notebook", WIDGET_NOTEBOOKS)
def test_all_cells_run_without_errors_and_the_slider_redraws_the_plot(browser, lab, notebook):
    page = _open(browser, lab, f"{notebook}.ipynb")
    try:
        _run_all(page)
        assert not _errors(page), f"{notebook}: cells show errors: {_errors(page)[:2]}"
        widget = page.locator(f"{PANEL} .jp-OutputArea-output:has(.widget-slider)").first
        widget.wait_for(timeout=30_000)
        widget.scroll_into_view_if_needed()
        time.sleep(1.0)  # let the first frame arrive
        before = widget.screenshot(path=str(ARTIFACTS / f"{notebook}-before.png"))
        _drag_first_slider(page, widget, pixels=-120)
        deadline, after = time.monotonic() + 20, before
        while after == before and time.monotonic() < deadline:
            time.sleep(0.5)
            after = widget.screenshot(path=str(ARTIFACTS / f"{notebook}-after.png"))
        assert after != before, f"{notebook}: moving the slider did not change the plot"
        assert not _errors(page), f"{notebook}: the redraw produced errors: {_errors(page)[:2]}"
    finally:
        page.screenshot(path=str(ARTIFACTS / f"{notebook}-page.png"))
        page.close()


def test_nbgrader_extension_offers_assignments_and_formgrader(browser, lab):
    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{url}/lab/workspaces/menu?reset&token={token}")
        page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=90_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
        items = page.locator(".lm-Menu-itemLabel").all_inner_texts()
        page.screenshot(path=str(ARTIFACTS / "nbgrader-menu.png"))
        assert "Assignment List" in items and "Formgrader" in items, items
    finally:
        page.close()
