"""What driftline found, asked through the query API the way `driftline query …` asks it.

Every finding is computed over the phase windows the scenario recorded and carries the exact
command that reproduces it (absolute `--since/--until` times, so the command still gives the
same answer later, against a kept collector or the kept data dir). `Finding.data` is the
machine-readable part (`driftline demo --json`), `Finding.lines` the human one.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftline.api._gen.driftline.v1 import quality_pb2, query_pb2
from driftline.client import Client
from driftline.demo.model import FEATURES, MODEL_NAME
from driftline.demo.scenario import Phase
from driftline.demo.traffic import (
    CORRELATED,
    MISSING_FEATURE,
    NEW_CATEGORY,
    SHIFTED_FEATURES,
)
from driftline.report.drift_view import drift_view
from driftline.report.html import render_drift_report


@dataclass
class Finding:
    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Commands:
    """Renders `driftline …` command lines; `server` is added when the collector is kept."""

    server: str | None

    def __call__(self, *parts: str) -> str:
        args = [*parts, *(("--server", self.server) if self.server else ())]
        return "driftline " + " ".join(shlex.quote(p) for p in args)


def _range(start_ns: int, end_ns: int) -> query_pb2.TimeRange:
    return query_pb2.TimeRange(start_unix_nano=start_ns, end_unix_nano=end_ns)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def fmt(v: Any) -> str:
        if isinstance(v, bool):
            return "yes" if v else "no"
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    text = [list(headers), *([fmt(v) for v in row] for row in rows)]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in text]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


def _p(p_value: float) -> str:
    return "p<1e-300" if p_value == 0 else f"p={p_value:.3g}"  # 0: below double precision


def _sql_rows(response: query_pb2.SqlResponse) -> list[dict[str, Any]]:
    names = [c.name for c in response.columns]
    return [
        {n: getattr(v, v.WhichOneof("kind") or "null_value")
         for n, v in zip(names, row.values, strict=True)}
        for row in response.rows
    ]  # fmt: skip


# ---- has everything arrived? -------------------------------------------------------------------


def stored_counts(client: Client, phases: Sequence[Phase]) -> tuple[dict[str, int], dict[str, int]]:
    """Inferences and labelled inferences stored per version, within the demo's windows."""
    whole = _range(phases[0].start_ns, phases[-1].end_ns)
    models = client.call("ListModels", query_pb2.ListModelsRequest(range=whole))
    inferences = {
        str(r["version"]): int(r["inferences"])
        for r in _sql_rows(models)
        if r["model"] == MODEL_NAME
    }
    labelled: dict[str, int] = {}
    if inferences:
        perf = client.call(
            "GetPerformance",
            query_pb2.GetPerformanceRequest(model=MODEL_NAME, range=whole, group_by=["version"]),
        )
        labelled = {g.keys["version"]: int(g.labelled) for g in perf.groups}
    return inferences, labelled


def wait_stored(client: Client, phases: Sequence[Phase], timeout_s: float = 60.0) -> None:
    """Until every inference and label the demo sent can be read back (the sink is async)."""
    want_inf = {p.version: p.inferences for p in phases}
    want_lab = {p.version: p.labels for p in phases}
    deadline = time.monotonic() + timeout_s
    while True:
        got_inf, got_lab = stored_counts(client, phases)
        if got_inf == want_inf and got_lab == want_lab:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"stored {got_inf} inferences and {got_lab} labels per version, "
                f"sent {want_inf} and {want_lab}"
            )
        time.sleep(0.2)


# ---- the findings ------------------------------------------------------------------------------


def _drift_args(reference: Phase, current: Phase) -> list[str]:
    return [
        "--model", MODEL_NAME, "--reference-since", reference.start,
        "--reference-until", reference.end, "--since", current.start, "--until", current.end,
    ]  # fmt: skip


def _windows(
    reference: Phase, current: Phase
) -> tuple[query_pb2.DriftWindowSpec, query_pb2.DriftWindowSpec]:
    return (
        query_pb2.DriftWindowSpec(range=_range(reference.start_ns, reference.end_ns)),
        query_pb2.DriftWindowSpec(range=_range(current.start_ns, current.end_ns)),
    )


