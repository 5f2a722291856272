"""The browser checks can fail: a blank canvas, an empty SVG and a console error are caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import assert_charts_drawn, charts_drawn, open_page, screenshot

PAGE = """<!doctype html><html><body>
<div class="card" data-name="drawn-canvas"><canvas id="a" width="20" height="20"></canvas></div>
<div class="card" data-name="blank-canvas"><canvas width="20" height="20"></canvas></div>
<div class="card" data-name="drawn-svg">
<svg width="20" height="20"><rect width="5" height="5"/></svg></div>
<div class="card" data-name="empty-svg"><svg width="20" height="20"></svg></div>
<script>document.getElementById('a').getContext('2d').fillRect(0, 0, 4, 4);</script>
</body></html>"""


def test_drawn_and_blank_charts_are_told_apart(browser: object, tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(PAGE)
    with open_page(browser, (tmp_path / "page.html").as_uri()) as page:
        assert charts_drawn(page, ".card") == {
            "drawn-canvas": True,
            "blank-canvas": False,
            "drawn-svg": True,
            "empty-svg": False,
        }
        with pytest.raises(AssertionError, match="blank-canvas"):
            assert_charts_drawn(page, ".card")
        assert screenshot(page, "chart-check", tmp_path).stat().st_size > 0


def test_a_console_error_fails_the_page(browser: object, tmp_path: Path) -> None:
    (tmp_path / "bad.html").write_text("<script>console.error('boom')</script>")
    with (
        pytest.raises(AssertionError, match="boom"),
        open_page(browser, (tmp_path / "bad.html").as_uri()),
    ):
        pass
