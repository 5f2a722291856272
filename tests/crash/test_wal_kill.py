"""SIGKILL a process that appends to the WAL with sync "always"; every id it was given back
must survive with the right payload, and ids must stay contiguous across the restarts."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from driftline.config.model import WalConfig
from driftline.wal import Wal

pytestmark = [pytest.mark.crash, pytest.mark.timeout(120)]

TRIALS = 3
THREADS = 4

# The child: THREADS threads append until killed and print "<id> <token>" for every append
# the WAL acknowledged. The payload (and its size) follow from the token alone.
CHILD = r"""
import hashlib, sys, threading
from driftline.config.model import WalConfig
from driftline.wal import Wal

def payload(token):
    seed = hashlib.sha256(token.encode()).digest()
    size = int.from_bytes(seed[:2], "little") % 60_000
    return (seed * (size // 32 + 1))[:size]

config = WalConfig(sync="always", segment_size_mib=1, max_size_mib=4096)
wal = Wal.open(config, sys.argv[1], ["check"])
print("ready", flush=True)
out = threading.Lock()

def run(thread):
    seq = 0
    while True:
        token = f"{sys.argv[2]}-{thread}-{seq}"
        record_id = wal.append(1 + seq % 3, payload(token))
        with out:
            sys.stdout.write(f"{record_id} {token}\n")
            sys.stdout.flush()
        seq += 1

threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(int(sys.argv[3]))]
for t in threads:
    t.start()
threading.Event().wait()
"""


def _payload(token: str) -> bytes:
    seed = hashlib.sha256(token.encode()).digest()
    size = int.from_bytes(seed[:2], "little") % 60_000
    return (seed * (size // 32 + 1))[:size]


def _run_and_kill(directory: Path, trial: int, rng: random.Random) -> dict[int, str]:
    """Start the child, let it append for a random while, SIGKILL it; return what it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory), str(trial), str(THREADS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def collect() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line == "ready\n":
                ready.set()
            else:
                lines.append(line)

    collector = threading.Thread(target=collect)
    collector.start()
    assert ready.wait(30), "the child did not open the WAL"
    time.sleep(rng.uniform(0.2, 1.0))
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL
    collector.join(10)
    acknowledged = {}
    for line in lines:
        if line.endswith("\n"):  # a line cut by the kill was never fully acknowledged to us
            record_id, token = line.split()
            acknowledged[int(record_id)] = token
    return acknowledged


def test_every_acknowledged_append_survives_sigkill_with_its_payload(tmp_path: Path) -> None:
    rng = random.Random()
    acknowledged: dict[int, str] = {}
    for trial in range(TRIALS):
        got = _run_and_kill(tmp_path, trial, rng)
        assert got, f"trial {trial}: nothing was acknowledged before the kill"
        assert not set(got) & set(acknowledged), "an id was handed out twice"
        acknowledged.update(got)

    config = WalConfig(sync="always", segment_size_mib=1, max_size_mib=4096)
    with Wal.open(config, tmp_path, ["check"]) as wal:
        stored: dict[int, bytes] = {}
        while records := wal.read("check", 1000, 256 << 20, 0.1):
            stored.update((r.id, r.payload) for r in records)
        assert wal.stats().corrupt_records == 0
    missing = sorted(set(acknowledged) - set(stored))
    assert not missing, f"acknowledged but lost: {missing[:10]}"
    for record_id, token in acknowledged.items():
        assert stored[record_id] == _payload(token), f"record {record_id} has the wrong payload"
    ids = sorted(stored)
    assert ids == list(range(1, len(ids) + 1)), "ids are not contiguous"
