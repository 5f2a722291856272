"""The console's JSON API: `/api/<name>?<query string>` → one driftline.client call → JSON.

Every number the pages show comes from here, and everything here comes from the query API
through `driftline.client` — the same answers `Client` and the CLI get, so the console cannot
disagree with them. Each answer function is pure over (client, params): it parses the query
string (a bad value is a ValueError → 400), calls the client, and returns JSON-able data.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from driftline.client import Client, QueryError
from driftline.client.times import duration_s

Params = Mapping[str, str]
MultiParams = Mapping[str, list[str]]
Answer = Callable[[Client, Params, MultiParams], Any]

SPARK_BUCKETS: Final = 24
HTTP_STATUS: Final = {
    "INVALID_ARGUMENT": 400,
    "NOT_FOUND": 404,
    "FAILED_PRECONDITION": 409,
    "UNAUTHENTICATED": 502,  # the console's own token was refused: a server configuration issue
    "DEADLINE_EXCEEDED": 504,
}


def jsonable(value: Any) -> Any:
    """Dataclasses → dicts; NaN and ±inf → None (JSON has neither)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _int(params: Params, name: str, default: int = 0) -> int:
    text = params.get(name, "")
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text!r}") from None


def _float(params: Params, name: str, default: float = 0.0) -> float:
    text = params.get(name, "")
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite")
    return value


def _since(params: Params, default: str) -> str:
    since = params.get("since") or default
    duration_s(since)  # a bad duration is a 400 here, before any call
    return since