def quality(client: Client, reference: Phase, current: Phase, cmd: Commands) -> Finding:
    """The data problems drift does not see: the missing-value burst, the new category."""
    ref, cur = _windows(reference, current)
    request = quality_pb2.GetDataQualityRequest(model=MODEL_NAME, reference=ref, current=cur)
    response: quality_pb2.GetDataQualityResponse = client.call(
        "GetDataQuality", request, service="quality"
    )
    window = response.windows[-1]
    checks = {f.feature: {c.name: c for c in f.checks} for f in window.features}
    missing = checks[MISSING_FEATURE]["missing_share"]
    unseen = checks["merchant_category"]["unseen_share"]
    finding = Finding("quality", "Data quality: shifted phase against the baseline")
    verdict = "QUALITY ISSUES" if window.flagged else "no quality issues"
    finding.lines = [
        f"{verdict}: {len(window.flagged_features)} of {len(window.features)} columns flagged "
        f"({', '.join(window.flagged_features)})",
        f"{MISSING_FEATURE}: missing in {missing.value:.1%} of the inferences "
        f"(upper bound {missing.upper:.1%} learned from the baseline) — the demo's outage",
        f"merchant_category: {unseen.value:.1%} of the values never seen in the baseline "
        f"({NEW_CATEGORY})",
    ]
    finding.commands = [cmd("query", "quality", *_drift_args(reference, current))]
    finding.data = {
        "flagged": window.flagged,
        "flagged_features": list(window.flagged_features),
        "missing_feature": MISSING_FEATURE,
        "missing_share": missing.value,
        "missing_alert": missing.alert,
        "unseen_share": unseen.value,
        "unseen_alert": unseen.alert,
        "new_categories": [c.category for f in window.features for c in f.new_categories],
    }
    return finding


def multivariate(client: Client, reference: Phase, current: Phase, cmd: Commands) -> Finding:
    """The correlation flip: the pair's reconstruction error, while each marginal stays put."""
    ref, cur = _windows(reference, current)
    request = quality_pb2.GetMultivariateDriftRequest(
        model=MODEL_NAME, features=list(CORRELATED), reference=ref, current=cur
    )
    response: quality_pb2.GetMultivariateDriftResponse = client.call(
        "GetMultivariateDrift", request, service="quality"
    )
    window = response.windows[-1]
    verdict = "MULTIVARIATE DRIFT" if response.drifted else "no multivariate drift"
    finding = Finding("multivariate", f"Multivariate drift of {' and '.join(CORRELATED)}")
    finding.lines = [
        f"{verdict}: reconstruction error {window.reconstruction_error:.3f} vs upper threshold "
        f"{window.upper_threshold:.3f} (PCA on the baseline, {response.components} component)",
        f"domain classifier AUROC {window.classifier_auroc:.3f} (0.5: indistinguishable)",
        "neither feature drifts on its own (see the drift table): their correlation flipped",
    ]
    finding.commands = [
        cmd("query", "multivariate", *_drift_args(reference, current),
            "--features", ",".join(CORRELATED))
    ]  # fmt: skip
    finding.data = {
        "features": list(CORRELATED),
        "drifted": response.drifted,
        "reconstruction_error": window.reconstruction_error,
        "upper_threshold": window.upper_threshold,
        "alert": window.alert,
        "classifier_auroc": window.classifier_auroc,
        "classifier_alert": window.classifier_alert,
    }
    return finding


