"""The WAL as a component, and the drain between receivers and consumers.

Start order puts the WAL first and the drain after the consumers (sink, forwarders) but
before the receivers; shutdown runs in reverse, so by the time the drain's `shutdown` runs the
receivers accept nothing more, and it gives the consumers the rest of the grace period to
catch up with the head before they are stopped. The WAL closes last: flushed, its lock freed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from driftline.config.model import WalConfig
from driftline.wal import Wal

DRAIN_POLL_S: Final = 0.05


class WalComponent:
    def __init__(self, config: WalConfig, directory: str | Path, cursors: Sequence[str]) -> None:
        self._config = config
        self._directory = directory
        self._cursors = list(cursors)
        self._wal: Wal | None = None

    @property
    def wal(self) -> Wal:
        if self._wal is None:
            raise RuntimeError("the WAL is not open")
        return self._wal

    def start(self) -> None:
        self._wal = Wal.open(self._config, self._directory, cursors=self._cursors)

    def shutdown(self, grace_s: float) -> None:
        if self._wal is not None:
            self._wal.close()


class Drain:
    """Shutdown waits, within the grace left, until no cursor lags the WAL head."""

    def __init__(self, wal: Wal) -> None:
        self._wal = wal

    def start(self) -> None:
        return None

    async def shutdown(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if all(c.lag_records == 0 for c in self._wal.stats().cursors.values()):
                return
            await asyncio.sleep(DRAIN_POLL_S)
