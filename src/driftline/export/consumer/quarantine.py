"""Records a consumer set aside, kept on disk until they are replayed: never silently dropped.

    <data_dir>/quarantine/<consumer>/<id>.pb     the WAL record's payload, byte for byte
    <data_dir>/quarantine/<consumer>/<id>.json   {"id", "kind", "signal", "bytes", "reason",
                                                  "set_aside_at"}   (id zero-padded to 20)

`put` writes the payload, then the description, each atomically and durably
(wal/fsio.replace_atomically), *before* the consumer acknowledges the record: an entry exists
once its .json does, and a crash in between leaves at most a stray .pb that the next put of
that id overwrites. A put that fails (the disk is full) raises OSError: the batch stays in
flight and is delivered again later, so the record is never lost.

Counted on /metrics: driftline_quarantined_records_total{consumer} (set aside by this
process) and driftline_quarantine_records{consumer} (on disk now). Listed and replayed with
`driftline quarantine list|replay` (export/clickhouse/replay.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from driftline.export.consumer import metrics
from driftline.export.records import Record
from driftline.signals import Signal
from driftline.wal.fsio import replace_atomically

log = logging.getLogger(__name__)

QUARANTINE_DIR: Final = "quarantine"


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    kind: int
    signal: str
    bytes: int
    reason: str
    set_aside_at: float  # unix seconds
    consumer: str


def _signal_name(kind: int) -> str:
    try:
        return Signal(kind).name.lower()
    except ValueError:
        return f"kind-{kind}"


class Quarantine:
    """The quarantine of one consumer (`clickhouse`, `forward:<name>`) under `data_dir`."""

    def __init__(self, data_dir: str | Path, consumer: str) -> None:
        self.consumer = consumer
        self.directory = Path(data_dir) / QUARANTINE_DIR / consumer.replace(":", "-")
        self._lock = threading.Lock()
        self._size = metrics.QUARANTINE_SIZE.labels(consumer)
        self._size.set(len(self.entries()))

    def put(self, record: Record, reason: str) -> None:
        """Keep `record` (durably) with why it was set aside. Raises OSError if it cannot."""
        stem = f"{record.id:020d}"
        meta = {
            "id": record.id,
            "kind": record.kind,
            "signal": _signal_name(record.kind),
            "bytes": len(record.payload),
            "reason": reason,
            "set_aside_at": time.time(),
        }
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            replace_atomically(self.directory / f"{stem}.pb", record.payload)
            replace_atomically(self.directory / f"{stem}.json", json.dumps(meta).encode())
        metrics.QUARANTINED.labels(self.consumer).inc()
        self._size.inc()
        log.error(
            "%s: WAL record %d (%s, %d bytes) set aside in %s: %s",
            self.consumer, record.id, meta["signal"], len(record.payload), self.directory, reason,
        )  # fmt: skip

    def entries(self) -> list[Entry]:
        """Everything set aside, oldest record first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                meta = json.loads(path.read_text())
                found.append(
                    Entry(
                        id=int(meta["id"]),
                        kind=int(meta["kind"]),
                        signal=str(meta["signal"]),
                        bytes=int(meta["bytes"]),
                        reason=str(meta["reason"]),
                        set_aside_at=float(meta["set_aside_at"]),
                        consumer=self.consumer,
                    )
                )
            except (OSError, ValueError, KeyError, TypeError) as e:
                log.warning("quarantine entry %s cannot be read, skipped: %s", path, e)
        return found

    def payload(self, entry: Entry) -> bytes:
        return (self.directory / f"{entry.id:020d}.pb").read_bytes()

    def remove(self, entry: Entry) -> None:
        """Forget a replayed entry: the description first, so a crash leaves no half entry."""
        with self._lock:
            (self.directory / f"{entry.id:020d}.json").unlink(missing_ok=True)
            (self.directory / f"{entry.id:020d}.pb").unlink(missing_ok=True)
        self._size.dec()
