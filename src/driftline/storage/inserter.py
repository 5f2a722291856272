"""Insert a batch of raw OTLP requests, letting ClickHouse decode and flatten them.

One call inserts one signal's payloads into each of that signal's tables with explicit settings:
synchronous (`async_insert=0`), one thread (block boundaries depend only on the data), and an
`insert_deduplication_token` per table that the caller derives from the WAL record range. A
replay of the same range after a crash therefore produces the same blocks with the same tokens,
and the tables (which keep `non_replicated_deduplication_window` insert hashes) drop them:
exactly-once. The same token is never reused for other data: ClickHouse would drop that too.

A statement with `requires` (the run tables: b"ml.run.id") reads only the payloads containing
those bytes, and is skipped when none does — a choice made from the WAL bytes alone, so a
replay makes it again, and ordinary logs do not pay for run tracking.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

from driftline import telemetry
from driftline.errors import BatchTooLargeError, PermanentError, RetryableError, UnavailableError
from driftline.signals import Signal
from driftline.storage.client import Target
from driftline.storage.ingest_sql import (
    MESSAGE_NAMES,
    STRUCTURES,
    IngestStatement,
    ingest_proto_text,
    statements_for,
)

# ClickHouse error codes that will fail again with the same data (see ErrorCodes.cpp).
_PERMANENT_CODES: Final = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        33,  # CANNOT_READ_ALL_DATA
        69,  # ARGUMENT_OUT_OF_BOUND
        117,  # INCORRECT_DATA
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        407,  # DECIMAL_OVERFLOW / out of range for DateTime64
        434,  # CANNOT_PARSE_PROTOBUF_SCHEMA
        444,  # UNKNOWN_PROTOBUF_FORMAT (corrupted or mismatched message)
        1000,  # POCO_EXCEPTION (malformed message seen from chDB's Protobuf reader)
    }
)
# Codes that say the engine itself cannot take writes now (no space, overloaded, timed out),
# whatever the data: retried without the `permanent_after` bound.
_UNAVAILABLE_CODES: Final = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        236,  # ABORTED
        243,  # NOT_ENOUGH_SPACE
        252,  # TOO_MANY_PARTS
        394,  # QUERY_WAS_CANCELLED
    }
)
_MEMORY_LIMIT_EXCEEDED: Final = 241
_NO_SPACE: Final = ("No space left on device", "errno: 28", "ENOSPC")
_CODE_PREFIX: Final = "Code: "


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def length_delimited(payloads: Sequence[bytes]) -> bytes:
    """ClickHouse's `Protobuf` format: each message prefixed by its varint length."""
    return b"".join(_varint(len(p)) + p for p in payloads)


def classify(error: Exception) -> PermanentError | RetryableError:
    """Map a clickhouse-connect error to our error tree by the server's numeric code: no code
    (unreachable, an OSError) or an engine-state code → UnavailableError; 241 →
    BatchTooLargeError; a known data error → PermanentError; any other code → RetryableError
    (which the consumer turns permanent if it keeps repeating on the same data)."""
    text = str(error)
    code = None
    if _CODE_PREFIX in text:
        digits = text.split(_CODE_PREFIX, 1)[1].split(".", 1)[0].strip()
        code = int(digits) if digits.isdigit() else None
    if code in _PERMANENT_CODES:
        return PermanentError(text)
    if code == _MEMORY_LIMIT_EXCEEDED:
        return BatchTooLargeError(text)
    if code is None or code in _UNAVAILABLE_CODES or any(s in text for s in _NO_SPACE):
        return UnavailableError(text)
    return RetryableError(text)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


class TablesRefusedError(PermanentError):
    """ClickHouse refused the data for these tables; the signal's other tables took it. A
    retry with other tokens (the sink's bisect) must go to these tables only, or the others
    would store the rows twice."""

    def __init__(self, message: str, tables: frozenset[str]) -> None:
        super().__init__(message)
        self.tables = tables


