"""The latest drift verdict per model, for enrichment: written by the periodic drift
computation, read for every enriched span — so a read is a dict lookup, never a query.

Copy-on-write: `update` builds a new dict under a lock and swaps the reference; `get` reads the
current reference without locking (a single attribute read is atomic in CPython), so readers on
the ingest or forwarding threads never wait for a writer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DriftVerdict:
    detected: bool  # whether the model's data has drifted (its drift share crossed the threshold)
    share: float  # share of the model's features found drifted, in [0, 1]
    at_unix_s: float  # when the verdict was computed


class DriftVerdictCache:
    """Keyed by (model, version); version "" is the model-level verdict."""

    __slots__ = ("_lock", "_verdicts")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verdicts: dict[tuple[str, str], DriftVerdict] = {}

    def update(
        self, model: str, version: str, detected: bool, share: float, at_unix_s: float
    ) -> None:
        """Record a verdict; one older than the stored one (by `at_unix_s`) is ignored, so
        computations finishing out of order cannot roll a verdict back."""
        verdict = DriftVerdict(bool(detected), float(share), float(at_unix_s))
        key = (model, version)
        with self._lock:
            current = self._verdicts.get(key)
            if current is not None and current.at_unix_s > verdict.at_unix_s:
                return
            verdicts = dict(self._verdicts)
            verdicts[key] = verdict
            self._verdicts = verdicts

    def get(self, model: str, version: str = "") -> DriftVerdict | None:
        """The verdict for this version, else the model-level one (version ""), else None."""
        verdicts = self._verdicts
        verdict = verdicts.get((model, version))
        if verdict is None and version:
            verdict = verdicts.get((model, ""))
        return verdict

    def remove(self, model: str, version: str = "") -> None:
        """Forget a verdict (e.g. a model no longer monitored)."""
        with self._lock:
            if (model, version) in self._verdicts:
                verdicts = dict(self._verdicts)
                del verdicts[(model, version)]
                self._verdicts = verdicts

    def __len__(self) -> int:
        return len(self._verdicts)
