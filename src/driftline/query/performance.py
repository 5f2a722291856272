"""Performance questions: metrics per group from labels and CBPE, accuracy drift between two
ranges — request checks, storage/performance_rows.py's sums, analysis/performance.py's math."""

from __future__ import annotations

from collections.abc import Sequence

from clickhouse_connect.driver.client import Client

from driftline.analysis.performance import (
    AccuracyDrift,
    PerformanceRow,
    Task,
    infer_task,
    performance_row,
)
from driftline.analysis.performance import accuracy_drift as accuracy_drift_from
from driftline.errors import EmptyWindowError, InvalidInputError
from driftline.query.latency import require_model
from driftline.storage import performance_rows
from driftline.storage.latency_sql import Range

__all__ = ["AccuracyDrift", "PerformanceRow", "Task", "accuracy_drift", "performance"]


def performance(
    client: Client, database: str, model: str, r: Range, *, group_by: Sequence[str] = (),
    bucket_s: int = 3600, positive: str = "1", task: Task | None = None,
) -> tuple[Task, list[PerformanceRow]]:  # fmt: skip
    if set(group_by) - {"version", "bucket"}:
        raise InvalidInputError("performance groups by version and/or bucket only")
    if r.end_ns <= r.start_ns:
        raise InvalidInputError("the time range is empty (end <= start)")
    require_model(client, database, model)
    groups = performance_rows.performance_sums(
        client, database, model, r, group_by, bucket_s, positive
    )
    if not groups or not sum(g.n for g in groups):
        raise EmptyWindowError(f"no inferences of {model!r} in this time range")
    task = task or infer_task(groups)
    return task, [performance_row(g, task) for g in groups]


def accuracy_drift(
    client: Client, database: str, model: str, reference: Range, current: Range, positive: str = "1"
) -> AccuracyDrift:
    figures = []
    for r in (reference, current):
        _, rows = performance(client, database, model, r, positive=positive, task="classification")
        row = rows[0]
        if not row.labelled:
            raise EmptyWindowError("no labelled inferences in one of the windows")
        figures.append((row.metrics["accuracy"], row.labelled))
    (a1, n1), (a2, n2) = figures
    return accuracy_drift_from(a1, n1, a2, n2)
