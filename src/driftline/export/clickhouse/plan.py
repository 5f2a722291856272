"""The sink's batch plan: the WAL record range it is inserting, written down before the first
INSERT attempt, and every split of it (a sub-range some tables refused or ran out of memory
on), written down before the halves are inserted.

After a crash the sink replays exactly that range and takes the same splits, so the rebuilt
INSERTs carry the same `insert_deduplication_token`s (a sub-range's token names its ids) and
ClickHouse drops what already landed. Splits must be remembered because a refusal for memory
(241) need not repeat: without the record, a replay could insert a whole range whose halves
already landed — duplicates.

    {"first_id": 17, "last_id": 80,
     "split": [[1, 17, 80, ["otel_traces"]], [1, 49, 80, ["otel_traces"]]]}
               signal, first id, last id, the tables that failed there
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from driftline.wal.fsio import replace_atomically

SplitKey = tuple[int, int, int]  # (signal kind, first id, last id) of one sub-range


@dataclass(slots=True)
class BatchPlan:
    first_id: int
    last_id: int
    split: dict[SplitKey, frozenset[str]] = field(default_factory=dict, compare=False)

    @property
    def token(self) -> str:
        return f"wal-{self.first_id}-{self.last_id}"


class PlanFile:
    """One JSON file, replaced atomically and durably (wal/fsio.replace_atomically)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def load(self) -> BatchPlan | None:
        try:
            data = json.loads(self.path.read_text())
            split = {
                (int(kind), int(first), int(last)): frozenset(str(t) for t in tables)
                for kind, first, last, tables in data.get("split", [])
            }
            return BatchPlan(int(data["first_id"]), int(data["last_id"]), split)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            # A torn plan file cannot happen with rename(), but never crash on it: without a
            # plan, the sink batches afresh (at worst duplicates, never losses).
            return None

    def save(self, plan: BatchPlan) -> None:
        data = {
            "first_id": plan.first_id,
            "last_id": plan.last_id,
            "split": [[*key, sorted(tables)] for key, tables in plan.split.items()],
        }
        replace_atomically(self.path, json.dumps(data).encode())
