"""Every query command's `--json` carries every field of its answer — false, zero, empty
included — with numbers as JSON numbers (#11.4), checked against the proto descriptors of the
answers, on a live server holding a first hour of data (first_hour.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from driftline.api._gen.driftline.v1 import query_pb2, runs_pb2
from tests.integration.first_hour import FirstHour

pytestmark = pytest.mark.integration

_INTS = {
    FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_FIXED64,
}  # fmt: skip
_FLOATS = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT}


def cli_json(data: FirstHour, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "driftline", *args, "--json", "--server", data.query],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _check_value(field: FieldDescriptor, value: Any, path: str) -> None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if value is not None:
            assert_every_field(value, field.message_type, path)
    elif field.type in _INTS:
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: {value!r}"
    elif field.type in _FLOATS:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        assert ok or value in ("NaN", "Infinity", "-Infinity"), f"{path}: {value!r}"
    elif field.type == FieldDescriptor.TYPE_BOOL:
        assert isinstance(value, bool), f"{path}: {value!r}"
    elif field.type == FieldDescriptor.TYPE_STRING:
        assert isinstance(value, str), f"{path}: {value!r}"


def assert_every_field(doc: dict[str, Any], descriptor: Descriptor, path: str = "") -> None:
    """Every field of `descriptor` is in `doc` (a set oneof member stands for its oneof) with
    the JSON type of its proto type."""
    for field in descriptor.fields:
        where = f"{path}.{field.name}"
        oneof = field.containing_oneof
        if oneof is not None and oneof.name != f"_{field.name}":
            if field.name in doc:
                _check_value(field, doc[field.name], where)
            continue
        assert field.name in doc, f"{where} missing from {sorted(doc)}"
        value = doc[field.name]
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            assert isinstance(value, dict), where
            for k, v in value.items():
                _check_value(entry.fields_by_name["value"], v, f"{where}[{k}]")
        elif field.is_repeated:
            assert isinstance(value, list), where
            for i, v in enumerate(value):
                _check_value(field, v, f"{where}[{i}]")
        elif value is not None or not field.has_presence:
            _check_value(field, value, where)


def test_drift_json_keeps_false_and_zero(first_hour: FirstHour) -> None:
    doc = cli_json(
        first_hour, "query", "drift", "--model", "fraud", "--since", "1h",
        "--reference-since", "25h", "--reference-until", "1h",
    )  # fmt: skip
    assert_every_field(doc, query_pb2.GetDriftResponse.DESCRIPTOR)
    features = doc["windows"][0]["features"]
    assert {f["feature"] for f in features} >= {"amount", "age", "merchant_category"}
    assert any(f["drifted"] is False for f in features)  # proto3 JSON drops these
    assert all(isinstance(f["n_reference"], int) for f in features)


def test_latency_json_numbers(first_hour: FirstHour) -> None:
    doc = cli_json(
        first_hour, "query", "latency", "--model", "fraud", "--since", "24h",
        "--by", "version", "--compare", "3", "4",
    )  # fmt: skip
    assert_every_field(doc, query_pb2.GetLatencyResponse.DESCRIPTOR)
    counts = {g["keys"]["version"]: g["count"] for g in doc["groups"]}
    assert counts["4"] == 600 and counts["3"] >= 600  # the README's SDK snippet adds to v3
    assert doc["groups"][0]["error_rate"] == 0


def test_performance_json(first_hour: FirstHour) -> None:
    doc = cli_json(first_hour, "query", "performance", "--model", "fraud", "--by", "version")
    assert_every_field(doc, query_pb2.GetPerformanceResponse.DESCRIPTOR)
    labelled = {g["keys"]["version"]: g["labelled"] for g in doc["groups"]}
    assert labelled["4"] == 300 and labelled["3"] >= 300  # (and the README's labels)


def test_reference_json(first_hour: FirstHour) -> None:
    saved = cli_json(
        first_hour, "reference", "save", "json-check", "--model", "fraud",
        "--since", "7d", "--until", "6d",
    )  # fmt: skip
    assert_every_field(saved, query_pb2.SavedReference.DESCRIPTOR)
    assert saved["inferences"] == 300
    listed = cli_json(first_hour, "reference", "list", "--model", "fraud")
    assert_every_field(listed, query_pb2.ListReferencesResponse.DESCRIPTOR)


def test_runs_json(first_hour: FirstHour) -> None:
    run_a, run_b = first_hour.run_ids["lr-0.01"], first_hour.run_ids["lr-0.1"]
    listed = cli_json(first_hour, "runs", "list", "--experiment", "fraud")
    assert_every_field(listed, runs_pb2.ListRunsResponse.DESCRIPTOR)
    assert {r["run_id"] for r in listed["runs"]} >= {run_a, run_b}
    shown = cli_json(first_hour, "runs", "show", run_a)
    assert_every_field(shown, runs_pb2.Run.DESCRIPTOR)
    assert shown["metrics"]["accuracy"]["points"] == 5
    compared = cli_json(first_hour, "runs", "compare", run_a, run_b)
    assert_every_field(compared, runs_pb2.CompareRunsResponse.DESCRIPTOR)
    logs = cli_json(first_hour, "runs", "logs", run_a)
    assert_every_field(logs, runs_pb2.GetRunLogsResponse.DESCRIPTOR)
    assert logs["truncated"] is False


@pytest.mark.parametrize(
    "args",
    [("models",), ("logs", "--limit", "3"), ("sql", "SELECT 0 AS zero, false AS no, '' AS e")],
)
def test_table_commands_json(first_hour: FirstHour, args: tuple[str, ...]) -> None:
    doc = cli_json(first_hour, *args)
    assert set(doc) == {"columns", "rows", "truncated"}
    assert doc["truncated"] is False
    if args[0] == "sql":
        assert doc["rows"] == [[0, False, ""]]


def test_trace_json(first_hour: FirstHour) -> None:
    trace_id = first_hour.server.scalar("SELECT any(TraceId) FROM otel_traces")
    doc = cli_json(first_hour, "trace", trace_id)
    assert doc["truncated"] is False and len(doc["rows"]) == 1
