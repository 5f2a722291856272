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
INPUT_TOKEN_KEYS: Final = ("gen_ai.usage.input_tokens", "llm.token_count.prompt")
OUTPUT_TOKEN_KEYS: Final = ("gen_ai.usage.output_tokens", "llm.token_count.completion")

SERVICE_NAME: Final = "service.name"
