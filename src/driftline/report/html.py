"""A self-contained HTML drift report: the dataset verdict on top, then one card per feature with
the reference and current distributions drawn side by side (inline SVG), the method, score,
threshold and verdict. No scripts, no external assets: the file can be mailed or attached.

Categorical (and low-cardinality) features are grouped bars, one group per value; numerical
features with Sturges bins are histograms: each bin spans its edges on a value axis, the
reference and current shares side by side inside it. A window without data says so.

Pure: view-model dataclasses in, a string out. `driftline report drift` fills the view model
from the query API's GetDrift answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

REF_COLOR = "#4C78A8"
CUR_COLOR = "#F58518"


@dataclass(frozen=True, slots=True)
class FeatureView:
    name: str
    kind: str  # numerical | categorical
    method: str
    score: float
    threshold: float
    drifted: bool
    bins: Sequence[str]  # bin labels (ranges or categories), in display order
    reference: Sequence[float]  # share of the reference in each bin
    current: Sequence[float]  # share of the current window in each bin
    n_reference: int
    n_current: int
    edges: Sequence[float] = ()  # numerical bins: len(bins) + 1 edges (then a histogram)


@dataclass(frozen=True, slots=True)
class DriftView:
    model: str
    reference: str  # e.g. "version 3" or "2026-11-01T00:00Z … 2026-11-08T00:00Z"
    current: str
    drift_share: float
    features: Sequence[FeatureView]
    generated_at: str
    no_data: bool = False  # the current window holds no inferences

    @property
    def drifted_count(self) -> int:
        return sum(f.drifted for f in self.features)

    @property
    def share(self) -> float:
        return self.drifted_count / len(self.features) if self.features else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.features) and self.share >= self.drift_share


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "n/a"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.3e}"
    return f"{x:.4f}"


def bars_svg(view: FeatureView, width: int = 560, height: int = 200) -> str:
    """Grouped bars: reference and current share per bin, with a legend and bin labels; a
    histogram on a value axis when the bins have edges."""
    n = len(view.bins)
    if n == 0:
        return "<p class='empty'>no data to draw</p>"
    if len(view.edges) == n + 1:
        return histogram_svg(view, width, height)
    top = max([*view.reference, *view.current, 1e-12])
    left, bottom, plot_h = 40, 40, height - 80  # headroom above the bars for the legend
    plot_w = width - left - 10
    group = plot_w / n
    bar = max(group * 0.4, 1.0)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{escape(view.name)} distributions'>",
        f"<line x1='{left}' y1='{height - bottom}' x2='{width - 10}' y2='{height - bottom}' "
        "stroke='#999'/>",
        f"<text x='4' y='44' font-size='10' fill='#666'>{top:.0%}</text>",
    ]
    for i, (label, ref, cur) in enumerate(
        zip(view.bins, view.reference, view.current, strict=True)
    ):
        x0 = left + i * group + (group - 2 * bar) / 2
        for j, (share, color, who) in enumerate(
            ((ref, REF_COLOR, "reference"), (cur, CUR_COLOR, "current"))
        ):
            h = plot_h * share / top
            y = height - bottom - h
            parts.append(
                f"<rect x='{x0 + j * bar:.1f}' y='{y:.1f}' width='{bar:.1f}' height='{h:.1f}' "
                f"fill='{color}'><title>{escape(label)} — {who}: {share:.2%}</title></rect>"
            )
        if n <= 24 or i % math.ceil(n / 24) == 0:
            short = label if len(label) <= 14 else label[:13] + "…"
            parts.append(
                f"<text x='{left + (i + 0.5) * group:.1f}' y='{height - bottom + 14}' "
                f"font-size='9' text-anchor='middle' fill='#444'>{escape(short)}</text>"
            )
    parts.append(_legend(view, width))
    parts.append("</svg>")
    return "".join(parts)


def _legend(view: FeatureView, width: int) -> str:
    return (
        f"<rect x='{width - 170}' y='4' width='10' height='10' fill='{REF_COLOR}'/>"
        f"<text x='{width - 156}' y='13' font-size='11'>reference (n={view.n_reference})</text>"
        f"<rect x='{width - 170}' y='20' width='10' height='10' fill='{CUR_COLOR}'/>"
        f"<text x='{width - 156}' y='29' font-size='11'>current (n={view.n_current})</text>"
    )


def histogram_svg(view: FeatureView, width: int = 560, height: int = 200) -> str:
    """Sturges bins on a value axis: bin i spans [edge i, edge i+1) horizontally, the reference
    share in its left half and the current share in its right half, ticks at a few edges."""
    edges = [float(e) for e in view.edges]
    lo, hi = edges[0], edges[-1]
    span = (hi - lo) or 1.0
    top = max([*view.reference, *view.current, 1e-12])
    left, bottom, plot_h = 40, 40, height - 80  # headroom above the bars for the legend
    plot_w = width - left - 10

    def x_of(v: float) -> float:
        return left + plot_w * (v - lo) / span

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{escape(view.name)} histograms'>",
        f"<line x1='{left}' y1='{height - bottom}' x2='{width - 10}' y2='{height - bottom}' "
        "stroke='#999'/>",
        f"<text x='4' y='44' font-size='10' fill='#666'>{top:.0%}</text>",
    ]
    for i, (label, ref, cur) in enumerate(
        zip(view.bins, view.reference, view.current, strict=True)
    ):
        x0, x1 = x_of(edges[i]), x_of(edges[i + 1])
        half = max((x1 - x0) / 2 - 0.5, 0.5)
        for j, (share, color, who) in enumerate(
            ((ref, REF_COLOR, "reference"), (cur, CUR_COLOR, "current"))
        ):
            h = plot_h * share / top
            parts.append(
                f"<rect x='{x0 + j * half + 0.5:.1f}' y='{height - bottom - h:.1f}' "
                f"width='{half:.1f}' height='{h:.1f}' fill='{color}'>"
                f"<title>{escape(label)} — {who}: {share:.2%}</title></rect>"
            )
    step = max(1, math.ceil((len(edges) - 1) / 6))
    for e in edges[::step] + ([] if (len(edges) - 1) % step == 0 else [edges[-1]]):
        parts.append(
            f"<text x='{x_of(e):.1f}' y='{height - bottom + 14}' font-size='9' "
            f"text-anchor='middle' fill='#444'>{escape(f'{e:.4g}')}</text>"
        )
    parts.append(_legend(view, width))
    parts.append("</svg>")
    return "".join(parts)


# shared with runs_html.py
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222}
.verdict{padding:12px 16px;border-radius:6px;margin-bottom:16px}
.drift{background:#fde2e1;border:1px solid #e0625c}
.nodrift{background:#e3f4e1;border:1px solid #5aa95a}
.nodata{background:#eee;border:1px solid #999}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(580px,1fr));gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:10px}
.card h3{margin:0 0 4px 0;font-size:15px}.tag{font-size:12px;padding:1px 6px;border-radius:4px}
.tag.d{background:#e0625c;color:#fff}.tag.n{background:#5aa95a;color:#fff}
table{border-collapse:collapse;margin:8px 0 16px}
td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}
.meta{color:#666;font-size:12px}.empty{color:#999}
"""


