"""Bearer-token check."""

from __future__ import annotations

import pytest

from driftline.receiver.auth import BearerAuth


def test_empty_token_turns_the_check_off() -> None:
    auth = BearerAuth("")
    assert not auth.enabled
    assert auth.allows(None)


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        ("Bearer s3cret", True),
        ("bearer s3cret", True),
        ("  Bearer   s3cret  ", True),
        ("Bearer wrong", False),
        ("Bearer s3cret-and-more", False),
        ("Basic s3cret", False),
        ("s3cret", False),
        ("Bearer", False),
        ("Bearer sécrèt", False),
        ("", False),
        (None, False),
    ],
)
def test_bearer_token(header: str | None, allowed: bool) -> None:
    assert BearerAuth("s3cret").allows(header) is allowed
