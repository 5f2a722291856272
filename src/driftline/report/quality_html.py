"""A self-contained HTML data-quality report: the verdict on top, then one card per feature with
its checks, its summary next to the reference's, the missing share over time against its
threshold, and the out-of-range share over time (numbers) or the categories the reference never
had (categories). Inline SVG, no scripts, no external assets.

Pure: the query API's GetDataQuality answer in, a string out (`driftline query quality --html`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from driftline.api._gen.driftline.v1 import quality_pb2

BAR = "#4C78A8"
ALERT = "#E0625C"
LIMIT = "#F58518"


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%m-%d %H:%M")


def bars_svg(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    alerts: Sequence[bool],
    *,
    limit: float | None = None,
    percent: bool = True,
    width: int = 540,
    height: int = 150,
) -> str:
    """One bar per label (red where alerting), an optional dashed limit line, an axis."""
    left, bottom, top_pad = 44, 30, 18
    plot_h, plot_w = height - bottom - top_pad, width - left - 8
    top = max([*values, limit or 0.0, 1e-9]) * 1.1
    n = max(len(values), 1)
    group = plot_w / n
    bar = max(min(group * 0.7, 60.0), 1.0)
    base = height - bottom

    def y(v: float) -> float:
        return base - plot_h * v / top

    def fmt(v: float) -> str:
        return f"{v:.1%}" if percent else f"{v:g}"

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
        f"aria-label='{escape(title)}'>",
        f"<text x='{left}' y='12' font-size='11' fill='#444'>{escape(title)}</text>",
        f"<line x1='{left}' y1='{base}' x2='{width - 8}' y2='{base}' stroke='#999'/>",
        f"<text x='2' y='{top_pad + 8}' font-size='10' fill='#666'>{fmt(top)}</text>",
    ]
    for i, (label, value, alert) in enumerate(zip(labels, values, alerts, strict=True)):
        x = left + i * group + (group - bar) / 2
        h = max(base - y(value), 0.5)  # a zero still shows as a hairline
        parts.append(
            f"<rect x='{x:.1f}' y='{base - h:.1f}' width='{bar:.1f}' height='{h:.1f}' "
            f"fill='{ALERT if alert else BAR}'><title>{escape(label)}: {fmt(value)}</title></rect>"
        )
        if n <= 12 or i % -(-n // 12) == 0:
            short = label if len(label) <= 16 else label[:15] + "…"
            parts.append(
                f"<text x='{x + bar / 2:.1f}' y='{base + 13}' font-size='9' "
                f"text-anchor='middle' fill='#444'>{escape(short)}</text>"
            )
    if limit is not None:
        parts.append(
            f"<line x1='{left}' y1='{y(limit):.1f}' x2='{width - 8}' y2='{y(limit):.1f}' "
            f"stroke='{LIMIT}' stroke-dasharray='4 3'><title>threshold {fmt(limit)}</title></line>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _check(feature: quality_pb2.FeatureQuality, name: str) -> quality_pb2.QualityCheck | None:
    return next((c for c in feature.checks if c.name == name), None)


def _series(
    r: quality_pb2.GetDataQualityResponse, feature: str, check: str
) -> tuple[list[str], list[float], list[bool], float | None]:
    labels, values, alerts, limit = [], [], [], None
    for w in r.windows:
        f = next((f for f in w.features if f.feature == feature), None)
        c = _check(f, check) if f is not None else None
        labels.append(_when(w.start_unix_nano))
        values.append(c.value if c is not None and c.has_value else 0.0)
        alerts.append(bool(c is not None and c.alert))
        if c is not None and c.has_upper:
            limit = c.upper
    return labels, values, alerts, limit


def _summary_rows(f: quality_pb2.FeatureQuality, levels: Sequence[float]) -> str:
    ref, cur = f.reference, f.current
    rows: list[tuple[str, float, float]] = [
        ("count", ref.count, cur.count),
        ("distinct", ref.distinct, cur.distinct),
    ]
    if f.kind == "numerical":
        rows += [
            ("mean", ref.mean, cur.mean),
            ("std", ref.std, cur.std),
            ("min", ref.min, cur.min),
            ("max", ref.max, cur.max),
        ]
        for i, q in enumerate(levels):
            if q in (0.05, 0.5, 0.95) and i < len(ref.quantiles):
                now = cur.quantiles[i] if i < len(cur.quantiles) else float("nan")
                rows.append((f"p{round(q * 100)}", ref.quantiles[i], now))
    return "".join(
        f"<tr><td>{name}</td><td>{a:.4g}</td><td>{b:.4g}</td></tr>" for name, a, b in rows
    )


def _card(r: quality_pb2.GetDataQualityResponse, f: quality_pb2.FeatureQuality) -> str:
    checks = "".join(
        f"<tr><td>{escape(c.name)}</td><td>{c.value:.2%}</td>"
        f"<td>{f'{c.upper:.2%}' if c.has_upper else '-'}</td>"
        f"<td>{'<b>alert</b>' if c.alert else 'ok'}</td></tr>"
        for c in f.checks
        if c.has_value
    )
    missing = bars_svg(
        f"{f.feature}: missing share per window", *_bars(r, f.feature, "missing_share")
    )
    if f.kind == "numerical":
        second = bars_svg(
            f"{f.feature}: share outside the reference's range",
            *_bars(r, f.feature, "out_of_range_share"),
        )
    elif f.new_categories:
        second = bars_svg(
            f"{f.feature}: categories the reference never had (rows)",
            [c.category for c in f.new_categories], [float(c.rows) for c in f.new_categories],
            [True] * len(f.new_categories), percent=False,
        )  # fmt: skip
    else:
        second = bars_svg(
            f"{f.feature}: share of unseen categories", *_bars(r, f.feature, "unseen_share")
        )
    tag = "<span class='tag d'>flagged</span>" if f.flagged else "<span class='tag n'>ok</span>"
    return (
        f"<div class='card' data-name='{escape(f.feature)}'><h3>{escape(f.feature)} {tag}</h3>"
        f"<div class='meta'>{escape(f.kind)}</div>{missing}{second}"
        f"<table><tr><th>check</th><th>value</th><th>upper</th><th></th></tr>{checks}</table>"
        f"<table><tr><th></th><th>reference</th><th>current</th></tr>"
        f"{_summary_rows(f, list(r.quantile_levels))}</table></div>"
    )


def _bars(
    r: quality_pb2.GetDataQualityResponse, feature: str, check: str
) -> tuple[list[str], list[float], list[bool]]:
    labels, values, alerts, _ = _series(r, feature, check)
    return labels, values, alerts


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222}
.verdict{padding:12px 16px;border-radius:6px;margin-bottom:16px}
.bad{background:#fde2e1;border:1px solid #e0625c}.good{background:#e3f4e1;border:1px solid #5aa95a}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:10px}
.card h3{margin:0 0 4px 0;font-size:15px}.tag{font-size:12px;padding:1px 6px;border-radius:4px}
.tag.d{background:#e0625c;color:#fff}.tag.n{background:#5aa95a;color:#fff}
table{border-collapse:collapse;margin:8px 8px 8px 0;display:inline-table;vertical-align:top}
td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}.meta{color:#666;font-size:12px}
"""