def drift(
    client: Client, reference: Phase, current: Phase, cmd: Commands
) -> tuple[Finding, query_pb2.GetDriftResponse]:
    request = query_pb2.GetDriftRequest(
        model=MODEL_NAME,
        reference=query_pb2.DriftWindowSpec(range=_range(reference.start_ns, reference.end_ns)),
        current=query_pb2.DriftWindowSpec(range=_range(current.start_ns, current.end_ns)),
    )
    response: query_pb2.GetDriftResponse = client.call("GetDrift", request)
    window = response.windows[-1]
    features = {f.feature: f for f in window.features}
    inputs = [features[n] for n in FEATURES if n in features]
    outputs = [f for name, f in sorted(features.items()) if name not in FEATURES]
    verdict = "DATASET DRIFT" if window.dataset_drift else "no dataset drift"
    finding = Finding("drift", "Data drift: baseline phase vs shifted phase")
    finding.lines = [
        f"{verdict}: {window.drifted_count} of {len(window.features)} columns drifted "
        f"(share {window.share:.2f}, threshold {response.drift_share:.2f})",
        *_table(
            ["feature", "kind", "method", "score", "threshold", "drifted"],
            [[f.feature, f.kind, f.method, f.score, f.threshold, f.drifted]
             for f in sorted(inputs, key=lambda f: not f.drifted)]
            + [[f"{f.feature} (model output)", f.kind, f.method, f.score, f.threshold,
                f.drifted] for f in outputs],
        ),
        f"the demo shifted: {', '.join(SHIFTED_FEATURES)}",
    ]  # fmt: skip
    finding.commands = [cmd("query", "drift", *_drift_args(reference, current))]
    finding.data = {
        "dataset_drift": window.dataset_drift,
        "drifted_count": window.drifted_count,
        "share": window.share,
        "drift_share": response.drift_share,
        "shifted": list(SHIFTED_FEATURES),
        "drifted_features": [f.feature for f in inputs if f.drifted],
        "features": {
            f.feature: {"kind": f.kind, "method": f.method, "score": f.score,
                        "threshold": f.threshold, "drifted": f.drifted,
                        "n_reference": f.n_reference, "n_current": f.n_current}
            for f in [*inputs, *outputs]
        },
    }  # fmt: skip
    return finding, response


def latency(client: Client, baseline: Phase, candidate: Phase, cmd: Commands) -> Finding:
    request = query_pb2.GetLatencyRequest(
        model=MODEL_NAME, range=_range(baseline.start_ns, candidate.end_ns),
        group_by=["version"], baseline_version=baseline.version,
        candidate_version=candidate.version,
    )  # fmt: skip
    response: query_pb2.GetLatencyResponse = client.call("GetLatency", request)
    g = response.regression
    verdict = "SLOWER" if g.slower else "not significantly slower"
    finding = Finding("latency", f"Latency: version {g.candidate} vs version {g.baseline}")
    finding.lines = [
        *_table(
            ["version", "count", "p50_ms", "p90_ms", "p99_ms", "max_ms"],
            [[x.keys["version"], x.count, x.p50_ms, x.p90_ms, x.p99_ms, x.max_ms]
             for x in response.groups],
        ),
        f"version {g.candidate} is {verdict}: two-sided Mann-Whitney U {_p(g.p_value)}, "
        f"Cliff's delta {g.cliffs_delta:+.3f}",
    ]  # fmt: skip
    finding.commands = [
        cmd("query", "latency", "--model", MODEL_NAME, "--since", baseline.start,
            "--until", candidate.end, "--by", "version", "--compare", g.baseline, g.candidate)
    ]  # fmt: skip
    finding.data = {
        "baseline": g.baseline, "candidate": g.candidate,
        "n_baseline": g.n_baseline, "n_candidate": g.n_candidate,
        "baseline_p50_ms": g.baseline_p50_ms, "candidate_p50_ms": g.candidate_p50_ms,
        "baseline_p99_ms": g.baseline_p99_ms, "candidate_p99_ms": g.candidate_p99_ms,
        "p_value": g.p_value, "cliffs_delta": g.cliffs_delta, "slower": g.slower,
    }  # fmt: skip
    return finding


