"""driftline's serving SDK: a few lines in the serving code, OpenTelemetry underneath.

    from driftline import sdk
    sdk.configure(service_name="fraud-api")           # OTLP to $OTEL_EXPORTER_OTLP_ENDPOINT

    @sdk.track_inference(model="fraud", version="3")
    def predict(features: dict) -> float: ...

    sdk.record_label(inference_id, 1, model="fraud")   # when the truth arrives

    with sdk.start_run(experiment="fraud", params={"lr": 0.01}) as run:   # training side
        run.log_metric("loss", 0.3, step=1)

Imports only OpenTelemetry packages and `driftline.semconv` (install with `pip install
driftline[sdk]`); nothing here starts a collector.
"""

from driftline.sdk.labels import record_label
from driftline.sdk.runs import Run, RunEndedError, RunLogHandler, RunParamError, start_run
from driftline.sdk.setup import Configured, configure
from driftline.sdk.tracking import (
    Inference,
    current_inference,
    flush,
    sdk_dropped,
    sdk_errors,
    track_inference,
)

__all__ = [
    "Configured",
    "Inference",
    "Run",
    "RunEndedError",
    "RunLogHandler",
    "RunParamError",
    "configure",
    "current_inference",
    "flush",
    "record_label",
    "sdk_dropped",
    "sdk_errors",
    "start_run",
    "track_inference",
]