def render_quality_report(r: quality_pb2.GetDataQualityResponse) -> str:
    if r.no_data:
        verdict, css = "No data in the current window", "good"
    elif r.flagged:
        verdict, css = "Data quality issues", "bad"
    else:
        verdict, css = "No data quality issues", "good"
    last = r.windows[-1] if r.windows else None
    features = sorted(last.features, key=lambda f: (not f.flagged, f.feature)) if last else []
    flagged = sorted({f for w in r.windows for f in w.flagged_features})
    dup = last.duplicates if last else None
    duplicates = (
        f"duplicate inference ids {dup.value:.2%}{' (alert)' if dup.alert else ''}"
        if dup is not None and dup.has_value
        else ""
    )
    windows = (
        f"{_when(r.windows[0].start_unix_nano)} … {_when(r.windows[-1].end_unix_nano)} UTC, "
        f"{len(r.windows)} window(s)"
        if r.windows
        else ""
    )
    cards = "".join(_card(r, f) for f in features)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>driftline data quality — {escape(r.model)}</title><style>{_STYLE}</style></head>
<body>
<h1>Data quality: {escape(r.model)}</h1>
<p class="meta">current: {escape(windows)} · reference: {r.reference_inferences} inferences in
{r.reference_chunks} chunks</p>
<div class="verdict {css}"><b>{verdict}</b>{": " + escape(", ".join(flagged)) if flagged else ""}
{("· " + duplicates) if duplicates else ""}</div>
<div class="grid">{cards}</div>
</body></html>
"""
