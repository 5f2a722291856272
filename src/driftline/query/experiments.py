"""Experiment answers for MLflow's tracking API: every experiment with its events folded, and
the experiment names SDK runs were started with (they have no MLflow experiment yet).

Experiments are few (one per project, not per run), so the MLflow layer reads them all and
filters, orders and pages in memory (mlflow/experiments.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client

from driftline.query.runs import run_rows
from driftline.storage import runs_sql


@dataclass(frozen=True)
class ExperimentInfo:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle: str  # active or deleted
    created_ns: int
    updated_ns: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunExperiment:
    """An experiment name some SDK-started runs carry, with their first and last start."""

    name: str
    first_ns: int
    last_ns: int


def list_experiments(client: Client, database: str, *, timeout_s: float) -> list[ExperimentInfo]:
    rows = run_rows(client, database, runs_sql.experiments(), timeout_s).result_rows
    return [
        ExperimentInfo(str(i), str(n), str(a), str(lc), int(c), int(u), dict(t))
        for i, n, a, lc, c, u, t in rows
    ]


def run_experiment_names(client: Client, database: str, *, timeout_s: float) -> list[RunExperiment]:
    rows = run_rows(client, database, runs_sql.experiment_names_of_runs(), timeout_s).result_rows
    return [RunExperiment(str(n), int(f), int(last)) for n, f, last in rows]


def logged_models(client: Client, database: str, *, timeout_s: float) -> dict[str, str]:
    """model id → its newest JSON document."""
    rows = run_rows(client, database, runs_sql.logged_models(), timeout_s).result_rows
    return {str(model_id): str(doc) for model_id, doc in rows}
