"""The `derived` and `alerts` sections: YAML → typed config, every problem with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.config.alerts import AlertRule
from driftline.config.load import load_config
from driftline.config.model import DriftlineConfig
from driftline.errors import ConfigError

FULL = """
analysis:
  slos: [{model: fraud, latency: 250ms, target: 0.99}]
derived:
  enabled: true
  interval: 30s
  drift: {window: 2h, reference: 48h, drift_share: 0.4}
  latency_window: 10m
  models: [fraud, churn]
alerts:
  evaluation_interval: 15s
  webhook: {url: "https://hooks.example/x", headers: {X-Token: t}, timeout: 2s, retries: 2}
  rules:
    - {name: slow, kind: latency_p99_ms, model: fraud, threshold: 250, for: 5m,
       resolve_after: 10m, severity: critical, labels: {team: ml}}
    - {name: budget, kind: burn_rate, model: fraud, window: 6h, threshold: 6}
    - {name: age, kind: feature_score, model: fraud, feature: age, method: wasserstein,
       threshold: 0.1, window: 30m}
"""


def load(tmp_path: Path, text: str) -> DriftlineConfig:
    path = tmp_path / "driftline.yaml"
    path.write_text(text)
    return load_config(path)


def test_defaults_change_nothing() -> None:
    cfg = DriftlineConfig()
    assert not cfg.derived.enabled and cfg.alerts.rules == ()
    assert cfg.derived.interval_s == 60 and cfg.derived.latency_window_s == 300
    assert (cfg.derived.drift.window_s, cfg.derived.drift.reference_s) == (3600, 86400)
    assert cfg.alerts.evaluation_interval_s == 60 and cfg.alerts.webhook.url == ""


def test_a_full_file_maps_onto_the_typed_config(tmp_path: Path) -> None:
    cfg = load(tmp_path, FULL)
    d = cfg.derived
    assert d.enabled and d.interval_s == 30 and d.latency_window_s == 600
    assert (d.drift.window_s, d.drift.reference_s, d.drift.drift_share) == (7200, 172800, 0.4)
    assert d.models == ("fraud", "churn")
    a = cfg.alerts
    assert a.evaluation_interval_s == 15
    assert a.webhook.headers == {"X-Token": "t"} and a.webhook.timeout_s == 2
    slow, budget, age = a.rules
    assert slow == AlertRule(
        name="slow", kind="latency_p99_ms", model="fraud", threshold=250.0, for_s=300,
        resolve_after_s=600, severity="critical", labels={"team": "ml"},
    )  # fmt: skip
    assert slow.window_s() == 300  # the default lookback of latency kinds
    assert budget.effective_window == "6h"
    assert age.window_s() == 1800 and age.method == "wasserstein"


def test_every_problem_is_named_by_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load(
            tmp_path,
            """
derived: {interval: 0s, latency_window: 0s, drift: {drift_share: 2}, models: [""]}
alerts:
  evaluation_interval: 0s
  webhook: {url: "ftp://x", retries: -1}
  rules:
    - {name: a, kind: error_rate, model: m, threshold: 1, window: 0s}
    - {name: a, kind: burn_rate, model: nobody, threshold: 1, window: 2h}
    - {name: c, kind: feature_score, model: m, threshold: 1, window: soon}
    - {name: "", kind: error_rate, model: "", threshold: .nan, severity: loud}
""",
        )
    problems = "\n".join(e.value.problems)
    for expected in (
        "derived.interval:", "derived.latency_window:", "derived.drift.drift_share:",
        "derived.models:", "alerts.evaluation_interval:", "alerts.webhook.url:",
        "alerts.webhook.retries:", "alerts.rules[0].window: must be > 0",
        "alerts.rules[1].name: 'a' is used",
        "alerts.rules[1].window: must be one of 1h, 6h, 3d",
        "alerts.rules[1]: burn_rate needs an objective for 'nobody' in analysis.slos",
        "alerts.rules[2].feature: required", "alerts.rules[2].window: expected a duration",
        "alerts.rules[3].name:", "alerts.rules[3].model:", "alerts.rules[3].threshold:",
        "alerts.rules[3].severity:",
    ):  # fmt: skip
        assert expected in problems, expected


def test_unknown_keys_unknown_kinds_and_bad_durations_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load(
            tmp_path,
            "alerts: {rules: [{name: a, kind: error_rate, model: m, treshold: 1},"
            " {name: b, kind: p42, model: m, threshold: 1, for: -1s}]}",
        )
    problems = "\n".join(e.value.problems)
    assert "alerts.rules[0].treshold: unknown key" in problems
    assert "alerts.rules[1].kind: must be one of" in problems and "p42" in problems
    assert "alerts.rules[1].for: expected a duration" in problems


def test_a_rule_with_missing_keys_is_reported_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, "alerts: {rules: [{for: 1m}]}")
    problems = "\n".join(e.value.problems)
    for key in ("name", "kind", "model", "threshold"):
        assert f"alerts.rules[0].{key}:" in problems, key


def test_the_readme_examples_load(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```yaml\n")[1:]]
    examples = [b for b in blocks if "derived:" in b or "alerts:" in b]
    assert len(examples) >= 2
    for block in examples:
        load(tmp_path, block)  # raises ConfigError on any problem
