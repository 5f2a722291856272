"""A self-contained HTML drift report: the dataset verdict on top, then one card per feature with
the reference and current distributions drawn side by side (inline SVG), the method, score,
threshold and verdict. No scripts, no external assets: the file can be mailed or attached.

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


@dataclass(frozen=True, slots=True)
class DriftView:
    model: str
    reference: str  # e.g. "version 3" or "2026-11-01T00:00Z … 2026-11-08T00:00Z"
    current: str
    drift_share: float
    features: Sequence[FeatureView]
    generated_at: str

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
    """Grouped bars: reference and current share per bin, with a legend and bin labels."""
    n = len(view.bins)
    if n == 0:
        return "<p class='empty'>no data to draw</p>"
    top = max([*view.reference, *view.current, 1e-12])
    left, bottom, plot_h = 40, 40, height - 60
    plot_w = width - left - 10
    group = plot_w / n
    bar = max(group * 0.4, 1.0)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{escape(view.name)} distributions'>",
        f"<line x1='{left}' y1='{height - bottom}' x2='{width - 10}' y2='{height - bottom}' "
        "stroke='#999'/>",
        f"<text x='4' y='24' font-size='10' fill='#666'>{top:.0%}</text>",
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
    parts.append(
        f"<rect x='{width - 170}' y='4' width='10' height='10' fill='{REF_COLOR}'/>"
        f"<text x='{width - 156}' y='13' font-size='11'>reference (n={view.n_reference})</text>"
        f"<rect x='{width - 170}' y='20' width='10' height='10' fill='{CUR_COLOR}'/>"
        f"<text x='{width - 156}' y='29' font-size='11'>current (n={view.n_current})</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222}
.verdict{padding:12px 16px;border-radius:6px;margin-bottom:16px}
.drift{background:#fde2e1;border:1px solid #e0625c}
.nodrift{background:#e3f4e1;border:1px solid #5aa95a}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(580px,1fr));gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:10px}
.card h3{margin:0 0 4px 0;font-size:15px}.tag{font-size:12px;padding:1px 6px;border-radius:4px}
.tag.d{background:#e0625c;color:#fff}.tag.n{background:#5aa95a;color:#fff}
table{border-collapse:collapse;margin:8px 0 16px}
td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}
.meta{color:#666;font-size:12px}.empty{color:#999}
"""


def render_drift_report(view: DriftView) -> str:
    verdict = "Dataset drift detected" if view.dataset_drift else "No dataset drift"
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
<title>driftline drift report — {escape(view.model)}</title><style>{_STYLE}</style></head>
<body>
<h1>Drift report: {escape(view.model)}</h1>
<p class="meta">reference: {escape(view.reference)} · current: {escape(view.current)} ·
generated {escape(view.generated_at)}</p>
<div class="verdict {"drift" if view.dataset_drift else "nodrift"}"><b>{verdict}</b>:
{view.drifted_count} of {len(view.features)} features drifted ({view.share:.0%});
dataset drift when the share is ≥ {view.drift_share:.0%}.</div>
<table><tr><th>feature</th><th>type</th><th>method</th><th>score</th><th>threshold</th>
<th>verdict</th></tr>{summary_rows}</table>
<div class="grid">{cards}</div>
</body></html>
"""
