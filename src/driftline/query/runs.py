"""Run answers: list (MLflow filter + order), get, compare, metric history.

Parses the filter and order-by text (run_filter), runs the statements of storage/runs_sql with
a time limit, and returns plain dataclasses; api/run_service.py turns them into protos.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from clickhouse_connect.driver.client import Client

from driftline.errors import InvalidInputError, NotFoundError
from driftline.query.run_filter import parse_filter, parse_order_by
from driftline.storage import runs_sql
from driftline.storage.client import qualify

MAX_RESULTS_DEFAULT: Final = 1000  # MLflow's store default
MAX_RESULTS_LIMIT: Final = 50_000  # MLflow's SEARCH_MAX_RESULTS_THRESHOLD
MAX_POINTS_DEFAULT: Final = 1_000_000


@dataclass(frozen=True)
class MetricSummary:
    latest: float
    latest_step: int = 0
    min: float = float("nan")
    max: float = float("nan")
    points: int = 0
    last_timestamp_ns: int = 0
    latest_timestamp_ns: int = 0  # the latest point's own timestamp (MLflow's Metric.timestamp)


@dataclass(frozen=True)
class DatasetInput:
    """One dataset a run logged as input (MLflow's DatasetInput: Dataset + input tags)."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str
    profile: str
    tags: dict[str, str]


@dataclass(frozen=True)
class Artifact:
    uri: str
    path: str
    size: int
    sha256: str
    timestamp_ns: int


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment: str
    run_name: str
    user_id: str
    status: str
    start_ns: int
    end_ns: int
    last_seen_ns: int
    params: dict[str, str]
    tags: dict[str, str]
    attributes: dict[str, str]
    metrics: dict[str, MetricSummary]
    artifacts: list[Artifact] = field(default_factory=list)
    experiment_id: str = ""  # MLflow's experiment id ('' for runs the SDK started)
    lifecycle: str = "active"  # MLflow's lifecycle_stage: active or deleted
    mlflow_status: str = ""  # status as MLflow shows it: CRASHED reads RUNNING
    inputs: list[DatasetInput] = field(default_factory=list)


@dataclass(frozen=True)
class MetricSeries:
    """One key's points, columnar, in (step, timestamp) order."""

    steps: list[int]
    timestamps_ns: list[int]
    values: list[float]


@dataclass(frozen=True)
class LogLine:
    timestamp_ns: int
    severity_text: str
    severity_number: int
    body: str
    logger: str


def run_rows(client: Client, database: str, statement: runs_sql.Statement, timeout_s: float) -> Any:
    sql, params = statement
    return client.query(
        qualify(sql, database),
        parameters=params,
        settings={
            "max_execution_time": max(1, int(timeout_s)),
            "join_use_nulls": 1,
            # On a cluster the run tables are all sharded by RunId, so an IN subquery over
            # them can stay on each shard's local tables.
            "distributed_product_mode": "local",
        },
    )


def _info(row: Sequence[Any], metrics: dict[str, MetricSummary] | None = None) -> RunInfo:
    (run_id, experiment, name, user, status, start, end, seen, params, tags, latest, attrs,
     experiment_id, lifecycle, mlflow_status) = row  # fmt: skip
    return RunInfo(
        run_id=run_id, experiment=experiment, run_name=name, user_id=user, status=status,
        start_ns=int(start), end_ns=int(end or 0), last_seen_ns=int(seen or 0),
        params=dict(params), tags=dict(tags), attributes=dict(attrs),
        experiment_id=str(experiment_id or ""), lifecycle=str(lifecycle or "active"),
        mlflow_status=str(mlflow_status or status),
        metrics=metrics if metrics is not None else {
            k: MetricSummary(latest=float(v)) for k, v in (latest or {}).items()
        },
    )  # fmt: skip


def encode_page_token(offset: int) -> str:
    """MLflow's page-token shape: base64 of {"offset": n}."""
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.b64decode(token, validate=True))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidInputError(f"invalid page token {token!r}") from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInputError(f"invalid page token {token!r}")
    return offset