def _bucket(since: str, buckets: int) -> int:
    return max(60, int(duration_s(since) // buckets))


def _model(params: Params) -> str:
    model = params.get("model", "")
    if not model:
        raise ValueError("model is required")
    return model


# ---- models page -------------------------------------------------------------------------------


def models(client: Client, params: Params, _multi: MultiParams) -> Any:
    """ListModels plus per-(model, version) traffic and p99 per bucket, for the sparklines."""
    since = _since(params, "24h")
    bucket_s = _bucket(since, SPARK_BUCKETS)
    with ThreadPoolExecutor(2) as pool:
        rows = pool.submit(client.models, since=since)
        series = pool.submit(
            client.latency, since=since, group_by=["model", "version", "bucket"],
            bucket_seconds=bucket_s,
        )  # fmt: skip
        found, latency = rows.result(), series.result()
    spark: dict[str, dict[str, list[Any]]] = {}
    for g in latency.groups:
        key = f"{g.keys.get('model', '')}\u0000{g.keys.get('version', '')}"
        s = spark.setdefault(key, {"t": [], "count": [], "p99_ms": []})
        s["t"].append(g.keys.get("bucket", ""))
        s["count"].append(g.count)
        s["p99_ms"].append(g.p99_ms)
    return {
        "since": since,
        "bucket_seconds": bucket_s,
        "models": [
            {**jsonable(m), "spark": spark.get(f"{m.model}\u0000{m.version}")} for m in found
        ],
    }


NO_ANSWER: Final = ("FAILED_PRECONDITION", "NOT_FOUND", "UNIMPLEMENTED")


def verdict(client: Client, params: Params, _multi: MultiParams) -> Any:
    """The drift and data-quality verdicts of one model (version) over the default windows."""
    model, version = _model(params), params.get("version", "")
    with ThreadPoolExecutor(2) as pool:
        drift = pool.submit(_drift_verdict, client, model, version)
        quality = pool.submit(_quality_verdict, client, model, version)
        return {**drift.result(), **quality.result()}


def _drift_verdict(client: Client, model: str, version: str) -> dict[str, Any]:
    try:
        drift = client.drift(model, version=version)
    except QueryError as exc:
        if exc.code in NO_ANSWER:
            return {"drift": "no data", "reason": exc.message}
        raise
    window = drift.windows[-1] if drift.windows else None
    if window is None or window.no_data or not window.features:
        return {"drift": "no data", "reason": "no feature values in the windows"}
    return {
        "drift": "drift" if window.dataset_drift else "ok",
        "drifted": window.drifted_count,
        "features": len(window.features),
        "share": window.share,
    }


def _quality_verdict(client: Client, model: str, version: str) -> dict[str, Any]:
    """`quality`: "ok", "issues" (flagged features listed) or "no data"; "n/a" when the
    query API has no GetDataQuality (an older server)."""
    try:
        quality = client.quality(model, version=version)
    except QueryError as exc:
        if exc.code == "UNIMPLEMENTED":
            return {"quality": "n/a", "quality_reason": "this server has no GetDataQuality"}
        if exc.code in NO_ANSWER:
            return {"quality": "no data", "quality_reason": exc.message}
        raise
    if quality.no_data or not quality.windows:
        return {"quality": "no data", "quality_reason": "no inference in the current window"}
    flagged = sorted({f for w in quality.windows for f in w.flagged_features})
    return {"quality": "issues" if quality.flagged else "ok", "quality_flagged": flagged}


# ---- model page --------------------------------------------------------------------------------


def drift(client: Client, params: Params, _multi: MultiParams) -> Any:
    window_s = _int(params, "window_seconds")
    answer = client.drift(
        _model(params),
        since=_since(params, "1h"),
        version=params.get("version", ""),
        window_seconds=window_s,
        saved_reference=params.get("reference", ""),
    )
    return jsonable(answer)


def latency(client: Client, params: Params, multi: MultiParams) -> Any:
    since = _since(params, "1h")
    group_by = [g for v in multi.get("group_by", []) for g in v.split(",") if g]
    answer = client.latency(
        params.get("model", ""),
        since=since,
        group_by=group_by,
        bucket_seconds=_int(params, "bucket_seconds") or _bucket(since, 30),
        slo_threshold_ms=_float(params, "slo_ms"),
        slo_target=_float(params, "slo_target"),
        baseline_version=params.get("baseline", ""),
        candidate_version=params.get("candidate", ""),
    )
    return jsonable(answer)


def performance(client: Client, params: Params, multi: MultiParams) -> Any:
    since = _since(params, "1h")
    group_by = [g for v in multi.get("group_by", []) for g in v.split(",") if g]
    answer = client.performance(
        _model(params),
        since=since,
        group_by=group_by,
        bucket_seconds=_int(params, "bucket_seconds") or _bucket(since, 12),
        positive_class=params.get("positive_class", ""),
    )
    return jsonable(answer)


def inferences(client: Client, params: Params, _multi: MultiParams) -> Any:
    rows = client.inferences(
        _model(params),
        version=params.get("version", ""),
        since=_since(params, "24h"),
        errors_only=params.get("errors") in ("1", "true", "on"),
        min_duration_ms=_float(params, "min_ms"),
        limit=_int(params, "limit", 100),
    )
    return {"inferences": jsonable(list(rows))}


# ---- traces and logs ---------------------------------------------------------------------------


def trace(client: Client, params: Params, _multi: MultiParams) -> Any:
    trace_id = params.get("trace_id", "")
    if not trace_id:
        raise ValueError("trace_id is required")
    return {"trace_id": trace_id.lower(), "spans": jsonable(list(client.trace(trace_id)))}


def logs(client: Client, params: Params, _multi: MultiParams) -> Any:
    found = client.logs(
        since=_since(params, "24h"),
        severity=params.get("severity", ""),
        service=params.get("service", ""),
        trace_id=params.get("trace_id", ""),
        text=params.get("text", ""),
        limit=_int(params, "limit", 100),
    )
    return {"logs": jsonable(list(found))}


# ---- runs --------------------------------------------------------------------------------------


def runs(client: Client, params: Params, multi: MultiParams) -> Any:
    experiments = [e for v in multi.get("experiment", []) for e in v.split(",") if e]
    order_by = [o for o in multi.get("order_by", []) if o]
    page = client.runs(
        params.get("filter", ""),
        experiments=experiments,
        order_by=order_by,
        max_results=_int(params, "max_results", 200),
        page_token=params.get("page_token", ""),
    )
    return {"runs": jsonable(list(page)), "next_page_token": page.next_page_token}


def compare(client: Client, params: Params, multi: MultiParams) -> Any:
    ids = [r for v in multi.get("run", []) for r in v.split(",") if r]
    if not ids:
        raise ValueError("give at least one run")
    found = client.compare_runs(ids)
    histories = {run_id: jsonable(client.run_metrics(run_id).metrics) for run_id in ids}
    return {"runs": jsonable(list(found)), "metrics": histories}


ANSWERS: Final[dict[str, Answer]] = {
    "models": models,
    "verdict": verdict,
    "drift": drift,
    "latency": latency,
    "performance": performance,
    "inferences": inferences,
    "trace": trace,
    "logs": logs,
    "runs": runs,
    "compare": compare,
}
