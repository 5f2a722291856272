"""Bulk labels: rows from DataFrames, CSV and Parquet → Label messages, checked before sending."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftline.client.labels import LabelError, label_messages, read_label_file


def test_csv_numbers_are_numbers_and_text_is_a_class(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(
        "model,inference_id,label,time\n"
        "fraud,a,1,2026-12-02T10:00:00Z\n"
        "fraud,b,0.25,\n"
        "fraud,c,spam,1796236748000000000\n"
    )
    a, b, c = label_messages(read_label_file(path))
    assert (a.model_name, a.inference_id, a.WhichOneof("value"), a.number) == (
        "fraud", "a", "number", 1.0,
    )  # fmt: skip
    assert a.time_unix_nano == int(datetime(2026, 12, 2, 10, tzinfo=UTC).timestamp() * 1e9)
    assert b.number == 0.25 and b.time_unix_nano == 0  # empty: now (set by the server)
    assert c.class_name == "spam" and c.time_unix_nano == 1796236748000000000


def test_class_labels_forces_classes_and_a_model_fills_missing_ones() -> None:
    (label,) = label_messages([{"inference_id": "x", "value": "1"}], model="m", class_labels=True)
    assert (label.model_name, label.WhichOneof("value"), label.class_name) == (
        "m",
        "class_name",
        "1",
    )


def test_a_dataframe_with_numpy_values(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"model": "fraud", "inference_id": ["a", "b"], "label": np.array([1, 0], dtype=np.int64),
         "time": pd.to_datetime(["2026-12-02T10:00:00Z", "2026-12-02T11:00:00Z"])}
    )  # fmt: skip
    labels = label_messages(frame)
    assert [(x.inference_id, x.number) for x in labels] == [("a", 1.0), ("b", 0.0)]
    assert labels[1].time_unix_nano - labels[0].time_unix_nano == 3600 * 10**9
    path = tmp_path / "labels.parquet"
    frame.to_parquet(path)
    assert label_messages(read_label_file(path)) == labels


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"inference_id": "a", "label": 1}], "row 1: no model"),
        ([{"model": "m", "inference_id": "a", "label": 1}, {"model": "m", "label": 1}],
         "row 2: no inference_id"),
        ([{"model": "m", "inference_id": "a", "label": float("nan")}], "row 1: no value"),
        ([{"model": "m", "inference_id": "a", "label": 1, "time": "yesterday"}], "row 1: time"),
        ([], "no labels given"),
    ],
)  # fmt: skip
def test_a_bad_row_refuses_the_batch_and_names_the_row(
    rows: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(LabelError, match=message):
        label_messages(rows)


def test_other_file_types_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LabelError, match=r"expected a \.csv or \.parquet"):
        read_label_file(tmp_path / "labels.xlsx")
