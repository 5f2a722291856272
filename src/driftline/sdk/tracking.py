"""`track_inference`: one span per model call, carrying driftline's conventions (DESIGN §4).

    @track_inference(model="fraud", version="3")
    def predict(features): ...                      # features = the first argument if a mapping

    with track_inference(model="fraud") as inf:      # or explicitly
        inf.features({"age": 41, "country": "DE"})
        y = model(x)
        inf.prediction(y, score=0.93)
    record_label(inf.id, 1, model="fraud")           # later, when the truth is known

Rules that shape the code:
- The caller's exceptions propagate untouched (the span records them as errors); failures inside
  the SDK never do — they are logged once per kind and counted in `sdk_errors()`.
- Latency is always measured; only feature capture is sampled (`sample_rate`) and bounded
  (`max_features`, `max_value_length`), so sampling never skews latency percentiles.
- The caller's thread does little: with `deferred=True` (the default) it records the start and
  end times and one attribute dict, and a background thread creates the OpenTelemetry span
  with those times (an OTel SDK span alone costs ~15 µs here, the whole budget). The span keeps
  the caller's parent context, but spans the model code itself starts are not its children;
  pass `deferred=False` when that nesting matters. Call `flush()` (or `Configured.shutdown()`)
  before shutting a provider down.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, TypeVar, cast

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode

from driftline import semconv

log = logging.getLogger("driftline.sdk")

F = TypeVar("F", bound=Callable[..., Any])
_TRACER_NAME: Final = "driftline.sdk"
_SCALARS: Final = (bool, int, float, str)

_errors = 0
_errors_lock = threading.Lock()
_logged: set[str] = set()
_current: contextvars.ContextVar[Inference | None] = contextvars.ContextVar(
    "driftline_inference", default=None
)


def current_inference() -> Inference | None:
    """The inference being tracked in this context (inside a decorated function, say), so the
    function can read `.id` or add features and the prediction's score itself."""
    return _current.get()


def sdk_errors() -> int:
    """How many times the SDK swallowed an internal failure (for tests and health checks)."""
    return _errors


def swallowed(where: str, exc: BaseException) -> None:
    global _errors
    with _errors_lock:
        _errors += 1
        first = where not in _logged
        _logged.add(where)
    if first:  # once per kind: a broken exporter must not flood the application's log
        log.warning(
            "driftline sdk: %s failed: %r (further failures counted, not logged)", where, exc
        )


def _bounded(value: Any, max_len: int) -> Any:
    if isinstance(value, str):
        return value[:max_len]
    if isinstance(value, _SCALARS):
        return value
    item = getattr(value, "item", None)  # NumPy scalars → Python scalars
    if callable(item):
        return _bounded(item(), max_len)
    return str(value)[:max_len]


def _is_scalar(value: Any) -> bool:
    return isinstance(value, _SCALARS) or (
        callable(getattr(value, "item", None)) and getattr(value, "ndim", 1) == 0
    )


class _Recorder:
    """Deferred spans of one tracer: callers append a tuple (about a microsecond); a daemon
    thread turns them into real spans with the recorded start and end times. Bounded: when
    full, the oldest pending span is dropped and counted (`sdk_dropped()`)."""

    MAX_PENDING: Final = 65_536
    INTERVAL_S: Final = 0.02

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._pending: deque[_Pending] = deque(maxlen=self.MAX_PENDING)
        self._lock = threading.Lock()  # one drainer at a time (the thread, or flush())
        self._thread: threading.Thread | None = None
        _recorders.add(self)

    def put(self, item: _Pending) -> None:
        global _dropped
        if len(self._pending) == self.MAX_PENDING:
            _dropped += 1
        self._pending.append(item)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="driftline-sdk", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.INTERVAL_S)
            self.drain()

    def drain(self) -> None:
        with self._lock:
            pending = self._pending
            while pending:
                name, parent, start_ns, end_ns, attrs, exc = pending.popleft()
                try:
                    span = self._tracer.start_span(
                        name, context=parent, attributes=attrs, start_time=start_ns
                    )
                    if exc is not None:
                        span.record_exception(exc)
                        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                    span.end(end_time=end_ns)
                except Exception as err:
                    swallowed("deferred span", err)


_Pending = tuple[str, Context, int, int, dict[str, Any], BaseException | None]
_recorders: weakref.WeakSet[_Recorder] = weakref.WeakSet()
_dropped = 0


