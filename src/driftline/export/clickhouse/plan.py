"""The sink's batch plan: the WAL record range it is inserting, written down before the first
INSERT attempt. After a crash the sink replays exactly that range, so the rebuilt INSERTs carry
the same `insert_deduplication_token`s and ClickHouse drops what already landed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from driftline.wal.fsio import replace_atomically


@dataclass(frozen=True, slots=True)
class BatchPlan:
    first_id: int
    last_id: int

    @property
    def token(self) -> str:
        return f"wal-{self.first_id}-{self.last_id}"


class PlanFile:
    """One JSON file, replaced atomically (write tmp, fsync, rename, fsync dir)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def load(self) -> BatchPlan | None:
        try:
            data = json.loads(self.path.read_text())
            return BatchPlan(int(data["first_id"]), int(data["last_id"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            # A torn plan file cannot happen with rename(), but never crash on it: without a
            # plan, the sink batches afresh (at worst duplicates, never losses).
            return None

    def save(self, plan: BatchPlan) -> None:
        data = json.dumps({"first_id": plan.first_id, "last_id": plan.last_id})
        replace_atomically(self.path, data.encode())
