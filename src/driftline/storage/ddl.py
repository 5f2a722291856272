"""What changes the DDL text between deployments (database, TTL, cluster, engine, dedup window),
and how a numbered migration is described. A leaf module: every schema_* module builds on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from driftline.config.model import ClickHouseConfig


@dataclass(frozen=True, slots=True)
class DdlContext:
    """Everything that changes the DDL text between deployments."""

    database: str = "default"
    ttl_s: float = 0.0
    cluster_name: str = ""
    engine_name: str = "MergeTree"
    engine_params: str = ""
    dedup_window: int = 1000

    @classmethod
    def from_config(cls, cfg: ClickHouseConfig) -> DdlContext:
        return cls(
            database=cfg.database,
            ttl_s=cfg.ttl_s,
            cluster_name=cfg.cluster_name,
            engine_name=cfg.table_engine.name,
            engine_params=cfg.table_engine.params,
            dedup_window=cfg.dedup_window,
        )

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER `{self.cluster_name}`" if self.cluster_name else ""

    def physical(self, table: str) -> str:
        """The table that stores rows: `<table>_local` on a cluster."""
        return f"{table}_local" if self.cluster_name else table

    def engine(self, table: str) -> str:
        if self.cluster_name:
            name = (
                self.engine_name
                if self.engine_name.startswith("Replicated")
                else ("Replicated" + self.engine_name)
            )
            physical = self.physical(table)
            path = f"'/clickhouse/tables/{{shard}}/{self.database}/{physical}', '{{replica}}'"
            params = f"{path}, {self.engine_params}" if self.engine_params else path
            return f"{name}({params})"
        return f"{self.engine_name}({self.engine_params})"

    def ttl(self, time_expr: str) -> str:
        """`TTL <time> + toInterval<Unit>(n)` with the largest unit dividing the TTL, as the
        exporter's GenerateTTLExpr does; '' when the TTL is 0."""
        seconds = int(self.ttl_s)
        if seconds <= 0:
            return ""
        for unit, size in (("Day", 86400), ("Hour", 3600), ("Minute", 60), ("Second", 1)):
            if seconds % size == 0:
                return f"TTL {time_expr} + toInterval{unit}({seconds // size})"
        raise AssertionError("unreachable")

    def settings(self) -> str:
        dedup = (
            ""
            if self.cluster_name
            else (f", non_replicated_deduplication_window = {self.dedup_window}")
        )
        return f"SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{dedup}"

    def qualified(self, table: str) -> str:
        return f"`{self.database}`.`{table}`"

    def distributed(self, table: str, sharding_key: str) -> list[str]:
        """The Distributed table `table` over `table_local` (cluster mode only)."""
        if not self.cluster_name:
            return []
        return [
            f"CREATE TABLE IF NOT EXISTS {self.qualified(table)}{self.on_cluster} "
            f"AS {self.qualified(self.physical(table))} "
            f"ENGINE = Distributed(`{self.cluster_name}`, `{self.database}`, "
            f"`{self.physical(table)}`, {sharding_key})"
        ]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: Callable[[DdlContext], list[str]]