def _verdict(view: DriftView) -> str:
    if view.no_data:
        return (
            "<div class='verdict nodata'><b>No data</b>: the current window holds no "
            "inferences, so there is nothing to compare.</div>"
        )
    verdict = "Dataset drift detected" if view.dataset_drift else "No dataset drift"
    return f"""<div class="verdict {"drift" if view.dataset_drift else "nodrift"}"><b>{verdict}</b>:
{view.drifted_count} of {len(view.features)} features drifted ({view.share:.0%});
dataset drift when the share is ≥ {view.drift_share:.0%}.</div>"""


def render_drift_report(view: DriftView) -> str:
    summary_rows = "".join(
        f"<tr><td>{escape(f.name)}</td><td>{escape(f.kind)}</td><td>{escape(f.method)}</td>"
        f"<td>{_fmt(f.score)}</td><td>{_fmt(f.threshold)}</td>"
        f"<td>{'<b>drift</b>' if f.drifted else 'ok'}</td></tr>"
        for f in sorted(view.features, key=lambda f: (not f.drifted, f.name))
    )
    cards = "".join(
        f"<div class='card'><h3>{escape(f.name)} "
        f"<span class='tag {'d' if f.drifted else 'n'}'>{'drift' if f.drifted else 'no drift'}"
        f"</span></h3><div class='meta'>{escape(f.kind)} · {escape(f.method)} · score "
        f"{_fmt(f.score)} · threshold {_fmt(f.threshold)}</div>{bars_svg(f)}</div>"
        for f in sorted(view.features, key=lambda f: (not f.drifted, f.name))
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>driftline drift report — {escape(view.model)}</title><style>{STYLE}</style></head>
<body>
<h1>Drift report: {escape(view.model)}</h1>
<p class="meta">reference: {escape(view.reference)} · current: {escape(view.current)} ·
generated {escape(view.generated_at)}</p>
{_verdict(view)}
<table><tr><th>feature</th><th>type</th><th>method</th><th>score</th><th>threshold</th>
<th>verdict</th></tr>{summary_rows}</table>
<div class="grid">{cards}</div>
</body></html>
"""
