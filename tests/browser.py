"""A real headless Chromium for the tests that look at what a person sees.

Debian's `chromium` (installed by `.ci/run`) driven by Playwright from PyPI, pointed at that
executable: Playwright's own browser download cannot run here. The launch flags keep Chromium
from reaching for the network at start (this machine reaches only the package registries).

    with open_page(browser, url) as page:        # fails the test on any console error
        assert_charts_drawn(page, ".card")       # every matched element holds a drawn chart
        screenshot(page, "report")               # into $DRIFTLINE_SCREENSHOTS or the tmp dir

`browser` is a session fixture registered in tests/conftest.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# A chart has drawn when its <canvas> holds a non-transparent pixel or its <svg> holds a shape
# with a non-empty box. Returned per element so a failure names the card that stayed blank.
_DRAWN_JS = """
(selector) => Array.from(document.querySelectorAll(selector)).map((el) => {
  const label = (el.getAttribute('data-name') || el.id || el.textContent || '').trim().slice(0, 60);
  for (const c of el.querySelectorAll('canvas')) {
    if (!c.width || !c.height) continue;
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return [label, true];
  }
  for (const s of el.querySelectorAll('svg rect, svg path, svg line, svg polyline, svg circle')) {
    const b = s.getBBox();
    if (b.width > 0 || b.height > 0) return [label, true];
  }
  return [label, false];
})
"""


def chromium_path() -> str:
    """The Chromium executable: $CHROMIUM, else Debian's /usr/bin/chromium."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(f"no Chromium at {path}: `apt-get install chromium` (see .ci/run)")
    return path


@contextmanager
def launch() -> Iterator[Any]:
    """A headless Chromium browser for the duration of the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(browser: Any, url: str, *, wait_for: str | None = None) -> Iterator[Any]:
    """A page loaded from `url`; fails if the page logs a console error or throws."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url, wait_until="networkidle")
        if wait_for:
            page.wait_for_selector(wait_for)
        yield page
        assert not errors, f"console errors on {url}: {errors}"
    finally:
        context.close()


def charts_drawn(page: Any, selector: str) -> dict[str, bool]:
    """For each element matching `selector`: whether it holds a drawn canvas or SVG shape."""
    return {str(label): bool(drawn) for label, drawn in page.evaluate(_DRAWN_JS, selector)}


def assert_charts_drawn(page: Any, selector: str) -> None:
    drawn = charts_drawn(page, selector)
    assert drawn, f"no element matches {selector!r}"
    blank = [label for label, ok in drawn.items() if not ok]
    assert not blank, f"charts not drawn in: {blank}"


def screenshot(page: Any, name: str, directory: Path | None = None) -> Path:
    """Save a full-page PNG under $DRIFTLINE_SCREENSHOTS (or `directory`) and return its path."""
    out = Path(os.environ.get("DRIFTLINE_SCREENSHOTS") or directory or Path.cwd() / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
