"""Components and the order they live in: start in order, shut down in reverse, and unwind.

A component is anything with `start()` and `shutdown(grace_s)` — plain or async methods:

    class Component(Protocol):
        def start(self) -> None | Awaitable[None]: ...
        def shutdown(self, grace_s: float) -> None | Awaitable[None]: ...

`Lifecycle.start(component)` starts one and remembers it. If a later start raises, the
`starting()` block shuts the started ones down in reverse order (a component whose own
`start()` raised cleans up after itself: it was never started), then re-raises, so a failing
late step never leaks the WAL's lock or a thread. `shutdown(grace_s)` stops everything in
reverse order within one shared deadline: each component gets the time that is left. A
component that fails to shut down is logged and the others still stop.

This module is a leaf: a component anywhere in driftline satisfies the protocol by shape.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)


class Component(Protocol):
    def start(self) -> Awaitable[None] | None: ...
    def shutdown(self, grace_s: float) -> Awaitable[None] | None: ...


C = TypeVar("C", bound=Component)


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result


@dataclass(frozen=True, slots=True)
class Hooks:
    """A component made of two callables, for parts whose methods are named otherwise or that
    need no start (`shutdown` only) — e.g. unregistering a metrics collector."""

    on_start: Callable[[], Awaitable[None] | None] = lambda: None
    on_shutdown: Callable[[float], Awaitable[None] | None] = lambda grace_s: None

    def start(self) -> Awaitable[None] | None:
        return self.on_start()

    def shutdown(self, grace_s: float) -> Awaitable[None] | None:
        return self.on_shutdown(grace_s)


class Lifecycle:
    def __init__(self) -> None:
        self._started: list[tuple[str, Component]] = []

    @property
    def started(self) -> list[str]:
        """The names of the running components, in start order."""
        return [name for name, _ in self._started]

    async def start(self, component: C, name: str = "") -> C:
        """Start `component` (once its start returns, it is running) and return it."""
        label = name or type(component).__name__
        log.debug("starting %s", label)
        await _maybe_await(component.start())
        self._started.append((label, component))
        return component

    @asynccontextmanager
    async def starting(self) -> AsyncIterator[Lifecycle]:
        """Start components inside this block; if anything raises, unwind what started."""
        try:
            yield self
        except BaseException:
            log.info("start failed; stopping %s", ", ".join(reversed(self.started)) or "nothing")
            await self.shutdown(0.0)
            raise

    async def shutdown(self, grace_s: float) -> None:
        """Stop every started component, last started first, within `grace_s` in total."""
        deadline = time.monotonic() + grace_s
        while self._started:
            label, component = self._started.pop()
            remaining = max(0.0, deadline - time.monotonic())
            try:
                await _maybe_await(component.shutdown(remaining))
            except Exception:  # the others must still stop (and the WAL release its lock)
                log.exception("shutting down %s failed", label)