def performance(client: Client, baseline: Phase, candidate: Phase, cmd: Commands) -> Finding:
    by_version: query_pb2.GetPerformanceResponse = client.call(
        "GetPerformance",
        query_pb2.GetPerformanceRequest(
            model=MODEL_NAME, range=_range(baseline.start_ns, candidate.end_ns),
            group_by=["version"],
        ),
    )  # fmt: skip
    shift: query_pb2.GetPerformanceResponse = client.call(
        "GetPerformance",
        query_pb2.GetPerformanceRequest(
            model=MODEL_NAME, range=_range(candidate.start_ns, candidate.end_ns),
            reference=_range(baseline.start_ns, baseline.end_ns),
        ),
    )  # fmt: skip
    versions = {
        g.keys["version"]: {
            "count": g.count, "labelled": g.labelled,
            **{k: g.metrics[k] for k in ("accuracy", "precision", "recall", "f1", "roc_auc")
               if k in g.metrics},
            "cbpe_accuracy": g.estimated.get("accuracy", float("nan")),
        }
        for g in by_version.groups
    }  # fmt: skip
    d = shift.accuracy_drift
    finding = Finding("performance", "Accuracy from labels, and CBPE's expectation from scores")
    finding.lines = [
        *_table(
            ["version", "inferences", "labelled", "accuracy", "f1", "roc_auc", "cbpe_accuracy"],
            [[v, m["count"], m["labelled"], m.get("accuracy", float("nan")),
              m.get("f1", float("nan")), m.get("roc_auc", float("nan")), m["cbpe_accuracy"]]
             for v, m in sorted(versions.items())],
        ),
        f"accuracy {d.reference_accuracy:.3f} (baseline phase) → {d.current_accuracy:.3f} "
        f"(shift phase): {d.difference:+.3f}, two-proportion z-test {_p(d.p_value)}",
        "CBPE estimates accuracy from the scores alone, before labels arrive; a gap to the "
        "labelled accuracy means the new version's scores are not calibrated",
    ]  # fmt: skip
    finding.commands = [
        cmd("query", "performance", "--model", MODEL_NAME, "--since", baseline.start,
            "--until", candidate.end, "--by", "version"),
        cmd("query", "performance", "--model", MODEL_NAME, "--since", candidate.start,
            "--until", candidate.end, "--reference-since", baseline.start,
            "--reference-until", baseline.end),
    ]  # fmt: skip
    finding.data = {
        "task": by_version.task,
        "versions": versions,
        "accuracy_drift": {
            "reference_accuracy": d.reference_accuracy, "current_accuracy": d.current_accuracy,
            "difference": d.difference, "p_value": d.p_value,
        },
    }  # fmt: skip
    return finding


def report(
    response: query_pb2.GetDriftResponse,
    reference: Phase,
    current: Phase,
    path: Path,
    cmd: Commands,
) -> Finding:
    view = drift_view(response, f"phase 1, {reference.title}: {reference.start} … {reference.end}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_drift_report(view), encoding="utf-8")
    finding = Finding("report", "HTML drift report")
    finding.lines = [f"{path}: {view.drifted_count} of {len(view.features)} columns drifted"]
    finding.commands = [
        cmd("report", "drift", *_drift_args(reference, current), "--html", str(path))
    ]
    finding.data = {"path": str(path)}
    return finding


# ---- printing ----------------------------------------------------------------------------------


def print_findings(result: dict[str, Any], out: Any) -> None:
    """The human-readable summary of `run_demo`'s result."""
    print("\nWhat driftline found", file=out)
    for p in result["phases"]:
        print(f"  phase {p['name']}: {p['start']} … {p['end']}  version {p['version']}, "
              f"{p['inferences']} inferences, {p['labels']} labels", file=out)  # fmt: skip
    for n, finding in enumerate(result["findings"].values(), 1):
        print(f"\n{n}. {finding['title']}", file=out)
        for line in finding["lines"]:
            print(f"   {line}", file=out)
        for command in finding["commands"]:
            print(f"   reproduce: {command}", file=out)
    print(file=out)
    if result["kept"]:
        pid = result["collector_pid"]
        print(f"The collector is still running (pid {pid}, query API "
              f"{result['endpoints']['query_grpc']}, data in {result['data_dir']}): the "
              f"commands above work as they are. Stop it with: kill {pid}", file=out)  # fmt: skip
    elif Path(result["data_dir"]).exists():
        print(f"The collector was stopped; the data stays in {result['data_dir']}. Serve it with "
              f"`driftline serve --data-dir {result['data_dir']}` and the commands above "
              "answer the same.", file=out)  # fmt: skip
    else:
        print("The collector was stopped and its temporary data removed; run "
              "`driftline demo --keep` to try the commands above.", file=out)  # fmt: skip
