"""Configuration: YAML habits of the Collector, every problem reported with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.cli.main import main
from driftline.config.load import load_config, parse_duration
from driftline.config.model import DriftlineConfig
from driftline.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftline.yaml"
    path.write_text(text)
    return path


def test_defaults_match_the_documented_interfaces() -> None:
    cfg = DriftlineConfig()
    assert cfg.receivers.otlp.protocols.grpc.endpoint == "127.0.0.1:4317"
    assert cfg.receivers.otlp.protocols.http.endpoint == "127.0.0.1:4318"
    assert cfg.query.endpoint == "127.0.0.1:4319"
    assert cfg.telemetry.metrics_endpoint == "127.0.0.1:9464"
    assert cfg.data_dir == "./driftline-data" and cfg.wal_dir == "./driftline-data/wal"
    assert cfg.receivers.otlp.protocols.grpc.max_recv_msg_size_mib == 64
    assert cfg.wal.sync == "always"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("5s", 5.0), ("72h", 259200.0), ("1.5m", 90.0), (3, 3.0), ("2d", 172800.0)],
)
def test_durations_parse_like_the_collector(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_a_full_file_maps_onto_the_typed_config(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            """
data_dir: /var/lib/driftline
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "0.0.0.0:14317", max_recv_msg_size_mib: 16}
      http: {endpoint: "0.0.0.0:14318"}
wal: {sync: interval, sync_interval: 200ms, segment_size_mib: 32, max_size_mib: 512}
exporters:
  clickhouse:
    ttl: 72h
    batch: {max_rows: 5000, flush_interval: 2s}
    retry_on_failure: {initial_interval: 1s, max_interval: 10s}
""",
        )
    )
    assert cfg.data_dir == "/var/lib/driftline"
    assert cfg.receivers.otlp.protocols.grpc.max_recv_msg_size_mib == 16
    assert cfg.wal.sync == "interval" and cfg.wal.sync_interval_s == pytest.approx(0.2)
    assert cfg.exporters.clickhouse.ttl_s == 259200.0
    assert cfg.exporters.clickhouse.batch.flush_interval_s == 2.0
    assert cfg.exporters.clickhouse.retry_on_failure.max_interval_s == 10.0


def test_unknown_keys_and_bad_values_are_all_reported_with_their_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
receivers:
  otlp:
    protocols:
      grpcc: {}
wal: {sync: sometimes, segment_size_mib: "big"}
exporters: {clickhouse: {ttl: forever}}
""",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "receivers.otlp.protocols.grpcc: unknown key" in text
    assert "wal.sync: must be one of always, interval, never" in text
    assert "wal.segment_size_mib: expected an integer" in text
    assert "exporters.clickhouse.ttl: expected a duration" in text
    assert len(err.value.problems) == 4


def test_validation_names_the_user_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"query.endpoint: expected HOST:PORT"):
        load_config(write(tmp_path, "query: {endpoint: nowhere}"))
    with pytest.raises(ConfigError, match=r"cert_file and key_file must be set together"):
        load_config(write(tmp_path, "query: {tls: {cert_file: a.pem}}"))


def test_environment_tokens_and_env_references(tmp_path: Path) -> None:
    path = write(tmp_path, "exporters: {clickhouse: {endpoint: '${env:CH_URL}'}}")
    cfg = load_config(
        path,
        environ={
            "CH_URL": "http://u:p@ch:8123/otel",
            "DRIFTLINE_INGEST_TOKEN": "in",
            "DRIFTLINE_QUERY_TOKEN": "q",
        },
    )
    assert cfg.exporters.clickhouse.endpoint == "http://u:p@ch:8123/otel"
    assert cfg.receivers.otlp.auth_token == "in" and cfg.query.auth_token == "q"


def test_flags_override_file_and_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "data_dir: /from/file")
    cfg = load_config(path, overrides={"data_dir": "/from/flag", "query.endpoint": None})
    assert cfg.data_dir == "/from/flag" and cfg.query.endpoint == "127.0.0.1:4319"


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(write(tmp_path, "wal: {sync: never}"))]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["check-config", str(write(tmp_path, "wall: {}"))]) == 2
    assert "wall: unknown key" in capsys.readouterr().err
    assert main(["check-config", str(tmp_path / "missing.yaml")]) == 2


def test_slos_are_a_list_of_objectives_with_durations(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "analysis:\n  slos:\n    - {model: fraud, latency: 250ms, target: 0.99}\n"
        "    - {model: llama, version: '2', latency: 2s, target: 0.95}\n"
    )
    cfg = load_config(path, environ={})
    assert [(s.model, s.version, s.latency_s, s.target) for s in cfg.analysis.slos] == [
        ("fraud", "", 0.25, 0.99),
        ("llama", "2", 2.0, 0.95),
    ]


def test_bad_slos_name_their_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("analysis:\n  slos:\n    - {model: m, colour: red}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert "analysis.slos[0].colour: unknown key" in "\n".join(err.value.problems)
    path.write_text("analysis:\n  slos:\n    - {latency: 0s, target: 99}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    text = "\n".join(err.value.problems)
    assert "analysis.slos[0].model: required" in text
    assert "analysis.slos[0].latency" in text and "analysis.slos[0].target" in text


def test_runs_heartbeat_timeout(tmp_path: Path) -> None:
    assert DriftlineConfig().runs.heartbeat_timeout_s == 60.0  # default changes nothing
    path = tmp_path / "c.yaml"
    path.write_text("runs:\n  heartbeat_timeout: 90s\n")
    assert load_config(path, environ={}).runs.heartbeat_timeout_s == 90.0
    for text, problem in (
        ("runs:\n  heartbeat_timeout: 0s\n", "runs.heartbeat_timeout: must be > 0"),
        ("runs:\n  heartbeat: 1s\n", "runs.heartbeat: unknown key"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError) as err:
            load_config(path, environ={})
        assert problem in "\n".join(err.value.problems)
