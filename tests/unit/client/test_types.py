"""driftline.client's mapping from protos to dataclasses: by field name, tolerant both ways."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd
import pytest

from driftline.api._gen.driftline.v1 import query_pb2, runs_pb2
from driftline.client import types as t
from driftline.client.client import cell, table


def test_a_drift_answer_maps_field_by_field() -> None:
    message = query_pb2.GetDriftResponse(model="fraud", drift_share=0.5)
    window = message.windows.add(start_unix_nano=10**18, end_unix_nano=2 * 10**18, share=0.5)
    window.dataset_drift = True
    window.features.add(
        feature="amount", kind="numerical", method="ks", score=1e-9, threshold=0.05,
        drifted=True, n_reference=400, n_current=51, reference_shares=[0.5, 0.5],
        current_shares=[0.1, 0.9],
    )  # fmt: skip
    drift = t.from_message(t.Drift, message)
    f = drift.windows[0].features[0]
    assert (drift.model, drift.drift_share, drift.dataset_drift) == ("fraud", 0.5, True)
    assert (f.feature, f.score, f.n_current, f.current_shares) == ("amount", 1e-9, 51, [0.1, 0.9])
    assert f.bin_edges == []  # not in this proto (yet): the default
    frame = drift.to_pandas()
    assert list(frame["feature"]) == ["amount"] and "bins" not in frame.columns
    assert frame["window_start"][0] == pd.Timestamp(10**18, unit="ns", tz="UTC")


@dataclass(frozen=True)
class OlderFeatureDrift:
    """A client that knows fewer fields than the server sends."""

    feature: str = ""
    score: float = 0.0
    not_on_the_wire: list[str] = field(default_factory=lambda: ["kept"])


def test_fields_the_server_adds_are_ignored_and_missing_ones_keep_defaults() -> None:
    message = query_pb2.FeatureDrift(feature="age", score=0.3, method="psi", n_current=3)
    older = t.from_message(OlderFeatureDrift, message)
    assert older == OlderFeatureDrift(feature="age", score=0.3)


def test_an_unset_submessage_is_none_and_a_set_one_maps() -> None:
    assert t.from_message(t.Latency, query_pb2.GetLatencyResponse()).regression is None
    message = query_pb2.GetLatencyResponse(page=True)
    message.regression.baseline = "3"
    message.regression.slower = True
    message.groups.add(keys={"version": "3"}, count=7, p99_ms=12.5)
    latency = t.from_message(t.Latency, message)
    assert latency.page and latency.regression == t.VersionRegression(baseline="3", slower=True)
    assert latency.to_pandas().to_dict("records") == [
        {"version": "3", "count": 7, "error_rate": 0.0, "p50_ms": 0.0, "p90_ms": 0.0,
         "p95_ms": 0.0, "p99_ms": 12.5, "max_ms": 0.0}
    ]  # fmt: skip


def test_maps_of_messages_and_repeated_messages() -> None:
    run = runs_pb2.Run(run_id="r1", params={"lr": "0.1"})
    run.metrics["loss"].CopyFrom(runs_pb2.MetricSummary(latest=0.25, points=10))
    run.artifacts.add(uri="file:///m.pt", size=-1)
    mapped = t.from_message(t.Run, run)
    assert mapped.metrics == {"loss": t.MetricSummary(latest=0.25, points=10)}
    assert mapped.artifacts == [t.Artifact(uri="file:///m.pt", size=-1)]
    frame = t.Rows([mapped]).to_pandas()
    assert frame["params.lr"][0] == "0.1" and frame["metrics.loss"][0] == 0.25


def test_table_cells_keep_their_kind_and_decode_json() -> None:
    response = query_pb2.SqlResponse(
        columns=[query_pb2.Column(name=n, type=ty) for n, ty in
                 [("n", "UInt64"), ("x", "Nullable(Float64)"), ("m", "Map(String, UInt64)"),
                  ("ts", "DateTime64(9)")]],
    )  # fmt: skip
    response.rows.add().values.extend(
        [
            query_pb2.Value(uint64_value=3),
            query_pb2.Value(null_value=True),
            query_pb2.Value(json_value=json.dumps({"a": 1})),
            query_pb2.Value(json_value=json.dumps("2026-12-02T10:00:00+00:00")),
        ]
    )
    result = table(response)
    assert result.rows == [[3, None, {"a": 1}, "2026-12-02T10:00:00+00:00"]]
    frame = result.to_pandas()
    assert frame["ts"][0] == pd.Timestamp("2026-12-02T10:00:00", tz="UTC")
    assert cell(query_pb2.Value()) is None


def test_rows_as_matches_columns_by_name() -> None:
    result = t.Table(
        columns=[t.Column("model"), t.Column("inferences"), t.Column("new_column")],
        rows=[["fraud", 5, "ignored"]],
    )
    assert t.rows_as(t.ModelVersion, result) == [t.ModelVersion(model="fraud", inferences=5)]


def test_to_pandas_without_pandas_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pandas(name: str, *args: object, **kwargs: object) -> object:
        if name == "pandas":
            raise ImportError("no pandas")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match=r"driftline\[pandas\]"):
        t.Table().to_pandas()