def sdk_dropped() -> int:
    """Deferred spans dropped because the SDK's queue was full (the exporter fell behind)."""
    return _dropped


def flush() -> None:
    """Create every deferred span now (call before shutting a TracerProvider down;
    `Configured.shutdown()` does)."""
    for recorder in list(_recorders):
        recorder.drain()


class _PendingSpan:
    """What a deferred Inference writes into: attributes now, the span later."""

    __slots__ = ("attrs", "name", "parent", "recorder", "start_ns")

    def __init__(self, recorder: _Recorder, name: str, attrs: dict[str, Any]) -> None:
        self.recorder = recorder
        self.name = name
        self.attrs = attrs
        self.parent = context_api.get_current()
        self.start_ns = time.time_ns()

    def set_attributes(self, attrs: Mapping[str, Any]) -> None:
        self.attrs.update(attrs)

    def set_attribute(self, key: str, value: Any) -> None:
        self.attrs[key] = value

    def finish(self, exc: BaseException | None) -> None:
        end_ns = time.time_ns()
        self.recorder.put((self.name, self.parent, self.start_ns, end_ns, self.attrs, exc))


class Inference:
    """One tracked call. `id` is the inference id to pass to `record_label` later."""

    __slots__ = (
        "_capture", "_max_features", "_max_len", "_model", "_otel_token", "_recorder", "_span",
        "_token",
        "_tracer", "_version", "id",
    )  # fmt: skip

    def __init__(
        self,
        tracer: trace.Tracer,
        model: str,
        version: str | None,
        inference_id: str | None,
        capture: bool,
        max_features: int,
        max_len: int,
        recorder: _Recorder | None = None,
    ) -> None:
        self._tracer = tracer
        self._recorder = recorder
        self._model = model
        self._version = version
        self._capture = capture
        self._max_features = max_features
        self._max_len = max_len
        self._span: Span | _PendingSpan | None = None
        self._token: contextvars.Token[Inference | None] | None = None
        self._otel_token: object | None = None
        # getrandbits, not uuid4: uuid4 reads os.urandom, ~10 µs a call on some VMs.
        self.id = inference_id or f"{random.getrandbits(128):032x}"

    # ---- what the caller records -------------------------------------------------------------

    def features(
        self, values: Mapping[str, Any] | Sequence[Any], names: Sequence[str] | None = None
    ) -> None:
        """A mapping, or a sequence (list, tuple, NumPy row) with `names`."""
        if not self._capture or self._span is None:
            return
        try:
            attrs: dict[str, Any] = {}
            self._feature_attributes(values, names, attrs)
            self._span.set_attributes(attrs)
        except Exception as exc:
            swallowed("features", exc)

    def _feature_attributes(
        self,
        values: Mapping[str, Any] | Sequence[Any],
        names: Sequence[str] | None,
        attrs: dict[str, Any],
    ) -> None:
        pairs: Iterable[tuple[str, Any]]
        if isinstance(values, Mapping):
            pairs = values.items()
        else:
            if names is None:
                raise ValueError("a feature sequence needs names=")
            pairs = zip(names, values, strict=False)
        prefix, max_len = semconv.ML_FEATURE_PREFIX, self._max_len
        for i, (name, value) in enumerate(pairs):
            if i >= self._max_features:
                break
            if value is not None:
                attrs[prefix + str(name)] = _bounded(value, max_len)

    def prediction(self, value: Any, score: float | None = None) -> None:
        if self._span is None:
            return
        try:
            attrs: dict[str, Any] = {semconv.ML_PREDICTION: _bounded(value, self._max_len)}
            if score is not None:
                attrs[semconv.ML_PREDICTION_SCORE] = float(score)
            self._span.set_attributes(attrs)
        except Exception as exc:
            swallowed("prediction", exc)

    def set_attribute(self, key: str, value: Any) -> None:
        if self._span is not None:
            try:
                self._span.set_attribute(key, _bounded(value, self._max_len))
            except Exception as exc:
                swallowed("set_attribute", exc)

    # ---- span lifecycle ------------------------------------------------------------------------

    def _start(self, features: Mapping[str, Any] | None = None) -> None:
        try:
            attrs: dict[str, Any] = {
                semconv.ML_MODEL_NAME: self._model,
                semconv.ML_INFERENCE_ID: self.id,
            }
            if self._version:
                attrs[semconv.ML_MODEL_VERSION] = self._version
            if features is not None and self._capture:
                try:  # one attribute write with the span's start, not a second one
                    self._feature_attributes(features, None, attrs)
                except Exception as exc:
                    swallowed("features", exc)
            name = f"predict {self._model}"
            if self._recorder is not None:
                self._span = _PendingSpan(self._recorder, name, attrs)
            else:
                span = self._span = self._tracer.start_span(name, attributes=attrs)
                # Current while the model runs, so spans started inside become its children.
                self._otel_token = context_api.attach(trace.set_span_in_context(span))
        except Exception as exc:
            swallowed("start", exc)
        self._token = _current.set(self)

    def _end(self, exc: BaseException | None) -> None:
        if self._token is not None:
            # ValueError: ended in another context (e.g. a different task); nothing to undo.
            with contextlib.suppress(ValueError):
                _current.reset(self._token)
            self._token = None
        span = self._span
        if span is None:
            return
        if isinstance(span, _PendingSpan):
            span.finish(exc)
            return
        if self._otel_token is not None:
            with contextlib.suppress(Exception):  # detached elsewhere: nothing left to undo
                context_api.detach(self._otel_token)  # type: ignore[arg-type]
            self._otel_token = None
        try:
            if exc is not None:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.end()
        except Exception as err:
            swallowed("end", err)


