"""The SQL behind the run queries: a per-run view, the compiled MLflow filter, metric reads.

    run view  = ml_runs grouped by run (a few rows each): identity and start from the start
                event, params first-wins and tags latest-wins (folded in timestamp order),
                end status from the end event
              + ml_run_liveness (last seen)      → status CRASHED when silent too long
              + ml_run_latest (latest per key)   → the `metrics` map filters and sorts use
    filter    = run_filter.Comparison list → WHERE over the view; every user value and key is
                a bound parameter ({fN:Type}), never SQL text
    history   = one RunId range of ml_run_metrics, in (Key, Step) order

Times: the view's start_time/end_time are DateTime64(9); filters compare them in milliseconds
since the epoch, MLflow's unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from driftline import semconv
from driftline.errors import InvalidInputError

Statement = tuple[str, dict[str, Any]]


class Comparison(Protocol):
    """What compile_filter reads of a query.run_filter.Comparison (storage sits below query)."""

    @property
    def entity(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def comparator(self) -> str: ...
    @property
    def value(self) -> Any: ...
    @property
    def position(self) -> int: ...


class OrderBy(Protocol):
    @property
    def entity(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def ascending(self) -> bool: ...


_EMPTY_MAP: Final = "CAST(map(), 'Map(String, String)')"
DATASET_CONTEXT_TAG: Final = "mlflow.data.context"  # MLflow's input tag naming the context
_CRASH_FACTOR: Final = 3  # a run is silent for longer than 3 of its own heartbeat intervals
_STRING_COLUMNS: Final = {
    "run_id": "run_id",
    "run_name": "run_name",
    "status": "status",
    "user_id": "user_id",
    "artifact_uri": "artifact_uri",
    "experiment_id": "experiment",
}
_TIME_COLUMNS: Final = {"start_time": "start_time", "end_time": "end_time"}
_SQL_OPS: Final = {"=": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<=",
                   "LIKE": "LIKE", "ILIKE": "ILIKE"}  # fmt: skip


_TERMINAL_SQL: Final = ", ".join(f"'{s}'" for s in semconv.RUN_TERMINAL_STATUSES)
# Events that set a status: the SDK's end, MLflow's UpdateRun (which may also reopen a run).
_STATUS_EVENTS: Final = "('end', 'update')"


@dataclass(frozen=True, slots=True)
class ViewJoins:
    """Which of the view's joins a statement needs: each costs a pass over its table, and an
    MLflow search reads metric details and liveness otherwise (or not at all)."""

    liveness: bool = True  # last_seen, hence CRASHED
    metrics: bool = True  # the latest-value map (filters and orders on metrics)
    datasets: bool = True  # dataset inputs (datasets.* filters)


ALL_JOINS: Final = ViewJoins()


def _run_view(where_runs: str, joins: ViewJoins = ALL_JOINS) -> str:
    """Every column the list, get and compare answers read, one row per run.

    Status: the newest terminal (or SCHEDULED) status an end/update event set; otherwise
    RUNNING, or CRASHED when the run has been silent too long. `mlflow_status` is the same
    without CRASHED (MLflow's RunStatus has no such value; its clients would fail to parse it).
    Names and tags: the newest wins (MLflow's UpdateRun renames, DeleteTag removes keys).
    """
    last_seen = "l.last_seen" if joins.liveness else "CAST(NULL, 'Nullable(DateTime64(9))')"
    metrics = "m.metrics" if joins.metrics else "CAST(map(), 'Map(String, Float64)')"
    datasets = (
        "d.datasets"
        if joins.datasets
        else "CAST([], 'Array(Tuple(String, String, String, UInt8))')"
    )
    silent = (
        f"toUnixTimestamp64Nano(greatest(ifNull({last_seen}, r.start_time), r.start_time))"
        f" < {{now:Int64}} - toInt64(1e9 * greatest({{timeout_s:Float64}},"
        f" {_CRASH_FACTOR} * toFloat64OrZero(r.attributes['heartbeat.interval_s'])))"
    )
    return f"""SELECT r.run_id AS run_id, r.experiment AS experiment, r.run_name AS run_name,
    r.user_id AS user_id, r.start_time AS start_time, r.end_time AS end_time,
    r.params AS params, r.tags AS tags, r.attributes AS attributes,
    r.attributes['artifact_uri'] AS artifact_uri,
    r.attributes['experiment_id'] AS experiment_id,
    r.lifecycle AS lifecycle,
    {last_seen} AS last_seen,
    multiIf(r.last_status IN ({_TERMINAL_SQL}, 'SCHEDULED'), r.last_status,
            {silent}, '{semconv.RUN_CRASHED}', '{semconv.RUN_RUNNING}') AS status,
    multiIf(r.last_status IN ({_TERMINAL_SQL}, 'SCHEDULED'), r.last_status,
            '{semconv.RUN_RUNNING}') AS mlflow_status,
    {metrics} AS metrics,
    {datasets} AS datasets
FROM (
    SELECT RunId AS run_id,
        argMinIf(Experiment, Timestamp, Event = 'start') AS experiment,
        argMaxIf(RunName, Timestamp, Event IN ('start', 'update') AND RunName != '')
            AS run_name,
        argMinIf(UserId, Timestamp, Event = 'start') AS user_id,
        if(countIf(Event = 'start') > 0, minIf(Timestamp, Event = 'start'), min(Timestamp))
            AS start_time,
        if(countIf(Event IN {_STATUS_EVENTS} AND Status IN ({_TERMINAL_SQL})) > 0,
           maxIf(Timestamp, Event IN {_STATUS_EVENTS} AND Status IN ({_TERMINAL_SQL})), NULL)
            AS end_time,
        argMaxIf(Status, Timestamp, Event IN {_STATUS_EVENTS} AND Status != '') AS last_status,
        if(argMaxIf(Event, Timestamp, Event IN ('delete', 'restore')) = 'delete',
           'deleted', 'active') AS lifecycle,
        arrayFold((acc, x) -> mapUpdate(x.2, acc),
            arraySort(x -> x.1, groupArrayIf((Timestamp, Params), notEmpty(Params))),
            {_EMPTY_MAP}) AS params,
        arrayFold((acc, x) -> if(x.3, mapFilter((k, v) -> NOT mapContains(x.2, k), acc),
                                 mapUpdate(acc, x.2)),
            arraySort(x -> x.1, groupArrayIf((Timestamp, Tags, Event = 'tags_delete'),
                                             notEmpty(Tags))),
            {_EMPTY_MAP}) AS tags,
        arrayFold((acc, x) -> mapUpdate(acc, x.2),
            arraySort(x -> x.1, groupArrayIf((Timestamp, CAST(Attributes, 'Map(String, String)')),
                                             Event IN ('start', 'end'))),
            {_EMPTY_MAP}) AS attributes
    FROM ml_runs
    WHERE {where_runs}
    GROUP BY RunId
{_view_joins(where_runs, joins)}"""


def _view_joins(where_runs: str, joins: ViewJoins) -> str:
    out = [") AS r"]
    if joins.liveness:
        out.append(f"""LEFT JOIN (
    SELECT RunId, max(LastSeen) AS last_seen FROM ml_run_liveness
    WHERE RunId IN (SELECT RunId FROM ml_runs WHERE {where_runs}) GROUP BY RunId
) AS l ON l.RunId = r.run_id""")
    if joins.metrics:
        out.append(f"""LEFT JOIN (
    SELECT RunId, mapFromArrays(groupArray(Key), groupArray(v)) AS metrics FROM (
        SELECT RunId, Key, argMaxMerge(Latest) AS v FROM ml_run_latest
        WHERE RunId IN (SELECT RunId FROM ml_runs WHERE {where_runs}) GROUP BY RunId, Key
    ) GROUP BY RunId
) AS m ON m.RunId = r.run_id""")
    if joins.datasets:
        out.append(f"""LEFT JOIN (
    SELECT RunId, groupUniqArray((Name, Digest, Tags['{DATASET_CONTEXT_TAG}'],
                                  mapContains(Tags, '{DATASET_CONTEXT_TAG}'))) AS datasets
    FROM ml_run_inputs
    WHERE RunId IN (SELECT RunId FROM ml_runs WHERE {where_runs}) GROUP BY RunId
) AS d ON d.RunId = r.run_id""")
    return "\n".join(out)


class _Binder:
    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def bind(self, value: Any, type_: str) -> str:
        name = f"f{len(self.params)}"
        self.params[name] = value
        return f"{{{name}:{type_}}}"


def _map_clause(column: str, c: Comparison, b: _Binder) -> str:
    key = b.bind(c.key, "String")
    if c.comparator == "IS NULL":
        return f"NOT mapContains({column}, {key})"
    if c.comparator == "IS NOT NULL":
        return f"mapContains({column}, {key})"
    if column == "metrics":
        assert isinstance(c.value, float)
        value = b.bind(c.value, "Float64")
    else:
        value = b.bind(c.value, "String")
    # A run without the key never matches (MLflow joins on the key).
    return f"(mapContains({column}, {key}) AND {column}[{key}] {_SQL_OPS[c.comparator]} {value})"


def _attribute_clause(c: Comparison, b: _Binder, status_column: str = "status") -> str:
    if c.key in _TIME_COLUMNS:
        assert isinstance(c.value, int)
        value = b.bind(c.value, "Int64")
        column = _TIME_COLUMNS[c.key]
        return (
            f"({column} IS NOT NULL AND toUnixTimestamp64Milli(assumeNotNull({column})) "
            f"{_SQL_OPS[c.comparator]} {value})"
        )
    column = status_column if c.key == "status" else _STRING_COLUMNS[c.key]
    if c.comparator in ("IN", "NOT IN"):
        assert isinstance(c.value, tuple)
        values = b.bind(list(c.value), "Array(String)")
        return f"{'NOT ' if c.comparator == 'NOT IN' else ''}has({values}, {column})"
    return f"{column} {_SQL_OPS[c.comparator]} {b.bind(c.value, 'String')}"


_DATASET_FIELDS: Final = {"name": "d.1", "digest": "d.2", "context": "d.3"}


def _dataset_clause(c: Comparison, b: _Binder) -> str:
    """MLflow joins the run's inputs with the comparison: some dataset input must satisfy it
    (a context comparison needs an input that has the mlflow.data.context tag)."""
    field = _DATASET_FIELDS[c.key]
    if c.comparator in ("IN", "NOT IN"):
        assert isinstance(c.value, tuple)
        values = b.bind(list(c.value), "Array(String)")
        test = f"{'NOT ' if c.comparator == 'NOT IN' else ''}has({values}, {field})"
    else:
        test = f"{field} {_SQL_OPS[c.comparator]} {b.bind(c.value, 'String')}"
    if c.key == "context":
        test = f"d.4 AND {test}"
    return f"arrayExists(d -> {test}, ifNull(datasets, []))"


def compile_filter(
    comparisons: Sequence[Comparison], params: dict[str, Any], *, status_column: str = "status"
) -> str:
    """The WHERE condition over the run view ('1' for no condition); binds into `params`.
    `status_column`: mlflow_status for MLflow's API, where a crashed run reads RUNNING."""
    b = _Binder(params)
    parts: list[str] = []
    for c in comparisons:
        if c.entity == "metric":
            parts.append(_map_clause("metrics", c, b))
        elif c.entity == "param":
            parts.append(_map_clause("params", c, b))
        elif c.entity == "tag":
            parts.append(_map_clause("tags", c, b))
        elif c.entity == "attribute":
            parts.append(_attribute_clause(c, b, status_column))
        elif c.entity == "dataset":
            parts.append(_dataset_clause(c, b))
        else:
            raise InvalidInputError(f"invalid filter at position {c.position}: {c.entity}")
    return " AND ".join(parts) if parts else "1"


def _order_expr(o: OrderBy, b: _Binder, status_column: str = "status") -> str:
    direction = "ASC" if o.ascending else "DESC"
    if o.entity in ("metric", "param", "tag"):
        column = {"metric": "metrics", "param": "params", "tag": "tags"}[o.entity]
        key = b.bind(o.key, "String")
        return f"if(mapContains({column}, {key}), {column}[{key}], NULL) {direction} NULLS LAST"
    if o.key == "status":
        return f"{status_column} {direction} NULLS LAST"
    column = _TIME_COLUMNS.get(o.key) or _STRING_COLUMNS[o.key]
    return f"{column} {direction} NULLS LAST"


# The columns of a run row (query.runs._info unpacks them in this order).
RUN_COLUMNS: Final = """run_id, experiment, run_name, user_id, status,
    toUnixTimestamp64Nano(start_time) AS start_ns,
    ifNull(toUnixTimestamp64Nano(end_time), 0) AS end_ns,
    ifNull(toUnixTimestamp64Nano(last_seen), 0) AS last_seen_ns,
    params, tags, ifNull(metrics, map()) AS metrics, attributes,
    experiment_id, lifecycle, mlflow_status"""
LIFECYCLES: Final = {"active": ("active",), "deleted": ("deleted",), "all": ("active", "deleted")}


@dataclass(frozen=True, slots=True)
class MlflowScope:
    """Which runs an MLflow SearchRuns sees: those of some experiment ids (a run started by
    the SDK, which has no experiment id, belongs to the experiment of its name), and a
    lifecycle view (active, deleted or all)."""

    experiment_ids: tuple[str, ...]
    experiment_names: tuple[str, ...]
    lifecycle: str = "active"


def _where_runs(
    experiments: Sequence[str], scope: MlflowScope | None, params: dict[str, Any]
) -> str:
    if scope is not None:
        params["exp_ids"] = list(scope.experiment_ids)
        params["exp_names"] = list(scope.experiment_names)
        return (
            "RunId IN (SELECT RunId FROM ml_runs WHERE Event = 'start' AND "
            "(has({exp_ids:Array(String)}, Attributes['experiment_id']) OR "
            "(Attributes['experiment_id'] = '' AND has({exp_names:Array(String)}, Experiment))))"
        )
    if experiments:
        params["experiments"] = list(experiments)
        return (
            "RunId IN (SELECT RunId FROM ml_runs WHERE Event = 'start' "
            "AND has({experiments:Array(String)}, Experiment))"
        )
    return "1"


def list_runs(
    experiments: Sequence[str],
    comparisons: Sequence[Comparison],
    order_by: Sequence[OrderBy],
    max_results: int,
    now_ns: int,
    heartbeat_timeout_s: float,
    offset: int = 0,
    scope: MlflowScope | None = None,
) -> Statement:
    params: dict[str, Any] = {
        "now": now_ns, "timeout_s": heartbeat_timeout_s, "limit": max_results, "offset": offset,
    }  # fmt: skip
    where_runs = _where_runs(experiments, scope, params)
    b = _Binder(params)
    status_column = "status" if scope is None else "mlflow_status"
    condition = compile_filter(comparisons, params, status_column=status_column)
    if scope is not None:
        stages = b.bind(list(LIFECYCLES[scope.lifecycle]), "Array(String)")
        condition = f"({condition}) AND has({stages}, lifecycle)"
    orders = [_order_expr(o, b, status_column) for o in order_by]
    # MLflow's natural order breaks the ties: newest first, then run id.
    orders += ["start_time DESC", "run_id ASC"]
    entities = {c.entity for c in comparisons} | {o.entity for o in order_by}
    joins = ViewJoins(
        # MLflow's view needs neither (no CRASHED; metric details are read for the page).
        liveness=scope is None,
        metrics=scope is None or "metric" in entities,
        datasets="dataset" in entities,
    )
    return (
        f"""SELECT {RUN_COLUMNS}
FROM ({_run_view(where_runs, joins)})
WHERE {condition}
ORDER BY {", ".join(orders)}
LIMIT {{limit:UInt32}} OFFSET {{offset:UInt64}}""",
        params,
    )


def get_runs(run_ids: Sequence[str], now_ns: int, heartbeat_timeout_s: float) -> Statement:
    params: dict[str, Any] = {
        "now": now_ns, "timeout_s": heartbeat_timeout_s, "ids": list(run_ids),
    }  # fmt: skip
    where = "has({ids:Array(String)}, RunId)"
    return f"SELECT {RUN_COLUMNS}\nFROM ({_run_view(where)})", params


def metric_summaries(run_ids: Sequence[str]) -> Statement:
    """Per run and key: latest by (step, timestamp, value), its step, min, max, points, the
    last timestamp, and the latest point's own timestamp (MLflow's latest metric carries it)."""
    return (
        """SELECT RunId, Key, argMax(Value, (Step, Timestamp, Value)) AS latest,
    argMax(Step, (Step, Timestamp, Value)) AS latest_step, min(Value), max(Value), count(),
    toUnixTimestamp64Nano(max(Timestamp)),
    toUnixTimestamp64Nano(argMax(Timestamp, (Step, Timestamp, Value)))
FROM ml_run_metrics WHERE has({ids:Array(String)}, RunId)
GROUP BY RunId, Key ORDER BY RunId, Key""",
        {"ids": list(run_ids)},
    )


def run_inputs(run_ids: Sequence[str]) -> Statement:
    """The dataset inputs of runs, oldest first (MLflow keeps the first of a name+digest)."""
    return (
        """SELECT RunId, Name, Digest, SourceType, Source, Schema, Profile, Tags
FROM ml_run_inputs WHERE has({ids:Array(String)}, RunId)
ORDER BY RunId, Timestamp""",
        {"ids": list(run_ids)},
    )


def experiments() -> Statement:
    """Every experiment, its events folded: name (renames win), artifact location, lifecycle
    (delete/restore, newest wins), creation and last update (ns), tags (deletes remove)."""
    return (
        f"""SELECT ExperimentId,
    argMaxIf(Name, Timestamp, Event IN ('create', 'rename')) AS name,
    argMinIf(ArtifactLocation, Timestamp, Event = 'create') AS artifact_location,
    if(argMaxIf(Event, Timestamp, Event IN ('delete', 'restore')) = 'delete',
       'deleted', 'active') AS lifecycle,
    toUnixTimestamp64Nano(minIf(Timestamp, Event = 'create')) AS created_ns,
    toUnixTimestamp64Nano(maxIf(Timestamp, Event != 'model')) AS updated_ns,
    arrayFold((acc, x) -> if(x.3, mapFilter((k, v) -> NOT mapContains(x.2, k), acc),
                             mapUpdate(acc, x.2)),
        arraySort(x -> x.1, groupArrayIf((Timestamp, Tags, Event = 'tags_delete'),
                                         notEmpty(Tags) AND Event != 'model')),
        {_EMPTY_MAP}) AS tags
FROM ml_experiments
GROUP BY ExperimentId
HAVING countIf(Event = 'create') > 0""",
        {},
    )


def logged_models() -> Statement:
    """The newest document of every logged model (MLflow 3's LoggedModel), as JSON."""
    return (
        """SELECT Name, argMax(Tags['model'], Timestamp) FROM ml_experiments
WHERE Event = 'model' GROUP BY ExperimentId, Name""",
        {},
    )


def experiment_names_of_runs() -> Statement:
    """The experiment names runs were started with and whether any run of that name has no
    MLflow experiment id (SDK runs), to list those experiments too."""
    return (
        """SELECT Experiment, toUnixTimestamp64Nano(min(Timestamp)),
    toUnixTimestamp64Nano(max(Timestamp))
FROM ml_runs WHERE Event = 'start' AND Attributes['experiment_id'] = ''
GROUP BY Experiment""",
        {},
    )


def artifacts(run_ids: Sequence[str]) -> Statement:
    return (
        """SELECT RunId, toUnixTimestamp64Nano(Timestamp), Attributes['artifact.uri'],
    Attributes['artifact.path'], toInt64OrDefault(Attributes['artifact.size'], toInt64(-1)),
    Attributes['artifact.sha256']
FROM ml_runs WHERE has({ids:Array(String)}, RunId) AND Event = 'artifact'
ORDER BY RunId, Timestamp""",
        {"ids": list(run_ids)},
    )


def metric_history(
    run_id: str, keys: Sequence[str], min_step: int | None, max_step: int | None, limit: int
) -> Statement:
    """Points of one run (some keys, a step range), in (Key, Step, Timestamp) order."""
    params: dict[str, Any] = {"run": run_id, "limit": limit}
    where = ["RunId = {run:String}"]
    if keys:
        params["keys"] = list(keys)
        where.append("has({keys:Array(String)}, Key)")
    if min_step is not None:
        params["min_step"] = min_step
        where.append("Step >= {min_step:Int64}")
    if max_step is not None:
        params["max_step"] = max_step
        where.append("Step <= {max_step:Int64}")
    return (
        f"""SELECT Key, Step, toUnixTimestamp64Nano(Timestamp) AS ts, Value
FROM ml_run_metrics WHERE {" AND ".join(where)}
ORDER BY Key, Step, Timestamp
LIMIT {{limit:UInt64}}""",
        params,
    )


def run_exists(run_ids: Sequence[str]) -> Statement:
    return (
        "SELECT DISTINCT RunId FROM ml_runs WHERE has({ids:Array(String)}, RunId)",
        {"ids": list(run_ids)},
    )


def run_span(run_id: str) -> Statement:
    """First and last timestamp of anything the run sent (ns), to bound the log search."""
    return (
        """SELECT toUnixTimestamp64Nano(min(t)), toUnixTimestamp64Nano(max(t)) FROM (
    SELECT Timestamp AS t FROM ml_runs WHERE RunId = {run:String}
    UNION ALL SELECT LastSeen AS t FROM ml_run_liveness WHERE RunId = {run:String})""",
        {"run": run_id},
    )


def run_logs(run_id: str, start_ns: int, end_ns: int, min_severity: int, limit: int) -> Statement:
    """Training logs: records of otel_logs carrying the run id, run events excluded, in the
    run's time span (the primary key of otel_logs is time-first)."""
    return (
        f"""SELECT toUnixTimestamp64Nano(Timestamp), SeverityText, SeverityNumber, Body,
    LogAttributes['logger.name']
FROM otel_logs
WHERE Timestamp >= fromUnixTimestamp64Nano({{start:Int64}})
  AND Timestamp <= fromUnixTimestamp64Nano({{end:Int64}})
  AND LogAttributes['{semconv.ML_RUN_ID}'] = {{run:String}}
  AND NOT startsWith(EventName, '{semconv.ML_RUN_PREFIX}')
  AND SeverityNumber >= {{severity:UInt8}}
ORDER BY Timestamp
LIMIT {{limit:UInt32}}""",
        {"run": run_id, "start": start_ns, "end": end_ns, "severity": min_severity,
         "limit": limit},
    )  # fmt: skip
