"""The derived-signal encoder is pure: a Snapshot in, OTLP gauge bytes out, decoded here."""

from __future__ import annotations

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from driftline.export.derived.encode import metrics_request
from driftline.export.derived.series import SPECS, series
from driftline.export.derived.types import (
    DriftSnapshot,
    FeatureScore,
    LatencySnapshot,
    ModelSnapshot,
    SloBurn,
    Snapshot,
)

AT = 1_700_000_000_123_456_789
SNAP = Snapshot(
    AT,
    models=(
        ModelSnapshot(
            "fraud", "3",
            DriftSnapshot(
                (FeatureScore("age", "wasserstein", 0.3, 0.1, True),
                 FeatureScore("country", "jensenshannon", 0.01, 0.1, False)),
                share=0.5, detected=True,
            ),
            LatencySnapshot(120, ((0.5, 0.02), (0.9, 0.03), (0.95, 0.04), (0.99, 0.25)), 0.025),
        ),
        ModelSnapshot("churn", "", None, LatencySnapshot(7, ((0.5, 0.001), (0.99, 0.002)), 0.0)),
    ),
    burns=(SloBurn("fraud", "", "250ms@0.99", "5m", 14.5),),
)  # fmt: skip


def decoded(snapshot: Snapshot) -> ExportMetricsServiceRequest:
    return ExportMetricsServiceRequest.FromString(metrics_request(snapshot))


def points(
    request: ExportMetricsServiceRequest,
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for metric in request.resource_metrics[0].scope_metrics[0].metrics:
        for p in metric.gauge.data_points:
            attrs = frozenset((kv.key, kv.value.string_value) for kv in p.attributes)
            out[metric.name, attrs] = p.as_double
    return out


def test_one_resource_one_scope_gauges_stamped_with_the_round() -> None:
    request = decoded(SNAP)
    (rm,) = request.resource_metrics
    assert [(kv.key, kv.value.string_value) for kv in rm.resource.attributes] == [
        ("service.name", "driftline")
    ]
    (sm,) = rm.scope_metrics
    assert sm.scope.name == "driftline.derived"
    units = {m.name: m.unit for m in sm.metrics}
    assert units["driftline.latency"] == "s" and units["driftline.error_rate"] == "1"
    for m in sm.metrics:
        assert m.WhichOneof("data") == "gauge" and m.description
        assert all(p.time_unix_nano == AT for p in m.gauge.data_points)


def test_every_value_is_a_labelled_point() -> None:
    got = points(decoded(SNAP))
    mv = {("model", "fraud"), ("version", "3")}
    assert (
        got[
            "driftline.drift.score", frozenset(mv | {("feature", "age"), ("method", "wasserstein")})
        ]
        == 0.3
    )
    assert (
        got[
            "driftline.drift.threshold",
            frozenset(mv | {("feature", "country"), ("method", "jensenshannon")}),
        ]
        == 0.1
    )
    assert got["driftline.drift.share", frozenset(mv)] == 0.5
    assert got["driftline.drift.detected", frozenset(mv)] == 1.0
    assert got["driftline.latency", frozenset(mv | {("quantile", "0.99")})] == 0.25
    assert got["driftline.error_rate", frozenset(mv)] == 0.025
    assert got["driftline.inferences", frozenset(mv)] == 120
    churn = {("model", "churn"), ("version", "")}
    assert got["driftline.latency", frozenset(churn | {("quantile", "0.5")})] == 0.001
    assert got["driftline.slo.burn_rate", frozenset(
        {("model", "fraud"), ("version", ""), ("slo", "250ms@0.99"), ("window", "5m")}
    )] == 14.5  # fmt: skip
    # churn computed no drift: no drift points for it
    assert not any(k[0].startswith("driftline.drift") and ("model", "churn") in k[1] for k in got)
    # 2 scores + 2 thresholds + share + detected + 4+2 quantiles + 2 error rates + 2 counts + 1
    assert len(got) == 17


def test_an_empty_round_encodes_to_nothing_and_names_are_prometheus_safe() -> None:
    assert metrics_request(Snapshot(AT)) == b""
    assert series(Snapshot(AT)) == {}
    names = {s.prometheus_name for s in SPECS}
    assert "driftline_latency_seconds" in names and "driftline_drift_score" in names
    assert all(n.replace("_", "").isalnum() for n in names)


def test_the_encoder_is_deterministic() -> None:
    assert metrics_request(SNAP) == metrics_request(SNAP)
