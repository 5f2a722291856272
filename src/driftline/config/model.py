"""Typed configuration: one frozen dataclass per component, defaults as named constants.

The YAML file mirrors the OpenTelemetry Collector's habits (`receivers.otlp.protocols.grpc`,
`exporters.clickhouse`, `retry_on_failure`, durations such as `5s`/`200ms`/`72h`). Every field
below is a YAML key of the same name; `load.py` maps YAML onto these classes, rejects unknown
keys by their path, and `validate()` reports every problem at once in the user's spelling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import urlsplit

from driftline.config.alerts import AlertsConfig
from driftline.config.derived import DerivedConfig
from driftline.config.processors import ProcessorsConfig

DEFAULT_DATA_DIR: Final = "./driftline-data"
DEFAULT_OTLP_GRPC: Final = "127.0.0.1:4317"
DEFAULT_OTLP_HTTP: Final = "127.0.0.1:4318"
DEFAULT_QUERY_GRPC: Final = "127.0.0.1:4319"
DEFAULT_MLFLOW: Final = "127.0.0.1:5000"
DEFAULT_METRICS: Final = "127.0.0.1:9464"
DEFAULT_CONSOLE: Final = "127.0.0.1:4320"
DEFAULT_MAX_RECV_MIB: Final = 64  # the OTLP spec's recommendation
DEFAULT_SEGMENT_MIB: Final = 64
DEFAULT_WAL_MAX_MIB: Final = 4096
DEFAULT_BATCH_MAX_ROWS: Final = 50_000
DEFAULT_PERMANENT_AFTER: Final = 5  # attempts of one error on the same data before it is a refusal
DEFAULT_BATCH_MAX_MIB: Final = 32
DEFAULT_FLUSH_INTERVAL_S: Final = 1.0
DEFAULT_DEDUP_WINDOW: Final = 1000
DEFAULT_QUERY_MAX_ROWS: Final = 10_000
DEFAULT_QUERY_MAX_SECONDS: Final = 30.0
DEFAULT_QUERY_MAX_MEMORY_MIB: Final = 1024

SyncPolicy = Literal["always", "interval", "never"]


def _endpoint_problems(key: str, value: str) -> list[str]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return [f"{key}: expected HOST:PORT, got {value!r}"]
    return []


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSConfig:
    """TLS for a server. Empty cert_file means plaintext; client_ca_file enables mutual TLS."""

    cert_file: str = ""
    key_file: str = ""
    client_ca_file: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file)

    def validate(self, path: str) -> list[str]:
        problems = []
        if bool(self.cert_file) != bool(self.key_file):
            problems.append(f"{path}: cert_file and key_file must be set together")
        if self.client_ca_file and not self.cert_file:
            problems.append(f"{path}.client_ca_file: needs cert_file and key_file")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class GrpcReceiverConfig:
    endpoint: str = DEFAULT_OTLP_GRPC
    max_recv_msg_size_mib: int = DEFAULT_MAX_RECV_MIB
    tls: TLSConfig = field(default_factory=TLSConfig)

    def validate(self, path: str) -> list[str]:
        problems = _endpoint_problems(f"{path}.endpoint", self.endpoint)
        if self.max_recv_msg_size_mib <= 0:
            problems.append(f"{path}.max_recv_msg_size_mib: must be > 0")
        return problems + self.tls.validate(f"{path}.tls")


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpReceiverConfig:
    endpoint: str = DEFAULT_OTLP_HTTP
    max_request_body_size_mib: int = DEFAULT_MAX_RECV_MIB
    # A request body must arrive within this (YAML `body_read_timeout`): 408 otherwise.
    body_read_timeout_s: float = 30.0
    # Request bytes (declared Content-Length, else the body limit) being read at once, over
    # every connection: past it a request gets 503 + Retry-After before its body is read.
    max_in_flight_mib: int = 256
    tls: TLSConfig = field(default_factory=TLSConfig)

    def validate(self, path: str) -> list[str]:
        problems = _endpoint_problems(f"{path}.endpoint", self.endpoint)
        if self.max_request_body_size_mib <= 0:
            problems.append(f"{path}.max_request_body_size_mib: must be > 0")
        if self.body_read_timeout_s <= 0:
            problems.append(f"{path}.body_read_timeout: must be > 0")
        if self.max_in_flight_mib < self.max_request_body_size_mib:
            problems.append(f"{path}.max_in_flight_mib: must be >= max_request_body_size_mib")
        return problems + self.tls.validate(f"{path}.tls")


@dataclass(frozen=True, slots=True, kw_only=True)
class OtlpProtocolsConfig:
    grpc: GrpcReceiverConfig = field(default_factory=GrpcReceiverConfig)
    http: HttpReceiverConfig = field(default_factory=HttpReceiverConfig)


@dataclass(frozen=True, slots=True, kw_only=True)
class OtlpReceiverConfig:
    """`receivers.otlp`. `auth_token` (or DRIFTLINE_INGEST_TOKEN) requires `Bearer <token>`."""

    protocols: OtlpProtocolsConfig = field(default_factory=OtlpProtocolsConfig)
    auth_token: str = ""
    # A request whose items exceed these is answered with a partial success for the excess.
    max_attributes_per_item: int = 1024

    def validate(self, path: str) -> list[str]:
        problems = self.protocols.grpc.validate(f"{path}.protocols.grpc")
        problems += self.protocols.http.validate(f"{path}.protocols.http")
        if self.max_attributes_per_item <= 0:
            problems.append(f"{path}.max_attributes_per_item: must be > 0")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiversConfig:
    otlp: OtlpReceiverConfig = field(default_factory=OtlpReceiverConfig)


@dataclass(frozen=True, slots=True, kw_only=True)
class WalConfig:
    """`wal`. directory defaults to `<data_dir>/wal`."""

    directory: str = ""
    sync: SyncPolicy = "always"
    sync_interval_s: float = 1.0  # YAML key `sync_interval`, used when sync is "interval"
    segment_size_mib: int = DEFAULT_SEGMENT_MIB
    max_size_mib: int = DEFAULT_WAL_MAX_MIB
    # How long a client is told to wait (RetryInfo / Retry-After) when the WAL is full.
    retry_after_s: float = 5.0

    def validate(self, path: str) -> list[str]:
        problems = []
        if self.sync not in ("always", "interval", "never"):
            problems.append(f"{path}.sync: must be always, interval or never, got {self.sync!r}")
        if self.sync_interval_s <= 0:
            problems.append(f"{path}.sync_interval: must be > 0")
        if self.segment_size_mib <= 0:
            problems.append(f"{path}.segment_size_mib: must be > 0")
        if self.max_size_mib < 2 * self.segment_size_mib:
            problems.append(f"{path}.max_size_mib: must be at least twice segment_size_mib")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryConfig:
    """`retry_on_failure`, with the Collector's defaults. max_elapsed 0 = retry forever.

    One semantics for every WAL consumer (export/consumer/backoff.py): the n-th wait is
    min(initial · multiplierⁿ⁻¹, max_interval) · (1 ± randomization_factor), or the server's
    delay when it sent one. `permanent_after`: an error that is not the destination being down
    (UnavailableError) and repeats this many times on the same data is a refusal of that data
    (the sink sets the records aside in the quarantine); 0 = no bound."""

    enabled: bool = True
    initial_interval_s: float = 5.0
    max_interval_s: float = 30.0
    multiplier: float = 1.5
    randomization_factor: float = 0.5
    max_elapsed_time_s: float = 0.0  # the WAL keeps data, so the sink never gives up by default
    permanent_after: int = DEFAULT_PERMANENT_AFTER

    def validate(self, path: str) -> list[str]:
        problems = []
        if self.initial_interval_s <= 0:
            problems.append(f"{path}.initial_interval: must be > 0")
        if self.max_interval_s < self.initial_interval_s:
            problems.append(f"{path}.max_interval: must be >= initial_interval")
        if self.multiplier < 1:
            problems.append(f"{path}.multiplier: must be >= 1")
        if not 0 <= self.randomization_factor <= 1:
            problems.append(f"{path}.randomization_factor: must be within [0, 1]")
        if self.permanent_after < 0:
            problems.append(f"{path}.permanent_after: must be >= 0 (0: no bound)")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchConfig:
    max_rows: int = DEFAULT_BATCH_MAX_ROWS
    max_size_mib: int = DEFAULT_BATCH_MAX_MIB
    flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S  # YAML key `flush_interval`

    def validate(self, path: str) -> list[str]:
        problems = []
        if self.max_rows <= 0:
            problems.append(f"{path}.max_rows: must be > 0")
        if self.max_size_mib <= 0:
            problems.append(f"{path}.max_size_mib: must be > 0")
        if self.flush_interval_s <= 0:
            problems.append(f"{path}.flush_interval: must be > 0")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class TableEngineConfig:
    name: str = "MergeTree"
    params: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClickHouseConfig:
    """`exporters.clickhouse`. Empty endpoint = embedded chDB at `<data_dir>/clickhouse`."""

    endpoint: str = ""
    database: str = "default"
    ttl_s: float = 0.0  # YAML key `ttl`; 0 = keep forever
    cluster_name: str = ""
    table_engine: TableEngineConfig = field(default_factory=TableEngineConfig)
    create_schema: bool = True
    dedup_window: int = DEFAULT_DEDUP_WINDOW
    batch: BatchConfig = field(default_factory=BatchConfig)
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)
    # UNAVAILABLE is answered when this sink lags the WAL head by more than this.
    max_lag_mib: int = 2048

    def validate(self, path: str) -> list[str]:
        problems = []
        if self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            problems.append(f"{path}.endpoint: expected http(s)://user:pass@host:port/db")
        if not self.database.replace("_", "").isalnum():
            problems.append(f"{path}.database: must be an identifier, got {self.database!r}")
        if self.ttl_s < 0:
            problems.append(f"{path}.ttl: must be >= 0")
        if self.dedup_window <= 0:
            problems.append(f"{path}.dedup_window: must be > 0")
        if self.max_lag_mib <= 0:
            problems.append(f"{path}.max_lag_mib: must be > 0")
        return (
            problems
            + self.batch.validate(f"{path}.batch")
            + self.retry_on_failure.validate(f"{path}.retry_on_failure")
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportersConfig:
    clickhouse: ClickHouseConfig = field(default_factory=ClickHouseConfig)
    otlp: tuple[OtlpExporterConfig, ...] = ()  # OTLP destinations to forward to (below)


@dataclass(frozen=True, slots=True, kw_only=True)
class SloConfig:
    """One latency objective: `target` of a model's inferences faster than `latency` (and not
    errors). GetLatency reports its multi-window burn rates."""

    model: str = ""
    version: str = ""  # empty: every version
    latency_s: float = 0.25  # YAML key `latency`, e.g. 250ms
    target: float = 0.99

    def validate(self, path: str) -> list[str]:
        problems = []
        if not self.model:
            problems.append(f"{path}.model: required")
        if self.latency_s <= 0:
            problems.append(f"{path}.latency: must be > 0")
        if not 0 < self.target < 1:
            problems.append(f"{path}.target: must be between 0 and 1, e.g. 0.99")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisConfig:
    """`analysis`: objectives the latency answers are measured against."""

    slos: tuple[SloConfig, ...] = ()

    def validate(self, path: str) -> list[str]:
        return [p for i, slo in enumerate(self.slos) for p in slo.validate(f"{path}.slos[{i}]")]


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryConfig:
    """`query`: the gRPC query API. `auth_token` (or DRIFTLINE_QUERY_TOKEN) guards it."""

    endpoint: str = DEFAULT_QUERY_GRPC
    auth_token: str = ""
    max_rows: int = DEFAULT_QUERY_MAX_ROWS
    max_execution_time_s: float = DEFAULT_QUERY_MAX_SECONDS  # YAML key `max_execution_time`
    # One statement's memory (the engine's max_memory_usage); past it the statement fails alone.
    max_memory_usage_mib: int = DEFAULT_QUERY_MAX_MEMORY_MIB
    tls: TLSConfig = field(default_factory=TLSConfig)

    def validate(self, path: str) -> list[str]:
        problems = _endpoint_problems(f"{path}.endpoint", self.endpoint)
        if self.max_rows <= 0:
            problems.append(f"{path}.max_rows: must be > 0")
        if self.max_execution_time_s <= 0:
            problems.append(f"{path}.max_execution_time: must be > 0")
        if self.max_memory_usage_mib <= 0:
            problems.append(f"{path}.max_memory_usage_mib: must be > 0")
        return problems + self.tls.validate(f"{path}.tls")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleConfig:
    """`console`: the web console (HTTP). Same token as the query API (`query.auth_token`).
    Loopback by default; another host only when `endpoint` names one."""

    enabled: bool = True
    endpoint: str = DEFAULT_CONSOLE

    def validate(self, path: str) -> list[str]:
        return _endpoint_problems(f"{path}.endpoint", self.endpoint)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunsConfig:
    """`runs`: experiment-run tracking. A run with no end event is CRASHED once nothing arrived
    from it for `heartbeat_timeout` (or 3 of its own heartbeat intervals, if longer)."""

    heartbeat_timeout_s: float = 60.0  # YAML key `heartbeat_timeout`, e.g. 60s

    def validate(self, path: str) -> list[str]:
        if self.heartbeat_timeout_s <= 0:
            return [f"{path}.heartbeat_timeout: must be > 0"]
        return []


@dataclass(frozen=True, slots=True, kw_only=True)
class MlflowConfig:
    """`mlflow`: MLflow's tracking REST API (driftline.mlflow). Follows the query token rules.
    `read_timeout` bounds how long a read waits for earlier writes to reach ClickHouse."""

    enabled: bool = True
    endpoint: str = DEFAULT_MLFLOW
    artifacts_dir: str = ""  # default <data_dir>/artifacts
    read_timeout_s: float = 30.0  # YAML key `read_timeout`

    def validate(self, path: str) -> list[str]:
        problems = _endpoint_problems(f"{path}.endpoint", self.endpoint) if self.enabled else []
        if self.read_timeout_s <= 0:
            problems.append(f"{path}.read_timeout: must be > 0")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class TelemetryConfig:
    """`telemetry`: driftline's own Prometheus endpoint and log level."""

    metrics_endpoint: str = DEFAULT_METRICS
    log_level: str = "info"

    def validate(self, path: str) -> list[str]:
        problems = _endpoint_problems(f"{path}.metrics_endpoint", self.metrics_endpoint)
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            problems.append(f"{path}.log_level: must be debug, info, warning or error")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftlineConfig:
    data_dir: str = DEFAULT_DATA_DIR
    receivers: ReceiversConfig = field(default_factory=ReceiversConfig)
    wal: WalConfig = field(default_factory=WalConfig)
    exporters: ExportersConfig = field(default_factory=ExportersConfig)
    query: QueryConfig = field(default_factory=QueryConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    derived: DerivedConfig = field(default_factory=DerivedConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    processors: ProcessorsConfig = field(default_factory=ProcessorsConfig)
    runs: RunsConfig = field(default_factory=RunsConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)

    def validate(self) -> list[str]:
        return (
            self.receivers.otlp.validate("receivers.otlp")
            + self.wal.validate("wal")
            + self.exporters.clickhouse.validate("exporters.clickhouse")
            + self.query.validate("query")
            + self.telemetry.validate("telemetry")
            + self.analysis.validate("analysis")
            + self.derived.validate("derived")
            + self.alerts.validate("alerts", frozenset(s.model for s in self.analysis.slos))
            + self.processors.validate("processors")
            + self.runs.validate("runs")
            + self.mlflow.validate("mlflow")
            + self.console.validate("console")
            + validate_destinations(
                self.exporters.otlp,
                "exporters.otlp",
                self.wal.max_size_mib,
                self.wal.segment_size_mib,
            )
        )

    @property
    def wal_dir(self) -> str:
        return self.wal.directory or f"{self.data_dir}/wal"

    @property
    def clickhouse_dir(self) -> str:
        return f"{self.data_dir}/clickhouse"


# ---- exporters.otlp: forwarding destinations ---------------------------------------------------
#
#     exporters:
#       otlp:
#         - name: tempo
#           protocol: grpc                  # grpc | http (OTLP/HTTP protobuf)
#           endpoint: tempo:4317            # grpc: HOST:PORT or http(s)://HOST:PORT;
#                                           # http: http(s)://HOST:PORT[/prefix] (+ /v1/traces)
#           headers: {x-scope-orgid: acme}
#           tls: {insecure: false, ca_file: "", cert_file: "", key_file: ""}
#           compression: none               # none | gzip (as the OTel SDK exporters)
#           timeout: 5s
#           signals: [traces]               # default: traces, metrics, logs
#           max_batch_items: 0              # 0: no cap; else re-packed so none exceeds it
#           max_batch_bytes: 4194304        # requests combined (and split) to stay under this
#           max_lag_mib: 1024               # further behind: oldest records dropped, counted
#           num_consumers: 4                # batches in flight at once
#           retry_on_failure: {initial_interval: 5s, max_interval: 30s, max_elapsed_time: 0s}

ForwardSignal = Literal["traces", "metrics", "logs"]
ALL_FORWARD_SIGNALS: Final[tuple[ForwardSignal, ...]] = ("traces", "metrics", "logs")
DEFAULT_FORWARD_MAX_BATCH_BYTES: Final = 4 << 20  # gRPC servers' default receive limit
DEFAULT_FORWARD_MAX_LAG_MIB: Final = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientTLSConfig:
    """TLS towards a destination. gRPC: `insecure: true` sends plaintext (as in the
    Collector). OTLP/HTTP: the URL's scheme decides; with https, `insecure` skips verification."""

    insecure: bool = False
    ca_file: str = ""  # empty: the system roots
    cert_file: str = ""  # client certificate, for mutual TLS
    key_file: str = ""

    def validate(self, path: str) -> list[str]:
        problems = []
        if bool(self.cert_file) != bool(self.key_file):
            problems.append(f"{path}: cert_file and key_file must be set together")
        if self.insecure and (self.ca_file or self.cert_file):
            problems.append(f"{path}.insecure: cannot be combined with ca_file or cert_file")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class OtlpExporterConfig:
    """One entry of `exporters.otlp`; its WAL cursor is `forward:<name>`."""

    name: str = ""
    enabled: bool = True
    protocol: Literal["grpc", "http"] = "grpc"
    endpoint: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    tls: ClientTLSConfig = field(default_factory=ClientTLSConfig)
    compression: Literal["gzip", "none"] = "none"  # the OTel SDK exporters' default
    timeout_s: float = 5.0  # YAML key `timeout`: one export attempt
    signals: tuple[ForwardSignal, ...] = ALL_FORWARD_SIGNALS
    max_batch_items: int = 0
    max_batch_bytes: int = DEFAULT_FORWARD_MAX_BATCH_BYTES
    # Further behind than this, the destination drops its oldest records (counted, reason
    # "lag") so a dead backend cannot fill the WAL and stop ingest. 0: never drop; a dead
    # destination then stops ingest once the WAL reaches wal.max_size_mib.
    max_lag_mib: int = DEFAULT_FORWARD_MAX_LAG_MIB
    num_consumers: int = 4  # batches in flight at once (the Collector's sending_queue)
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)

    @property
    def cursor(self) -> str:
        return f"forward:{self.name}"

    @property
    def insecure(self) -> bool:
        """gRPC plaintext: tls.insecure, or an http:// endpoint."""
        return self.tls.insecure or self.endpoint.startswith("http://")

    def validate(self, path: str) -> list[str]:
        problems = []
        if not self.name or not all(c.isalnum() or c in "-_." for c in self.name):
            problems.append(f"{path}.name: required; letters, digits, '-', '_' and '.' only")
        problems += self._endpoint_problems(f"{path}.endpoint")
        if not isinstance(self.headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()
        ):
            problems.append(f"{path}.headers: expected a mapping of strings to strings")
        if self.timeout_s <= 0:
            problems.append(f"{path}.timeout: must be > 0")
        if not self.signals:
            problems.append(f"{path}.signals: name at least one of traces, metrics, logs")
        elif len(set(self.signals)) != len(self.signals):
            problems.append(f"{path}.signals: a signal is listed twice: {list(self.signals)}")
        if self.max_batch_items < 0:
            problems.append(f"{path}.max_batch_items: must be >= 0 (0: no cap)")
        if self.max_batch_bytes < 1024:
            problems.append(f"{path}.max_batch_bytes: must be >= 1024")
        if self.max_lag_mib < 0:
            problems.append(f"{path}.max_lag_mib: must be >= 0 (0: never drop)")
        if not 1 <= self.num_consumers <= 64:
            problems.append(f"{path}.num_consumers: must be within 1..64")
        return (
            problems
            + self.tls.validate(f"{path}.tls")
            + self.retry_on_failure.validate(f"{path}.retry_on_failure")
        )

    def _endpoint_problems(self, key: str) -> list[str]:
        value = self.endpoint
        if not value:
            return [f"{key}: required"]
        if "://" in value:
            url = urlsplit(value)
            try:
                port = url.port
            except ValueError:
                return [f"{key}: bad port in {value!r}"]
            if url.scheme not in ("http", "https") or not url.hostname:
                return [f"{key}: expected http(s)://HOST[:PORT], got {value!r}"]
            if self.protocol == "grpc" and (url.path not in ("", "/") or port is None):
                return [f"{key}: a gRPC endpoint is HOST:PORT or http(s)://HOST:PORT"]
            return []
        if self.protocol == "http":
            return [f"{key}: an OTLP/HTTP endpoint is a URL, e.g. http://HOST:4318"]
        return _endpoint_problems(key, value)


def validate_destinations(
    destinations: tuple[OtlpExporterConfig, ...], path: str, wal_max_mib: int, segment_mib: int
) -> list[str]:
    """Each entry's problems, duplicate names, and lag caps too big to protect ingest."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, dest in enumerate(destinations):
        key = f"{path}[{i}]"
        problems += dest.validate(key)
        if dest.name and dest.name in seen:
            problems.append(f"{key}.name: {dest.name!r} is used by another destination")
        seen.add(dest.name)
        # Segments are deleted whole: a cursor max_lag behind still pins up to one more
        # segment, and the writer needs room for the next one.
        if dest.max_lag_mib and dest.max_lag_mib + 2 * segment_mib > wal_max_mib:
            problems.append(
                f"{key}.max_lag_mib: must leave two segments of room below wal.max_size_mib "
                f"({wal_max_mib} MiB), or a dead destination would stop ingest"
            )
    return problems
