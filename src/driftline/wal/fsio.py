"""The few filesystem moves the WAL relies on: full vectored writes, directory fsync, atomic
file replacement and the directory lock. Everything here either finishes or raises OSError."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from driftline.errors import DataDirInUseError

try:
    IOV_MAX: Final = max(16, os.sysconf("SC_IOV_MAX"))
except (ValueError, OSError):  # pragma: no cover - every Linux has it
    IOV_MAX = 1024  # type: ignore[misc]

LOCK_FILE: Final = "LOCK"


def write_all(fd: int, bufs: Sequence[bytes]) -> int:
    """Write every buffer, in order, with as few `writev` calls as the kernel allows."""
    written = 0
    i = 0
    while i < len(bufs):
        chunk = bufs[i : i + IOV_MAX]
        n = os.writev(fd, chunk)
        written += n
        i += len(chunk)
        expected = sum(len(b) for b in chunk)
        if n == expected:
            continue
        # A short write (signal, quota, a full disk about to raise): finish this chunk by hand.
        for buf in chunk:
            if n >= len(buf):
                n -= len(buf)
                continue
            view = memoryview(buf)[n:]
            n = 0
            while view:
                m = os.write(fd, view)
                written += m
                view = view[m:]
    return written


def fsync_dir(path: str | Path) -> None:
    """Make creations, renames and deletions of entries in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old or the new contents:
    write a temporary file, fsync it, rename it over `path`, fsync the directory."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, [data])
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


class DirLock:
    """An exclusive advisory lock (flock) on `<directory>/LOCK`, held while the WAL is open.

    flock locks belong to the open file description, so a second open in the same process
    conflicts as well as one from another process. The kernel drops the lock when the holder
    dies, so a SIGKILLed collector never leaves a stale lock behind.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DataDirInUseError(
                    f"WAL directory {self.path.parent} is locked by another open WAL "
                    f"(pid {holder}); is another driftline running on the same data dir?"
                ) from e
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
