"""Environment for tests that import mlflow: no telemetry (these machines reach only package
registries), no client retries (errors surface at once), and the tracking URI of a server."""

from __future__ import annotations

import os

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "60"


def tracking_uri(endpoints: dict[str, str]) -> str:
    return f"http://{endpoints['mlflow']}"
