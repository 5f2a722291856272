"""deploy/ as a platform engineer runs it (#11.16): in k8s one pod computes derived signals and
alerts, the StatefulSet is governed by a headless Service, the memory limit leaves room over
the measured peak, the Collector does not send the raw stream to Tempo beside driftline's
enriched forwarding, the drift panel draws its threshold, and dashboards for performance and
labels and for training runs read columns driftline creates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from driftline.config.load import load_config
from driftline.storage.schema import DdlContext, all_statements

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"


def _k8s() -> list[dict]:  # type: ignore[type-arg]
    return [d for d in yaml.safe_load_all((DEPLOY / "k8s/driftline.yaml").read_text()) if d]


def test_only_pod_zero_runs_derived_signals_and_alerts(tmp_path: Path) -> None:
    docs = _k8s()
    [config_map] = [d for d in docs if d["kind"] == "ConfigMap"]
    configs = {}
    for name, text in config_map["data"].items():
        (tmp_path / name).write_text(text)
        configs[name] = load_config(tmp_path / name, environ={})
    assert not configs["driftline.yaml"].derived.enabled
    assert not configs["driftline.yaml"].alerts.rules
    assert configs["driftline-signals.yaml"].derived.enabled
    [sts] = [d for d in docs if d["kind"] == "StatefulSet"]
    script = sts["spec"]["template"]["spec"]["containers"][0]["args"][0]
    serve = r"(\S+)\) exec driftline serve --config /etc/driftline/(\S+) ;;"
    cases = dict(re.findall(serve, script))
    assert cases == {"*-0": "driftline-signals.yaml", "*": "driftline.yaml"}


def test_statefulset_is_governed_by_a_headless_service() -> None:
    docs = _k8s()
    [sts] = [d for d in docs if d["kind"] == "StatefulSet"]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    governing = services[sts["spec"]["serviceName"]]
    assert governing["spec"]["clusterIP"] == "None"
    assert "driftline" in services and services["driftline"]["spec"].get("clusterIP") != "None"


def test_memory_limit_leaves_room_over_the_measured_peak() -> None:
    [sts] = [d for d in _k8s() if d["kind"] == "StatefulSet"]
    limit = sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    gib = float(limit.removesuffix("Gi"))
    assert gib * 2**30 >= 1.8 * 1.6e9  # the README's measured peak RSS, with a margin


def test_collector_sends_traces_to_driftline_only() -> None:
    cfg = yaml.safe_load((ROOT / "otel-collector-config.yaml").read_text())
    assert cfg["service"]["pipelines"]["traces"]["exporters"] == ["otlp/driftline"]
    assert not any("tempo" in name for name in cfg["exporters"])
    forwards = {d.name for d in load_config(DEPLOY / "driftline.yaml", environ={}).exporters.otlp}
    assert "tempo" in forwards  # Tempo still gets every span: driftline forwards them, enriched


def test_drift_panel_draws_its_threshold() -> None:
    panel = json.loads((DEPLOY / "grafana/dashboards/drift.json").read_text())["panels"][0]
    sql = " ".join(t["rawSql"] for t in panel["targets"])
    assert "driftline.drift.threshold" in sql
    assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"].startswith("line")


def _columns() -> dict[str, set[str]]:
    columns: dict[str, set[str]] = {}
    for statement in all_statements(DdlContext(database="otel")):
        m = re.search(r"CREATE TABLE IF NOT EXISTS `otel`\.`(\w+)`\s*\((.*)\)\s*ENGINE", statement,
                      re.S)  # fmt: skip
        if m:
            columns[m.group(1)] = set(re.findall(r"^\s+(\w+) ", m.group(2), re.M))
    return columns


def test_performance_and_runs_dashboards_read_real_columns() -> None:
    columns = _columns()
    for name, tables in (("performance", {"ml_inferences", "ml_labels"}),
                         ("runs", {"ml_runs", "ml_run_metrics"})):  # fmt: skip
        doc = json.loads((DEPLOY / f"grafana/dashboards/{name}.json").read_text())
        sql = " ".join(t["rawSql"] for p in doc["panels"] for t in p["targets"])
        sql += " ".join(v["query"] for v in doc["templating"]["list"])
        assert tables <= set(re.findall(r"\botel\.(\w+)", sql)), name
        known = set().union(*(columns[t] for t in tables))
        used = set(re.findall(r"\b(?:[iml]\.)?([A-Z][A-Za-z]+)\b", sql)) - {
            "SELECT", "FROM", "WHERE", "AND", "AS", "GROUP", "BY", "ORDER", "IN", "INNER", "JOIN",
            "ON", "DESC", "DISTINCT",
        }  # fmt: skip
        assert used <= known, f"{name}: {sorted(used - known)} are not columns"
