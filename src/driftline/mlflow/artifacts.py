"""MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`) over `<data-dir>/artifacts`.

    PUT    .../artifacts/<path>          upload (streamed to a temp file, fsynced, renamed)
    GET    .../artifacts/<path>          download
    GET    .../artifacts?path=<dir>      list: {"files": [{"path", "is_dir", "file_size"}]}
    DELETE .../artifacts/<path>          delete a file or a directory

Runs created through the MLflow API get `mlflow-artifacts:/<experiment>/<run>/artifacts` as
their artifact URI, which MLflow clients resolve to these endpoints. An upload under a run's
artifact root is recorded in the run (ml.run.artifact: uri, path, size, sha256), so
`driftline runs show` lists it. Paths are relative and may not climb out (`..`, absolute).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import Final

from aiohttp import web

from driftline.mlflow.errors import invalid, not_found

ROUTE: Final = "/api/2.0/mlflow-artifacts/artifacts"
_RUN_PATH: Final = re.compile(r"^(?P<exp>[^/]+)/(?P<run>[0-9a-f]{32})/artifacts/(?P<rel>.+)$")
_MODEL_PATH: Final = re.compile(r"^[^/]+/models/(?P<model>m-[0-9a-f]{32})/artifacts/(?P<rel>.+)$")
_CHUNK: Final = 1 << 20


def safe_path(root: Path, path: str) -> Path:
    """`root / path` for a relative path that stays inside root."""
    pure = PurePosixPath(path.strip("/") if path else "")
    if path.startswith("/") or any(part in ("..", "") for part in pure.parts) or "\\" in path:
        raise invalid(f"Invalid artifact path: '{path}'")
    return root.joinpath(*pure.parts)


def run_of(path: str) -> tuple[str, str] | None:
    """(run id, path inside the run's artifacts) when `path` is under a run's artifact root."""
    m = _RUN_PATH.match(path.strip("/"))
    return (m["run"], m["rel"]) if m else None


def model_of(path: str) -> tuple[str, str] | None:
    """(model id, path inside the model) when `path` is under a logged model's artifacts."""
    m = _MODEL_PATH.match(path.strip("/"))
    return (m["model"], m["rel"]) if m else None


async def receive(request: web.Request, target: Path) -> tuple[int, str]:
    """Stream the body to `target` (temp file, fsync, rename); return size and sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    sha = hashlib.sha256()
    size = 0
    try:
        with open(temp, "wb") as out:
            while chunk := await request.content.read(_CHUNK):
                out.write(chunk)
                sha.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return size, sha.hexdigest()


def listing(root: Path, path: str) -> dict[str, list[dict[str, object]]]:
    directory = safe_path(root, path)
    if not directory.is_dir():
        return {"files": []} if not directory.exists() else _single(directory)
    files: list[dict[str, object]] = []
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith(".") and entry.name.endswith(".part"):
            continue
        item: dict[str, object] = {"path": entry.name, "is_dir": entry.is_dir()}
        if entry.is_file():
            item["file_size"] = entry.stat().st_size
        files.append(item)
    return {"files": files}


def _single(file: Path) -> dict[str, list[dict[str, object]]]:
    return {"files": [{"path": file.name, "is_dir": False, "file_size": file.stat().st_size}]}


def download(root: Path, path: str) -> web.StreamResponse:
    file = safe_path(root, path)
    if not file.is_file():
        raise not_found(f"Artifact '{path}' does not exist")
    return web.FileResponse(file, headers={"Content-Type": "application/octet-stream"})


def delete(root: Path, path: str) -> None:
    target = safe_path(root, path)
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    else:
        raise not_found(f"Artifact '{path}' does not exist")
