"""`start_run`: experiment-run tracking over OTLP (MLflow's model, docs/conventions.md).

    from driftline.sdk import start_run

    with start_run(experiment="fraud", run_name="lr-0.01", params={"lr": 0.01},
                   tags={"team": "search"}, data_version="2026-11-30", seeds={"numpy": 7}) as run:
        for step in range(100):
            run.log_metrics({"loss": loss, "accuracy": acc}, step=step)
        run.log_artifact("model.pt")                  # a reference: uri, size, sha256
    # FINISHED; an exception → FAILED (re-raised); SIGTERM → KILLED; SIGKILL → CRASHED (server)

Every call becomes an OTLP log event (`ml.run.*`) through an OpenTelemetry LoggerProvider:
the run's own, exporting to `$OTEL_EXPORTER_OTLP_ENDPOINT` (or `endpoint=`) with a queue sized
for training loops, or the one passed as `logger_provider=`. Metrics are log events, not OTLP
metrics: the metrics SDK aggregates per collection interval and stamps points at collection
time, so steps logged faster than the interval would be lost; an event per step keeps every
(step, value, timestamp) exactly.

Rules that shape the code:
- Misuse raises (a param logged twice with a different value, a non-numeric metric, logging on
  an ended run); failures of the pipeline never do (logged once, counted in `sdk_errors()`).
- A daemon thread sends a heartbeat every `heartbeat_interval_s`; the server calls a run
  without an end event CRASHED once nothing arrived for its heartbeat timeout.
- SIGTERM (in the main thread, when the run installs its handler) marks the run KILLED,
  flushes, then gives the signal its previous behaviour (default: the process dies by it).
- A run still open at interpreter exit ends FINISHED, or FAILED if an uncaught exception is on
  its way out (MLflow marks those FINISHED, mlflow#3932).
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import hashlib
import logging
import math
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Final
from urllib.parse import urlparse

from opentelemetry import _logs
from opentelemetry._logs import SeverityNumber

from driftline import semconv
from driftline.sdk.export import SHUTDOWN_TIMEOUT_S, exporter, resolve, shutdown_bounded
from driftline.sdk.run_env import SystemSampler, code_version, environment
from driftline.sdk.tracking import swallowed

_LOGGER_NAME: Final = "driftline.sdk.runs"
MAX_KEY_LENGTH: Final = 250  # MLflow's MAX_ENTITY_KEY_LENGTH
MAX_PARAM_VALUE_LENGTH: Final = 6000
MAX_TAG_VALUE_LENGTH: Final = 8000
MAX_KEYS_PER_EVENT: Final = 100  # below the OTel SDK's default of 128 attributes per record
DEFAULT_HEARTBEAT_S: Final = 10.0
DEFAULT_SYSTEM_METRICS_S: Final = 10.0
QUEUE_SIZE: Final = 1 << 16  # log records buffered by the run's own provider
EXPORT_BATCH: Final = 2048
FLUSH_TIMEOUT_MS: Final = 10_000

log = logging.getLogger(_LOGGER_NAME)


class RunParamError(ValueError):
    """A param was logged again with a different value (params are immutable, as in MLflow)."""


class RunEndedError(RuntimeError):
    """Something was logged on a run that has already ended."""


def _check_key(kind: str, key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"{kind} key must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"{kind} key {key[:40]!r}… is longer than {MAX_KEY_LENGTH} characters")
    return key


def _text(kind: str, key: str, value: Any, limit: int) -> str:
    item = getattr(value, "item", None)  # NumPy scalars print like Python scalars
    text = str(item() if callable(item) and getattr(value, "ndim", 1) == 0 else value)
    if len(text) > limit:
        raise ValueError(f"{kind} {key!r}: value is longer than {limit} characters")
    return text


def _number(name: str, value: Any) -> float:
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 1) == 0:
        value = item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"metric {name!r}: value must be a real number, got {value!r}")
    return float(value)


def _step(step: Any) -> int:
    item = getattr(step, "item", None)
    if callable(item) and getattr(step, "ndim", 1) == 0:
        step = item()
    if isinstance(step, bool) or not isinstance(step, int):
        raise TypeError(f"step must be an integer, got {step!r}")
    return step


def _chunks(items: Mapping[str, Any], size: int = MAX_KEYS_PER_EVENT) -> Iterable[dict[str, Any]]:
    pairs = list(items.items())
    for i in range(0, len(pairs), size):
        yield dict(pairs[i : i + size])


def _own_provider(
    endpoint: str | None,
    headers: Mapping[str, str] | None,
    timeout_s: float | None,
    service_name: str | None,
) -> Any:
    """A LoggerProvider for this run alone, exporting as the OTEL_* variables say (protocol,
    endpoint, headers, timeout, compression: sdk/export.py)."""
    from opentelemetry.sdk._logs import LoggerProvider, LogRecordLimits
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    insecure = None if endpoint is None else not endpoint.startswith("https://")
    logs = exporter(resolve("logs", endpoint), headers, timeout_s, insecure=insecure)
    provider = LoggerProvider(
        resource=Resource.create(_service_attributes(service_name)),
        shutdown_on_exit=False,  # the run flushes it at its end (or at exit), in that order
        log_record_limits=LogRecordLimits(max_attributes=1024),
    )
    provider.add_log_record_processor(
        BatchLogRecordProcessor(
            logs,  # type: ignore[arg-type]
            schedule_delay_millis=500,
            max_export_batch_size=EXPORT_BATCH,
            max_queue_size=QUEUE_SIZE,
        )
    )
    return provider


def _service_attributes(service_name: str | None) -> dict[str, str]:
    """`service.name` for the run's records: the argument, else what OTEL_SERVICE_NAME or
    OTEL_RESOURCE_ATTRIBUTES say (Resource.create reads them), else the script's name — not
    the SDK's `unknown_service:python`."""
    if service_name:
        return {"service.name": service_name}
    if os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    ):
        return {}
    script = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] not in ("", "-c", "-") else ""
    return {"service.name": script or "python"}


