from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from driftline.config.model import WalConfig
from driftline.wal import Wal


@pytest.fixture
def wal_dir(tmp_path: Path) -> Path:
    return tmp_path / "wal"


@pytest.fixture
def open_wal(wal_dir: Path) -> Iterator[Callable[..., Wal]]:
    """Open WALs on `wal_dir` (or another directory); all are closed at teardown."""
    opened: list[Wal] = []

    def _open(
        config: WalConfig, cursors: tuple[str, ...] = ("sink",), directory: Path | None = None
    ) -> Wal:
        wal = Wal.open(config, directory or wal_dir, list(cursors))
        opened.append(wal)
        return wal

    yield _open
    for wal in opened:
        wal.close()
