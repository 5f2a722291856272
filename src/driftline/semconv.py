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
# ---- experiment runs (ml.run.*; docs/conventions.md "Experiment runs") ---------------------
# Every run event is an OTLP log record whose event name (LogRecord.event_name, or an
# `event.name` attribute) is one of ML_RUN_EVENTS and which carries `ml.run.id`. Training logs
# are ordinary log records carrying `ml.run.id`.
ML_RUN_ID: Final = "ml.run.id"
ML_RUN_START: Final = "ml.run.start"  # experiment, name, params, tags, code, data, env, seeds
ML_RUN_PARAMS: Final = "ml.run.params"  # params logged after the start (immutable)
ML_RUN_TAGS: Final = "ml.run.tags"  # tags set after the start (mutable, latest wins)
ML_RUN_METRICS: Final = "ml.run.metrics"  # one step of one or more metrics
ML_RUN_ARTIFACT: Final = "ml.run.artifact"  # a reference: uri, size, sha256
ML_RUN_HEARTBEAT: Final = "ml.run.heartbeat"  # "still alive", every interval_s
ML_RUN_END: Final = "ml.run.end"  # terminal status (+ error)
ML_RUN_EVENTS: Final = (
    ML_RUN_START,
    ML_RUN_PARAMS,
    ML_RUN_TAGS,
    ML_RUN_METRICS,
    ML_RUN_ARTIFACT,
    ML_RUN_HEARTBEAT,
    ML_RUN_END,
)

ML_RUN_EXPERIMENT: Final = "ml.run.experiment"
ML_RUN_NAME: Final = "ml.run.name"
ML_RUN_USER: Final = "ml.run.user"
ML_RUN_STATUS: Final = "ml.run.status"
ML_RUN_PARAM_PREFIX: Final = "ml.run.param."  # ml.run.param.<key> = string value
ML_RUN_TAG_PREFIX: Final = "ml.run.tag."  # ml.run.tag.<key> = string value
ML_RUN_METRIC_PREFIX: Final = "ml.run.metric."  # ml.run.metric.<key> = double value
ML_RUN_STEP: Final = "ml.run.step"  # int, the step of an ml.run.metrics event (default 0)
ML_RUN_SEED_PREFIX: Final = "ml.run.seed."  # ml.run.seed.<name> = int
ML_RUN_DATA_VERSION: Final = "ml.run.data.version"
ML_RUN_CODE_COMMIT: Final = "ml.run.code.commit"
ML_RUN_CODE_DIRTY: Final = "ml.run.code.dirty"  # bool
ML_RUN_CODE_BRANCH: Final = "ml.run.code.branch"
ML_RUN_CODE_ENTRYPOINT: Final = "ml.run.code.entrypoint"
ML_RUN_ENV_PREFIX: Final = "ml.run.env."  # python, host, os, cpu_count, gpu_count, package.<n>
ML_RUN_HEARTBEAT_INTERVAL: Final = "ml.run.heartbeat.interval_s"  # double, on the start event
ML_RUN_ERROR_TYPE: Final = "ml.run.error.type"
ML_RUN_ERROR_MESSAGE: Final = "ml.run.error.message"
ML_RUN_ARTIFACT_ROOT: Final = "ml.run.artifact_uri"  # on the start event: MLflow's artifact_uri
ML_RUN_ARTIFACT_URI: Final = "ml.run.artifact.uri"
ML_RUN_ARTIFACT_PATH: Final = "ml.run.artifact.path"
ML_RUN_ARTIFACT_SIZE: Final = "ml.run.artifact.size"  # int bytes, -1 when unknown
ML_RUN_ARTIFACT_SHA256: Final = "ml.run.artifact.sha256"  # hex, '' when unknown
ML_RUN_PREFIX: Final = "ml.run."

# Statuses: MLflow's RunStatus names, plus CRASHED (derived at query time when a run without an
# end event stopped sending anything for longer than the heartbeat timeout).
RUN_RUNNING: Final = "RUNNING"
RUN_FINISHED: Final = "FINISHED"
RUN_FAILED: Final = "FAILED"
RUN_KILLED: Final = "KILLED"
RUN_CRASHED: Final = "CRASHED"
RUN_TERMINAL_STATUSES: Final = (RUN_FINISHED, RUN_FAILED, RUN_KILLED)

# ---- MLflow's tracking API (driftline.mlflow; docs/mlflow.md) ------------------------------------
# Writes through the MLflow API become run events like the SDK's, plus these. Run events:
ML_RUN_UPDATE: Final = "ml.run.update"  # status and/or run name (UpdateRun), end time = timestamp
ML_RUN_DELETE: Final = "ml.run.delete"  # lifecycle_stage → deleted
ML_RUN_RESTORE: Final = "ml.run.restore"  # lifecycle_stage → active
ML_RUN_TAGS_DELETE: Final = "ml.run.tags_delete"  # ml.run.tag.<key> = '' per deleted key
ML_RUN_INPUT: Final = "ml.run.input"  # one dataset input (LogInputs), attributes below
ML_RUN_EXPERIMENT_ID: Final = "ml.run.experiment_id"  # on the start event of an MLflow run
ML_RUN_INPUT_NAME: Final = "ml.run.input.name"
ML_RUN_INPUT_DIGEST: Final = "ml.run.input.digest"
ML_RUN_INPUT_SOURCE_TYPE: Final = "ml.run.input.source_type"
ML_RUN_INPUT_SOURCE: Final = "ml.run.input.source"
ML_RUN_INPUT_SCHEMA: Final = "ml.run.input.schema"
ML_RUN_INPUT_PROFILE: Final = "ml.run.input.profile"
ML_RUN_INPUT_TAG_PREFIX: Final = "ml.run.input.tag."  # e.g. ml.run.input.tag.mlflow.data.context
ML_RUN_MLFLOW_EVENTS: Final = (ML_RUN_UPDATE, ML_RUN_DELETE, ML_RUN_RESTORE, ML_RUN_TAGS_DELETE)
# Experiment events: one log record each, carrying ml.experiment.id.
ML_EXPERIMENT_ID: Final = "ml.experiment.id"
ML_EXPERIMENT_NAME: Final = "ml.experiment.name"
ML_EXPERIMENT_ARTIFACT_LOCATION: Final = "ml.experiment.artifact_location"
ML_EXPERIMENT_TAG_PREFIX: Final = "ml.experiment.tag."
ML_EXPERIMENT_CREATE: Final = "ml.experiment.create"
ML_EXPERIMENT_RENAME: Final = "ml.experiment.rename"
ML_EXPERIMENT_DELETE: Final = "ml.experiment.delete"
ML_EXPERIMENT_RESTORE: Final = "ml.experiment.restore"
ML_EXPERIMENT_TAGS: Final = "ml.experiment.tags"
ML_EXPERIMENT_TAGS_DELETE: Final = "ml.experiment.tags_delete"
# A logged model of the experiment (MLflow 3's LoggedModel): name = model id, and its whole
# document as JSON in ml.experiment.tag.model; the newest document wins.
ML_EXPERIMENT_MODEL: Final = "ml.experiment.model"
ML_EXPERIMENT_EVENTS: Final = (
    ML_EXPERIMENT_MODEL,
    ML_EXPERIMENT_CREATE,
    ML_EXPERIMENT_RENAME,
    ML_EXPERIMENT_DELETE,
    ML_EXPERIMENT_RESTORE,
    ML_EXPERIMENT_TAGS,
    ML_EXPERIMENT_TAGS_DELETE,
)
