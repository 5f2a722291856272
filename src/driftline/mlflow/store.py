"""The tracking store behind MLflow's REST API: validation, the events of each write, reads.

Writes are checked against what the store knows of the run or experiment (MLflow's rules:
params immutable, the run must be active, names unique, …), then appended to the WAL as run
events (events.py) and acknowledged once durable (durable.py). What a write needs to check is
kept in memory: experiments (all of them: they are few) and recently used runs (bounded LRU;
a run not in memory is read from ClickHouse after the read barrier). The server is the only
writer of MLflow's entities, so memory and storage agree; runs the SDK writes over OTLP are
read from ClickHouse the first time MLflow touches them.

Reads (GetRun, SearchRuns, GetMetricHistory, …) wait at the read barrier, then query the run
tables through query/runs.py — the same answers `driftline runs show/compare` and RunService
give, so both views agree. Status: MLflow's RunStatus has no CRASHED, and its clients fail to
parse unknown values, so the MLflow API shows a crashed run as RUNNING (driftline's own views
show CRASHED).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from clickhouse_connect.driver.client import Client

from driftline import semconv
from driftline.config.model import RunsConfig
from driftline.errors import InvalidInputError, NotFoundError
from driftline.mlflow import events, wire
from driftline.mlflow import experiments as experiment_search
from driftline.mlflow.durable import DurableWrites
from driftline.mlflow.engine import Engine
from driftline.mlflow.errors import MlflowError, exists, invalid, not_found
from driftline.query import experiments as experiments_query
from driftline.query import runs as runs_query
from driftline.query.experiments import ExperimentInfo
from driftline.query.runs import RunInfo
from driftline.storage.runs_sql import MlflowScope

DEFAULT_EXPERIMENT_ID: Final = "0"
DEFAULT_EXPERIMENT_NAME: Final = "Default"
ARTIFACT_SCHEME: Final = "mlflow-artifacts:"
MAX_ENTITY_KEY_LENGTH: Final = 250
MAX_PARAM_VAL_LENGTH: Final = 6000
MAX_TAG_VAL_LENGTH: Final = 8000
MAX_EXPERIMENT_NAME_LENGTH: Final = 500
MAX_BATCH_METRICS: Final = 1000
MAX_BATCH_PARAMS_TAGS: Final = 100
MAX_BATCH_TOTAL: Final = 1000
RUN_CACHE_SIZE: Final = 10_000
SEARCH_MAX_RESULTS_DEFAULT: Final = 1000
SEARCH_MAX_RESULTS_THRESHOLD: Final = 50_000
METRIC_HISTORY_PAGE: Final = 25_000
RUN_NAME_TAG: Final = "mlflow.runName"
MODEL_HISTORY_TAG: Final = "mlflow.log-model.history"
VIEW_TYPES: Final = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all",
                     "1": "active", "2": "deleted", "3": "all"}  # fmt: skip
RUN_STATUSES: Final = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
_STATUS_NUMBERS: Final = {"1": "RUNNING", "2": "SCHEDULED", "3": "FINISHED", "4": "FAILED",
                          "5": "KILLED"}  # fmt: skip
_LOCK_STRIPES: Final = 64
_ADJECTIVES: Final = ("amber", "bold", "calm", "brave", "bright", "clever", "gentle", "keen",
                      "lucky", "quiet", "rapid", "sunny", "swift", "vivid", "wise",
                      "zesty")  # fmt: skip
_NOUNS: Final = ("otter", "falcon", "lynx", "heron", "panda", "koala", "bison", "finch",
                 "gecko", "ibis", "lemur", "moose", "newt", "orca", "quail", "wren")  # fmt: skip


@dataclass
class RunState:
    """What validating a write needs to know of a run."""

    run_id: str
    experiment_id: str
    experiment_name: str
    run_name: str
    user_id: str
    status: str
    start_ms: int
    end_ms: int | None
    artifact_uri: str
    lifecycle: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def info_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run_id": self.run_id, "run_uuid": self.run_id, "run_name": self.run_name,
            "experiment_id": self.experiment_id, "user_id": self.user_id,
            "status": self.status, "start_time": self.start_ms,
            "artifact_uri": self.artifact_uri, "lifecycle_stage": self.lifecycle,
        }  # fmt: skip
        if self.end_ms is not None:
            out["end_time"] = self.end_ms
        return out


def random_run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randrange(1000)}"


def _check_key(kind: str, key: str) -> None:
    if not key:
        raise invalid(f"Invalid {kind} name: ''. Names must be non-empty.")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise invalid(
            f"'{key[:40]}…' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} characters"
        )
    if key.startswith("/") or ".." in key.split("/") or "//" in key:
        raise invalid(
            f"Invalid {kind} name: '{key}'. Names may be treated as files in certain cases, "
            "and must not resolve to other names when treated as such."
        )


def _plain_metric(item: Mapping[str, Any]) -> events.MetricPoint | None:
    """The common case of a metric, or None to take the checking path (which words errors)."""
    key, value, ts, step = (
        item.get("key"),
        item.get("value"),
        item.get("timestamp"),
        item.get("step", 0),
    )
    if (
        type(key) is str and 0 < len(key) <= MAX_ENTITY_KEY_LENGTH and "/" not in key
        and type(value) in (float, int) and type(ts) is int and type(step) is int
    ):  # fmt: skip
        assert isinstance(value, float | int) and isinstance(ts, int) and isinstance(step, int)
        return events.MetricPoint(key, float(value), ts, step)
    return None


def _check_value(kind: str, key: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise invalid(
            f"{kind.capitalize()} '{key}' had length {len(value)}, which exceeded length "
            f"limit of {limit}"
        )


class TrackingStore:
    def __init__(
        self,
        durable: DurableWrites,
        engine: Engine,
        *,
        database: str,
        runs: RunsConfig,
        query_timeout_s: float,
    ) -> None:
        self._durable = durable
        self._engine = engine
        self._database = database
        self._runs_config = runs
        self._timeout_s = query_timeout_s
        self._experiments: dict[str, ExperimentInfo] | None = None
        self._stored_experiments: set[str] = set()
        self._experiment_lock = asyncio.Lock()
        self._runs: OrderedDict[str, RunState] = OrderedDict()
        self._locks = [asyncio.Lock() for _ in range(_LOCK_STRIPES)]
        from driftline.mlflow.models import LoggedModels  # builds on this store

        self.models = LoggedModels(self)

    # ---- plumbing ----------------------------------------------------------------------------

    async def _query(self, work: Any) -> Any:
        try:
            return await self._engine.run(work)
        except NotFoundError as exc:
            raise not_found(str(exc)) from exc
        except InvalidInputError as exc:
            raise invalid(str(exc)) from exc

    def _run_lock(self, run_id: str) -> asyncio.Lock:
        return self._locks[hash(run_id) % _LOCK_STRIPES]

    def _now(self) -> int:
        return time.time_ns()

    # ---- experiments ---------------------------------------------------------------------------

    async def _all_experiments(self) -> dict[str, ExperimentInfo]:
        if self._experiments is None:
            await self._durable.barrier()
            rows = await self._query(
                lambda c: experiments_query.list_experiments(
                    c, self._database, timeout_s=self._timeout_s
                )
            )
            loaded = {e.experiment_id: e for e in rows}
            self._stored_experiments = set(loaded)
            if DEFAULT_EXPERIMENT_ID not in loaded:  # MLflow's server creates it at start
                loaded[DEFAULT_EXPERIMENT_ID] = ExperimentInfo(
                    DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME,
                    f"{ARTIFACT_SCHEME}/{DEFAULT_EXPERIMENT_ID}", "active", 0, 0,
                )  # fmt: skip
            if self._experiments is None:
                self._experiments = loaded
        return self._experiments

    async def _experiment(self, experiment_id: str) -> ExperimentInfo:
        found = (await self._all_experiments()).get(experiment_id)
        if found is None:
            raise not_found(f"No Experiment with id={experiment_id} exists")
        return found

    def _by_name(
        self, experiments: Mapping[str, ExperimentInfo], name: str
    ) -> ExperimentInfo | None:
        return next((e for e in experiments.values() if e.name == name), None)

    async def _write_experiment(
        self, e: ExperimentInfo, event: str, *, tags: Mapping[str, str] | None = None,
        name: str = "",
    ) -> None:  # fmt: skip
        records = []
        ts = self._durable.stamp()
        if e.experiment_id not in self._stored_experiments:  # the implicit Default, first write
            records.append(
                events.experiment(
                    semconv.ML_EXPERIMENT_CREATE,
                    e.experiment_id,
                    ts,
                    name=e.name,
                    artifact_location=e.artifact_location,
                    tags=e.tags,
                )
            )
            ts = self._durable.stamp()
        if event != semconv.ML_EXPERIMENT_CREATE or not records:
            records.append(events.experiment(event, e.experiment_id, ts, name=name, tags=tags))
        await self._durable.append(records)
        self._stored_experiments.add(e.experiment_id)

    async def create_experiment(self, f: wire.Fields) -> dict[str, Any]:
        name = f.text("name", required=True)
        if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
            raise invalid(
                f"Experiment name exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH}"
            )
        tags = self._tags(f.objects("tags"))
        location = f.text("artifact_location")
        async with self._experiment_lock:
            known = await self._all_experiments()
            if self._by_name(known, name) is not None:
                raise exists(f"Experiment '{name}' already exists.")
            numeric = [int(i) for i in known if i.isdigit()]
            experiment_id = str(max(numeric, default=0) + 1)
            location = location or f"{ARTIFACT_SCHEME}/{experiment_id}"
            now = self._durable.stamp()
            e = ExperimentInfo(experiment_id, name, location, "active", now, now, tags)
            await self._durable.append(
                [events.experiment(semconv.ML_EXPERIMENT_CREATE, experiment_id, now, name=name,
                                   artifact_location=location, tags=tags)]
            )  # fmt: skip
            self._stored_experiments.add(experiment_id)
            known[experiment_id] = e
        return {"experiment_id": experiment_id}

    async def get_experiment(self, f: wire.Fields) -> dict[str, Any]:
        e = await self._experiment(f.text("experiment_id", required=True))
        return {"experiment": wire.experiment(e)}

    async def get_experiment_by_name(self, f: wire.Fields) -> dict[str, Any]:
        name = f.text("experiment_name", required=True)
        e = self._by_name(await self._all_experiments(), name)
        if e is None:
            raise not_found(f"Could not find experiment with name '{name}'")
        return {"experiment": wire.experiment(e)}

    async def search_experiments(self, f: wire.Fields) -> dict[str, Any]:
        stage = VIEW_TYPES.get(f.text("view_type", default="ACTIVE_ONLY"))
        if stage is None:
            raise invalid(f"Invalid view_type {f.text('view_type')!r}")
        limit = f.integer("max_results", default=SEARCH_MAX_RESULTS_DEFAULT) or 0
        if not 0 < limit <= SEARCH_MAX_RESULTS_THRESHOLD:
            raise invalid(
                f"Invalid value {limit} for parameter 'max_results' supplied. It must be at "
                f"most {SEARCH_MAX_RESULTS_THRESHOLD}"
            )
        predicates = experiment_search.parse_filter(f.text("filter"))
        offset = _offset(f.text("page_token"))
        rows = [
            e for e in (await self._all_experiments()).values()
            if (stage == "all" or e.lifecycle == stage) and all(p(e) for p in predicates)
        ]  # fmt: skip
        ordered = experiment_search.order(rows, f.strings("order_by"))
        page = ordered[offset : offset + limit]
        out: dict[str, Any] = {"experiments": [wire.experiment(e) for e in page]}
        if offset + limit < len(ordered):
            out["next_page_token"] = runs_query.encode_page_token(offset + limit)
        return out

    async def _change_experiment(self, experiment_id: str, event: str, **changes: Any) -> None:
        async with self._experiment_lock:
            known = await self._all_experiments()
            e = known.get(experiment_id)
            if e is None:
                raise not_found(f"No Experiment with id={experiment_id} exists")
            if event == semconv.ML_EXPERIMENT_DELETE:
                if experiment_id == DEFAULT_EXPERIMENT_ID:
                    raise invalid(
                        f"Cannot delete the default experiment '{experiment_id}'. This is an "
                        "internally reserved experiment."
                    )
                if e.lifecycle == "deleted":
                    raise invalid(f"Cannot delete an already deleted experiment: {experiment_id}")
            if event == semconv.ML_EXPERIMENT_RESTORE and e.lifecycle != "deleted":
                raise invalid(f"Cannot restore an active experiment. Experiment id {experiment_id}")
            name = changes.get("name", "")
            if event == semconv.ML_EXPERIMENT_RENAME:
                if e.lifecycle != "active":
                    raise invalid("Cannot rename a non-active experiment.")
                if name != e.name and self._by_name(known, name) is not None:
                    raise exists(f"Experiment '{name}' already exists.")
            tags = changes.get("tags")
            await self._write_experiment(e, event, tags=tags, name=name)
            now = self._durable.stamp()
            if event == semconv.ML_EXPERIMENT_DELETE:
                e = dataclasses.replace(e, lifecycle="deleted", updated_ns=now)
            elif event == semconv.ML_EXPERIMENT_RESTORE:
                e = dataclasses.replace(e, lifecycle="active", updated_ns=now)
            elif event == semconv.ML_EXPERIMENT_RENAME:
                e = dataclasses.replace(e, name=name, updated_ns=now)
            elif event == semconv.ML_EXPERIMENT_TAGS:
                e = dataclasses.replace(e, tags={**e.tags, **(tags or {})}, updated_ns=now)
            elif event == semconv.ML_EXPERIMENT_TAGS_DELETE:
                kept = {k: v for k, v in e.tags.items() if k not in (tags or {})}
                e = dataclasses.replace(e, tags=kept, updated_ns=now)
            known[experiment_id] = e

    async def update_experiment(self, f: wire.Fields) -> dict[str, Any]:
        experiment_id = f.text("experiment_id", required=True)
        name = f.text("new_name", required=True)
        await self._change_experiment(experiment_id, semconv.ML_EXPERIMENT_RENAME, name=name)
        return {}

    async def delete_experiment(self, f: wire.Fields) -> dict[str, Any]:
        experiment_id = f.text("experiment_id", required=True)
        await self._change_experiment(experiment_id, semconv.ML_EXPERIMENT_DELETE)
        return {}

    async def restore_experiment(self, f: wire.Fields) -> dict[str, Any]:
        experiment_id = f.text("experiment_id", required=True)
        await self._change_experiment(experiment_id, semconv.ML_EXPERIMENT_RESTORE)
        return {}

    async def set_experiment_tag(self, f: wire.Fields) -> dict[str, Any]:
        experiment_id = f.text("experiment_id", required=True)
        key = f.text("key", required=True)
        _check_key("tag", key)
        value = f.text("value")
        _check_value("tag", key, value, MAX_TAG_VAL_LENGTH)
        await self._change_experiment(experiment_id, semconv.ML_EXPERIMENT_TAGS, tags={key: value})
        return {}

    async def delete_experiment_tag(self, f: wire.Fields) -> dict[str, Any]:
        experiment_id = f.text("experiment_id", required=True)
        key = f.text("key", required=True)
        e = await self._experiment(experiment_id)
        if key not in e.tags:
            raise not_found(f"No tag with name: {key} in experiment with id {experiment_id}")
        await self._change_experiment(
            experiment_id, semconv.ML_EXPERIMENT_TAGS_DELETE, tags={key: ""}
        )
        return {}

    # ---- runs: state -------------------------------------------------------------------------

    def _remember(self, state: RunState) -> None:
        self._runs[state.run_id] = state
        self._runs.move_to_end(state.run_id)
        while len(self._runs) > RUN_CACHE_SIZE:
            self._runs.popitem(last=False)

    async def _experiment_id_of(self, info: RunInfo) -> str:
        if info.experiment_id:
            return info.experiment_id
        e = self._by_name(await self._all_experiments(), info.experiment)
        return e.experiment_id if e is not None else ""

    async def _state(self, run_id: str) -> RunState:
        if not run_id:
            raise invalid("Missing value for required parameter 'run_id'.")
        state = self._runs.get(run_id)
        if state is not None:
            self._runs.move_to_end(run_id)
            return state
        info = await self._get_info(run_id)
        state = RunState(
            run_id=info.run_id, experiment_id=await self._experiment_id_of(info),
            experiment_name=info.experiment, run_name=info.run_name, user_id=info.user_id,
            status=info.mlflow_status or info.status, start_ms=wire.ms(info.start_ns),
            end_ms=wire.ms(info.end_ns) if info.end_ns else None,
            artifact_uri=info.attributes.get("artifact_uri", ""), lifecycle=info.lifecycle,
            params=dict(info.params), tags=dict(info.tags),
        )  # fmt: skip
        self._remember(state)
        return state

    async def _active(self, run_id: str) -> RunState:
        state = await self._state(run_id)
        if state.lifecycle != "active":
            raise invalid(
                f"The run {run_id} must be in the 'active' state. Current state is "
                f"{state.lifecycle}."
            )
        return state

    async def _get_info(self, run_id: str) -> RunInfo:
        await self._durable.barrier()
        try:
            info: RunInfo = await self._engine.run(
                lambda c: runs_query.get_run(
                    c, self._database, run_id, now_ns=self._now(),
                    heartbeat_timeout_s=self._runs_config.heartbeat_timeout_s,
                    timeout_s=self._timeout_s,
                )
            )  # fmt: skip
        except NotFoundError:
            raise not_found(f"Run with id={run_id} not found") from None
        return info

    # ---- runs: writes ------------------------------------------------------------------------

    def _tags(self, items: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        tags: dict[str, str] = {}
        for item in items:
            f = wire.Fields(item)
            key = f.text("key", required=True)
            _check_key("tag", key)
            value = f.text("value")
            _check_value("tag", key, value, MAX_TAG_VAL_LENGTH)
            tags[key] = value
        return tags

    async def create_run(self, f: wire.Fields) -> dict[str, Any]:
        experiment_id = f.text("experiment_id", default=DEFAULT_EXPERIMENT_ID)
        e = await self._experiment(experiment_id)
        if e.lifecycle != "active":
            raise invalid(
                f"The experiment {experiment_id} must be in the 'active' state. "
                f"Current state is {e.lifecycle}."
            )
        tags = self._tags(f.objects("tags"))
        run_name = f.text("run_name") or tags.get(RUN_NAME_TAG, "") or random_run_name()
        if tags.get(RUN_NAME_TAG, run_name) != run_name:
            raise invalid(
                f"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                f"different values (run_name='{run_name}', mlflow.runName="
                f"'{tags[RUN_NAME_TAG]}')."
            )
        tags[RUN_NAME_TAG] = run_name
        start_ms = f.integer("start_time") or self._now() // wire.NS_PER_MS
        user_id = f.text("user_id") or tags.get("mlflow.user", "")
        run_id = uuid.uuid4().hex
        artifact_uri = f"{e.artifact_location.rstrip('/')}/{run_id}/artifacts"
        if e.experiment_id not in self._stored_experiments:
            async with self._experiment_lock:
                await self._write_experiment(e, semconv.ML_EXPERIMENT_CREATE)
        start_ns = start_ms * wire.NS_PER_MS
        await self._durable.append(
            [
                events.run_start(
                    run_id, start_ns, experiment_id=experiment_id, experiment_name=e.name,
                    run_name=run_name, user_id=user_id, artifact_uri=artifact_uri,
                ),
                events.run_tags(run_id, start_ns, tags),
            ]
        )  # fmt: skip
        state = RunState(
            run_id, experiment_id, e.name, run_name, user_id, "RUNNING", start_ms, None,
            artifact_uri, "active", {}, dict(tags),
        )  # fmt: skip
        self._remember(state)
        return {
            "run": {
                "info": state.info_json(),
                "data": {"tags": wire.key_values(tags)},
                "inputs": {},
            }
        }

    async def update_run(self, f: wire.Fields) -> dict[str, Any]:
        run_id = f.text("run_id") or f.text("run_uuid")
        status = f.text("status")
        status = _STATUS_NUMBERS.get(status, status)
        if status and status not in RUN_STATUSES:
            raise invalid(f"Invalid value {status!r} for parameter 'status'")
        run_name = f.text("run_name")
        end_time = f.integer("end_time")
        async with self._run_lock(run_id):
            state = await self._active(run_id)
            terminal = status in semconv.RUN_TERMINAL_STATUSES
            ts = (
                end_time * wire.NS_PER_MS
                if terminal and end_time is not None
                else self._durable.stamp()
            )
            records = [events.run_update(run_id, ts, status=status, run_name=run_name)]
            if run_name:
                records.append(events.run_tags(run_id, self._durable.stamp(),
                                               {RUN_NAME_TAG: run_name}))  # fmt: skip
            await self._durable.append(records)
            if status:
                state.status = status
                state.end_ms = ts // wire.NS_PER_MS if terminal else None
            if run_name:
                state.run_name = run_name
                state.tags[RUN_NAME_TAG] = run_name
        return {"run_info": state.info_json()}

    async def _set_lifecycle(self, f: wire.Fields, *, deleted: bool) -> dict[str, Any]:
        run_id = f.text("run_id", required=True)
        async with self._run_lock(run_id):
            state = await self._state(run_id)
            if not deleted and state.lifecycle == "active":
                return {}
            await self._durable.append(
                [events.run_lifecycle(run_id, self._durable.stamp(), deleted=deleted)]
            )
            state.lifecycle = "deleted" if deleted else "active"
        return {}

    async def delete_run(self, f: wire.Fields) -> dict[str, Any]:
        return await self._set_lifecycle(f, deleted=True)

    async def restore_run(self, f: wire.Fields) -> dict[str, Any]:
        return await self._set_lifecycle(f, deleted=False)

    def _metric_points(self, items: Sequence[Mapping[str, Any]]) -> list[events.MetricPoint]:
        points = []
        for item in items:
            fast = _plain_metric(item)  # the shape MLflow clients send: checked in one go
            if fast is not None:
                points.append(fast)
                continue
            f = wire.Fields(item)
            key = f.text("key", required=True)
            _check_key("metric", key)
            value = f.number("value", required=True)
            timestamp = f.integer("timestamp", required=True)
            step = f.integer("step", default=0)
            assert value is not None and timestamp is not None and step is not None
            points.append(events.MetricPoint(key, value, timestamp, step))
        return points

    def _new_params(self, state: RunState, items: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        new: dict[str, str] = {}
        for item in items:
            f = wire.Fields(item)
            key = f.text("key", required=True)
            _check_key("param", key)
            value = f.text("value")
            _check_value("param", key, value, MAX_PARAM_VAL_LENGTH)
            old = state.params.get(key, new.get(key))
            if old is not None and old != value:
                raise invalid(
                    f"Changing param values is not allowed. Param with key='{key}' was already "
                    f"logged with value='{old}' for run ID='{state.run_id}'. Attempted logging "
                    f"new value '{value}'."
                )
            if old is None:
                new[key] = value
        return new

    async def _log(
        self,
        run_id: str,
        *,
        metrics: Sequence[Mapping[str, Any]] = (),
        params: Sequence[Mapping[str, Any]] = (),
        tags: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        points = self._metric_points(metrics)
        checked_tags = self._tags(tags)
        async with self._run_lock(run_id):
            state = await self._active(run_id)
            new_params = self._new_params(state, params)
            ts = self._durable.stamp()
            records = []
            if new_params:
                records.append(events.run_params(run_id, ts, new_params))
            if checked_tags:
                records.append(events.run_tags(run_id, ts, checked_tags))
            records.extend(events.run_metrics(run_id, points))
            await self._durable.append(records)
            state.params.update(new_params)
            state.tags.update(checked_tags)
            if RUN_NAME_TAG in checked_tags:
                state.run_name = checked_tags[RUN_NAME_TAG]

    async def log_metric(self, f: wire.Fields) -> dict[str, Any]:
        run_id = f.text("run_id") or f.text("run_uuid")
        item = {k: f.raw(k) for k in ("key", "value", "timestamp", "step")}
        await self._log(run_id, metrics=[{k: v for k, v in item.items() if v is not None}])
        return {}

    async def log_param(self, f: wire.Fields) -> dict[str, Any]:
        run_id = f.text("run_id") or f.text("run_uuid")
        await self._log(
            run_id, params=[{"key": f.text("key", required=True), "value": f.text("value")}]
        )
        return {}

    async def set_tag(self, f: wire.Fields) -> dict[str, Any]:
        run_id = f.text("run_id") or f.text("run_uuid")
        await self._log(
            run_id, tags=[{"key": f.text("key", required=True), "value": f.text("value")}]
        )
        return {}

    async def log_batch(self, f: wire.Fields) -> dict[str, Any]:
        run_id = f.text("run_id", required=True)
        metrics, params, tags = f.objects("metrics"), f.objects("params"), f.objects("tags")
        if len(metrics) > MAX_BATCH_METRICS:
            raise invalid(
                f"A batch logging request can contain at most {MAX_BATCH_METRICS} metrics. "
                f"Got {len(metrics)} metrics. Please split up metrics across multiple requests "
                "and try again."
            )
        for kind, items in (("params", params), ("tags", tags)):
            if len(items) > MAX_BATCH_PARAMS_TAGS:
                raise invalid(
                    f"A batch logging request can contain at most {MAX_BATCH_PARAMS_TAGS} "
                    f"{kind}. Got {len(items)} {kind}. Please split up {kind} across multiple "
                    "requests and try again."
                )
        total = len(metrics) + len(params) + len(tags)
        if total > MAX_BATCH_TOTAL:
            raise invalid(
                f"A batch logging request can contain at most {MAX_BATCH_TOTAL} metrics, "
                f"params, and tags in total. Got {total} total entities."
            )
        await self._log(run_id, metrics=metrics, params=params, tags=tags)
        return {}

    async def delete_tag(self, f: wire.Fields) -> dict[str, Any]:
        run_id = f.text("run_id", required=True)
        key = f.text("key", required=True)
        async with self._run_lock(run_id):
            state = await self._active(run_id)
            if key not in state.tags:
                raise not_found(f"No tag with name: {key} in run with id {run_id}")
            await self._durable.append(
                [events.run_tags_delete(run_id, self._durable.stamp(), [key])]
            )
            del state.tags[key]
        return {}

    async def log_inputs(self, f: wire.Fields) -> dict[str, Any]:
        run_id = f.text("run_id", required=True)
        datasets = []
        for item in f.objects("datasets"):
            fi = wire.Fields(item)
            d = wire.Fields(fi.object("dataset"))
            datasets.append(
                events.Dataset(
                    name=d.text("name", required=True), digest=d.text("digest", required=True),
                    source_type=d.text("source_type", required=True),
                    source=d.text("source", required=True), schema=d.text("schema"),
                    profile=d.text("profile"), tags=self._tags(fi.objects("tags")),
                )
            )  # fmt: skip
        async with self._run_lock(run_id):
            await self._active(run_id)
            await self._durable.append(
                [events.run_input(run_id, self._durable.stamp(), d) for d in datasets]
            )
        return {}

    async def log_model(self, f: wire.Fields) -> dict[str, Any]:
        """The legacy LogModel: MLflow appends the model's JSON to a run tag."""
        run_id = f.text("run_id", required=True)
        model = f.text("model_json", required=True)
        try:
            parsed = json.loads(model)
        except ValueError:
            raise invalid("model_json is not valid JSON") from None
        async with self._run_lock(run_id):
            state = await self._active(run_id)
            history = json.loads(state.tags.get(MODEL_HISTORY_TAG, "[]") or "[]")
            history.append(parsed)
            value = json.dumps(history)
            await self._durable.append(
                [events.run_tags(run_id, self._durable.stamp(), {MODEL_HISTORY_TAG: value})]
            )
            state.tags[MODEL_HISTORY_TAG] = value
        return {}

    async def record_artifact(
        self, run_id: str, *, uri: str, path: str, size: int, sha256: str
    ) -> None:
        """An artifact uploaded through the artifact proxy, recorded in its run."""
        await self._durable.append(
            [events.run_artifact(run_id, self._durable.stamp(), uri=uri, path=path, size=size,
                                 sha256=sha256)]
        )  # fmt: skip

    # ---- runs: reads -------------------------------------------------------------------------

    async def get_run(self, f: wire.Fields) -> dict[str, Any]:
        run_id = f.text("run_id") or f.text("run_uuid")
        if not run_id:
            raise invalid("Missing value for required parameter 'run_id'.")
        info = await self._get_info(run_id)
        return {
            "run": wire.run(info, await self._experiment_id_of(info), info.metrics, info.inputs)
        }

    async def search_runs(self, f: wire.Fields) -> dict[str, Any]:
        ids = f.strings("experiment_ids")
        stage = VIEW_TYPES.get(f.text("run_view_type", default="ACTIVE_ONLY"))
        if stage is None:
            raise invalid(f"Invalid run_view_type {f.text('run_view_type')!r}")
        limit = f.integer("max_results", default=SEARCH_MAX_RESULTS_DEFAULT) or 0
        if not 0 < limit <= SEARCH_MAX_RESULTS_THRESHOLD:
            raise invalid(
                f"Invalid value {limit} for parameter 'max_results' supplied. It must be at "
                f"most {SEARCH_MAX_RESULTS_THRESHOLD}"
            )
        known = await self._all_experiments()
        names = tuple(known[i].name for i in ids if i in known)
        scope = MlflowScope(tuple(ids), names, stage)
        await self._durable.barrier()
        filter_string, order_by = f.text("filter"), f.strings("order_by")
        token = f.text("page_token")

        def work(c: Client) -> tuple[list[RunInfo], str, dict[str, Any], dict[str, Any]]:
            runs, next_token = runs_query.list_runs_page(
                c, self._database, filter_string=filter_string, order_by=order_by,
                max_results=limit, page_token=token, now_ns=self._now(),
                heartbeat_timeout_s=self._runs_config.heartbeat_timeout_s,
                timeout_s=self._timeout_s, scope=scope,
            )  # fmt: skip
            page_ids = [r.run_id for r in runs]
            if not page_ids:
                return runs, next_token, {}, {}
            summaries = runs_query.metric_summaries(
                c, self._database, page_ids, timeout_s=self._timeout_s
            )
            inputs = runs_query.dataset_inputs(
                c, self._database, page_ids, timeout_s=self._timeout_s
            )
            return runs, next_token, summaries, inputs

        if not ids:
            return {"runs": []}
        runs, next_token, summaries, inputs = await self._query(work)
        by_name = {e.name: e.experiment_id for e in known.values()}
        out: dict[str, Any] = {
            "runs": [
                wire.run(
                    r, r.experiment_id or by_name.get(r.experiment, ""),
                    summaries.get(r.run_id, {}), inputs.get(r.run_id, []),
                )
                for r in runs
            ]
        }  # fmt: skip
        if next_token:
            out["next_page_token"] = next_token
        return out

    async def get_metric_history(self, f: wire.Fields) -> dict[str, Any]:
        run_id = f.text("run_id") or f.text("run_uuid")
        if not run_id:
            raise invalid("Missing value for required parameter 'run_id'.")
        key = f.text("metric_key", required=True)
        limit = f.integer("max_results") or METRIC_HISTORY_PAGE
        offset = _offset(f.text("page_token"))
        await self._durable.barrier()
        series = await self._query(
            lambda c: runs_query.metric_history(c, self._database, run_id, [key],
                                                timeout_s=self._timeout_s)
        )  # fmt: skip
        s = series.get(key)
        points = [] if s is None else list(zip(s.steps, s.timestamps_ns, s.values, strict=True))
        page = points[offset : offset + limit]
        out: dict[str, Any] = {"metrics": [wire.metric(key, v, ts, step) for step, ts, v in page]}
        if offset + limit < len(points):
            out["next_page_token"] = runs_query.encode_page_token(offset + limit)
        return out

    async def get_metric_history_bulk_interval(self, f: wire.Fields) -> dict[str, Any]:
        run_ids = f.strings("run_ids")
        key = f.text("metric_key", required=True)
        if not run_ids:
            raise invalid("GetMetricHistoryBulkInterval request must specify at least one run_id.")
        if len(run_ids) > 100:
            raise invalid(
                "GetMetricHistoryBulkInterval request cannot specify more than 100 run_ids."
            )
        start, end = f.integer("start_step"), f.integer("end_step")
        if (start is None) != (end is None):
            raise invalid("If either start step or end step are specified, both must be specified.")
        if start is not None and end is not None and start > end:
            raise invalid("end_step must be greater than start_step.")
        limit = f.integer("max_results") or 320
        await self._durable.barrier()
        out = []
        for run_id in run_ids:
            series = await self._query(
                lambda c, r=run_id: runs_query.metric_history(
                    c, self._database, r, [key], min_step=start, max_step=end,
                    timeout_s=self._timeout_s,
                )
            )  # fmt: skip
            s = series.get(key)
            if s is None:
                continue
            steps = sorted(set(s.steps))
            keep = set(_sampled(steps, limit))
            for step, ts, v in zip(s.steps, s.timestamps_ns, s.values, strict=True):
                if step in keep:
                    out.append({**wire.metric(key, v, ts, step), "run_id": run_id})
        return {"metrics": out}


def _sampled(steps: list[int], limit: int) -> list[int]:
    """At most `limit` steps spread evenly over the range, first and last included."""
    if len(steps) <= limit:
        return steps
    if limit == 1:
        return [steps[0]]
    picked = {steps[round(i * (len(steps) - 1) / (limit - 1))] for i in range(limit)}
    return sorted(picked)


def _offset(token: str) -> int:
    try:
        return runs_query._offset(token)
    except InvalidInputError as exc:
        raise invalid(str(exc)) from exc


__all__ = ["MlflowError", "TrackingStore"]
