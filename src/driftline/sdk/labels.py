"""`record_label`: ground truth for an earlier inference, as an `ml.label` log event (DESIGN §4)."""

from __future__ import annotations

from typing import Any

from opentelemetry import _logs

from driftline import semconv
from driftline.sdk.tracking import swallowed

_LOGGER_NAME = "driftline.sdk"


def record_label(
    inference_id: str,
    label: Any,
    *,
    model: str,
    logger_provider: _logs.LoggerProvider | None = None,
) -> None:
    """Send the label; never raises (failures are counted in `sdk_errors()`)."""
    try:
        provider = logger_provider or _logs.get_logger_provider()
        value = label.item() if callable(getattr(label, "item", None)) else label
        if not isinstance(value, bool | int | float | str):
            value = str(value)
        provider.get_logger(_LOGGER_NAME).emit(
            event_name=semconv.ML_LABEL_EVENT_NAME,
            attributes={
                semconv.EVENT_NAME: semconv.ML_LABEL_EVENT_NAME,
                semconv.ML_INFERENCE_ID: inference_id,
                semconv.ML_MODEL_NAME: model,
                semconv.ML_LABEL: value,
            },
        )
    except Exception as exc:
        swallowed("record_label", exc)
