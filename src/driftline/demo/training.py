"""The demo's training run: retrain a candidate on the shifted data, tracked as an experiment run.

Kept apart on purpose: run tracking (`driftline.sdk.runs`, `driftline runs list|show`) is built
on another branch. Without it, `training_run` returns None and the demo says the step was
skipped. With it, a short logistic-regression fit (numpy gradient descent on seeded rows of the
shifted world) is logged as a run: params, then `loss` and `accuracy` per epoch.

For the lead, after merging run tracking: check the `start_run` keywords and the run's id
attribute below against sdk/runs.py, and read the run back through the query API (GetRun) so
the finding shows what driftline stored, not what the demo sent.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from driftline.demo.findings import Commands, Finding
from driftline.demo.model import CATEGORICAL, MODEL_NAME, NUMERIC, _transform
from driftline.demo.traffic import make_batch

EPOCHS = 20
LEARNING_RATE = 0.5


def _design(rows: list[dict[str, Any]]) -> tuple[np.ndarray, list[str]]:
    levels = {c: sorted({str(r[c]) for r in rows}) for c in CATEGORICAL}
    names = [*NUMERIC, *(f"{c}={v}" for c in CATEGORICAL for v in levels[c])]
    x = np.array(
        [[_transform(n, float(r[n])) for n in NUMERIC]
         + [float(str(r[c]) == v) for c in CATEGORICAL for v in levels[c]] for r in rows]
    )  # fmt: skip
    return np.hstack([np.ones((len(rows), 1)), x]), ["bias", *names]


def training_run(seed: int, cmd: Commands) -> Finding | None:
    """Train and track; None when run tracking is not installed (the demo notes the skip)."""
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
    with runs.start_run(experiment=MODEL_NAME, run_name="retrain-on-shifted", params=params) as run:
        for epoch in range(EPOCHS):
            p = 1 / (1 + np.exp(-(x @ w)))
            w -= LEARNING_RATE * x.T @ (p - y) / len(y)
            p = 1 / (1 + np.exp(-(x @ w)))
            loss = float(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
            accuracy = float(np.mean((p >= 0.5) == (y == 1)))
            run.log_metric("loss", loss, step=epoch)
            run.log_metric("accuracy", accuracy, step=epoch)
            history.append((loss, accuracy))
    run_id = str(getattr(run, "run_id", None) or getattr(run, "id", ""))
    finding = Finding("run", f"Training run {run_id} (experiment {MODEL_NAME})")
    finding.lines = [
        f"{EPOCHS} epochs: loss {history[0][0]:.3f} → {history[-1][0]:.3f}, "
        f"accuracy {history[0][1]:.3f} → {history[-1][1]:.3f}",
    ]
    finding.commands = [cmd("runs", "show", run_id), cmd("runs", "list")]
    finding.data = {"run_id": run_id, "params": params,
                    "final": {"loss": history[-1][0], "accuracy": history[-1][1]}}  # fmt: skip
    return finding