def list_runs_page(
    client: Client,
    database: str,
    *,
    experiments: Sequence[str] = (),
    filter_string: str = "",
    order_by: Sequence[str] = (),
    max_results: int = 0,
    page_token: str = "",
    now_ns: int,
    heartbeat_timeout_s: float,
    timeout_s: float,
    scope: runs_sql.MlflowScope | None = None,
) -> tuple[list[RunInfo], str]:
    """One page of runs matching an MLflow filter, ordered, and the next page's token ('' at
    the end); InvalidInputError (FilterError) on bad text or a bad token."""
    limit = max_results or MAX_RESULTS_DEFAULT
    if not 0 < limit <= MAX_RESULTS_LIMIT:
        raise InvalidInputError(f"max_results must be between 1 and {MAX_RESULTS_LIMIT}")
    offset = _offset(page_token)
    comparisons = parse_filter(filter_string)
    orders = [parse_order_by(o) for o in order_by if o.strip()]
    statement = runs_sql.list_runs(
        experiments, comparisons, orders, limit + 1, now_ns, heartbeat_timeout_s, offset, scope
    )
    rows = run_rows(client, database, statement, timeout_s).result_rows
    more = len(rows) > limit
    next_token = encode_page_token(offset + limit) if more else ""
    return [_info(row) for row in rows[:limit]], next_token


def list_runs(
    client: Client,
    database: str,
    *,
    experiments: Sequence[str] = (),
    filter_string: str = "",
    order_by: Sequence[str] = (),
    max_results: int = 0,
    now_ns: int,
    heartbeat_timeout_s: float,
    timeout_s: float,
) -> list[RunInfo]:
    """The first page of `list_runs_page`."""
    runs, _ = list_runs_page(
        client, database, experiments=experiments, filter_string=filter_string,
        order_by=order_by, max_results=max_results, now_ns=now_ns,
        heartbeat_timeout_s=heartbeat_timeout_s, timeout_s=timeout_s,
    )  # fmt: skip
    return runs


def get_runs(
    client: Client,
    database: str,
    run_ids: Sequence[str],
    *,
    now_ns: int,
    heartbeat_timeout_s: float = 60.0,
    timeout_s: float,
) -> list[RunInfo]:
    """The runs in the order asked, with metric summaries and artifacts; NotFoundError names
    every id that is not stored."""
    ids = list(dict.fromkeys(r.strip() for r in run_ids if r.strip()))
    if not ids:
        raise InvalidInputError("at least one run id is required")
    rows = run_rows(
        client, database, runs_sql.get_runs(ids, now_ns, heartbeat_timeout_s), timeout_s
    ).result_rows
    found = {row[0]: row for row in rows}
    missing = [r for r in ids if r not in found]
    if missing:
        raise NotFoundError(f"no run stored with id {', '.join(missing)}")
    summaries = metric_summaries(client, database, ids, timeout_s=timeout_s)
    inputs = dataset_inputs(client, database, ids, timeout_s=timeout_s)
    arts: dict[str, list[Artifact]] = {r: [] for r in ids}
    for run_id, ts, uri, path, size, sha in run_rows(
        client, database, runs_sql.artifacts(ids), timeout_s
    ).result_rows:
        arts[run_id].append(Artifact(uri, path, int(size), sha, int(ts)))
    out = []
    for run_id in ids:
        info = _info(found[run_id], summaries[run_id])
        info.artifacts.extend(arts[run_id])
        info.inputs.extend(inputs[run_id])
        out.append(info)
    return out


def metric_summaries(
    client: Client, database: str, run_ids: Sequence[str], *, timeout_s: float
) -> dict[str, dict[str, MetricSummary]]:
    """Per run (every id asked, possibly empty) and key: the summary of its points."""
    out: dict[str, dict[str, MetricSummary]] = {r: {} for r in run_ids}
    for run_id, key, latest, step, lo, hi, n, last, latest_ts in run_rows(
        client, database, runs_sql.metric_summaries(run_ids), timeout_s
    ).result_rows:
        out[run_id][key] = MetricSummary(
            float(latest), int(step), float(lo), float(hi), int(n), int(last), int(latest_ts)
        )
    return out


