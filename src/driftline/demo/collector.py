"""The demo's collector: `driftline serve` as a child process on free ports.

Every port is 0; the collector writes the addresses it bound to `<data-dir>/endpoints.json` once
it is ready, which is what `start()` waits for (a file left by an earlier run counts only once
rewritten). Its output goes to `<data-dir>/collector.log`. `lag_records()` reads the ClickHouse
sink's WAL cursor lag from `/metrics`: 0 means every acknowledged record is in the tables.
`stop()` sends SIGTERM (graceful drain) and waits; SIGKILL only if it does not exit in time.
Unless it is to outlive the demo (`--keep`), the child asks the kernel for a SIGTERM when its
parent dies, so even a SIGKILLed demo leaves no collector running.
"""

from __future__ import annotations

import ctypes
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Final

_LAG: Final = re.compile(
    r'^driftline_wal_cursor_lag_records\{cursor="clickhouse"\}\s+(\S+)$', re.MULTILINE
)


class CollectorError(RuntimeError):
    """The collector did not start, or stopped answering; the message ends with its log tail."""


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the demo's process dies, however it dies (Linux
    PR_SET_PDEATHSIG; elsewhere a no-op). A SIGKILLed demo then leaves no collector behind."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Collector:
    def __init__(self, data_dir: Path, *, die_with_parent: bool = True) -> None:
        self.data_dir = data_dir
        self.die_with_parent = die_with_parent
        self.log_path = data_dir / "collector.log"
        self.endpoints: dict[str, str] = {}
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise CollectorError("the collector was not started")
        return self._proc.pid

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
            return "\n".join(lines[-12:])  # a traceback's last lines say why
        except OSError:
            return "(no log)"

    def start(self, timeout_s: float = 90.0) -> dict[str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        endpoints = self.data_dir / "endpoints.json"
        # Not unlinked: it may belong to a collector that owns this dir (we then fail, it lives).
        stale = endpoints.stat().st_mtime_ns if endpoints.exists() else None
        args = [
            sys.executable, "-m", "driftline", "serve", "--data-dir", str(self.data_dir),
            "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0",
            "--query-grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
            "--mlflow", "127.0.0.1:0", "--console", "127.0.0.1:0",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            # Its own session: a Ctrl-C in the terminal reaches the demo, which stops it cleanly.
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while not endpoints.exists() or endpoints.stat().st_mtime_ns == stale:
            if self._proc.poll() is not None:
                raise CollectorError(f"the collector exited early:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise CollectorError(f"the collector was not ready in time:\n{self._log_tail()}")
            time.sleep(0.05)
        self.endpoints = dict(json.loads(endpoints.read_text()))
        return self.endpoints

    def lag_records(self) -> float:
        url = f"http://{self.endpoints['metrics']}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        match = _LAG.search(text)
        if match is None:
            raise CollectorError("no clickhouse cursor lag on /metrics")
        return float(match.group(1))

    def wait_caught_up(self, timeout_s: float = 60.0) -> None:
        """Until the ClickHouse sink has consumed the whole WAL."""
        deadline = time.monotonic() + timeout_s
        while self.lag_records() > 0:
            if self._proc is not None and self._proc.poll() is not None:
                raise CollectorError(f"the collector exited:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                raise CollectorError("the ClickHouse sink did not catch up in time")
            time.sleep(0.1)

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM and wait; the exit code (None if it was never started)."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(30)
        return self._proc.returncode
