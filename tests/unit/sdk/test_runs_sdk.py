"""driftline.sdk.start_run in-process, with the OTel SDK's in-memory exporter: what each call
emits (ml.run.* events), misuse raises clearly (MLflow's immutable params, non-numeric
metrics, logging on an ended run), the caller's exceptions pass untouched, SIGTERM chains to
the previous handler, and a collector that is down never raises into the training loop."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from driftline import semconv
from driftline.sdk import Run, RunEndedError, RunParamError, sdk_errors, start_run


@pytest.fixture
def exported() -> Iterator[tuple[LoggerProvider, InMemoryLogRecordExporter]]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _events(exporter: InMemoryLogRecordExporter, name: str) -> list[dict[str, Any]]:
    out = []
    for data in exporter.get_finished_logs():
        record = data.log_record
        if record.event_name == name:
            out.append(dict(record.attributes or {}))
    return out


def _run(provider: LoggerProvider, **kw: Any) -> Run:
    kw.setdefault("handle_sigterm", False)
    kw.setdefault("capture_logs", False)
    return start_run(experiment="unit", logger_provider=provider, **kw)


def test_start_params_tags_metrics_end(exported: tuple[LoggerProvider, Any]) -> None:
    provider, exporter = exported
    with _run(provider, run_name="r", params={"lr": 0.01}, tags={"t": 1}, seeds={"np": 3},
              data_version="d1", artifact_uri="s3://b/runs/r") as run:  # fmt: skip
        run.log_metrics({f"k{i}": float(i) for i in range(250)}, step=np.int64(4))
        run.log_metric("acc", np.float64(0.5))
    (start,) = _events(exporter, semconv.ML_RUN_START)
    assert start[semconv.ML_RUN_ID] == run.id and len(run.id) == 32
    assert start[semconv.ML_RUN_EXPERIMENT] == "unit" and start[semconv.ML_RUN_NAME] == "r"
    assert start["ml.run.seed.np"] == 3 and start[semconv.ML_RUN_DATA_VERSION] == "d1"
    assert start["ml.run.env.cpu_count"] == os.cpu_count()
    assert start[semconv.ML_RUN_ARTIFACT_ROOT] == "s3://b/runs/r"
    (params,) = _events(exporter, semconv.ML_RUN_PARAMS)
    assert params["ml.run.param.lr"] == "0.01"
    assert _events(exporter, semconv.ML_RUN_TAGS)[0]["ml.run.tag.t"] == "1"
    metrics = _events(exporter, semconv.ML_RUN_METRICS)
    assert len(metrics) == 4  # 250 keys in events of ≤ 100, then acc
    assert [m[semconv.ML_RUN_STEP] for m in metrics] == [4, 4, 4, 0]
    keys = {k for m in metrics[:3] for k in m if k.startswith(semconv.ML_RUN_METRIC_PREFIX)}
    assert len(keys) == 250
    (end,) = _events(exporter, semconv.ML_RUN_END)
    assert end[semconv.ML_RUN_STATUS] == "FINISHED" and run.status == "FINISHED"


def test_params_are_immutable(exported: tuple[LoggerProvider, Any]) -> None:
    provider, exporter = exported
    with _run(provider, params={"lr": "0.01"}) as run:
        run.log_param("lr", "0.01")  # the same value: a no-op
        with pytest.raises(RunParamError, match=r"key='lr' was already logged with value='0.01'"):
            run.log_param("lr", 0.02)
        with pytest.raises(RunParamError):
            run.log_params({"a": 1, "lr": "0.1"})
        assert run.params == {"lr": "0.01"}  # the refused batch logged nothing
    assert [e for e in _events(exporter, semconv.ML_RUN_PARAMS) if "ml.run.param.a" in e] == []


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda r: r.log_metric("m", "0.5"), TypeError, "must be a real number"),
        (lambda r: r.log_metric("m", True), TypeError, "must be a real number"),
        (lambda r: r.log_metric("m", 1.0, step=1.5), TypeError, "step must be an integer"),
        (lambda r: r.log_metric("", 1.0), ValueError, "non-empty string"),
        (lambda r: r.log_metric("x" * 251, 1.0), ValueError, "longer than 250"),
        (lambda r: r.log_param("p", "v" * 6001), ValueError, "longer than 6000"),
        (lambda r: r.set_tag("t", "v" * 8001), ValueError, "longer than 8000"),
        (lambda r: r.log_artifact("/nonexistent/model.pt"), FileNotFoundError, "not a file"),
        (lambda r: r.end("DONE"), ValueError, "status must be one of"),
    ],
)
def test_misuse_raises(
    exported: tuple[LoggerProvider, Any], call: Any, error: type[Exception], message: str
) -> None:
    with _run(exported[0]) as run, pytest.raises(error, match=message):
        call(run)


def test_logging_on_an_ended_run_raises(exported: tuple[LoggerProvider, Any]) -> None:
    run = _run(exported[0])
    run.end()
    run.end()  # idempotent
    with pytest.raises(RunEndedError, match="has ended"):
        run.log_metric("m", 1.0)


def test_exception_marks_failed_and_propagates_untouched(
    exported: tuple[LoggerProvider, Any],
) -> None:
    provider, exporter = exported
    boom = KeyError("fold 3")
    with pytest.raises(KeyError) as info, _run(provider):
        raise boom
    assert info.value is boom
    (end,) = _events(exporter, semconv.ML_RUN_END)
    assert end[semconv.ML_RUN_STATUS] == "FAILED"
    assert (
        end[semconv.ML_RUN_ERROR_TYPE] == "KeyError"
        and "fold 3" in end[semconv.ML_RUN_ERROR_MESSAGE]
    )


def test_keyboard_interrupt_marks_killed(exported: tuple[LoggerProvider, Any]) -> None:
    provider, exporter = exported
    with pytest.raises(KeyboardInterrupt), _run(provider):
        raise KeyboardInterrupt
    assert _events(exporter, semconv.ML_RUN_END)[0][semconv.ML_RUN_STATUS] == "KILLED"


def test_artifacts_are_references(exported: tuple[LoggerProvider, Any], tmp_path: Path) -> None:
    provider, exporter = exported
    local = tmp_path / "weights.bin"
    local.write_bytes(b"\x00\x01" * 5000)
    with _run(provider) as run:
        assert run.log_artifact(local) == local.resolve().as_uri()
        assert run.log_artifact("s3://bucket/models/m.pt") == "s3://bucket/models/m.pt"
    first, remote = _events(exporter, semconv.ML_RUN_ARTIFACT)
    import hashlib

    assert first[semconv.ML_RUN_ARTIFACT_SIZE] == 10000
    assert first[semconv.ML_RUN_ARTIFACT_SHA256] == hashlib.sha256(local.read_bytes()).hexdigest()
    assert (
        remote[semconv.ML_RUN_ARTIFACT_SIZE] == -1 and remote[semconv.ML_RUN_ARTIFACT_SHA256] == ""
    )
    assert remote[semconv.ML_RUN_ARTIFACT_PATH] == "m.pt"


def test_heartbeats_and_logs_while_open(exported: tuple[LoggerProvider, Any]) -> None:
    provider, exporter = exported
    logger = logging.getLogger("unit.trainer")
    logger.setLevel(logging.INFO)
    with _run(provider, heartbeat_interval_s=0.05, capture_logs=True) as run:
        logger.info("epoch %d", 1)
        time.sleep(0.4)
    logger.info("after the run")
    assert len(_events(exporter, semconv.ML_RUN_HEARTBEAT)) >= 3
    logs = [d.log_record for d in exporter.get_finished_logs() if d.log_record.event_name is None]
    assert [str(r.body) for r in logs] == ["epoch 1"]
    assert (logs[0].attributes or {})[semconv.ML_RUN_ID] == run.id


def test_sigterm_marks_killed_and_chains_to_the_previous_handler(
    exported: tuple[LoggerProvider, Any],
) -> None:
    provider, exporter = exported
    seen: list[int] = []

    def handler(signum: int, frame: object) -> None:
        seen.append(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        run = _run(provider, handle_sigterm=True)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs in the main thread at the next bytecode
        assert run.status == "KILLED" and seen == [signal.SIGTERM]
        assert _events(exporter, semconv.ML_RUN_END)[0][semconv.ML_RUN_STATUS] == "KILLED"
        assert signal.getsignal(signal.SIGTERM) is handler  # restored
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_collector_down_never_raises() -> None:
    errors = sdk_errors()
    started = time.monotonic()
    with start_run(
        experiment="down", endpoint="http://127.0.0.1:1", handle_sigterm=False,
        export_timeout_s=1.0,
    ) as run:  # fmt: skip
        for step in range(2000):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    assert run.status == "FINISHED"
    assert time.monotonic() - started < 10  # the end waits for about export_timeout_s
    assert sdk_errors() == errors  # dropped by the exporter, not an SDK failure


def test_gpu_samples_parse_nvidia_smi() -> None:
    from driftline.sdk.run_env import parse_nvidia_smi

    got = parse_nvidia_smi("0, 87, 1024, 16384\n1, [N/A], 0, 0\n")
    assert got["system/gpu_0_utilization_percentage"] == 87.0
    assert got["system/gpu_0_memory_usage_percentage"] == 100 * 1024 / 16384
    assert got["system/gpu_0_memory_usage_megabytes"] == pytest.approx(1024 * 1.048576)
    assert not any(k.startswith("system/gpu_1") for k in got)
