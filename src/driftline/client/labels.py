"""Ground truth in bulk: rows (a DataFrame, mappings, a CSV or Parquet file) → `Label` messages.

Columns, by name: `inference_id` (required), the value in `label` (or `value`), the model in
`model` (or `model_name`; or one model for all rows, given apart), and optionally `time`
(ISO 8601, a datetime, or Unix nanoseconds; empty: now). A number is sent as a number (a
regression target or a numeric class such as 0/1), anything else as a class name; in CSV,
where every cell is text, a cell that parses as a number is a number unless the caller asks
for classes. Every row is checked before anything is sent: one bad row refuses the batch, with
its row number.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from driftline.api._gen.driftline.v1 import query_pb2

# Label messages per RecordLabels request: ~100 bytes each, well under the server's 4 MiB.
LABELS_PER_REQUEST: Final = 10_000
VALUE_COLUMNS: Final = ("label", "value")
MODEL_COLUMNS: Final = ("model", "model_name")


class LabelError(ValueError):
    """A label row that cannot be sent; the message names the row."""


def rows_of(labels: Any) -> list[Mapping[str, Any]]:
    """A DataFrame (pandas) or any iterable of mappings, as a list of mappings."""
    if hasattr(labels, "to_dict") and hasattr(labels, "columns"):
        records: list[Mapping[str, Any]] = labels.to_dict("records")
        return records
    return list(labels)


def read_label_file(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a .csv (header line, text cells) or .parquet file (needs pyarrow)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as file:
            return [dict(row) for row in csv.DictReader(file)]
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise LabelError(
                "reading Parquet needs pyarrow: pip install 'driftline[pandas]'"
            ) from None
        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        return rows
    raise LabelError(f"{path}: expected a .csv or .parquet file")


def label_messages(
    labels: Any, *, model: str | None = None, class_labels: bool | None = None
) -> list[query_pb2.Label]:
    rows = rows_of(labels)
    if not rows:
        raise LabelError("no labels given")
    return [_label(i, row, model, class_labels) for i, row in enumerate(rows, start=1)]


def _first(row: Mapping[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        if name in row and not _missing(row[name]):
            return row[name]
    return None


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _label(
    i: int, row: Mapping[str, Any], model: str | None, class_labels: bool | None
) -> query_pb2.Label:
    model_name = model or _first(row, MODEL_COLUMNS)
    inference_id = _first(row, ("inference_id",))
    value = _first(row, VALUE_COLUMNS)
    problems = []
    if not model_name:
        problems.append("no model (a `model` column, or give the model)")
    if inference_id is None:
        problems.append("no inference_id")
    if value is None:
        problems.append("no value (a `label` or `value` column)")
    if problems:
        raise LabelError(f"row {i}: " + "; ".join(problems))
    label = query_pb2.Label(model_name=str(model_name), inference_id=str(inference_id))
    number = None if class_labels else _number(value)
    if number is not None:
        label.number = number
    else:
        label.class_name = str(value)
    try:
        label.time_unix_nano = _time_ns(_first(row, ("time", "timestamp")))
    except ValueError as exc:
        raise LabelError(f"row {i}: time: {exc}") from None
    return label


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if hasattr(value, "item"):  # numpy scalars
        return _number(value.item())
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


def _time_ns(value: Any) -> int:
    if value is None:
        return 0
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp() * 1e9)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        return _time_ns(datetime.fromisoformat(text.replace("Z", "+00:00")))
    raise ValueError(f"expected ISO 8601 or Unix nanoseconds, got {value!r}")
