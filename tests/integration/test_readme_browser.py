"""The runs comparison page (`driftline runs compare … --html`, report/runs_html.py) draws a
chart on every metric card in a real headless Chromium, for runs a user's training loop sent
(first_hour.py) — no console errors (#11, browser check)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser import assert_charts_drawn, charts_drawn, open_page
from tests.integration.first_hour import FirstHour

pytestmark = pytest.mark.integration


def test_runs_comparison_page_draws_every_metric(
    first_hour: FirstHour, browser: Any, tmp_path: Path
) -> None:
    page_path = tmp_path / "runs.html"
    done = subprocess.run(
        [sys.executable, "-m", "driftline", "runs", "compare", *first_hour.run_ids.values(),
         "--html", str(page_path), "--server", first_hour.query],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 runs" in done.stdout
    with open_page(browser, page_path.as_uri()) as page:
        drawn = charts_drawn(page, ".card")
        assert sorted(label[:4] for label in drawn) == ["accu", "loss"], drawn
        assert_charts_drawn(page, ".card")
