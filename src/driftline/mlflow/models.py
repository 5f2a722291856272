"""MLflow 3's logged models (`/logged-models`), which `mlflow.<flavor>.log_model` creates:

    create (PENDING) → artifacts uploaded to its artifact_uri → finalize (READY) → get

A model is one JSON document (MLflow's LoggedModel: info + data) kept in memory and written
through the WAL on every change as an `ml.experiment.model` event (ml_experiments,
Event = 'model'; the newest document wins), so it survives restarts like everything else.
LogOutputs (a run's output models) is accepted and recorded in the model's document.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any, Final

from driftline import semconv
from driftline.mlflow import events, wire
from driftline.mlflow.errors import invalid, not_found
from driftline.query import experiments as experiments_query

STATUSES: Final = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")
_STATUS_NUMBERS: Final = {"1": STATUSES[0], "2": STATUSES[1], "3": STATUSES[2]}


def _pairs(items: list[Any]) -> list[dict[str, str]]:
    out = []
    for item in items:
        f = wire.Fields(item)
        out.append({"key": f.text("key", required=True), "value": f.text("value")})
    return out


def _merge(existing: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    merged = {p["key"]: p["value"] for p in existing}
    merged.update({p["key"]: p["value"] for p in new})
    return [{"key": k, "value": v} for k, v in merged.items()]


class LoggedModels:
    def __init__(self, store: Any) -> None:
        self._store = store  # TrackingStore: experiments, the durable log, the engine
        self._models: dict[str, dict[str, Any]] | None = None

    async def _all(self) -> dict[str, dict[str, Any]]:
        if self._models is None:
            await self._store._durable.barrier()
            docs = await self._store._query(
                lambda c: experiments_query.logged_models(
                    c, self._store._database, timeout_s=self._store._timeout_s
                )
            )
            if self._models is None:
                self._models = {k: json.loads(v) for k, v in docs.items()}
        return self._models

    async def _model(self, model_id: str) -> dict[str, Any]:
        model = (await self._all()).get(model_id)
        if model is None:
            raise not_found(f"Logged model with ID '{model_id}' not found.")
        return model

    async def _save(self, model: dict[str, Any]) -> dict[str, Any]:
        info = model["info"]
        info["last_updated_timestamp_ms"] = int(time.time() * 1000)
        record = events.experiment(
            semconv.ML_EXPERIMENT_MODEL, info["experiment_id"], self._store._durable.stamp(),
            name=info["model_id"], tags={"model": json.dumps(model)},
        )  # fmt: skip
        await self._store._durable.append([record])
        (await self._all())[info["model_id"]] = model
        return {"model": copy.deepcopy(model)}

    async def create(self, f: wire.Fields) -> dict[str, Any]:
        experiment_id = f.text("experiment_id", required=True)
        experiment = await self._store._experiment(experiment_id)
        if experiment.lifecycle != "active":
            raise invalid(f"The experiment {experiment_id} must be in the 'active' state.")
        model_id = f"m-{uuid.uuid4().hex}"
        now = int(time.time() * 1000)
        info: dict[str, Any] = {
            "model_id": model_id, "experiment_id": experiment_id,
            "name": f.text("name") or f"model-{model_id[2:10]}",
            "creation_timestamp_ms": now, "last_updated_timestamp_ms": now,
            "artifact_uri": f"{experiment.artifact_location.rstrip('/')}/models/{model_id}"
            "/artifacts",
            "status": STATUSES[0], "model_type": f.text("model_type"),
            "source_run_id": f.text("source_run_id"), "tags": _pairs(f.objects("tags")),
        }  # fmt: skip
        if experiment.experiment_id not in self._store._stored_experiments:
            async with self._store._experiment_lock:
                await self._store._write_experiment(experiment, semconv.ML_EXPERIMENT_CREATE)
        return await self._save({"info": info, "data": {"params": _pairs(f.objects("params"))}})

    async def get(self, f: wire.Fields) -> dict[str, Any]:
        return {"model": copy.deepcopy(await self._model(f.text("model_id", required=True)))}

    async def finalize(self, f: wire.Fields) -> dict[str, Any]:
        model = await self._model(f.text("model_id", required=True))
        status = f.text("status", required=True)
        status = _STATUS_NUMBERS.get(status, status)
        if status not in STATUSES:
            raise invalid(f"Invalid value {status!r} for parameter 'status'")
        model["info"]["status"] = status
        return await self._save(model)

    async def set_tags(self, f: wire.Fields) -> dict[str, Any]:
        model = await self._model(f.text("model_id", required=True))
        model["info"]["tags"] = _merge(model["info"].get("tags", []), _pairs(f.objects("tags")))
        return await self._save(model)

    async def delete_tag(self, f: wire.Fields) -> dict[str, Any]:
        model = await self._model(f.text("model_id", required=True))
        key = f.text("tag_key", required=True)
        tags = model["info"].get("tags", [])
        if not any(t["key"] == key for t in tags):
            raise not_found(f"No tag with key '{key}' on logged model {model['info']['model_id']}")
        model["info"]["tags"] = [t for t in tags if t["key"] != key]
        await self._save(model)
        return {}

    async def log_params(self, f: wire.Fields) -> dict[str, Any]:
        model = await self._model(f.text("model_id", required=True))
        data = model.setdefault("data", {})
        data["params"] = _merge(data.get("params", []), _pairs(f.objects("params")))
        await self._save(model)
        return {}

    async def log_outputs(self, f: wire.Fields) -> dict[str, Any]:
        run_id = f.text("run_id", required=True)
        await self._store._active(run_id)
        for item in f.objects("models"):
            out = wire.Fields(item)
            model = await self._model(out.text("model_id", required=True))
            outputs = model.setdefault("driftline_outputs", [])
            outputs.append({"run_id": run_id, "step": out.integer("step", default=0)})
            await self._save(model)
        return {}
