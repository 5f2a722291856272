"""What a WAL consumer (the ClickHouse sink, each OTLP forwarder) sees of the WAL: records read
through its own cursor, acknowledged by id range, and — after a consumer lost track of what it
read — read again from the checkpoint. Protocols, so tests can feed consumers without a WAL on
disk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Record(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> int: ...
    @property
    def payload(self) -> bytes: ...


class RecordSource(Protocol):
    """Read through a cursor, acknowledge a finished range on it, rewind it to its checkpoint."""

    def read(
        self, cursor: str, max_records: int, max_bytes: int, timeout_s: float
    ) -> Sequence[Record]: ...
    def ack(self, cursor: str, first_id: int, last_id: int) -> None: ...
    def rewind(self, cursor: str) -> None: ...
