"""A self-contained HTML run comparison: the runs and their params side by side (differences
marked), then one card per metric with every run's value over steps as an inline SVG line
chart. Same style as the drift report (report/html.py): no scripts, no external assets.

Pure: view-model dataclasses in, a string out; `driftline runs compare --html` fills them from
CompareRuns and GetRunMetrics. Long histories are thinned to at most MAX_POINTS per line by
keeping each bucket's minimum and maximum, so spikes stay visible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Final

from driftline.report.html import CUR_COLOR, REF_COLOR, STYLE

PALETTE: Final = (REF_COLOR, CUR_COLOR, "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6",
                  "#9D755D", "#BAB0AC", "#EECA3B")  # fmt: skip
MAX_POINTS: Final = 1000


@dataclass(frozen=True, slots=True)
class RunView:
    run_id: str
    name: str
    experiment: str
    status: str
    started: str
    duration: str
    params: Mapping[str, str]
    latest: Mapping[str, float]
    series: Mapping[str, tuple[Sequence[int], Sequence[float]]] = field(default_factory=dict)


def thin(
    steps: Sequence[int], values: Sequence[float], limit: int = MAX_POINTS
) -> list[tuple[int, float]]:
    """At most ~`limit` points: per bucket of consecutive points, its min and max (in order)."""
    points = [(s, v) for s, v in zip(steps, values, strict=True) if math.isfinite(v)]
    if len(points) <= limit:
        return points
    size = math.ceil(len(points) / (limit // 2))
    out: list[tuple[int, float]] = []
    for i in range(0, len(points), size):
        bucket = points[i : i + size]
        lo = min(bucket, key=lambda p: p[1])
        hi = max(bucket, key=lambda p: p[1])
        out.extend(sorted({lo, hi}))
    return out


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.3e}"
    return f"{x:.4g}"


def lines_svg(
    key: str, lines: Sequence[tuple[str, str, list[tuple[int, float]]]], width: int = 560,
    height: int = 220,
) -> str:  # fmt: skip
    """One polyline per (label, color, points), shared axes, min/max labels and a legend."""
    every = [p for _, _, pts in lines for p in pts]
    if not every:
        return "<p class='empty'>no points</p>"
    x0, x1 = min(p[0] for p in every), max(p[0] for p in every)
    y0, y1 = min(p[1] for p in every), max(p[1] for p in every)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    left, right, top, bottom = 56, 10, 10, 34
    pw, ph = width - left - right, height - top - bottom

    def xy(step: int, value: float) -> str:
        x = left + pw * (step - x0) / (x1 - x0)
        y = top + ph * (1 - (value - y0) / (y1 - y0))
        return f"{x:.1f},{y:.1f}"

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{escape(key)} over steps'>",
        f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#ddd'/>",
        f"<text x='{left - 4}' y='{top + 10}' font-size='10' text-anchor='end' fill='#666'>"
        f"{_fmt(y1)}</text>",
        f"<text x='{left - 4}' y='{top + ph}' font-size='10' text-anchor='end' fill='#666'>"
        f"{_fmt(y0)}</text>",
        f"<text x='{left}' y='{height - 18}' font-size='10' fill='#666'>step {x0}</text>",
        f"<text x='{left + pw}' y='{height - 18}' font-size='10' text-anchor='end' "
        f"fill='#666'>{x1}</text>",
    ]
    for label, color, pts in lines:
        if not pts:
            continue
        if len(pts) == 1:
            cx, cy = xy(*pts[0]).split(",")
            parts.append(f"<circle cx='{cx}' cy='{cy}' r='3' fill='{color}'/>")
        else:
            path = " ".join(xy(s, v) for s, v in pts)
            parts.append(
                f"<polyline points='{path}' fill='none' stroke='{color}' stroke-width='1.5'>"
                f"<title>{escape(label)}</title></polyline>"
            )
    for i, (label, color, _) in enumerate(lines):
        x = left + 4 + (i % 4) * 130
        y = height - 4
        short = label if len(label) <= 18 else label[:17] + "…"
        parts.append(
            f"<rect x='{x}' y='{y - 9}' width='10' height='10' fill='{color}'/>"
            f"<text x='{x + 14}' y='{y}' font-size='11'>{escape(short)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_runs_report(runs: Sequence[RunView], generated_at: str) -> str:
    colors = {r.run_id: PALETTE[i % len(PALETTE)] for i, r in enumerate(runs)}
    head = "".join(
        f"<th><span style='color:{colors[r.run_id]}'>■</span> {escape(r.name)}<br>"
        f"<span class='meta'>{escape(r.run_id)}</span></th>"
        for r in runs
    )
    info = {
        "experiment": [r.experiment for r in runs],
        "status": [r.status for r in runs],
        "started": [r.started for r in runs],
        "duration": [r.duration for r in runs],
    }
    info_rows = "".join(
        f"<tr><td>{label}</td>{''.join(f'<td>{escape(v)}</td>' for v in values)}</tr>"
        for label, values in info.items()
    )
    param_keys = sorted({k for r in runs for k in r.params})
    param_rows = ""
    for k in param_keys:
        values = [r.params.get(k, "—") for r in runs]
        differs = len(set(values)) > 1
        cells = "".join(f"<td>{'<b>' if differs else ''}{escape(v)}{'</b>' if differs else ''}</td>"
                        for v in values)  # fmt: skip
        param_rows += f"<tr><td>{escape(k)}{' ≠' if differs else ''}</td>{cells}</tr>"
    metric_keys = sorted({k for r in runs for k in (*r.series, *r.latest)})
    latest_rows = "".join(
        f"<tr><td>{escape(k)}</td>"
        + "".join(f"<td>{_fmt(r.latest[k]) if k in r.latest else '—'}</td>" for r in runs)
        + "</tr>"
        for k in metric_keys
    )
    cards = "".join(
        f"<div class='card'><h3>{escape(k)}</h3>"
        + lines_svg(
            k,
            [(r.name, colors[r.run_id], thin(*r.series.get(k, ((), ())))) for r in runs],
        )
        + "</div>"
        for k in metric_keys
    )
    names = ", ".join(r.name for r in runs)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>driftline run comparison — {escape(names)}</title><style>{STYLE}</style></head>
<body>
<h1>Run comparison</h1>
<p class="meta">{len(runs)} runs · generated {escape(generated_at)}</p>
<table><tr><th></th>{head}</tr>{info_rows}</table>
<h2>Params</h2>
<table><tr><th>param</th>{head}</tr>{param_rows}</table>
<h2>Latest metrics</h2>
<table><tr><th>metric</th>{head}</tr>{latest_rows}</table>
<h2>Metrics over steps</h2>
<div class="grid">{cards}</div>
</body></html>
"""