_SEVERITY: Final = (
    (logging.CRITICAL, SeverityNumber.FATAL),
    (logging.ERROR, SeverityNumber.ERROR),
    (logging.WARNING, SeverityNumber.WARN),
    (logging.INFO, SeverityNumber.INFO),
    (logging.DEBUG, SeverityNumber.DEBUG),
)


class RunLogHandler(logging.Handler):
    """Ships Python log records as OTLP log records tied to the run (`ml.run.id`).

    Added to the root logger, it must not change what the console shows: a record no other
    handler takes still reaches Python's last-resort stderr handler (as without us), and
    `logging.basicConfig()` called while the run is open still configures the console
    (it would see a root handler and do nothing; `_basic_config` steps us aside for it).
    """

    # The exporter's own complaints must not be shipped through the exporter.
    _SKIP: Final = ("opentelemetry", "driftline.sdk", "grpc", "urllib3")

    def __init__(self, run: Run, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._run = run

    def _console_fallback(self, record: logging.LogRecord) -> None:
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            if any(h is not self and not isinstance(h, RunLogHandler) for h in logger.handlers):
                return  # another handler shows it
            if not logger.propagate:
                break
            logger = logger.parent
        last = logging.lastResort
        if last is not None and record.levelno >= last.level:
            last.handle(record)

    def emit(self, record: logging.LogRecord) -> None:
        self._console_fallback(record)
        if record.name.startswith(self._SKIP):
            return
        try:
            severity = next(
                (s for lvl, s in _SEVERITY if record.levelno >= lvl), SeverityNumber.TRACE
            )
            attrs: dict[str, Any] = {
                semconv.ML_RUN_ID: self._run.id,
                "logger.name": record.name,
                "code.filepath": record.pathname,
                "code.lineno": record.lineno,
                "code.function": record.funcName,
            }
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                attrs["exception.type"] = type(exc).__qualname__
                attrs["exception.message"] = str(exc)
                attrs["exception.stacktrace"] = logging.Formatter().formatException(record.exc_info)
            self._run._logger.emit(
                timestamp=int(record.created * 1e9),
                severity_number=severity,
                severity_text=record.levelname,
                body=record.getMessage(),
                attributes=attrs,
            )
        except Exception as exc:
            swallowed("run log handler", exc)


class Run:
    """One experiment run. Made by `start_run`; a context manager that ends it."""

    def __init__(
        self,
        *,
        experiment: str,
        run_name: str,
        logger_provider: Any,
        owns_provider: bool,
        heartbeat_interval_s: float,
        run_id: str | None = None,
    ) -> None:
        self.id = run_id or uuid.uuid4().hex
        self.experiment = experiment
        self.name = run_name
        self.status = semconv.RUN_RUNNING
        self._provider = logger_provider
        self._owns_provider = owns_provider
        self._logger = logger_provider.get_logger(_LOGGER_NAME)
        self._heartbeat_s = heartbeat_interval_s
        self._params: dict[str, str] = {}
        self._lock = threading.RLock()  # the SIGTERM handler may interrupt a holder
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._log_handler: RunLogHandler | None = None
        self._previous_sigterm: Any = None
        self._sigterm_installed = False

    # ---- emission ----------------------------------------------------------------------------

    def _emit(self, event: str, attributes: Mapping[str, Any], ts_ns: int | None = None) -> None:
        try:
            self._logger.emit(
                timestamp=ts_ns or time.time_ns(),
                event_name=event,
                severity_number=SeverityNumber.INFO,
                attributes={
                    semconv.EVENT_NAME: event,
                    semconv.ML_RUN_ID: self.id,
                    **attributes,
                },
            )
        except Exception as exc:
            swallowed(f"run event {event}", exc)

    def _require_active(self) -> None:
        if self.status != semconv.RUN_RUNNING:
            raise RunEndedError(f"run {self.id} has ended ({self.status}); start a new run")

    # ---- params, tags ------------------------------------------------------------------------

    def _checked_params(self, params: Mapping[str, Any]) -> dict[str, str]:
        """The params not logged yet; raises RunParamError on a changed value."""
        new: dict[str, str] = {}
        for key, value in params.items():
            key = _check_key("param", key)
            text = _text("param", key, value, MAX_PARAM_VALUE_LENGTH)
            old = self._params.get(key, new.get(key))
            if old is not None and old != text:
                raise RunParamError(
                    f"Changing param values is not allowed. Param with key={key!r} was already "
                    f"logged with value={old!r} for run {self.id}. Attempted logging new value "
                    f"{text!r}."
                )
            if old is None:
                new[key] = text
        return new

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Params are immutable: the same value again is a no-op, a different one raises."""
        self._require_active()
        with self._lock:
            new = self._checked_params(params)
            self._params.update(new)
        for chunk in _chunks(new):
            self._emit(
                semconv.ML_RUN_PARAMS,
                {semconv.ML_RUN_PARAM_PREFIX + k: v for k, v in chunk.items()},
            )

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Tags are mutable: the latest value wins."""
        self._require_active()
        checked = {
            _check_key("tag", k): _text("tag", k, v, MAX_TAG_VALUE_LENGTH) for k, v in tags.items()
        }
        for chunk in _chunks(checked):
            self._emit(
                semconv.ML_RUN_TAGS, {semconv.ML_RUN_TAG_PREFIX + k: v for k, v in chunk.items()}
            )

    @property
    def params(self) -> dict[str, str]:
        return dict(self._params)

    # ---- metrics -----------------------------------------------------------------------------

    def log_metric(
        self, name: str, value: Any, step: int = 0, *, timestamp_ns: int | None = None
    ) -> None:
        self.log_metrics({name: value}, step=step, timestamp_ns=timestamp_ns)

    def log_metrics(
        self, metrics: Mapping[str, Any], step: int = 0, *, timestamp_ns: int | None = None
    ) -> None:
        """One event per step (per 100 keys): `ml.run.metric.<name>` doubles and `ml.run.step`.
        `step` defaults to 0 and the timestamp to now, as in MLflow."""
        self._require_active()
        checked = {_check_key("metric", k): _number(k, v) for k, v in metrics.items()}
        s = _step(step)
        ts = timestamp_ns or time.time_ns()
        for chunk in _chunks(checked):
            attrs: dict[str, Any] = {semconv.ML_RUN_STEP: s}
            attrs.update({semconv.ML_RUN_METRIC_PREFIX + k: v for k, v in chunk.items()})
            self._emit(semconv.ML_RUN_METRICS, attrs, ts)

    # ---- artifacts ---------------------------------------------------------------------------

    def log_artifact(self, path_or_uri: str | os.PathLike[str], *, name: str | None = None) -> str:
        """Record a reference to an artifact; returns its URI. A local file gets `file://` URI,
        size and sha256 (read here, in 1 MiB chunks); a remote URI is recorded as given."""
        self._require_active()
        text = os.fspath(path_or_uri)
        scheme = urlparse(text).scheme
        size, digest = -1, ""
        if len(scheme) > 1 and scheme != "file":  # s3://, gs://, https://… (not C:\…)
            uri = text
            base = text.rstrip("/").rsplit("/", 1)[-1]
        else:
            local = Path(urlparse(text).path if scheme == "file" else text).resolve()
            if not local.is_file():
                raise FileNotFoundError(f"artifact {text!r} is not a file")
            uri = local.as_uri()
            base = local.name
            sha = hashlib.sha256()
            with open(local, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    sha.update(block)
            size, digest = local.stat().st_size, sha.hexdigest()
        self._emit(
            semconv.ML_RUN_ARTIFACT,
            {
                semconv.ML_RUN_ARTIFACT_URI: uri,
                semconv.ML_RUN_ARTIFACT_PATH: name or base,
                semconv.ML_RUN_ARTIFACT_SIZE: size,
                semconv.ML_RUN_ARTIFACT_SHA256: digest,
            },
        )
        return uri

    # ---- lifecycle ---------------------------------------------------------------------------

    def _start(
        self,
        params: Mapping[str, Any],
        tags: Mapping[str, Any],
        data_version: str | None,
        seeds: Mapping[str, int],
        artifact_uri: str | None,
        system_metrics_interval_s: float | None,
        capture_logs: bool,
        handle_sigterm: bool,
    ) -> None:
        checked_params = self._checked_params(params)
        checked_tags = {
            _check_key("tag", k): _text("tag", k, v, MAX_TAG_VALUE_LENGTH) for k, v in tags.items()
        }
        attrs: dict[str, Any] = {
            semconv.ML_RUN_EXPERIMENT: self.experiment,
            semconv.ML_RUN_NAME: self.name,
            semconv.ML_RUN_STATUS: semconv.RUN_RUNNING,
            semconv.ML_RUN_HEARTBEAT_INTERVAL: self._heartbeat_s,
        }
        with contextlib.suppress(Exception):
            attrs[semconv.ML_RUN_USER] = getpass.getuser()
        if data_version is not None:
            attrs[semconv.ML_RUN_DATA_VERSION] = str(data_version)
        if artifact_uri is not None:
            attrs[semconv.ML_RUN_ARTIFACT_ROOT] = str(artifact_uri)
        for name, seed in seeds.items():
            attrs[semconv.ML_RUN_SEED_PREFIX + _check_key("seed", name)] = _step(seed)
        try:
            attrs.update(code_version())
            attrs.update(environment())
        except Exception as exc:
            swallowed("run environment", exc)
        self._emit(semconv.ML_RUN_START, attrs)
        self._params.update(checked_params)
        for chunk in _chunks(checked_params):
            self._emit(
                semconv.ML_RUN_PARAMS,
                {semconv.ML_RUN_PARAM_PREFIX + k: v for k, v in chunk.items()},
            )
        for chunk in _chunks(checked_tags):
            self._emit(
                semconv.ML_RUN_TAGS, {semconv.ML_RUN_TAG_PREFIX + k: v for k, v in chunk.items()}
            )
        self._spawn("heartbeat", self._heartbeats)
        if system_metrics_interval_s:
            interval = system_metrics_interval_s
            self._spawn("system-metrics", lambda: self._system_metrics(interval))
        if capture_logs:
            self._log_handler = RunLogHandler(self)
            logging.getLogger().addHandler(self._log_handler)
            _patch_basic_config()
        if handle_sigterm:
            self._install_sigterm()
        _active.add(self)

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=f"driftline-run-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _heartbeats(self) -> None:
        while not self._stop.wait(self._heartbeat_s):
            self._emit(semconv.ML_RUN_HEARTBEAT, {})

    def _system_metrics(self, interval_s: float) -> None:
        sampler = SystemSampler()
        step = 0
        while not self._stop.wait(interval_s):
            try:
                sample = sampler.sample()
            except Exception as exc:
                swallowed("system metrics", exc)
                continue
            if sample:
                attrs: dict[str, Any] = {semconv.ML_RUN_STEP: step}
                attrs.update({semconv.ML_RUN_METRIC_PREFIX + k: v for k, v in sample.items()})
                self._emit(semconv.ML_RUN_METRICS, attrs)
                step += 1

    def _install_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        try:
            self._previous_sigterm = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)
            self._sigterm_installed = True
        except (ValueError, OSError) as exc:
            swallowed("SIGTERM handler", exc)

    def _restore_sigterm(self) -> None:
        if not self._sigterm_installed:
            return
        self._sigterm_installed = False
        try:
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, self._previous_sigterm or signal.SIG_DFL)
        except (ValueError, OSError, TypeError) as exc:
            swallowed("SIGTERM handler", exc)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous_sigterm
        self.end(semconv.RUN_KILLED, error=("Signal", "SIGTERM"))
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # the default action: die by the signal, so the parent sees -SIGTERM
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    def end(
        self, status: str = semconv.RUN_FINISHED, *, error: tuple[str, str] | None = None
    ) -> None:
        """End the run with a terminal status (FINISHED, FAILED, KILLED) and flush. Idempotent."""
        if status not in semconv.RUN_TERMINAL_STATUSES:
            raise ValueError(f"status must be one of {semconv.RUN_TERMINAL_STATUSES}")
        with self._lock:
            if self.status != semconv.RUN_RUNNING:
                return
            self.status = status
        _active.discard(self)
        self._stop.set()
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
        self._restore_sigterm()
        attrs: dict[str, Any] = {semconv.ML_RUN_STATUS: status}
        if error is not None:
            attrs[semconv.ML_RUN_ERROR_TYPE], attrs[semconv.ML_RUN_ERROR_MESSAGE] = error
        self._emit(semconv.ML_RUN_END, attrs)
        if self._owns_provider:  # flush and stop, waiting at most the shutdown bound
            shutdown_bounded([self._provider.shutdown], SHUTDOWN_TIMEOUT_S)
        else:
            self.flush()

    def flush(self, timeout_ms: int = FLUSH_TIMEOUT_MS) -> None:
        """Export everything logged so far (blocks up to `timeout_ms`)."""
        try:
            flush = getattr(self._provider, "force_flush", None)
            if callable(flush):
                flush(timeout_ms)
        except Exception as exc:
            swallowed("run flush", exc)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or (isinstance(exc, SystemExit) and exc.code in (None, 0)):
            self.end(semconv.RUN_FINISHED)
        elif isinstance(exc, KeyboardInterrupt):
            self.end(semconv.RUN_KILLED, error=("KeyboardInterrupt", ""))
        else:
            self.end(semconv.RUN_FAILED, error=(type(exc).__qualname__, str(exc)[:2000]))


