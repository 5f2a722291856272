"""Who may see the console: the query API's token rules, for a browser.

No token configured (`query.auth_token` / DRIFTLINE_QUERY_TOKEN): everything is open, as on
the query port. With a token, a request passes with `Authorization: Bearer <token>` (scripts)
or with a session cookie that `POST /login` hands out for the right token (people). Other
page requests are sent to the login page; other /api requests get 401. Sessions live in memory
(a restart asks again); the cookie is HttpOnly and SameSite=Strict.

A console bound to a loopback address also refuses requests whose Host header is not a
loopback name, so a web page elsewhere cannot reach it through DNS rebinding.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from typing import Final

COOKIE: Final = "driftline_session"
LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
MAX_SESSIONS: Final = 10_000


class Sessions:
    def __init__(self, token: str) -> None:
        self._token = token
        self._ids: set[str] = set()

    @property
    def enabled(self) -> bool:
        return bool(self._token)

    def token_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._token.encode())

    def open(self) -> str:
        if len(self._ids) >= MAX_SESSIONS:
            self._ids.clear()
        session = secrets.token_urlsafe(32)
        self._ids.add(session)
        return session

    def close(self, session: str) -> None:
        self._ids.discard(session)

    def allows(self, authorization: str | None, session: str | None) -> bool:
        if not self.enabled:
            return True
        if authorization and authorization.startswith("Bearer "):
            return self.token_matches(authorization.removeprefix("Bearer ").strip())
        return session is not None and session in self._ids


def is_loopback_host(host: str) -> bool:
    """Whether a bind address (or a Host header's name) is loopback."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """`127.0.0.1:4320` → `127.0.0.1`; `[::1]:4320` → `::1`."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if host_header.count(":") == 1 else host_header


def safe_next(target: str) -> str:
    """Only a path on this console (no scheme, no other host) after logging in."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
