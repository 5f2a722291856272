"""MLflow's JSON shapes (mlflow/protos/service.proto, proto3 JSON mapping): request fields in,
Run / RunInfo / Experiment / Metric out. Pure.

Requests: POST bodies are JSON objects; GET requests carry the same fields as query
parameters (repeated fields repeat the name). Times are milliseconds since the epoch; int64
fields are accepted as numbers or strings, as protobuf's JSON parser does. Doubles go out as
numbers, and NaN/±Infinity as the strings "NaN", "Infinity", "-Infinity" (protobuf's JSON).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from driftline.mlflow.errors import invalid
from driftline.query.experiments import ExperimentInfo
from driftline.query.runs import DatasetInput, MetricSummary, RunInfo

NS_PER_MS: Final = 1_000_000
_MISSING: Final = object()


class Fields:
    """The fields of one request, with MLflow's wording for a missing or bad one."""

    def __init__(self, data: Mapping[str, Any], repeated: Mapping[str, list[str]] | None = None):
        self._data = data
        self._repeated = repeated or {}

    @property
    def data(self) -> Mapping[str, Any]:
        return self._data

    @property
    def repeated(self) -> Mapping[str, list[str]]:
        return self._repeated

    def _raw(self, name: str) -> Any:
        value = self._data.get(name, _MISSING)
        return _MISSING if value is None else value

    def raw(self, name: str) -> Any:
        """The field as sent, None when absent."""
        return self._data.get(name)

    def text(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self._raw(name)
        if value is _MISSING or value == "":
            if required:
                raise invalid(
                    f"Missing value for required parameter '{name}'. See the API docs for more "
                    "information about request parameters."
                )
            return default
        if not isinstance(value, str):
            raise invalid(
                f"Invalid value {value!r} for parameter '{name}' supplied: expected a string"
            )
        return value

    def integer(
        self, name: str, *, required: bool = False, default: int | None = None
    ) -> int | None:
        value = self._raw(name)
        if value is _MISSING or value == "":
            if required:
                raise invalid(f"Missing value for required parameter '{name}'.")
            return default
        if isinstance(value, bool):
            raise invalid(f"Invalid value {value!r} for parameter '{name}': expected an integer")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise invalid(
                f"Invalid value {value!r} for parameter '{name}': expected an integer"
            ) from None
        if isinstance(value, float) and not value.is_integer():
            raise invalid(f"Invalid value {value!r} for parameter '{name}': expected an integer")
        return number

    def number(self, name: str, *, required: bool = False) -> float | None:
        value = self._raw(name)
        if value is _MISSING:
            if required:
                raise invalid(f"Missing value for required parameter '{name}'.")
            return None
        return parse_double(name, value)

    def strings(self, name: str) -> list[str]:
        if name in self._repeated:
            return list(self._repeated[name])
        value = self._raw(name)
        if value is _MISSING:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(f"Invalid value {value!r} for parameter '{name}': expected strings")
        return value

    def objects(self, name: str) -> list[Mapping[str, Any]]:
        value = self._raw(name)
        if value is _MISSING:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise invalid(f"Invalid value for parameter '{name}': expected a list of objects")
        return value

    def object(self, name: str) -> Mapping[str, Any]:
        value = self._raw(name)
        if value is _MISSING:
            return {}
        if not isinstance(value, dict):
            raise invalid(f"Invalid value for parameter '{name}': expected an object")
        return value


def parse_double(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise invalid(f"Invalid value {value!r} for parameter '{name}': expected a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity", "inf", "-inf", "nan"):
        return float(value.replace("Infinity", "inf"))
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid(
            f"Invalid value {value!r} for parameter '{name}': expected a number"
        ) from None


def double(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def key_values(items: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in items.items()]


def ms(ns: int) -> int:
    return ns // NS_PER_MS


# ---- out -----------------------------------------------------------------------------------------


def experiment(e: ExperimentInfo) -> dict[str, Any]:
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle,
        "last_update_time": ms(e.updated_ns),
        "creation_time": ms(e.created_ns),
        "tags": key_values(e.tags),
    }


def run_info(info: RunInfo, experiment_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": experiment_id,
        "user_id": info.user_id,
        "status": info.mlflow_status or info.status,
        "start_time": ms(info.start_ns),
        "artifact_uri": info.attributes.get("artifact_uri", ""),
        "lifecycle_stage": info.lifecycle,
    }
    if info.end_ns:
        out["end_time"] = ms(info.end_ns)
    return out


def metric(key: str, value: float, timestamp_ns: int, step: int) -> dict[str, Any]:
    return {"key": key, "value": double(value), "timestamp": ms(timestamp_ns), "step": step}


def dataset_input(d: DatasetInput) -> dict[str, Any]:
    dataset = {"name": d.name, "digest": d.digest, "source_type": d.source_type,
               "source": d.source}  # fmt: skip
    if d.schema:
        dataset["schema"] = d.schema
    if d.profile:
        dataset["profile"] = d.profile
    return {"tags": key_values(d.tags), "dataset": dataset}


def run(
    info: RunInfo,
    experiment_id: str,
    summaries: Mapping[str, MetricSummary],
    inputs: list[DatasetInput],
) -> dict[str, Any]:
    metrics = [
        metric(k, m.latest, m.latest_timestamp_ns or m.last_timestamp_ns, m.latest_step)
        for k, m in sorted(summaries.items())
    ]
    return {
        "info": run_info(info, experiment_id),
        "data": {
            "metrics": metrics,
            "params": key_values(dict(sorted(info.params.items()))),
            "tags": key_values(dict(sorted(info.tags.items()))),
        },
        "inputs": {"dataset_inputs": [dataset_input(d) for d in inputs]},
        "outputs": {},
    }
