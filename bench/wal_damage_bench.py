"""Many more randomized WAL damage trials than the test suite runs (#16.1), and their rate.

    .venv/bin/python bench/wal_damage_bench.py [TRIALS] [FIRST_SEED]

Each trial builds segments by hand, damages them one to three times (empty, delete, copy
frames or bytes over earlier ones, cut, flip bits, garbage, a ledger bit), runs recover(), and
checks that no intact frame was skipped and every expected id is handed out or reported (the
checks of tests/property/test_wal_model.py). A failure names its seed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.property.test_wal_model import _one_trial


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    started = time.perf_counter()
    for seed in range(first, first + trials):
        _one_trial(seed)
    elapsed = time.perf_counter() - started
    print(f"{trials} damage trials passed in {elapsed:.1f} s ({trials / elapsed:.0f}/s)")


if __name__ == "__main__":
    main()