# ---- logging.basicConfig while a run captures logs ------------------------------------------

_original_basic_config = logging.basicConfig


def _basic_config(**kwargs: Any) -> None:
    """logging.basicConfig that configures the console although run handlers sit on root."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, RunLogHandler)]
    for handler in ours:
        root.removeHandler(handler)
    try:
        _original_basic_config(**kwargs)
    finally:
        for handler in ours:
            root.addHandler(handler)


def _patch_basic_config() -> None:
    if logging.basicConfig is _original_basic_config:
        logging.basicConfig = _basic_config


# ---- open runs at exit ---------------------------------------------------------------------------

_active: set[Run] = set()
_uncaught: list[BaseException] = []
_previous_excepthook = sys.excepthook


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    _uncaught.append(exc)
    _previous_excepthook(exc_type, exc, tb)


def _end_open_runs() -> None:
    for run in list(_active):
        if _uncaught:
            exc = _uncaught[-1]
            run.end(semconv.RUN_FAILED, error=(type(exc).__qualname__, str(exc)[:2000]))
        else:
            run.end(semconv.RUN_FINISHED)


sys.excepthook = _excepthook
atexit.register(_end_open_runs)


def start_run(
    *,
    experiment: str = "Default",
    run_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    data_version: str | None = None,
    seeds: Mapping[str, int] | None = None,
    artifact_uri: str | None = None,
    run_id: str | None = None,
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_S,
    system_metrics_interval_s: float | None = None,
    capture_logs: bool = True,
    handle_sigterm: bool = True,
    logger_provider: _logs.LoggerProvider | None = None,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    export_timeout_s: float | None = None,
    service_name: str | None = None,
) -> Run:
    """Start a run and send its start event; use the result as a context manager.

    `artifact_uri` is where the run keeps its artifacts (MLflow's run attribute, filterable
    as `attributes.artifact_uri`). `system_metrics_interval_s` (e.g. 10) samples CPU, memory
    and GPUs as `system/*` metrics. `capture_logs` ships Python logging records to the run
    while it is open; `handle_sigterm` marks the run KILLED on SIGTERM. Without
    `logger_provider` the run exports with its own (OTLP gRPC to `endpoint`, else
    $OTEL_EXPORTER_OTLP_(LOGS_)ENDPOINT, with OTEL_EXPORTER_OTLP_(LOGS_)PROTOCOL, headers,
    timeout — `export_timeout_s` overrides it — and compression); its records carry
    `service.name` = `service_name`, else OTEL_SERVICE_NAME, else the script's name. The run's
    end waits at most a few seconds for the export (then goes on; with the collector down, one
    warning). Python logging keeps working as configured: `capture_logs` adds a handler to
    the root logger without taking the place of the console (see RunLogHandler)."""
    if not isinstance(experiment, str) or not experiment:
        raise ValueError("experiment must be a non-empty string")
    if not (heartbeat_interval_s > 0 and math.isfinite(heartbeat_interval_s)):
        raise ValueError("heartbeat_interval_s must be > 0")
    owns = logger_provider is None
    try:
        provider: Any = logger_provider or _own_provider(
            endpoint, headers, export_timeout_s, service_name
        )
    except Exception as exc:  # no exporter available: the run still works, sending nothing
        swallowed("run provider", exc)
        provider, owns = _logs.NoOpLoggerProvider(), False
    run = Run(
        experiment=experiment,
        run_name=run_name or f"run-{time.strftime('%Y%m%d-%H%M%S')}",
        logger_provider=provider,
        owns_provider=owns,
        heartbeat_interval_s=heartbeat_interval_s,
        run_id=run_id,
    )
    run._start(
        params or {}, tags or {}, data_version, seeds or {}, artifact_uri,
        system_metrics_interval_s, capture_logs, handle_sigterm,
    )  # fmt: skip
    return run
