"""The demo's story in phases, and the time windows every finding is computed over.

    phase 1 "baseline"  version 1 serves the training-time distribution
    phase 2 "shift"     two features shift and version 2 (slower, less accurate) is rolled out

Each phase sends a fixed number of seeded requests at a fixed rate, and records its boundaries
as timestamps: `start_ns` before its first request, `end_ns` after its last response, both on
whole milliseconds, and the next phase starts only once `end_ns` has passed. So an inference
lies in its phase's half-open window `[start_ns, end_ns)` and the queries see exactly what
the demo sent, whatever else the data dir holds.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TextIO

from driftline.demo.server import ModelServer
from driftline.demo.traffic import Progress, Sender, make_batch

DURATIONS_S: Final = {"short": 24.0, "normal": 120.0, "long": 600.0}
# requests/s: far below what the embedded engine ingests on 2 shared cores, and enough rows per
# phase (> 1000: Evidently's large-sample methods) that unshifted features stay well below
# their thresholds.
RATE: Final = 200.0
# Evidently picks its large-sample methods (wasserstein, jensenshannon) above 1000 reference rows;
# with fewer, p-value tests flag unshifted features often enough to mislead a first look.
MIN_PER_PHASE: Final = 1200
MS: Final = 1_000_000


def parse_duration(value: str) -> float:
    """`short`, `normal`, `long`, or seconds of traffic in total."""
    if value in DURATIONS_S:
        return DURATIONS_S[value]
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(
            f"--duration must be short, normal, long or seconds, got {value!r}"
        ) from None
    if not math.isfinite(seconds) or seconds * RATE / 2 < MIN_PER_PHASE:
        raise ValueError(
            f"--duration must be at least {2 * MIN_PER_PHASE / RATE:g} seconds "
            f"({MIN_PER_PHASE} requests per phase at {RATE:g}/s)"
        )
    return seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseSpec:
    name: str
    title: str
    version: str
    shifted: bool
    requests: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    name: str
    title: str
    version: str
    start_ns: int
    end_ns: int
    inferences: int
    labels: int
    errors: int

    @property
    def start(self) -> str:
        return iso(self.start_ns)

    @property
    def end(self) -> str:
        return iso(self.end_ns)


def iso(ns: int) -> str:
    """UTC, millisecond precision: what `driftline query --since/--until` accepts back."""
    seconds = datetime.fromtimestamp(ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{seconds}.{ns // MS % 1000:03d}Z"


def plan(total_s: float, rate: float = RATE) -> list[PhaseSpec]:
    n = max(MIN_PER_PHASE, round(total_s * rate / 2))
    return [
        PhaseSpec(name="baseline", title="baseline traffic on version 1", version="1",
                  shifted=False, requests=n),
        PhaseSpec(name="shift", title="two features shift, version 2 rolls out", version="2",
                  shifted=True, requests=n),
    ]  # fmt: skip


def _now_ms_floor() -> int:
    return time.time_ns() // MS * MS


def run(
    server: ModelServer,
    specs: Sequence[PhaseSpec],
    *,
    seed: int,
    rate: float = RATE,
    label_fraction: float = 0.5,
    stream: TextIO | None = None,
) -> list[Phase]:
    stream = stream if stream is not None else sys.stderr
    sender = Sender(server.host, server.port)
    phases = []
    for index, spec in enumerate(specs, 1):
        batch = make_batch(seed + index, spec.requests, shifted=spec.shifted,
                           label_fraction=label_fraction)  # fmt: skip
        server.rollout(spec.version)
        print(f"phase {index}/{len(specs)}: {spec.title} ({spec.requests} requests at "
              f"{rate:g}/s)", file=stream, flush=True)  # fmt: skip
        start_ns = _now_ms_floor()
        progress = Progress(spec.name, spec.requests, stream)
        sent = sender.send(batch, rate, progress)
        progress.close()
        end_ns = _now_ms_floor() + MS
        while time.time_ns() < end_ns:  # the next phase's first span starts after this one ends
            time.sleep(0.0005)
        phases.append(
            Phase(name=spec.name, title=spec.title, version=spec.version, start_ns=start_ns,
                  end_ns=end_ns, inferences=sent.inferences, labels=sent.labels,
                  errors=sent.errors)
        )  # fmt: skip
    return phases
