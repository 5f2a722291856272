"""What a run records about where it ran: code version, environment, system samples.

Everything here is best effort and cheap: `git` is asked with a short timeout (no git, or not a
repository: no code attributes), GPUs are counted from `/dev/nvidia<N>` (no driver library is
loaded), package versions come from installed metadata, CPU and memory from `/proc` (Linux; on
other systems the samples are empty). Nothing here raises.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Final

from driftline import semconv

GIT_TIMEOUT_S: Final = 2.0
# Packages whose versions usually explain a difference between two runs.
KEY_PACKAGES: Final = (
    "numpy", "scipy", "pandas", "scikit-learn", "torch", "tensorflow", "jax", "xgboost",
    "lightgbm", "catboost", "transformers", "polars", "pyarrow", "opentelemetry-sdk",
    "driftline",
)  # fmt: skip
_NVIDIA_DEVICE: Final = re.compile(r"nvidia\d+$")


def _git(args: list[str], cwd: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code_version(cwd: str | None = None) -> dict[str, str | bool]:
    """Commit, dirty flag (tracked files changed), branch and entry point of the running code.
    `cwd` defaults to the directory of the main script, else the working directory."""
    main = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else ""
    where = cwd or (str(Path(main).resolve().parent) if main else os.getcwd())
    attrs: dict[str, str | bool] = {}
    if main:
        attrs[semconv.ML_RUN_CODE_ENTRYPOINT] = main
    commit = _git(["rev-parse", "HEAD"], where)
    if not commit:
        return attrs
    attrs[semconv.ML_RUN_CODE_COMMIT] = commit
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    attrs[semconv.ML_RUN_CODE_DIRTY] = bool(status)
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], where)
    if branch and branch != "HEAD":
        attrs[semconv.ML_RUN_CODE_BRANCH] = branch
    return attrs


def gpu_count() -> int:
    """NVIDIA devices visible to this process (CUDA_VISIBLE_DEVICES narrows them)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        return sum(1 for name in os.listdir("/dev") if _NVIDIA_DEVICE.match(name))
    except OSError:
        return 0


def environment() -> dict[str, str | int]:
    env = semconv.ML_RUN_ENV_PREFIX
    attrs: dict[str, str | int] = {
        f"{env}python": platform.python_version(),
        f"{env}python.implementation": platform.python_implementation(),
        f"{env}os": f"{platform.system()} {platform.release()}",
        f"{env}host": socket.gethostname(),
        f"{env}cpu_count": os.cpu_count() or 0,
        f"{env}gpu_count": gpu_count(),
    }
    for name in KEY_PACKAGES:
        try:
            attrs[f"{env}package.{name}"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        except Exception:  # broken metadata must not break a training run
            continue
    return attrs


_NVIDIA_QUERY: Final = (
    "nvidia-smi",
    "--query-gpu=index,utilization.gpu,memory.used,memory.total",
    "--format=csv,noheader,nounits",
)


def parse_nvidia_smi(text: str) -> dict[str, float]:
    """`index, util %, used MiB, total MiB` lines → MLflow's gpu_<i>_* system metrics."""
    out: dict[str, float] = {}
    for line in text.strip().splitlines():
        try:
            index, util, used, total = (x.strip() for x in line.split(","))
            i = int(index)
            out[f"system/gpu_{i}_utilization_percentage"] = float(util)
            out[f"system/gpu_{i}_memory_usage_megabytes"] = float(used) * 1.048576
            if float(total) > 0:
                out[f"system/gpu_{i}_memory_usage_percentage"] = 100 * float(used) / float(total)
        except ValueError:
            continue  # "[N/A]" fields, or a line from another driver version
    return out


class SystemSampler:
    """CPU utilisation (between two samples), memory use and, with NVIDIA GPUs and
    `nvidia-smi` on PATH, GPU utilisation and memory: MLflow's `system/*` keys."""

    def __init__(self) -> None:
        self._last_cpu = self._cpu_times()
        self._gpus = gpu_count() > 0 and shutil.which("nvidia-smi") is not None

    def _gpu(self) -> dict[str, float]:
        try:
            done = subprocess.run(
                _NVIDIA_QUERY, capture_output=True, text=True, timeout=GIT_TIMEOUT_S
            )
        except (OSError, subprocess.SubprocessError):
            self._gpus = False  # do not try again every interval
            return {}
        return parse_nvidia_smi(done.stdout) if done.returncode == 0 else {}

    @staticmethod
    def _cpu_times() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    @staticmethod
    def _meminfo() -> dict[str, int]:
        out: dict[str, int] = {}
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    key, _, rest = line.partition(":")
                    out[key] = int(rest.split()[0]) * 1024
        except (OSError, ValueError, IndexError):
            return {}
        return out

    def sample(self) -> dict[str, float]:
        metrics: dict[str, float] = {}
        now = self._cpu_times()
        if now is not None and self._last_cpu is not None:
            total = now[0] - self._last_cpu[0]
            idle = now[1] - self._last_cpu[1]
            if total > 0:
                metrics["system/cpu_utilization_percentage"] = 100.0 * (total - idle) / total
        self._last_cpu = now
        mem = self._meminfo()
        if "MemTotal" in mem and "MemAvailable" in mem:
            used = mem["MemTotal"] - mem["MemAvailable"]
            metrics["system/system_memory_usage_megabytes"] = used / 2**20
            metrics["system/system_memory_usage_percentage"] = 100.0 * used / mem["MemTotal"]
        try:
            with open("/proc/self/statm") as f:
                rss_pages = int(f.read().split()[1])
            metrics["system/process_memory_rss_megabytes"] = (
                rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
            )
        except (OSError, ValueError, IndexError):
            pass
        if self._gpus:
            metrics.update(self._gpu())
        return metrics


def now_ns() -> int:
    return time.time_ns()
