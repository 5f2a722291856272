"""Build hook: the wheel carries the query API's generated gRPC code (driftline.api._gen).

The code is generated from proto/ at build time (scripts/gen_proto.py; grpcio-tools is a build
requirement in pyproject.toml), never committed, so `pip wheel .` / `pip install .` on a clean
clone gives a complete package. Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "scripts"))

from gen_proto import generate  # noqa: E402


class BuildPyWithProto(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # `pip install -e`: the source tree is used
            generate(ROOT / "proto", ROOT / "src/driftline/api/_gen")
        else:
            generate(ROOT / "proto", Path(self.build_lib) / "driftline/api/_gen")


setup(cmdclass={"build_py": BuildPyWithProto})