class track_inference:
    """Decorator (sync or async) and context manager. See the module docstring."""

    def __init__(
        self,
        model: str,
        version: str | None = None,
        *,
        inference_id: str | None = None,
        sample_rate: float = 1.0,
        max_features: int = 64,
        max_value_length: int = 256,
        features_from: str | int | None = 0,
        tracer_provider: trace.TracerProvider | None = None,
        deferred: bool = True,
    ) -> None:
        self.model = model
        self.version = version
        self.inference_id = inference_id
        self.sample_rate = sample_rate
        self.max_features = max_features
        self.max_value_length = max_value_length
        self.features_from = features_from
        self._provider = tracer_provider
        self.deferred = deferred
        self._cached: tuple[trace.TracerProvider, trace.Tracer, _Recorder] | None = None
        self._entered: contextvars.ContextVar[list[Inference]] = contextvars.ContextVar(
            f"driftline_track_{id(self)}"
        )

    def _tracer(self) -> tuple[trace.Tracer, _Recorder]:
        # get_tracer costs more than the span itself (it even goes through warnings): cache it
        # per provider, and notice when the global provider is replaced.
        provider = self._provider or trace.get_tracer_provider()
        cached = self._cached
        if cached is None or cached[0] is not provider:
            tracer = provider.get_tracer(_TRACER_NAME)
            cached = self._cached = (provider, tracer, _recorder_for(tracer))
        return cached[1], cached[2]

    def _new(self, inference_id: str | None = None) -> Inference:
        capture = self.sample_rate >= 1.0 or random.random() < self.sample_rate
        tracer, recorder = self._tracer()
        return Inference(
            tracer,
            self.model,
            self.version,
            inference_id or self.inference_id,
            capture,
            self.max_features,
            self.max_value_length,
            recorder if self.deferred else None,
        )

    # context manager ------------------------------------------------------------------------

    def __enter__(self) -> Inference:
        inference = self._new()
        inference._start()
        stack = self._entered.get(None)
        if stack is None:
            stack = []
            self._entered.set(stack)
        stack.append(inference)
        return inference

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._entered.get().pop()._end(exc)

    # decorator --------------------------------------------------------------------------------

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                inference = self._begin(args, kwargs)
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    inference._end(exc)
                    raise
                if _is_scalar(result):
                    inference.prediction(result)
                inference._end(None)
                return result

            return cast(F, run_async)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            inference = self._begin(args, kwargs)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                inference._end(exc)
                raise
            if _is_scalar(result):
                inference.prediction(result)
            inference._end(None)
            return result

        return cast(F, run)

    def _begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Inference:
        inference = self._new()
        source = self.features_from
        value = (
            kwargs.get(source)
            if isinstance(source, str)
            else (args[source] if source is not None and len(args) > source else None)
        )
        inference._start(value if isinstance(value, Mapping) else None)
        return inference


_by_tracer: weakref.WeakKeyDictionary[trace.Tracer, _Recorder] = weakref.WeakKeyDictionary()


def _recorder_for(tracer: trace.Tracer) -> _Recorder:
    recorder = _by_tracer.get(tracer)
    if recorder is None:
        recorder = _by_tracer[tracer] = _Recorder(tracer)
    return recorder