class ProtobufInserter:
    """Inserts raw Export*ServiceRequest payloads through ClickHouse's Protobuf input.

    A signal's statements are independent INSERTs (one token each), so they run on `lanes`
    clients at once: with two, the OTel table and the ML tables of a trace batch are built in
    parallel on the two cores (one engine thread each, so blocks stay deterministic).
    """

    def __init__(
        self,
        client: Client,
        target: Target,
        tmp_dir: str | Path,
        *,
        extra_clients: Sequence[Client] = (),
    ) -> None:
        self._client = client
        self._clients = [client, *extra_clients]
        self._pool = (
            ThreadPoolExecutor(len(self._clients) - 1, thread_name_prefix="insert")
            if extra_clients
            else None
        )
        self._target = target
        self._tmp_dir = Path(tmp_dir)
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        self._schema = ingest_proto_text()
        self._statements: dict[Signal, list[IngestStatement]] = {
            s: statements_for(s) for s in Signal
        }

    def _settings(self, signal: Signal, token: str) -> dict[str, Any]:
        return {
            "format_schema_source": "string",
            "format_schema": self._schema,
            "format_schema_message_name": MESSAGE_NAMES[signal],
            "insert_deduplication_token": token,
            "deduplicate_insert": "enable",
            "deduplicate_insert_select": "force_enable",
            "async_insert": 0,
            "max_threads": 1,
            "max_insert_threads": 1,
            "max_block_size": 1_000_000,
            "min_insert_block_size_rows": 1_000_000,
            "min_insert_block_size_bytes": 1 << 30,
            "input_format_parallel_parsing": 0,
        }

    def insert(
        self,
        signal: Signal,
        payloads: Sequence[bytes],
        token: str,
        tables: Collection[str] | None = None,
    ) -> None:
        """Insert `payloads` into every table of `signal` (or only `tables`). Raises
        TablesRefusedError when the data itself is refused by some tables, RetryableError for
        everything else (storage down, timeouts); a retry with the same token is always safe."""
        statements = [s for s in self._statements[signal] if tables is None or s.table in tables]
        if not payloads or not statements:
            return
        data = length_delimited(payloads)
        # Bisect tokens hold "/" (wal-1-7/1-3): the file name must not become a sub-directory.
        stem = f"{token.replace('/', '~')}.{signal.name.lower()}"
        path = self._tmp_dir / f"{stem}.pb"
        inputs: dict[str, tuple[bytes, Path]] = {}
        subsets: dict[bytes, tuple[bytes, Path] | None] = {}
        for statement in statements:
            marker = statement.requires
            if marker is None:
                inputs[statement.table] = (data, path)
                continue
            if marker not in subsets:  # only the payloads that can yield its rows
                picked = [p for p in payloads if marker in p]
                if not picked:
                    subsets[marker] = None
                elif len(picked) == len(payloads):
                    subsets[marker] = (data, path)
                else:
                    subsets[marker] = (
                        length_delimited(picked),
                        self._tmp_dir / f"{stem}.{marker.hex()[:24]}.pb",
                    )
            chosen = subsets[marker]
            if chosen is not None:
                inputs[statement.table] = chosen
        statements = [s for s in statements if s.table in inputs]
        if not statements:
            return
        files = {file: blob for blob, file in inputs.values()}
        if self._target.embedded:
            try:
                for file, blob in files.items():
                    file.write_bytes(blob)
            except OSError as e:  # e.g. ENOSPC: storage cannot take anything now
                for file in files:
                    file.unlink(missing_ok=True)
                raise UnavailableError(f"cannot stage the insert in {self._tmp_dir}: {e}") from e

        lanes = len(self._clients)
        # The first statements (the OTel table first: the heaviest) get a lane each; the last
        # lane takes the rest (the ML tables, which decode a slimmer structure).
        plan = [statements[i : i + 1] for i in range(lanes - 1)] + [statements[lanes - 1 :]]

        def lane(index: int) -> dict[str, Exception]:
            """Run lane `index`'s statements on its own client; return the failures."""
            failures: dict[str, Exception] = {}
            for statement in plan[index]:
                blob, file = inputs[statement.table]
                structure = statement.structure or STRUCTURES[signal]
                source = (
                    f"file('{_escape(str(file))}', 'Protobuf', '{structure}')"
                    if self._target.embedded
                    else f"input('{structure}')"
                )
                settings = self._settings(signal, f"{token}:{statement.table}")
                try:
                    self._insert_one(self._clients[index], statement, source, blob, settings)
                except (PermanentError, RetryableError) as e:
                    failures[statement.table] = e
            return failures

        try:
            futures = (
                [self._pool.submit(lane, i) for i in range(1, len(self._clients))]
                if self._pool is not None and len(statements) > 1
                else []
            )
            failures = lane(0) if futures else {}
            if not futures:
                for i in range(len(self._clients)):
                    failures.update(lane(i))
            for future in futures:
                failures.update(future.result())
        finally:
            if self._target.embedded:
                for file in files:
                    file.unlink(missing_ok=True)
        unavailable = [e for e in failures.values() if isinstance(e, UnavailableError)]
        if unavailable:
            raise unavailable[0]  # storage trouble: retry everything (tokens make it safe)
        retryable = [e for e in failures.values() if isinstance(e, RetryableError)]
        if retryable:
            # Too large, or unclassified: each names every failing table, so a split (other
            # tokens) goes to those only; a plain retry (same tokens) is safe for all.
            detail = "; ".join(f"{table}: {e}" for table, e in failures.items())
            failed = frozenset(failures)
            if any(isinstance(e, BatchTooLargeError) for e in retryable):
                raise BatchTooLargeError(detail, tables=failed)
            raise RetryableError(detail, tables=failed)
        if failures:
            detail = "; ".join(f"{table}: {e}" for table, e in failures.items())
            raise TablesRefusedError(detail, frozenset(failures))

    def _insert_one(
        self,
        client: Client,
        statement: IngestStatement,
        source: str,
        data: bytes,
        settings: dict[str, Any],
    ) -> None:
        sql = statement.render(source, self._target.database)
        started = time.perf_counter()
        try:
            if self._target.embedded:
                client.command(sql, settings=settings)
            else:
                client.command(sql + " FORMAT Protobuf", data=data, settings=settings)
        except (ClickHouseError, DatabaseError, OperationalError, OSError) as e:
            err = classify(e)
            kind = "permanent" if isinstance(err, PermanentError) else "retryable"
            telemetry.INSERT_ERRORS.labels(statement.table, kind).inc()
            raise err from e
        finally:
            telemetry.INSERT_SECONDS.labels(statement.table).observe(time.perf_counter() - started)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        for leftover in self._tmp_dir.glob("*.pb"):
            leftover.unlink(missing_ok=True)
        os.sync()
