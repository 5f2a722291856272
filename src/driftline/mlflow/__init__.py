"""MLflow's tracking REST API over driftline's run tables (docs/mlflow.md).

`MLFLOW_TRACKING_URI=http://127.0.0.1:5000` points unmodified MLflow code at driftline:
experiments, runs, params, metrics, tags, dataset inputs and artifacts, written through the
WAL (durable before OK, exactly-once into ClickHouse) and read back with read-your-writes.

    server.py      routes, auth, MLflow's error JSON
    store.py       validation and the events of each write; reads through query/runs.py
    durable.py     WAL append, the read barrier (sink checkpoint past the last write)
    events.py      writes as OTLP run events (pure)
    wire.py        MLflow's JSON shapes (pure)
    experiments.py SearchExperiments' filter and order (pure)
    artifacts.py   the artifact proxy over <data-dir>/artifacts
    service.py     the component `driftline serve` starts
"""
