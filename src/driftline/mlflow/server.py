"""The MLflow tracking server: MLflow's REST API on `mlflow.endpoint` (default 127.0.0.1:5000).

Routes are MLflow's (service.proto's `rpc` paths, under both `/api/2.0/mlflow/` and
`/ajax-api/2.0/mlflow/`, which MLflow's own UI uses), plus the artifact proxy and `/health`.
With a query token configured (DRIFTLINE_QUERY_TOKEN), every route but /health needs
`Authorization: Bearer <token>`, which MLflow clients send from MLFLOW_TRACKING_TOKEN.
Errors are MLflow's JSON (`error_code`, `message`) with MLflow's HTTP statuses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from driftline.mlflow import artifacts
from driftline.mlflow.errors import (
    BAD_REQUEST,
    ENDPOINT_NOT_FOUND,
    INTERNAL_ERROR,
    UNAUTHENTICATED,
    MlflowError,
)
from driftline.mlflow.models import LoggedModels
from driftline.mlflow.store import TrackingStore
from driftline.mlflow.wire import Fields
from driftline.receiver.auth import BearerAuth

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 64 << 20  # a log_batch of 1000 entities is well below 1 MiB
PREFIXES: Final = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")

Operation = Callable[[TrackingStore, Fields], Awaitable[dict[str, Any]]]

# (method, path under the prefix, store operation)
ROUTES: Final[tuple[tuple[str, str, Operation], ...]] = (
    ("POST", "/experiments/create", TrackingStore.create_experiment),
    ("GET", "/experiments/get", TrackingStore.get_experiment),
    ("GET", "/experiments/get-by-name", TrackingStore.get_experiment_by_name),
    ("POST", "/experiments/search", TrackingStore.search_experiments),
    ("GET", "/experiments/search", TrackingStore.search_experiments),
    ("POST", "/experiments/update", TrackingStore.update_experiment),
    ("POST", "/experiments/delete", TrackingStore.delete_experiment),
    ("POST", "/experiments/restore", TrackingStore.restore_experiment),
    ("POST", "/experiments/set-experiment-tag", TrackingStore.set_experiment_tag),
    ("POST", "/experiments/delete-experiment-tag", TrackingStore.delete_experiment_tag),
    ("POST", "/runs/create", TrackingStore.create_run),
    ("POST", "/runs/update", TrackingStore.update_run),
    ("GET", "/runs/get", TrackingStore.get_run),
    ("POST", "/runs/search", TrackingStore.search_runs),
    ("POST", "/runs/delete", TrackingStore.delete_run),
    ("POST", "/runs/restore", TrackingStore.restore_run),
    ("POST", "/runs/log-metric", TrackingStore.log_metric),
    ("POST", "/runs/log-parameter", TrackingStore.log_param),
    ("POST", "/runs/set-tag", TrackingStore.set_tag),
    ("POST", "/runs/delete-tag", TrackingStore.delete_tag),
    ("POST", "/runs/log-batch", TrackingStore.log_batch),
    ("POST", "/runs/log-inputs", TrackingStore.log_inputs),
    ("POST", "/runs/log-model", TrackingStore.log_model),
    ("GET", "/metrics/get-history", TrackingStore.get_metric_history),
    ("GET", "/metrics/get-history-bulk-interval", TrackingStore.get_metric_history_bulk_interval),
)
ModelOperation = Callable[[LoggedModels, Fields], Awaitable[dict[str, Any]]]
MODEL_ROUTES: Final[tuple[tuple[str, str, ModelOperation], ...]] = (
    ("POST", "/logged-models", LoggedModels.create),
    ("GET", "/logged-models/{model_id}", LoggedModels.get),
    ("PATCH", "/logged-models/{model_id}", LoggedModels.finalize),
    ("PATCH", "/logged-models/{model_id}/tags", LoggedModels.set_tags),
    ("DELETE", "/logged-models/{model_id}/tags/{tag_key}", LoggedModels.delete_tag),
    ("POST", "/logged-models/{model_id}/params", LoggedModels.log_params),
    ("POST", "/runs/outputs", LoggedModels.log_outputs),
)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )


def _error(error: MlflowError) -> web.Response:
    headers = (
        {"Retry-After": str(max(1, round(error.retry_after_s)))} if error.retry_after_s else None
    )
    return _json(error.http_status, error.body(), headers)


async def _fields(request: web.Request) -> Fields:
    fields = await _body_fields(request)
    if request.match_info:  # path parameters, e.g. /logged-models/{model_id}
        return Fields({**fields.data, **request.match_info}, fields.repeated)
    return fields


async def _body_fields(request: web.Request) -> Fields:
    if request.method in ("GET", "DELETE"):
        query = request.query
        repeated = {k: query.getall(k) for k in set(query.keys())}
        return Fields({k: v[-1] for k, v in repeated.items()}, repeated)
    raw = await request.read()
    if not raw.strip():
        return Fields({})
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise MlflowError(BAD_REQUEST, f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MlflowError(BAD_REQUEST, "request body must be a JSON object")
    return Fields(data)


def _handler(store: Any, operation: Any) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        return _json(200, await operation(store, await _fields(request)))

    return handle


@dataclass
class MlflowApp:
    store: TrackingStore
    artifact_root: Path
    auth: BearerAuth

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path != "/health" and not self.auth.allows(request.headers.get("Authorization")):
            return _error(MlflowError(UNAUTHENTICATED, "missing or invalid bearer token"))
        try:
            return await handler(request)
        except MlflowError as exc:
            return _error(exc)
        except web.HTTPNotFound:
            return _error(MlflowError(ENDPOINT_NOT_FOUND, f"no MLflow endpoint {request.path}"))
        except web.HTTPMethodNotAllowed as exc:
            message = f"{request.path} takes {', '.join(sorted(exc.allowed_methods))}"
            return _json(405, MlflowError(ENDPOINT_NOT_FOUND, message).body())
        except web.HTTPException:
            raise
        except Exception as exc:
            log.exception("mlflow %s %s failed", request.method, request.path)
            return _error(MlflowError(INTERNAL_ERROR, f"internal error: {exc}"))

    # ---- artifacts ---------------------------------------------------------------------------

    async def put_artifact(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        target = artifacts.safe_path(self.artifact_root, path)
        size, sha256 = await artifacts.receive(request, target)
        owner = artifacts.run_of(path) or await self._model_owner(path)
        if owner is not None:
            run_id, rel = owner
            try:
                await self.store.record_artifact(
                    run_id, uri=f"mlflow-artifacts:/{path.strip('/')}", path=rel, size=size,
                    sha256=sha256,
                )  # fmt: skip
            except MlflowError:
                log.warning("artifact %s stored, but its run could not be updated", path)
        return _json(200, {})

    async def _model_owner(self, path: str) -> tuple[str, str] | None:
        """A logged model's file is recorded in the model's source run, as models/<id>/…."""
        found = artifacts.model_of(path)
        if found is None:
            return None
        model_id, rel = found
        try:
            model = await self.store.models._model(model_id)
        except MlflowError:
            return None
        run_id = model["info"].get("source_run_id", "")
        return (run_id, f"models/{model_id}/{rel}") if run_id else None

    async def get_artifact(self, request: web.Request) -> web.StreamResponse:
        return artifacts.download(self.artifact_root, request.match_info["path"])

    async def list_artifacts(self, request: web.Request) -> web.Response:
        return _json(200, artifacts.listing(self.artifact_root, request.query.get("path", "")))

    async def delete_artifact(self, request: web.Request) -> web.Response:
        artifacts.delete(self.artifact_root, request.match_info["path"])
        return _json(200, {})


async def _health(_request: web.Request) -> web.Response:
    return web.Response(text="OK")


def build_app(store: TrackingStore, artifact_root: Path, auth_token: str) -> web.Application:
    app_state = MlflowApp(store, artifact_root, BearerAuth(auth_token))
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[app_state.middleware])
    for prefix in PREFIXES:
        for method, path, operation in ROUTES:
            app.router.add_route(method, prefix + path, _handler(store, operation))
        for method, path, model_operation in MODEL_ROUTES:
            app.router.add_route(method, prefix + path, _handler(store.models, model_operation))
    root = artifacts.ROUTE
    app.router.add_get(root, app_state.list_artifacts)
    app.router.add_put(root + "/{path:.+}", app_state.put_artifact)
    app.router.add_get(root + "/{path:.+}", app_state.get_artifact)
    app.router.add_delete(root + "/{path:.+}", app_state.delete_artifact)
    app.router.add_get("/health", _health)
    return app


async def start_mlflow_server(
    endpoint: str, store: TrackingStore, artifact_root: Path, auth_token: str
) -> tuple[web.AppRunner, int]:
    """Serve on `endpoint` (port 0 picks one); return the runner and the bound port."""
    host, _, port = endpoint.rpartition(":")
    artifact_root.mkdir(parents=True, exist_ok=True)
    runner = web.AppRunner(build_app(store, artifact_root, auth_token), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host.strip("[]"), int(port), reuse_port=False)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise OSError(f"MLflow API cannot listen on {endpoint}: {exc.strerror}") from exc
    return runner, int(runner.addresses[0][1])
