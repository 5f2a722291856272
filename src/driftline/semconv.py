"""Attribute names shared by the collector and the SDK (DESIGN §4). Stdlib only.

OpenTelemetry has no `ml.*` namespace; these are ours, with fallbacks to the GenAI semantic
conventions (`gen_ai.*`) and OpenInference (`llm.*`) that serving stacks already emit.
"""

from typing import Final

ML_MODEL_NAME: Final = "ml.model.name"
ML_MODEL_VERSION: Final = "ml.model.version"
ML_INFERENCE_ID: Final = "ml.inference.id"
ML_FEATURE_PREFIX: Final = "ml.feature."
ML_PREDICTION: Final = "ml.prediction"
ML_PREDICTION_SCORE: Final = "ml.prediction.score"
ML_LABEL: Final = "ml.label"
ML_LABEL_EVENT_NAME: Final = "ml.label"
EVENT_NAME: Final = "event.name"

# Fallbacks, in order of preference.
MODEL_NAME_KEYS: Final = (ML_MODEL_NAME, "gen_ai.request.model", "llm.model_name")
MODEL_VERSION_KEYS: Final = (ML_MODEL_VERSION, "service.version")
# Where a span's identity is read, in order: the span's keys first, then its resource's
# (docs/conventions.md). Storage (ingest_ml_sql) and enrichment (processors) both follow these.
MODEL_NAME_SPAN_KEYS: Final = MODEL_NAME_KEYS
MODEL_NAME_RESOURCE_KEYS: Final = (ML_MODEL_NAME,)
MODEL_VERSION_SPAN_KEYS: Final = (ML_MODEL_VERSION,)
MODEL_VERSION_RESOURCE_KEYS: Final = MODEL_VERSION_KEYS
INPUT_TOKEN_KEYS: Final = ("gen_ai.usage.input_tokens", "llm.token_count.prompt")
OUTPUT_TOKEN_KEYS: Final = ("gen_ai.usage.output_tokens", "llm.token_count.completion")

SERVICE_NAME: Final = "service.name"

# Added by driftline's enrichment (driftline.processors.enrichment), never expected from clients.
DRIFTLINE_SLO_BREACHED: Final = "driftline.slo.breached"  # bool: slower than the model's SLO
DRIFTLINE_DRIFT_DETECTED: Final = "driftline.drift.detected"  # bool: latest drift verdict
DRIFTLINE_DRIFT_SHARE: Final = "driftline.drift.share"  # double: share of drifted features
