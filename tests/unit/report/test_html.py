"""The HTML drift report: verdict, per-feature cards with both distributions, escaping."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from driftline.report.html import DriftView, FeatureView, render_drift_report


def feature(name: str, drifted: bool, ref: list[float], cur: list[float]) -> FeatureView:
    return FeatureView(
        name=name, kind="numerical", method="wasserstein", score=0.3 if drifted else 0.01,
        threshold=0.1, drifted=drifted, bins=[f"b{i}" for i in range(len(ref))],
        reference=ref, current=cur, n_reference=1000, n_current=900,
    )  # fmt: skip


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rects: list[dict[str, str]] = []
        self.h3: list[str] = []
        self._in_h3 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "rect":
            self.rects.append({k: v or "" for k, v in attrs})
        self._in_h3 = tag == "h3"

    def handle_data(self, data: str) -> None:
        if self._in_h3 and data.strip():
            self.h3.append(data.strip())
            self._in_h3 = False


def test_report_shows_verdict_drifted_features_first_and_proportional_bars() -> None:
    view = DriftView(
        model="fraud<script>", reference="version 1", current="last 1h", drift_share=0.5,
        features=[feature("age", False, [0.5, 0.5], [0.5, 0.5]),
                  feature("amount", True, [0.8, 0.2], [0.2, 0.8])],
        generated_at="2026-11-23T06:00:00Z",
    )  # fmt: skip
    html = render_drift_report(view)
    assert "<script>" not in html and "fraud&lt;script&gt;" in html
    assert "Dataset drift detected" in html and "1 of 2 features drifted (50%)" in html
    parsed = Collector()
    parsed.feed(html)
    assert parsed.h3 == ["amount", "age"]
    bars = [r for r in parsed.rects if r.get("fill") in ("#4C78A8", "#F58518") and "y" in r]
    amount = [float(r["height"]) for r in bars[:4]]  # ref b0, cur b0, ref b1, cur b1
    assert amount[0] / amount[1] == 4.0 and amount[3] / amount[2] == 4.0


def test_no_drift_below_the_share() -> None:
    view = DriftView(
        model="m", reference="r", current="c", drift_share=0.5,
        features=[feature("a", True, [1.0], [1.0]), feature("b", False, [1.0], [1.0]),
                  feature("c", False, [1.0], [1.0])],
        generated_at="now",
    )  # fmt: skip
    html = render_drift_report(view)
    assert "No dataset drift" in html and re.search(r"1 of 3 features drifted \(33%\)", html)


def test_numerical_bins_are_a_histogram_on_their_edges() -> None:
    """#11.1: bins with edges are drawn where they lie on the value axis (wider bins wider)."""
    view = DriftView(
        model="m", reference="r", current="c", drift_share=0.5,
        features=[FeatureView(
            name="amount", kind="numerical", method="wasserstein", score=0.4, threshold=0.1,
            drifted=True, bins=["[0, 1)", "[1, 3)", "[3, 4]"], reference=[0.5, 0.3, 0.2],
            current=[0.1, 0.3, 0.6], n_reference=10, n_current=10, edges=[0.0, 1.0, 3.0, 4.0],
        )],
        generated_at="now",
    )  # fmt: skip
    html = render_drift_report(view)
    assert "no data to draw" not in html and "amount histograms" in html
    parsed = Collector()
    parsed.feed(html)
    bars = [r for r in parsed.rects if r.get("fill") in ("#4C78A8", "#F58518")][:6]
    widths = [float(r["width"]) for r in bars]
    assert widths[2] == pytest.approx(2 * widths[0], rel=0.05)  # [1, 3) is twice [0, 1)
    xs = [float(r["x"]) for r in bars]
    assert xs == sorted(xs)
    heights = [float(r["height"]) for r in bars]
    assert heights[0] / heights[1] == pytest.approx(5.0, rel=0.01)  # ref 0.5, cur 0.1 in bin 0


def test_a_window_without_data_says_no_data() -> None:
    view = DriftView(
        model="m", reference="r", current="c", drift_share=0.5, features=[], generated_at="now",
        no_data=True,
    )  # fmt: skip
    html = render_drift_report(view)
    assert "No data" in html and "No dataset drift" not in html
