"""Generate the query API's Python code (`driftline.api._gen`) from proto/driftline/v1/*.proto.

One generator for every path that needs it: `make proto` (into src/ for the editable install),
and the wheel build (setup.py's build_py step, into the build directory, so a wheel built from
a clean clone carries the code; the generated files are never committed).

    python scripts/gen_proto.py [PROTO_DIR OUT_DIR]      (default: proto src/driftline/api/_gen)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fix_gen_imports import fix

ROOT = Path(__file__).resolve().parent.parent


def generate(proto_dir: Path, out_dir: Path) -> list[Path]:
    """protoc --python_out --pyi_out --grpc_python_out, then the import fix; returns the .py
    files written. Raises RuntimeError when protoc fails."""
    from grpc_tools import protoc

    protos = sorted(proto_dir.glob("driftline/v1/*.proto"))
    if not protos:
        raise RuntimeError(f"no .proto files under {proto_dir}/driftline/v1")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    well_known = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto
    args = [
        "grpc_tools.protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={out_dir}",
        f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}", *map(str, protos),
    ]  # fmt: skip
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {proto_dir}")
    fix(out_dir)
    (out_dir / ".stamp").touch()
    return sorted(out_dir.rglob("*.py"))


def main(argv: list[str]) -> int:
    proto_dir = Path(argv[1]) if len(argv) > 1 else ROOT / "proto"
    out_dir = Path(argv[2]) if len(argv) > 2 else ROOT / "src/driftline/api/_gen"
    generate(proto_dir, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
