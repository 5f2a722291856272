"""The README, executed (#11): every shell, Python and YAML block runs as a user would run it,
against one live `driftline serve` holding a first hour of data (first_hour.py).

Conventions (every helper adding README commands follows them):

- ```bash / ```sh blocks run in order, each as one `bash -euo pipefail` script; ```python
  blocks run with the venv's python; ```yaml blocks are whole configs, run through
  `driftline check-config`. Each must exit 0.
- Environment: PATH starts with the venv's bin (`driftline`, `python`); DRIFTLINE_QUERY_ENDPOINT
  and OTEL_EXPORTER_OTLP_ENDPOINT point at the live server; the cwd is a temp dir with
  `bench/` and `examples/` linked in. The default addresses in a block (127.0.0.1:4317, :4318,
  :4319, :9464, localhost too) are rewritten to the live server's.
- Markers on the lines just before a fence: `<!-- readme: skip (reason) -->` (cannot run
  here: make, docker, kubectl, a long demo), `<!-- readme: fragment -->` (a YAML piece, not a
  whole config), `<!-- readme: expect "REGEX" -->` (repeatable: stdout must match each).
- A block that needs ids gets them itself (`RUN_ID=$(driftline runs list -q …)`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.first_hour import FirstHour

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*readme:\s*(skip|fragment|expect)\b\s*(.*?)\s*-->\s*$")
RUNNABLE = {"bash", "sh", "python", "yaml"}


@dataclass
class Block:
    line: int
    lang: str
    text: str
    skip: str = ""
    fragment: bool = False
    expect: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        first = next((ln for ln in self.text.splitlines() if ln.strip()), "")
        return f"L{self.line}-{self.lang}-{re.sub(r'[^A-Za-z0-9]+', '_', first)[:40]}"


def blocks(text: str) -> list[Block]:
    """The fenced blocks of `text` with their markers (the comment lines just before)."""
    lines = text.splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, lang = i, match.group(1)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        block = Block(start + 1, lang, "\n".join(lines[start + 1 : end]) + "\n")
        j = start - 1
        while j >= 0 and _MARKER.match(lines[j]):
            kind, arg = _MARKER.match(lines[j]).groups()  # type: ignore[union-attr]
            if kind == "skip":
                block.skip = arg or "marked"
            elif kind == "fragment":
                block.fragment = True
            else:
                block.expect.append(arg.strip().strip('"'))
            j -= 1
        found.append(block)
        i = end + 1
    return found


ALL = blocks(README.read_text())
RUN = [b for b in ALL if b.lang in RUNNABLE and not b.skip and not b.fragment]


def test_blocks_follow_the_convention() -> None:
    """Every block is runnable, marked, or plain text (a diagram, an output sample)."""
    for block in ALL:
        assert block.lang in RUNNABLE | {""}, f"README line {block.line}: ```{block.lang}"
        if block.lang in ("bash", "sh"):
            assert ".venv/bin/driftline" not in block.text, f"line {block.line}: use driftline"
    assert len(RUN) >= 8


def _rewrite(text: str, data: FirstHour) -> str:
    ep = data.server.endpoints
    for port, key in (("4317", "otlp_grpc"), ("4318", "otlp_http"), ("4319", "query_grpc"),
                      ("9464", "metrics")):  # fmt: skip
        text = re.sub(rf"\b(127\.0\.0\.1|localhost):{port}\b", ep[key], text)
    return text


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("readme")
    for name in ("bench", "examples"):
        (cwd / name).symlink_to(REPO / name)
    return cwd


def _env(data: FirstHour) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DRIFTLINE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DRIFTLINE_QUERY_ENDPOINT"] = data.query
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{data.otlp_grpc}"
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"
    return env


@pytest.mark.parametrize("block", RUN, ids=[b.id for b in RUN])
def test_readme_block(block: Block, first_hour: FirstHour, workdir: Path) -> None:
    text = _rewrite(block.text, first_hour)
    if block.lang in ("bash", "sh"):
        command = ["bash", "-euo", "pipefail", "-c", text]
    elif block.lang == "python":
        command = [sys.executable, "-c", text]
    else:
        config = workdir / f"readme-{block.line}.yaml"
        config.write_text(text)
        command = [str(Path(sys.executable).parent / "driftline"), "check-config", str(config)]
    done = subprocess.run(
        command, cwd=workdir, env=_env(first_hour), capture_output=True, text=True, timeout=300
    )
    where = f"README.md line {block.line} ({block.lang})"
    assert done.returncode == 0, f"{where} exited {done.returncode}:\n{done.stderr[-3000:]}"
    for pattern in block.expect:
        assert re.search(pattern, done.stdout), f"{where}: no /{pattern}/ in\n{done.stdout}"
