"""POST alert transitions as JSON to a webhook, retrying what a retry can fix.

Retried: connection errors, timeouts, 429 and 5xx (honouring Retry-After); never 4xx other than
429 — the receiver will refuse the same body again. Blocking (urllib): it runs on the alert
engine's own thread, never on a request path.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from driftline.errors import PermanentError, RetryableError

log = logging.getLogger(__name__)


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    hinted = getattr(error, "delay_s", None)
    backoff = wait_exponential_jitter(multiplier=0.2, max=10.0, jitter=0.2)(state)
    return max(float(hinted), backoff) if hinted else backoff


def post_json(
    url: str,
    payload: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 5.0,
    attempts: int = 5,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Raises PermanentError (refused) or RetryableError (gave up after `attempts`)."""
    body = json.dumps(payload).encode()

    def once() -> None:
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as e:
            if e.code == 429 or e.code >= 500:
                retry_after = e.headers.get("Retry-After") if e.headers else None
                delay = float(retry_after) if retry_after and retry_after.isdigit() else None
                raise RetryableError(f"webhook answered {e.code}", delay_s=delay) from e
            raise PermanentError(f"webhook refused the alert: HTTP {e.code}") from e
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            raise RetryableError(f"webhook unreachable: {e}") from e

    kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    Retrying(
        retry=retry_if_exception_type(RetryableError),
        wait=_wait,
        stop=stop_after_attempt(attempts),
        reraise=True,
        **kwargs,
    )(once)
