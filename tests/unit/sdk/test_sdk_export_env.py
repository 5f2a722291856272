"""The SDK's exporters follow the OTel exporter spec's environment rules (#11.6): protocol per
signal, endpoints with the HTTP path rules, timeouts in milliseconds."""

from __future__ import annotations

import pytest

from driftline.sdk.export import Target, exporter, resolve


def test_default_is_grpc_on_4317() -> None:
    assert resolve("traces", env={}) == Target("traces", "grpc", "http://localhost:4317", 10.0)


def test_http_protobuf_appends_the_signal_path_to_the_base() -> None:
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}  # fmt: skip
    assert resolve("traces", env=env).endpoint == "http://collector:4318/v1/traces"
    assert resolve("logs", env=env).endpoint == "http://collector:4318/v1/logs"
    assert resolve("logs", env={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}).endpoint == (
        "http://localhost:4318/v1/logs"
    )


def test_per_signal_endpoint_is_used_as_is_over_http() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:9999/custom/path",
    }
    assert resolve("traces", env=env).endpoint == "http://traces:9999/custom/path"
    assert resolve("logs", env=env).endpoint == "http://base:4318/v1/logs"


def test_per_signal_protocol_wins() -> None:
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
           "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/protobuf"}  # fmt: skip
    assert resolve("traces", env=env).protocol == "grpc"
    assert resolve("logs", env=env).protocol == "http/protobuf"


def test_endpoint_argument_is_a_base_url() -> None:
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://ignored:1/v1/traces"}  # fmt: skip
    assert resolve("traces", "http://arg:4318", env).endpoint == "http://arg:4318/v1/traces"
    assert resolve("traces", "arg:4317", {}).endpoint == "arg:4317"


@pytest.mark.parametrize(
    ("env", "seconds"),
    [({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, 2.5),
     ({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "500"}, 0.5),
     ({"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, 10.0)],
)  # fmt: skip
def test_timeouts_are_milliseconds(env: dict[str, str], seconds: float) -> None:
    assert resolve("logs", env=env).timeout_s == seconds


def test_http_json_is_sent_as_protobuf() -> None:
    assert resolve("logs", env={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}).protocol == (
        "http/protobuf"
    )


def test_the_exporter_class_follows_the_protocol() -> None:
    http = exporter(resolve("traces", env={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}))
    grpc = exporter(resolve("logs", env={}))
    assert type(http._inner).__module__.startswith("opentelemetry.exporter.otlp.proto.http")
    assert type(grpc._inner).__module__.startswith("opentelemetry.exporter.otlp.proto.grpc")
