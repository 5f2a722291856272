"""DDL text: TTL, deduplication, cluster mode (no cluster runs here, so checked as text)."""

from __future__ import annotations

from driftline.storage.schema import MIGRATIONS, DdlContext, all_statements

TABLES = (
    "otel_traces",
    "otel_traces_trace_id_ts",
    "otel_logs",
    "otel_metrics_gauge",
    "otel_metrics_sum",
    "otel_metrics_histogram",
    "otel_metrics_exponential_histogram",
    "otel_metrics_summary",
)
ML_TABLES = (
    "ml_inferences",
    "ml_features",
    "ml_labels",
    "ml_references",
    "ml_reference_features",
)
RUN_TABLES = ("ml_runs", "ml_run_metrics", "ml_run_latest", "ml_run_liveness")
MLFLOW_TABLES = ("ml_experiments", "ml_run_inputs")  # migration 13


def _creates(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("CREATE TABLE")]


def test_migrations_are_numbered_uniquely_in_ascending_order() -> None:
    # Numbers are reserved per branch (PLAN.md: write 9-12, mlflow 13-14, quality 15-16) and
    # land in any order; the migrator applies every one not yet recorded, so gaps are fine.
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_single_node_tables_enable_non_replicated_deduplication() -> None:
    statements = all_statements(DdlContext(dedup_window=777))
    for table in TABLES:
        ddl = next(s for s in statements if f"`default`.`{table}` (" in s)
        assert "non_replicated_deduplication_window = 777" in ddl, table
        assert "ENGINE = MergeTree()" in ddl


def test_ttl_uses_the_largest_unit_that_divides_the_duration() -> None:
    assert DdlContext(ttl_s=72 * 3600).ttl("t") == "TTL t + toIntervalDay(3)"
    assert DdlContext(ttl_s=5400).ttl("t") == "TTL t + toIntervalMinute(90)"
    assert DdlContext(ttl_s=7200).ttl("t") == "TTL t + toIntervalHour(2)"
    assert DdlContext(ttl_s=61).ttl("t") == "TTL t + toIntervalSecond(61)"
    assert DdlContext(ttl_s=0).ttl("t") == ""
    ddl = "\n".join(all_statements(DdlContext(ttl_s=86400)))
    assert "TTL toDateTime(Timestamp) + toIntervalDay(1)" in ddl
    assert "TTL toDateTime(TimeUnix) + toIntervalDay(1)" in ddl


def test_cluster_mode_uses_on_cluster_replicated_local_tables_and_distributed_fronts() -> None:
    ctx = DdlContext(cluster_name="prod", database="otel")
    statements = all_statements(ctx)
    assert all(" ON CLUSTER `prod`" in s for s in statements if s.startswith("CREATE"))
    for table in TABLES:
        local = next(
            s for s in statements if f"`otel`.`{table}_local` ON CLUSTER" in s and "(\n" in s
        )
        assert (
            f"ReplicatedMergeTree('/clickhouse/tables/{{shard}}/otel/{table}_local', '{{replica}}')"
            in local
        )
        front = next(
            s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS `otel`.`{table}` ")
        )
        assert f"ENGINE = Distributed(`prod`, `otel`, `{table}_local`" in front
    mv = next(s for s in statements if "MATERIALIZED VIEW" in s)
    assert (
        "FROM `otel`.`otel_traces_local`" in mv
        and "TO `otel`.`otel_traces_trace_id_ts_local`" in mv
    )


def test_custom_engine_params_are_kept_in_cluster_mode() -> None:
    ctx = DdlContext(cluster_name="c", engine_name="ReplicatedMergeTree", engine_params="ver")
    assert ctx.engine("t").endswith("'{replica}', ver)")
    assert (
        len(_creates(all_statements(ctx)))
        # + the migrations table, the span staging table (9), and migration 10's rebuild of
        # the trace-id table (its new table, and the old one's re-create for a re-run)
        == 2 * (len(TABLES) + len(ML_TABLES) + len(RUN_TABLES) + len(MLFLOW_TABLES)) + 4
    )


def test_ml_tables_are_ordered_for_per_model_and_per_feature_scans() -> None:
    statements = all_statements(DdlContext())
    features = next(s for s in statements if "`ml_features` (" in s)
    assert "ORDER BY (ModelName, Feature, Timestamp)" in features
    assert "Kind Enum8('numerical' = 1, 'categorical' = 2)" in features
    inferences = next(s for s in statements if "`ml_inferences` (" in s)
    assert "ORDER BY (ModelName, ModelVersion, Timestamp)" in inferences
    cluster = all_statements(DdlContext(cluster_name="prod", database="otel"))
    for table in ML_TABLES:
        assert any(f"`otel`.`{table}_local` ON CLUSTER `prod`" in s for s in cluster)
        assert any(f"Distributed(`prod`, `otel`, `{table}_local`" in s for s in cluster)


def test_saved_references_have_no_ttl_and_scan_columns_get_lz4() -> None:
    statements = all_statements(DdlContext(ttl_s=86400))
    for table in ("ml_references", "ml_reference_features"):
        ddl = next(s for s in statements if f"`{table}` (" in s)
        assert "TTL" not in ddl  # a reference outlives the live rows
    alter = next(s for s in statements if s.startswith("ALTER TABLE `default`.`ml_features`"))
    assert "Timestamp DateTime64(9) CODEC(Delta, LZ4)" in alter and "CODEC(LZ4)" in alter
    cluster = all_statements(DdlContext(cluster_name="prod", database="otel"))
    assert any(
        s.startswith("ALTER TABLE `otel`.`ml_features_local` ON CLUSTER `prod`") for s in cluster
    )


def test_run_tables_layout_and_engines() -> None:
    statements = all_statements(DdlContext(dedup_window=55))
    ddl = {t: next(s for s in statements if f"`default`.`{t}` (" in s) for t in RUN_TABLES}
    assert "ORDER BY (RunId, Timestamp)" in ddl["ml_runs"]
    assert "ORDER BY (RunId, Key, Step, Timestamp)" in ddl["ml_run_metrics"]
    assert "ENGINE = AggregatingMergeTree()" in ddl["ml_run_latest"]
    assert (
        "AggregateFunction(argMax, Float64, Tuple(Int64, DateTime64(9), Float64))"
        in (ddl["ml_run_latest"])
    )
    assert "ENGINE = AggregatingMergeTree()" in ddl["ml_run_liveness"]
    assert all("non_replicated_deduplication_window = 55" in d for d in ddl.values())
    cluster = all_statements(
        DdlContext(cluster_name="c", engine_name="ReplicatedMergeTree", engine_params="ver")
    )
    latest = next(s for s in cluster if "`default`.`ml_run_latest_local` ON CLUSTER" in s)
    assert (
        "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/default/ml_run_latest_local',"
        " '{replica}')" in latest
    )
    metrics = next(s for s in cluster if "`default`.`ml_run_metrics_local` ON CLUSTER" in s)
    assert "'{replica}', ver)" in metrics  # the plain tables keep the configured engine