def dataset_inputs(
    client: Client, database: str, run_ids: Sequence[str], *, timeout_s: float
) -> dict[str, list[DatasetInput]]:
    """Per run: its dataset inputs, the first of each (name, digest) kept, as MLflow does."""
    out: dict[str, list[DatasetInput]] = {r: [] for r in run_ids}
    seen: set[tuple[str, str, str]] = set()
    for run_id, name, digest, source_type, source, schema, profile, tags in run_rows(
        client, database, runs_sql.run_inputs(run_ids), timeout_s
    ).result_rows:
        if (run_id, name, digest) in seen:
            continue
        seen.add((run_id, name, digest))
        out[run_id].append(
            DatasetInput(name, digest, source_type, source, schema, profile, dict(tags))
        )
    return out


def get_run(
    client: Client,
    database: str,
    run_id: str,
    *,
    now_ns: int,
    heartbeat_timeout_s: float = 60.0,
    timeout_s: float,
) -> RunInfo:
    return get_runs(
        client, database, [run_id], now_ns=now_ns, heartbeat_timeout_s=heartbeat_timeout_s,
        timeout_s=timeout_s,
    )[0]  # fmt: skip


def metric_history(
    client: Client,
    database: str,
    run_id: str,
    keys: Sequence[str] = (),
    *,
    min_step: int | None = None,
    max_step: int | None = None,
    max_points: int = 0,
    timeout_s: float,
) -> dict[str, MetricSeries]:
    """Every point of the keys (all keys when empty) in a step range, per key in step order.
    NotFoundError when the run is not stored; InvalidInputError past `max_points`."""
    run_id = run_id.strip()
    limit = max_points or MAX_POINTS_DEFAULT
    result = run_rows(
        client, database,
        runs_sql.metric_history(run_id, keys, min_step, max_step, limit + 1), timeout_s,
    )  # fmt: skip
    columns = result.result_columns
    out: dict[str, MetricSeries] = {k: MetricSeries([], [], []) for k in keys}
    if not columns or not len(columns[0]):
        exists = run_rows(client, database, runs_sql.run_exists([run_id]), timeout_s).result_rows
        if not exists:
            raise NotFoundError(f"no run stored with id {run_id}")
        return out
    key_col, step_col, ts_col, value_col = (list(c) for c in columns)
    if len(key_col) > limit:
        raise InvalidInputError(
            f"more than {limit} points match; narrow the keys or the step range, or raise "
            "max_points"
        )
    # Rows come sorted by key: slice each key's run of rows.
    start = 0
    for i in range(1, len(key_col) + 1):
        if i == len(key_col) or key_col[i] != key_col[start]:
            out[key_col[start]] = MetricSeries(
                step_col[start:i], ts_col[start:i], value_col[start:i]
            )
            start = i
    return out


def run_logs(
    client: Client,
    database: str,
    run_id: str,
    *,
    limit: int,
    min_severity: int = 0,
    timeout_s: float,
) -> tuple[list[LogLine], bool]:
    """The run's training logs, oldest first, and whether more than `limit` exist."""
    run_id = run_id.strip()
    ((first, last),) = run_rows(client, database, runs_sql.run_span(run_id), timeout_s).result_rows
    if not first:
        raise NotFoundError(f"no run stored with id {run_id}")
    # Logs are stamped by the trainer's clock like the run's events; a minute of slack on
    # either side covers records queued before the start event or flushed after the end.
    minute = 60 * 10**9
    statement = runs_sql.run_logs(
        run_id, int(first) - minute, int(last) + minute, min_severity, limit + 1
    )
    rows = run_rows(client, database, statement, timeout_s).result_rows
    lines = [LogLine(int(t), str(st), int(sn), str(b), str(lg)) for t, st, sn, b, lg in rows]
    return lines[:limit], len(lines) > limit
