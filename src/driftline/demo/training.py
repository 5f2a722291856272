"""The demo's training run: retrain a candidate on the shifted data, tracked as an experiment run.

A short logistic-regression fit (numpy gradient descent on seeded rows of the shifted world) is
logged with `driftline.sdk.runs`: params, then `loss` and `accuracy` per epoch. The finding is
what driftline stored — read back through RunService.GetRun once the collector caught up — not
what the demo sent. Without run tracking installed (`driftline.sdk.runs` missing), the step is
skipped and the demo says so.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from driftline.demo.findings import Commands, Finding
from driftline.demo.model import CATEGORICAL, MODEL_NAME, NUMERIC, transform_feature
from driftline.demo.traffic import make_batch

EPOCHS = 20
LEARNING_RATE = 0.5


def _design(rows: list[dict[str, Any]]) -> tuple[np.ndarray, list[str]]:
    levels = {c: sorted({str(r[c]) for r in rows}) for c in CATEGORICAL}
    names = [*NUMERIC, *(f"{c}={v}" for c in CATEGORICAL for v in levels[c])]
    x = np.array(
        [[transform_feature(n, float(r[n])) if r[n] is not None else 0.0 for n in NUMERIC]
         + [float(str(r[c]) == v) for c in CATEGORICAL for v in levels[c]] for r in rows]
    )  # fmt: skip
    return np.hstack([np.ones((len(rows), 1)), x]), ["bias", *names]


def training_run(seed: int, cmd: Commands, endpoint: str | None = None) -> Finding | None:
    """Train and track (OTLP gRPC to `endpoint`, e.g. http://127.0.0.1:4317); None when run
    tracking is not installed (the demo notes the skip)."""
    try:  # imported by name: on a branch without run tracking this module does not exist
        runs: Any = importlib.import_module("driftline.sdk.runs")
    except ImportError:
        return None
    batch = make_batch(seed + 100, 3000, shifted=True, label_fraction=1.0)
    x, _names = _design([dict(r) for r in batch.rows])
    y = np.asarray(batch.truth, dtype=float)
    params = {"model": MODEL_NAME, "learning_rate": LEARNING_RATE, "epochs": EPOCHS,
              "rows": len(y), "seed": seed}  # fmt: skip
    w = np.zeros(x.shape[1])
    history: list[tuple[float, float]] = []
    with runs.start_run(
        experiment=MODEL_NAME, run_name="retrain-on-shifted", params=params,
        seeds={"numpy": seed}, endpoint=endpoint, handle_sigterm=False,
    ) as run:  # fmt: skip
        for epoch in range(EPOCHS):
            p = 1 / (1 + np.exp(-(x @ w)))
            w -= LEARNING_RATE * x.T @ (p - y) / len(y)
            p = 1 / (1 + np.exp(-(x @ w)))
            loss = float(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
            accuracy = float(np.mean((p >= 0.5) == (y == 1)))
            run.log_metric("loss", loss, step=epoch)
            run.log_metric("accuracy", accuracy, step=epoch)
            history.append((loss, accuracy))
    run_id = str(run.id)
    finding = Finding("run", f"Training run {run_id} (experiment {MODEL_NAME})")
    finding.lines = [
        f"{EPOCHS} epochs: loss {history[0][0]:.3f} → {history[-1][0]:.3f}, "
        f"accuracy {history[0][1]:.3f} → {history[-1][1]:.3f}",
    ]
    finding.commands = [cmd("runs", "show", run_id), cmd("runs", "list")]
    finding.data = {"run_id": run_id, "params": params,
                    "final": {"loss": history[-1][0], "accuracy": history[-1][1]}}  # fmt: skip
    return finding


def read_back(finding: Finding, client: Any, timeout_s: float = 30.0) -> Finding:
    """Replace the sent figures by what driftline stored (GetRun), waiting for the run's end."""
    import time

    from driftline.api._gen.driftline.v1 import runs_pb2

    run_id = finding.data["run_id"]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            stored = client.call("GetRun", runs_pb2.GetRunRequest(run_id=run_id), service="runs")
        except Exception:  # not stored yet (NOT_FOUND) or the collector is busy
            stored = None
        done = stored is not None and stored.status == "FINISHED"
        if done and all(stored.metrics[k].points == EPOCHS for k in ("loss", "accuracy")):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the training run {run_id} was not stored in {timeout_s}s")
        time.sleep(0.2)
    loss, acc = stored.metrics["loss"], stored.metrics["accuracy"]
    finding.lines = [
        f"status {stored.status}, {len(stored.params)} params, {loss.points} steps of loss "
        f"and accuracy stored",
        f"loss {loss.max:.3f} → {loss.latest:.3f}, accuracy → {acc.latest:.3f} "
        f"(best {acc.max:.3f}) at step {acc.latest_step}",
    ]
    finding.data.update({
        "status": stored.status, "stored_params": dict(stored.params),
        "stored": {"loss": loss.latest, "accuracy": acc.latest, "steps": loss.points},
    })  # fmt: skip
    return finding
