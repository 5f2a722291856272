"""INSERT … SELECT statements for what only MLflow's tracking API writes (driftline.mlflow):
experiment events → ml_experiments, dataset inputs → ml_run_inputs (schema_runs.mlflow_tables).

They run beside the run statements (ingest_runs_sql) on every logs batch, with the same
per-table dedup tokens, and see only the payloads that contain their key:

    ml.experiment.create|rename|delete|restore|tags|tags_delete  → ml_experiments (one row each)
    ml.run.input                                                 → ml_run_inputs  (one row each)

Run lifecycle changes made through MLflow (update, delete, restore, tags_delete) are ml_runs
rows: ingest_runs_sql takes them with the SDK's lifecycle events.
"""

from __future__ import annotations

from typing import Final

from driftline import semconv
from driftline.signals import Signal
from driftline.storage.ingest_base import LOG_JOINS, IngestStatement, as_text, attr, literal
from driftline.storage.ingest_runs_base import (
    RECORD_TIME,
    RUN_LOGS_STRUCTURE,
    event,
    prefixed_map,
    run_id,
)

EXPERIMENT_REQUIRES: Final = semconv.ML_EXPERIMENT_ID.encode()
INPUT_REQUIRES: Final = semconv.ML_RUN_INPUT_NAME.encode()


def _attr(key: str) -> str:
    return as_text(attr("r.attributes", key))


def experiments_statement(table: str = "ml_experiments") -> IngestStatement:
    events = ", ".join(literal(e) for e in semconv.ML_EXPERIMENT_EVENTS)
    cut = len("ml.experiment.") + 1
    exprs = [
        ("ExperimentId", "_exp"),
        ("Timestamp", RECORD_TIME),
        ("Event", f"substring(_ev, {cut})"),
        ("Name", _attr(semconv.ML_EXPERIMENT_NAME)),
        ("ArtifactLocation", _attr(semconv.ML_EXPERIMENT_ARTIFACT_LOCATION)),
        ("Tags", prefixed_map(semconv.ML_EXPERIMENT_TAG_PREFIX)),
    ]
    body = ",\n  ".join(f"{e} AS `{c}`" for c, e in exprs)
    select = (
        f"WITH {event()} AS _ev, {_attr(semconv.ML_EXPERIMENT_ID)} AS _exp\n"
        f"SELECT {body}\nFROM {{source}}\n{LOG_JOINS}\nWHERE _exp != '' AND _ev IN ({events})"
    )
    return IngestStatement(
        Signal.LOGS, table, tuple(c for c, _ in exprs), select, RUN_LOGS_STRUCTURE,
        EXPERIMENT_REQUIRES,
    )  # fmt: skip


def inputs_statement(table: str = "ml_run_inputs") -> IngestStatement:
    exprs = [
        ("RunId", "_run"),
        ("Timestamp", RECORD_TIME),
        ("Name", _attr(semconv.ML_RUN_INPUT_NAME)),
        ("Digest", _attr(semconv.ML_RUN_INPUT_DIGEST)),
        ("SourceType", _attr(semconv.ML_RUN_INPUT_SOURCE_TYPE)),
        ("Source", _attr(semconv.ML_RUN_INPUT_SOURCE)),
        ("Schema", _attr(semconv.ML_RUN_INPUT_SCHEMA)),
        ("Profile", _attr(semconv.ML_RUN_INPUT_PROFILE)),
        ("Tags", prefixed_map(semconv.ML_RUN_INPUT_TAG_PREFIX)),
    ]
    body = ",\n  ".join(f"{e} AS `{c}`" for c, e in exprs)
    select = (
        f"WITH {event()} AS _ev, {run_id()} AS _run\nSELECT {body}\nFROM {{source}}\n"
        f"{LOG_JOINS}\nWHERE _run != '' AND _ev = {literal(semconv.ML_RUN_INPUT)}"
    )
    return IngestStatement(
        Signal.LOGS, table, tuple(c for c, _ in exprs), select, RUN_LOGS_STRUCTURE, INPUT_REQUIRES
    )


def mlflow_statements() -> list[IngestStatement]:
    return [experiments_statement(), inputs_statement()]
