"""The run comparison page: one line per run and metric, thinned histories keep extremes,
differing params marked, everything user-given escaped."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser

import numpy as np

from driftline.report.runs_html import MAX_POINTS, RunView, lines_svg, render_runs_report, thin


class Shapes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.polylines: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "polyline":
            self.polylines.append(dict(attrs).get("points") or "")
        self.scripts += tag == "script"


def _view(run_id: str, name: str, params: dict[str, str], n: int, seed: int) -> RunView:
    rng = np.random.default_rng(seed)
    steps = list(range(n))
    loss = list(np.exp(-np.arange(n) / 100) + rng.normal(0, 0.01, n))
    return RunView(
        run_id=run_id, name=name, experiment="e", status="FINISHED", started="now",
        duration="1s", params=params, latest={"loss": loss[-1], "acc": 0.9},
        series={"loss": (steps, loss), "acc": (steps[:5], [0.1, 0.2, 0.3, 0.4, 0.9])},
    )  # fmt: skip


def test_one_line_per_run_and_metric_and_params_side_by_side() -> None:
    a = _view("a" * 32, "lr-small", {"lr": "0.01", "layers": "4"}, 300, 1)
    b = _view("b" * 32, "<script>x</script>", {"lr": "0.1", "layers": "4"}, 300, 2)
    html = render_runs_report([a, b], generated_at="today")
    shapes = Shapes()
    shapes.feed(html)
    assert len(shapes.polylines) == 4  # loss and acc, for each of the 2 runs
    assert shapes.scripts == 0 and "&lt;script&gt;x&lt;/script&gt;" in html
    assert re.search(r"<td>lr ≠</td><td><b>0.01</b></td><td><b>0.1</b></td>", html)
    assert "<td>layers</td><td>4</td><td>4</td>" in html


def test_thinning_keeps_each_buckets_extremes() -> None:
    rng = np.random.default_rng(3)
    values = list(rng.normal(0, 1, 100_000))
    values[54_321] = 50.0  # a spike a stride-based thinning would likely miss
    steps = list(range(len(values)))
    kept = thin(steps, values)
    assert len(kept) <= MAX_POINTS + 2
    assert (54_321, 50.0) in kept
    assert min(v for _, v in kept) == min(values)
    assert [s for s, _ in kept] == sorted(s for s, _ in kept)
    assert thin([1, 2], [1.0, math.nan]) == [(1, 1.0)]  # non-finite points are not drawn


def test_svg_coordinates_stay_inside_the_plot() -> None:
    svg = lines_svg("loss", [("r", "#000", [(0, -5.0), (10, 5.0), (20, 0.0)])])
    shapes = Shapes()
    shapes.feed(svg)
    (points,) = shapes.polylines
    xy = [tuple(float(c) for c in p.split(",")) for p in points.split()]
    assert all(56 <= x <= 550 and 10 <= y <= 186 for x, y in xy)
    assert xy[0][1] > xy[1][1]  # -5 is drawn below 5
    assert lines_svg("k", [("r", "#000", [])]).startswith("<p")
