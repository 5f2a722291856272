"""`exporters.otlp`: YAML → typed destinations; every problem named by its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.config.load import load_config
from driftline.config.model import DriftlineConfig
from driftline.errors import ConfigError
from driftline.export.otlp import forward_cursors


def _load(tmp_path: Path, text: str) -> DriftlineConfig:
    path = tmp_path / "driftline.yaml"
    path.write_text(text)
    return load_config(path, environ={})


def test_default_forwards_nowhere() -> None:
    cfg = DriftlineConfig()
    assert cfg.exporters.otlp == ()
    assert forward_cursors(cfg.exporters.otlp) == []
    assert cfg.validate() == []


def test_destinations_load_with_collector_spelling(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        """
exporters:
  otlp:
    - name: tempo
      endpoint: tempo:4317
      headers: {x-scope-orgid: acme}
      tls: {insecure: true}
      compression: none
      timeout: 2s
      signals: [traces]
      max_batch_items: 1000
      retry_on_failure: {initial_interval: 100ms, max_interval: 2s, max_elapsed_time: 1m}
    - name: prom
      protocol: http
      endpoint: https://prom.example:4318/otlp
      signals: [metrics]
      enabled: false
""",
    )
    tempo, prom = cfg.exporters.otlp
    assert tempo.headers == {"x-scope-orgid": "acme"} and tempo.insecure
    assert tempo.timeout_s == 2.0 and tempo.signals == ("traces",)
    assert tempo.retry_on_failure.initial_interval_s == 0.1
    assert tempo.retry_on_failure.max_elapsed_time_s == 60.0
    assert prom.protocol == "http" and not prom.insecure and prom.signals == ("metrics",)
    assert forward_cursors(cfg.exporters.otlp) == ["forward:tempo"]  # prom is disabled


def test_problems_are_reported_with_key_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        _load(
            tmp_path,
            """
wal: {max_size_mib: 512, segment_size_mib: 64}
exporters:
  otlp:
    - name: a
      endpoint: nowhere
      signals: []
      max_lag_mib: 400
    - name: a
      protocol: http
      endpoint: host:4318
      headers: {x-token: 3}
      max_batch_items: -1
      tls: {cert_file: c.pem}
""",
        )
    problems = e.value.problems
    expected = [
        "exporters.otlp[0].endpoint: expected HOST:PORT",
        "exporters.otlp[0].signals: name at least one",
        "exporters.otlp[0].max_lag_mib: must leave two segments",
        "exporters.otlp[1].name: 'a' is used by another destination",
        "exporters.otlp[1].endpoint: an OTLP/HTTP endpoint is a URL",
        "exporters.otlp[1].max_batch_items: must be >= 0",
        "exporters.otlp[1].tls: cert_file and key_file must be set together",
    ]
    for prefix in expected:
        assert any(p.startswith(prefix) for p in problems), (prefix, problems)


def test_unknown_signal_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, "exporters: {otlp: [{name: a, endpoint: 'h:1', signals: [spans]}]}")
    assert e.value.problems == [
        "exporters.otlp[0].signals[0]: must be one of traces, metrics, logs, got 'spans'"
    ]
