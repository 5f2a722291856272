"""Bearer-token check for ingest (`authorization: Bearer <token>`)."""

from __future__ import annotations

import hmac


class BearerAuth:
    """Accepts a request when its authorization value carries the configured token.

    An empty configured token turns the check off. The scheme is matched case-insensitively
    (RFC 7235); the token is compared in constant time.
    """

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    @property
    def enabled(self) -> bool:
        return bool(self._token)

    def allows(self, authorization: str | None) -> bool:
        if not self._token:
            return True
        if not authorization:
            return False
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        offered = credentials.strip().encode("utf-8", "surrogateescape")
        return hmac.compare_digest(offered, self._token)
