"""Packaging as a user meets it (#11.8): `pip wheel .` on a clean tree (the tracked and
unignored files only — no generated code, no .venv) builds a wheel that, installed into a new
venv outside the repository, runs `driftline serve`, the CLI against it, and `driftline demo`;
the SDK imports without the engine; the Dockerfile's COPY set is enough to build the same
wheel, and .dockerignore keeps everything else out of the context.

Kept fast: the build uses pip's cache, and the new venv gets the third-party dependencies by a
path entry to the dev venv's site-packages (a plain path: its .pth files, among them the
editable driftline, are not processed), so only the wheel itself is installed (--no-deps);
`pip check` then confirms its declared dependencies are all met.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.packaging]
REPO = Path(__file__).resolve().parents[2]


def clean_tree(dest: Path, only: list[str] | None = None) -> Path:
    """The files a fresh clone has (tracked, or new and not ignored), optionally only those
    under `only` — copied to `dest`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        if only is not None and not any(name == o or name.startswith(o + "/") for o in only):
            continue
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def build_wheel(tree: Path, out: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(tree)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = out.glob("driftline-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    tree = clean_tree(base / "clone")
    assert not (tree / "src/driftline/api/_gen").exists()  # a clean tree has no generated code
    return build_wheel(tree, base / "dist")


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=120)
    python = root / "bin/python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(purelib) / "_dev_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip
    return root


def test_the_wheel_carries_the_generated_code(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "driftline/api/_gen/driftline/v1/query_pb2.py",
        "driftline/api/_gen/driftline/v1/query_pb2_grpc.py",
        "driftline/api/_gen/driftline/v1/runs_pb2.py",
        "driftline/api/_gen/driftline/__init__.py",
        "driftline/storage/proto/otlp_ingest.proto",
        "driftline/py.typed",
    ):
        assert needed in names, needed
    metadata = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    sdk_extra = [line for line in metadata.splitlines() if 'extra == "sdk"' in line]
    assert any("opentelemetry-exporter-otlp-proto-http" in line for line in sdk_extra)
    assert any("opentelemetry-exporter-otlp-proto-grpc" in line for line in sdk_extra)


def _run(venv: Path, *args: str, timeout: float = 120, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(venv / "bin/driftline"), *args], capture_output=True, text=True, timeout=timeout,
        cwd=cwd, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_installed_wheel_serves_and_answers(venv: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(venv / "bin/python"), "-c", "import driftline; print(driftline.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert where.startswith(str(venv)), where  # the wheel, not the repository
    check = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "check"], capture_output=True, text=True
    )
    assert not [line for line in check.stdout.splitlines() if "driftline" in line], check.stdout
    data = tmp_path / "data"
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115  (closed below)
    serve = subprocess.Popen(
        [str(venv / "bin/driftline"), "serve", "--data-dir", str(data),
         *(x for flag in ("--otlp-grpc", "--otlp-http", "--query-grpc", "--metrics")
           for x in (flag, "127.0.0.1:0"))],
        stdout=log, stderr=log, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (data / "endpoints.json").exists():
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "serve did not get ready"
            time.sleep(0.1)
        query = json.loads((data / "endpoints.json").read_text())["query_grpc"]
        out = _run(venv, "sql", "SELECT count() AS n FROM otel_traces", "--json",
                   "--server", query, cwd=tmp_path)  # fmt: skip
        assert json.loads(out)["rows"] == [[0]]
    finally:
        serve.terminate()
        serve.wait(60)
        log.close()
    assert serve.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]


def test_installed_wheel_runs_the_demo(venv: Path, tmp_path: Path) -> None:
    out = _run(venv, "demo", "--duration", "12", "--report", str(tmp_path / "r.html"),
               timeout=300, cwd=tmp_path)  # fmt: skip
    assert "drift" in out and (tmp_path / "r.html").exists()


def test_the_sdk_imports_without_the_engine(venv: Path) -> None:
    code = (
        "import sys\n"
        "for name in ('chdb', 'clickhouse_connect', 'numpy', 'scipy', 'aiohttp'):\n"
        "    sys.modules[name] = None  # importing any of them now fails\n"
        "from driftline import sdk\n"
        "sdk.configure(service_name='x', endpoint='http://127.0.0.1:9')\n"
        "with sdk.track_inference(model='m') as inf:\n"
        "    inf.features({'a': 1.0})\n"
        "print('ok', sorted(m for m in sys.modules if m.startswith('driftline')))\n"
    )
    done = subprocess.run(
        [str(venv / "bin/python"), "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = done.stdout
    assert "driftline.storage" not in loaded and "driftline.api" not in loaded


def test_the_dockerfile_copies_enough(tmp_path: Path) -> None:
    dockerfile = (REPO / "deploy/Dockerfile").read_text()
    copied = [
        src for line in dockerfile.splitlines() if line.startswith("COPY ")
        for src in line.split()[1:-1]
    ]  # fmt: skip
    assert "src" in copied and "proto" in copied
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore and set(copied) <= allowed  # the context holds exactly these
    # The RUN step (`pip install .`) works on exactly the copied files:
    tree = clean_tree(tmp_path / "context", only=copied)
    assert not (tree / ".venv").exists() and not (tree / "tests").exists()
    wheel = build_wheel(tree, tmp_path / "dist")
    assert "driftline/api/_gen/driftline/v1/query_pb2.py" in zipfile.ZipFile(wheel).namelist()
    assert re.search(r"^RUN pip install --no-cache-dir \. ", dockerfile, re.MULTILINE)
