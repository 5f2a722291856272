"""MLflow's `datasets.*` filters over stored dataset inputs (ml_run_inputs), on the real engine:
every comparator (=, !=, LIKE, ILIKE, IN, NOT IN) on name, digest and context gives the runs an
independent reading of MLflow's rule gives — some input of the run satisfies the comparison,
and a context comparison needs an input with the mlflow.data.context tag."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from driftline.mlflow import events
from driftline.query import runs as runs_query
from driftline.signals import Signal
from driftline.storage.client import Target
from driftline.storage.inserter import ProtobufInserter
from tests.engine_db import fresh_database

# run name → inputs (name, digest, context or None)
INPUTS: dict[str, list[tuple[str, str, str | None]]] = {
    "a": [("train-v1", "d1", "training"), ("eval", "d9", "evaluation")],
    "b": [("train-v2", "d2", "training")],
    "c": [("Train-V1", "d1", None)],
    "d": [],
}


@pytest.fixture(scope="module")
def db(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, str]]:
    with fresh_database(chdb_dir, "runs_datasets") as (client, target):
        inserter = ProtobufInserter(
            client, Target(embedded_path=str(chdb_dir), database=target.database),
            tmp_path_factory.mktemp("ins"),
        )  # fmt: skip
        now = time.time_ns()
        records = []
        for i, (name, inputs) in enumerate(INPUTS.items()):
            run_id = f"{i:032x}"
            records.append(
                events.run_start(
                    run_id,
                    now + i,
                    experiment_id="7",
                    experiment_name="ds",
                    run_name=name,
                    user_id="u",
                    artifact_uri="",
                )
            )
            for j, (dname, digest, context) in enumerate(inputs):
                tags = {} if context is None else {"mlflow.data.context": context}
                d = events.Dataset(dname, digest, "local", "/data", "", "", tags)
                records.append(events.run_input(run_id, now + 100 + j, d))
        inserter.insert(Signal.LOGS, [events.request(records)], "wal-1-1")
        yield client, target.database


def _like(pattern: str, text: str, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if ignore_case else 0) is not None


def _expected(field: str, op: str, value: str | tuple[str, ...]) -> list[str]:
    index = {"name": 0, "digest": 1, "context": 2}[field]

    def holds(item: tuple[str, str, str | None]) -> bool:
        x = item[index]
        if x is None:
            return False
        if op == "=":
            return x == value
        if op == "!=":
            return x != value
        if op in ("LIKE", "ILIKE"):
            assert isinstance(value, str)
            return _like(value, x, op == "ILIKE")
        return (x in value) == (op == "IN")

    return sorted(run for run, inputs in INPUTS.items() if any(holds(i) for i in inputs))


CASES = [
    ("name", "=", "train-v1"), ("name", "!=", "eval"), ("name", "LIKE", "train%"),
    ("name", "ILIKE", "train-v1"), ("name", "IN", ("eval", "train-v2")),
    ("name", "NOT IN", ("train-v1", "eval")), ("digest", "=", "d1"),
    ("digest", "IN", ("d2", "d9")), ("context", "=", "training"),
    ("context", "!=", "training"), ("context", "LIKE", "eval%"),
    ("context", "NOT IN", ("evaluation",)),
]  # fmt: skip


@pytest.mark.parametrize(("field", "op", "value"), CASES)
def test_dataset_filter_matches_mlflows_rule(
    db: tuple[Client, str], field: str, op: str, value: str | tuple[str, ...]
) -> None:
    literal = (
        "(" + ", ".join(f"'{v}'" for v in value) + ")" if isinstance(value, tuple) else f"'{value}'"
    )
    runs = runs_query.list_runs(
        db[0], db[1], filter_string=f"datasets.{field} {op} {literal}", max_results=100,
        now_ns=time.time_ns(), heartbeat_timeout_s=60, timeout_s=60,
    )  # fmt: skip
    assert sorted(r.run_name for r in runs) == _expected(field, op, value)


def test_inputs_read_back_once_per_name_and_digest(db: tuple[Client, str]) -> None:
    run = runs_query.get_run(db[0], db[1], f"{0:032x}", now_ns=time.time_ns(), timeout_s=60)
    assert [(d.name, d.digest, d.tags.get("mlflow.data.context")) for d in run.inputs] == [
        ("train-v1", "d1", "training"),
        ("eval", "d9", "evaluation"),
    ]
    assert run.experiment_id == "7" and run.lifecycle == "active"
