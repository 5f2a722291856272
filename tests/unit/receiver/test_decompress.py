"""The bounded Content-Encoding decoder of the HTTP receiver."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from driftline.errors import InvalidInputError, TooLargeError
from driftline.receiver.otlp_http import decompress

MIB = 1 << 20


def test_gzip_round_trip_and_concatenated_members() -> None:
    assert decompress(gzip.compress(b"abc"), "gzip", 100) == b"abc"
    assert decompress(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", 100) == b"abcd"
    assert decompress(zlib.compress(b"abc"), "deflate", 100) == b"abc"


def test_exactly_the_limit_is_allowed() -> None:
    assert decompress(gzip.compress(b"x" * 100), "gzip", 100) == b"x" * 100
    with pytest.raises(TooLargeError):
        decompress(gzip.compress(b"x" * 101), "gzip", 100)


def test_identity_over_the_limit_is_too_large() -> None:
    assert decompress(b"x" * 10, "identity", 10) == b"x" * 10
    with pytest.raises(TooLargeError):
        decompress(b"x" * 11, "identity", 10)


def test_gzip_bomb_stops_at_the_limit_without_inflating_it() -> None:
    bomb = gzip.compress(b"\x00" * (256 * MIB), compresslevel=1)  # ~250 KiB on the wire
    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError):
            decompress(bomb, "gzip", 1 * MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MIB, f"decompression peaked at {peak} bytes"


@pytest.mark.parametrize(
    "body", [b"not gzip at all", gzip.compress(b"x" * 1000)[:-12], gzip.compress(b"a") + b"junk"]
)
def test_corrupt_or_truncated_gzip_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidInputError):
        decompress(body, "gzip", MIB)
