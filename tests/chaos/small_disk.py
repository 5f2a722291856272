"""A real small filesystem for disk-full tests: a size-limited tmpfs mounted for the test.

Mounting needs root (CI runs as root on the same kind of machine); where it is not allowed
the tests that need it skip with the reason. `fill()` leaves exactly `leave` bytes free with
a ballast file; `free()` removes it, as an operator clearing space would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


class SmallDisk:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ballast = root / "ballast"

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def fill(self, leave: int = 0) -> None:
        """Grow the ballast until at most `leave` bytes are free."""
        with self.ballast.open("ab") as f:
            chunk = b"\0" * (1 << 16)
            while self.free_bytes() > leave:
                want = min(len(chunk), self.free_bytes() - leave)
                try:
                    f.write(chunk[: max(1, want)])
                    f.flush()
                except OSError:
                    break

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)


@contextmanager
def small_disk(base: Path, size_mib: int) -> Iterator[SmallDisk]:
    root = base / f"tmpfs-{size_mib}m"
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0755", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {size_mib} MiB tmpfs here: {done.stderr.strip()}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)
        os.rmdir(root)
