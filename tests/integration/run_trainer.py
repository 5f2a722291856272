"""A training script for the run-lifecycle tests, run as a real subprocess:

    python run_trainer.py MODE      MODE = finish | fail | sigterm | sigkill

It exports to $OTEL_EXPORTER_OTLP_ENDPOINT with driftline.sdk.start_run, logs known metrics
(value = step / 8 + key index, exact in binary), a training log line and an artifact, prints
`run <id>` and, for the signal modes, `ready` once its events are flushed, then keeps training
until the test signals it.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from driftline.sdk import start_run

mode = sys.argv[1]
logging.basicConfig(level=logging.INFO)
log = logging.getLogger("trainer")

with start_run(
    experiment="lifecycle",
    run_name=f"{mode}-run",
    params={"lr": "0.01", "mode": mode, "layers": 4},
    tags={"team": "search"},
    data_version="v3",
    seeds={"numpy": 42},
    heartbeat_interval_s=0.3,
    system_metrics_interval_s=0.2,
) as run:
    print(f"run {run.id}", flush=True)
    for step in range(50):
        run.log_metrics({"loss": 10 - step / 8, "accuracy": step / 64}, step=step)
    log.warning("epoch done for %s", mode)
    artifact = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    if artifact is not None:
        artifact.write_bytes(b"weights " * 1000)
        run.log_artifact(artifact)
    if mode == "fail":
        raise ValueError("diverged at step 50")
    if mode in ("sigterm", "sigkill"):
        run.flush()
        print("ready", flush=True)
        step = 50
        while True:  # until signalled
            run.log_metric("loss", 1.0, step=step)
            step += 1
            time.sleep(0.05)
