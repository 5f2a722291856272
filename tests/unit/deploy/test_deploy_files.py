"""deploy/ and otel-collector-config.yaml cannot run here (no Docker, no cluster): every file is
parsed, and the ports, endpoints and names that must agree with driftline's defaults are
checked against them."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from driftline.config import model
from driftline.config.load import load_config
from driftline.storage.schema import DdlContext, all_statements

ROOT = Path(__file__).parents[3]
DEPLOY = ROOT / "deploy"
PORTS = {
    name: int(getattr(model, const).rsplit(":", 1)[1])
    for name, const in (
        ("otlp-grpc", "DEFAULT_OTLP_GRPC"),
        ("otlp-http", "DEFAULT_OTLP_HTTP"),
        ("query", "DEFAULT_QUERY_GRPC"),
        ("metrics", "DEFAULT_METRICS"),
    )
}


def load_yaml_docs(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def by_kind(docs: list[Any], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize(
    "path",
    sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.json"), ROOT / "otel-collector-config.yaml"]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_file_parses(path: Path) -> None:
    if path.suffix == ".json":
        assert json.loads(path.read_text())
    else:
        assert load_yaml_docs(path)


def test_compose_ports_config_and_services_agree() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    services = compose["services"]
    assert {"clickhouse", "driftline", "jaeger", "tempo", "grafana"} <= services.keys()
    published = {int(p.split(":")[1]) for p in services["driftline"]["ports"]}
    assert published == set(PORTS.values())
    cfg = load_config(DEPLOY / "driftline.yaml", environ={})
    bound = {
        int(e.rsplit(":", 1)[1])
        for e in (
            cfg.receivers.otlp.protocols.grpc.endpoint,
            cfg.receivers.otlp.protocols.http.endpoint,
            cfg.query.endpoint,
            cfg.telemetry.metrics_endpoint,
        )
    }
    assert bound == set(PORTS.values())
    url = urlparse(cfg.exporters.clickhouse.endpoint)
    assert url.hostname in services and url.port == 8123
    assert "8123:8123" in services["clickhouse"]["ports"]
    assert (
        services["clickhouse"]["environment"]["CLICKHOUSE_DB"] == cfg.exporters.clickhouse.database
    )
    assert any(v.endswith(":/data") for v in services["driftline"]["volumes"])
    assert cfg.data_dir == "/data"
    tempo = yaml.safe_load((DEPLOY / "tempo.yaml").read_text())
    otlp = tempo["distributor"]["receivers"]["otlp"]["protocols"]
    assert otlp["grpc"]["endpoint"].endswith(f":{PORTS['otlp-grpc']}")
    # spans are forwarded to both tracing backends, at the port each receives OTLP gRPC on
    forwards = {d.name: d.endpoint for d in cfg.exporters.otlp}
    assert forwards == {"jaeger": "jaeger:4317", "tempo": "tempo:4317"}
    assert all(d.signals == ("traces",) for d in cfg.exporters.otlp)
    assert {"clickhouse", "jaeger", "tempo"} <= set(services["driftline"]["depends_on"])
    assert cfg.derived.enabled and cfg.processors.enrichment.drift


def test_grafana_reads_the_tables_driftline_creates() -> None:
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/datasources.yaml").read_text())[
        "datasources"
    ]
    clickhouse = next(d for d in ds if d["type"] == "grafana-clickhouse-datasource")
    cfg = load_config(DEPLOY / "driftline.yaml", environ={})
    database = cfg.exporters.clickhouse.database
    assert clickhouse["jsonData"]["defaultDatabase"] == database
    assert clickhouse["jsonData"]["traces"]["defaultTable"] == "otel_traces"
    assert clickhouse["jsonData"]["logs"]["defaultTable"] == "otel_logs"
    created = {
        m.group(1)
        for s in all_statements(DdlContext(database=database))
        for m in re.finditer(
            rf"CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS `{database}`\.`(\w+)`", s
        )
    }
    dashboards = sorted((DEPLOY / "grafana/dashboards").glob("*.json"))
    assert len(dashboards) == 5  # latency, drift, traces, performance, runs
    for path in dashboards:
        doc = json.loads(path.read_text())
        for panel in doc["panels"]:
            assert panel["datasource"]["uid"] == clickhouse["uid"], path.name
            for target in panel["targets"]:
                for table in re.findall(rf"\b{database}\.(\w+)", target.get("rawSql", "")):
                    assert table in created, f"{path.name}: {table} is not a driftline table"


def test_k8s_config_services_and_cluster_agree() -> None:
    docs = load_yaml_docs(DEPLOY / "k8s/driftline.yaml")
    config_text = by_kind(docs, "ConfigMap", "driftline-config")["data"]["driftline.yaml"]
    config_path = DEPLOY / "k8s" / ".rendered-driftline.yaml"
    try:
        config_path.write_text(config_text)
        cfg = load_config(config_path, environ={"DRIFTLINE_INGEST_TOKEN": "t"})
    finally:
        config_path.unlink(missing_ok=True)
    assert cfg.receivers.otlp.auth_token == "t"
    service_ports = {
        p["name"]: p["port"] for p in by_kind(docs, "Service", "driftline")["spec"]["ports"]
    }
    assert service_ports == PORTS
    container = by_kind(docs, "StatefulSet", "driftline")["spec"]["template"]["spec"]["containers"][
        0
    ]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == PORTS
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["wal"] == cfg.data_dir
    cluster_docs = load_yaml_docs(DEPLOY / "k8s/clickhouse-cluster.yaml")
    xml = ET.fromstring(
        by_kind(cluster_docs, "ConfigMap", "clickhouse-cluster")["data"]["cluster.xml"]
    )
    clusters = [c.tag for c in xml.find("remote_servers") or []]
    assert clusters == [cfg.exporters.clickhouse.cluster_name]
    assert urlparse(cfg.exporters.clickhouse.endpoint).hostname == "clickhouse"
    assert by_kind(cluster_docs, "Service", "clickhouse")


def test_collector_config_exports_to_driftline() -> None:
    cfg = yaml.safe_load((ROOT / "otel-collector-config.yaml").read_text())
    exporter = cfg["exporters"]["otlp/driftline"]
    assert exporter["endpoint"].endswith(f":{PORTS['otlp-grpc']}")
    assert "Bearer" in exporter["headers"]["authorization"]
    for pipeline in cfg["service"]["pipelines"].values():
        assert set(pipeline["receivers"]) <= cfg["receivers"].keys()
        assert set(pipeline["processors"]) <= cfg["processors"].keys()
        assert set(pipeline["exporters"]) <= cfg["exporters"].keys()
        assert "otlp/driftline" in pipeline["exporters"]
    assert set(cfg["service"]["extensions"]) <= cfg["extensions"].keys()
