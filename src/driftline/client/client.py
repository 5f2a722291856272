"""`Client(endpoint, token)`: every query API RPC (QueryService and RunService) as a method.

    from driftline.client import Client
    c = Client("127.0.0.1:4319")                 # or $DRIFTLINE_QUERY_ENDPOINT / _TOKEN
    c.drift("fraud", since="1h").to_pandas()

Blocking calls over one gRPC channel; answers are the dataclasses of types.py. Times are
`datetime`s, Unix nanoseconds (int) or, for `since`, a duration ("15m", "24h", a timedelta).
A refused call raises `QueryError` with the status code's name and the server's message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import grpc

from driftline.api._gen.driftline.v1 import (
    console_pb2,
    console_pb2_grpc,
    quality_pb2,
    quality_pb2_grpc,
    query_pb2,
    query_pb2_grpc,
    runs_pb2,
    runs_pb2_grpc,
)
from driftline.client import types as t
from driftline.client.labels import LABELS_PER_REQUEST, label_messages
from driftline.client.times import TimeLike, time_range

DEFAULT_ENDPOINT: Final = "127.0.0.1:4319"
ENV_ENDPOINT: Final = "DRIFTLINE_QUERY_ENDPOINT"
ENV_TOKEN: Final = "DRIFTLINE_QUERY_TOKEN"
MAX_RESPONSE_BYTES: Final = 256 << 20  # a result of max_rows wide rows passes gRPC's 4 MiB
SEVERITIES: Final = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21}


class QueryError(Exception):
    """The query API refused a call: `code` is the gRPC status name (e.g. NOT_FOUND)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def cell(value: query_pb2.Value) -> Any:
    """One `driftline.v1.Value` as a Python value (JSON text decoded)."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "json_value":
        return json.loads(value.json_value)
    return getattr(value, kind)


def table(response: query_pb2.SqlResponse) -> t.Table:
    return t.Table(
        columns=[t.Column(c.name, c.type) for c in response.columns],
        rows=[[cell(v) for v in row.values] for row in response.rows],
        truncated=response.truncated,
        rows_read=response.rows_read,
        elapsed_seconds=response.elapsed_seconds,
    )


class Client:
    """A blocking client of the driftline query API. Use as a context manager, or `close()`."""

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        *,
        tls_ca: str | None = None,
        timeout: float | None = 60.0,
    ) -> None:
        self.endpoint = endpoint or os.environ.get(ENV_ENDPOINT) or DEFAULT_ENDPOINT
        self._token = token if token is not None else os.environ.get(ENV_TOKEN, "")
        self._timeout = timeout
        options = [("grpc.max_receive_message_length", MAX_RESPONSE_BYTES)]
        if tls_ca:
            with open(tls_ca, "rb") as file:
                credentials = grpc.ssl_channel_credentials(root_certificates=file.read())
            self._channel = grpc.secure_channel(self.endpoint, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(self.endpoint, options=options)
        self._query = query_pb2_grpc.QueryServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._runs = runs_pb2_grpc.RunServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._console = console_pb2_grpc.ConsoleServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._quality = quality_pb2_grpc.QualityServiceStub(self._channel)  # type: ignore[no-untyped-call]

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def call(self, method: str, request: Any, *, service: str = "query") -> Any:
        """Any unary RPC by name (`service` "query", "runs", "console" or "quality"), raw
        messages in and out."""
        stubs = {"query": self._query, "runs": self._runs, "console": self._console,
                 "quality": self._quality}  # fmt: skip
        stub = stubs[service]
        metadata = (("authorization", f"Bearer {self._token}"),) if self._token else ()
        try:
            return getattr(stub, method)(request, timeout=self._timeout, metadata=metadata)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            name = code.name if code is not None else "UNKNOWN"
            details = exc.details() if hasattr(exc, "details") else str(exc)
            raise QueryError(name, str(details or "")) from None

    # ---- SQL and browsing ----------------------------------------------------------------------

    def sql_table(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        max_rows: int = 0,
        timeout: float = 0.0,
    ) -> t.Table:
        """One read-only statement; `{name:Type}` placeholders bound from `parameters`."""
        request = query_pb2.SqlRequest(
            sql=sql,
            parameters={k: str(v) for k, v in (parameters or {}).items()},
            max_rows=max_rows,
            timeout_seconds=timeout,
        )
        return table(self.call("Sql", request))

    def sql(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        max_rows: int = 0,
        timeout: float = 0.0,
    ) -> Any:
        """One read-only statement as a pandas DataFrame (`sql_table` without pandas)."""
        return self.sql_table(sql, parameters, max_rows=max_rows, timeout=timeout).to_pandas()

    def models(
        self, *, since: Any = None, start: TimeLike = None, end: TimeLike = None
    ) -> t.Rows[t.ModelVersion]:
        """Every model/version seen in the range: traffic, error rate, p50/p99, first/last seen."""
        request = query_pb2.ListModelsRequest(range=time_range(start, end, since))
        return t.Rows(t.rows_as(t.ModelVersion, table(self.call("ListModels", request))))

    def trace(self, trace_id: str) -> t.Rows[t.Span]:
        """Every span of one trace, oldest first."""
        response = self.call("GetTrace", query_pb2.GetTraceRequest(trace_id=trace_id))
        return t.Rows(t.rows_as(t.Span, table(response)))

    def logs(
        self,
        *,
        since: Any = None,
        start: TimeLike = None,
        end: TimeLike = None,
        severity: str | int = 0,
        service: str = "",
        trace_id: str = "",
        text: str = "",
        limit: int = 0,
    ) -> t.Rows[t.LogRecord]:
        """Log records, newest first; `severity` is a minimum (a name such as "WARN" or 1-24)."""
        if isinstance(severity, str):
            name = severity.upper()
            if name and name not in SEVERITIES:
                raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
            severity = SEVERITIES.get(name, 0)
        request = query_pb2.SearchLogsRequest(
            range=time_range(start, end, since),
            min_severity_number=severity,
            service_name=service,
            trace_id=trace_id,
            text=text,
            limit=limit,
        )
        return t.Rows(t.rows_as(t.LogRecord, table(self.call("SearchLogs", request))))

    def inferences(
        self,
        model: str,
        *,
        version: str = "",
        since: Any = None,
        start: TimeLike = None,
        end: TimeLike = None,
        errors_only: bool = False,
        min_duration_ms: float = 0.0,
        limit: int = 0,
    ) -> t.Rows[t.Inference]:
        """A model's recent inferences, newest first (trace ids lead to `trace()`)."""
        request = console_pb2.SearchInferencesRequest(
            model=model,
            version=version,
            range=time_range(start, end, since),
            errors_only=errors_only,
            min_duration_ms=min_duration_ms,
            limit=limit,
        )
        response = self.call("SearchInferences", request, service="console")
        return t.Rows(t.rows_as(t.Inference, table(response)))

    def record_labels(
        self,
        labels: Any,
        *,
        model: str | None = None,
        class_labels: bool | None = None,
    ) -> int:
        """Ground truth in bulk: a DataFrame or an iterable of mappings with columns
        `inference_id`, `label` (or `value`), `model` (or `model=` for all), optional `time`.
        Numbers are sent as numbers, strings as classes (`class_labels=True` forces classes).
        Sent in requests of at most LABELS_PER_REQUEST; returns how many were accepted."""
        accepted = 0
        messages = label_messages(labels, model=model, class_labels=class_labels)
        for start in range(0, len(messages), LABELS_PER_REQUEST):
            chunk = messages[start : start + LABELS_PER_REQUEST]
            response = self.call("RecordLabels", query_pb2.RecordLabelsRequest(labels=chunk))
            accepted += int(response.accepted)
        return accepted

    # ---- monitoring ----------------------------------------------------------------------------

    def latency(
        self,
        model: str = "",
        *,
        since: Any = None,
        start: TimeLike = None,
        end: TimeLike = None,
        group_by: Sequence[str] = (),
        bucket_seconds: int = 0,
        slo_threshold_ms: float = 0.0,
        slo_target: float = 0.0,
        slo_version: str = "",
        baseline_version: str = "",
        candidate_version: str = "",
    ) -> t.Latency:
        """Latency percentiles grouped by model/version/span_name/bucket; SLO burn rates;
        with two versions, whether the candidate is slower (Mann-Whitney U)."""
        request = query_pb2.GetLatencyRequest(
            model=model,
            range=time_range(start, end, since),
            group_by=list(group_by),
            bucket_seconds=bucket_seconds,
            slo_threshold_ms=slo_threshold_ms,
            slo_target=slo_target,
            slo_version=slo_version,
            baseline_version=baseline_version,
            candidate_version=candidate_version,
        )
        return t.from_message(t.Latency, self.call("GetLatency", request))

    def drift(
        self,
        model: str,
        *,
        since: Any = None,
        start: TimeLike = None,
        end: TimeLike = None,
        version: str = "",
        reference_start: TimeLike = None,
        reference_end: TimeLike = None,
        reference_version: str = "",
        saved_reference: str = "",
        features: Sequence[str] = (),
        method: str = "",
        threshold: float | None = None,
        window_seconds: int = 0,
        drift_share: float = 0.0,
        threshold_mode: str = "",
        reference_chunks: int = 0,
        **extra: Any,
    ) -> t.Drift:
        """Drift per feature of the current window (default: the last hour) against the
        reference (default: the 24 hours before it, or a saved reference). `window_seconds`
        splits the current range into windows (drift over time). Other GetDriftRequest fields
        (num_method, feature_thresholds, ...) pass through `extra` by name."""
        request = query_pb2.GetDriftRequest(
            model=model,
            reference=query_pb2.DriftWindowSpec(
                range=time_range(reference_start, reference_end, None),
                version=reference_version,
                saved_reference=saved_reference,
            ),
            current=query_pb2.DriftWindowSpec(range=time_range(start, end, since), version=version),
            features=list(features),
            method=method,
            window_seconds=window_seconds,
            drift_share=drift_share,
            threshold_mode=threshold_mode,
            reference_chunks=reference_chunks,
            **extra,
        )
        if threshold is not None:
            request.threshold = threshold
        return t.from_message(t.Drift, self.call("GetDrift", request))

    def quality(
        self,
        model: str,
        *,
        since: Any = None,
        start: TimeLike = None,
        end: TimeLike = None,
        version: str = "",
        features: Sequence[str] = (),
        window_seconds: int = 0,
        threshold_mode: str = "",
        **extra: Any,
    ) -> t.Quality:
        """Data quality per feature and window (missing, type mismatches, unseen categories,
        out of range, constant, duplicate ids) against the reference (default: the 24 h
        before). Other GetDataQualityRequest fields pass through `extra` by name."""
        request = quality_pb2.GetDataQualityRequest(
            model=model,
            current=query_pb2.DriftWindowSpec(range=time_range(start, end, since), version=version),
            features=list(features),
            window_seconds=window_seconds,
            threshold_mode=threshold_mode,
            **extra,
        )
        return t.from_message(t.Quality, self.call("GetDataQuality", request, service="quality"))

    def multivariate_drift(
        self,
        model: str,
        *,
        since: Any = None,
        start: TimeLike = None,
        end: TimeLike = None,
        version: str = "",
        window_seconds: int = 0,
        **extra: Any,
    ) -> t.MultivariateDrift:
        """NannyML's data-reconstruction error per window, plus a domain-classifier AUROC."""
        request = quality_pb2.GetMultivariateDriftRequest(
            model=model,
            current=query_pb2.DriftWindowSpec(range=time_range(start, end, since), version=version),
            window_seconds=window_seconds,
            **extra,
        )
        response = self.call("GetMultivariateDrift", request, service="quality")
        return t.from_message(t.MultivariateDrift, response)

    def performance(
        self,
        model: str,
        *,
        since: Any = None,
        start: TimeLike = None,
        end: TimeLike = None,
        group_by: Sequence[str] = (),
        bucket_seconds: int = 0,
        positive_class: str = "",
        task: str = "",
        reference_start: TimeLike = None,
        reference_end: TimeLike = None,
    ) -> t.Performance:
        """Accuracy & co. from labels, CBPE estimates from scores; with a reference range, the
        accuracy drift between the two."""
        request = query_pb2.GetPerformanceRequest(
            model=model,
            range=time_range(start, end, since),
            group_by=list(group_by),
            bucket_seconds=bucket_seconds,
            positive_class=positive_class,
            task=task,
        )
        if reference_start is not None or reference_end is not None:
            request.reference.CopyFrom(time_range(reference_start, reference_end, None))
        return t.from_message(t.Performance, self.call("GetPerformance", request))

    def save_reference(
        self,
        name: str,
        model: str,
        *,
        since: Any = None,
        start: TimeLike = None,
        end: TimeLike = None,
        version: str = "",
        features: Sequence[str] = (),
        description: str = "",
    ) -> t.SavedReference:
        request = query_pb2.SaveReferenceRequest(
            name=name,
            model=model,
            window=query_pb2.DriftWindowSpec(range=time_range(start, end, since), version=version),
            features=list(features),
            description=description,
        )
        return t.from_message(t.SavedReference, self.call("SaveReference", request))

    def references(self, model: str = "") -> list[t.SavedReference]:
        response = self.call("ListReferences", query_pb2.ListReferencesRequest(model=model))
        return [t.from_message(t.SavedReference, r) for r in response.references]

    # ---- runs ----------------------------------------------------------------------------------

    def runs(
        self,
        filter: str = "",
        *,
        experiments: Iterable[str] = (),
        order_by: Sequence[str] = (),
        max_results: int = 0,
        page_token: str = "",
    ) -> t.RunsPage:
        """Runs matching an MLflow `search_runs` filter, one page (see `next_page_token`)."""
        request = runs_pb2.ListRunsRequest(
            experiments=list(experiments),
            filter=filter,
            order_by=list(order_by),
            max_results=max_results,
            page_token=page_token,
        )
        response = self.call("ListRuns", request, service="runs")
        page = t.RunsPage(t.from_message(t.Run, r) for r in response.runs)
        page.next_page_token = response.next_page_token
        return page

    def run(self, run_id: str) -> t.Run:
        response = self.call("GetRun", runs_pb2.GetRunRequest(run_id=run_id), service="runs")
        return t.from_message(t.Run, response)

    def compare_runs(self, run_ids: Sequence[str]) -> t.Rows[t.Run]:
        request = runs_pb2.CompareRunsRequest(run_ids=list(run_ids))
        response = self.call("CompareRuns", request, service="runs")
        return t.Rows(t.from_message(t.Run, r) for r in response.runs)

    def run_metrics(
        self,
        run_id: str,
        keys: Sequence[str] = (),
        *,
        min_step: int | None = None,
        max_step: int | None = None,
        max_points: int = 0,
    ) -> t.RunMetrics:
        request = runs_pb2.GetRunMetricsRequest(
            run_id=run_id, keys=list(keys), max_points=max_points
        )
        if min_step is not None:
            request.min_step = min_step
        if max_step is not None:
            request.max_step = max_step
        response = self.call("GetRunMetrics", request, service="runs")
        return t.from_message(t.RunMetrics, response)

    def run_logs(self, run_id: str, *, limit: int = 0, min_severity: int = 0) -> t.RunLogs:
        request = runs_pb2.GetRunLogsRequest(
            run_id=run_id, limit=limit, min_severity_number=min_severity
        )
        return t.from_message(t.RunLogs, self.call("GetRunLogs", request, service="runs"))


__all__ = ["Client", "QueryError", "cell", "table"]
