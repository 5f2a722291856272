"""Re-packing: many small requests into few large ones, and too-large ones into pieces.

Combining costs no decoding at all. A serialized Export*ServiceRequest is nothing but its
repeated `resource_*` field, and protobuf defines the concatenation of two encodings of a
message as their merge — for a repeated field, the lists appended. So `b"".join(bodies)` *is*
the combined request, byte for byte what encoding the merged message would give.

Splitting decodes the request and walks resource → scope → items, copying each resource and
scope header (attributes, schema_url) into every piece that carries some of its items, so no
item changes its resource or scope. Metrics are split between Metric messages and, when a
single metric carries more data points than fit, between its data points (the metric's name,
unit, temporality … are copied into each piece). A piece over `max_bytes` is halved again
until it fits or holds a single item, which is sent as it is: the destination decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from driftline.export.otlp.encode.shapes import SHAPES, Shape, count_items, metric_points
from driftline.signals import Signal


@dataclass(frozen=True, slots=True)
class Piece:
    """One export request body and the number of items in it."""

    signal: Signal
    body: bytes
    items: int


def _copy_header(dst: Message, src: Message, skip: str) -> None:
    """Copy every set field of `src` into `dst` except the repeated child list `skip`."""
    for fd, value in src.ListFields():
        if fd.name == skip:
            continue
        if fd.is_repeated:
            getattr(dst, fd.name).extend(value)
        elif fd.message_type is not None:
            getattr(dst, fd.name).CopyFrom(value)
        else:
            setattr(dst, fd.name, value)


class _Splitter:
    """Fills requests of at most `cap` items, resource and scope headers carried along."""

    def __init__(self, shape: Shape, cap: int) -> None:
        self._shape = shape
        self._cap = cap
        self.out: list[Message] = []
        self._current: Message | None = None
        self._n = 0
        # (position of the source, its copy in the current request). Positions, not id():
        # upb hands out short-lived wrappers whose ids are reused.
        self._resource: tuple[int, Message] | None = None
        self._scope: tuple[tuple[int, int], Message] | None = None

    @property
    def room(self) -> int:
        return self._cap - self._n

    def scope_for(self, at: tuple[int, int], resource: Message, scope: Message) -> Any:
        """The copy of scope `at` = (resource index, scope index) in the current request."""
        shape = self._shape
        if self._current is None:
            self._current = shape.request()
            self.out.append(self._current)
        if self._resource is None or self._resource[0] != at[0]:
            copy = getattr(self._current, shape.resources).add()
            _copy_header(copy, resource, shape.scopes)
            self._resource, self._scope = (at[0], copy), None
        if self._scope is None or self._scope[0] != at:
            copy = getattr(self._resource[1], shape.scopes).add()
            _copy_header(copy, scope, shape.items)
            self._scope = (at, copy)
        return self._scope[1]

    def added(self, n: int) -> None:
        self._n += n
        if self._n >= self._cap:
            self._current, self._resource, self._scope, self._n = None, None, None, 0


def split_items(signal: Signal, request: Message, cap: int) -> list[Message]:
    """Pieces of `request` with at most `cap` items each (cap >= 1), in the original order."""
    shape = SHAPES[signal]
    splitter = _Splitter(shape, cap)
    for ri, resource in enumerate(getattr(request, shape.resources)):
        for si, scope in enumerate(getattr(resource, shape.scopes)):
            leaves = getattr(scope, shape.items)
            if signal is Signal.METRICS:
                for metric in leaves:
                    _split_metric(splitter, (ri, si), resource, scope, metric)
                continue
            i = 0
            while i < len(leaves):
                take = min(splitter.room, len(leaves) - i)
                getattr(splitter.scope_for((ri, si), resource, scope), shape.items).extend(
                    leaves[i : i + take]
                )
                i += take
                splitter.added(take)
    return splitter.out


def _split_metric(
    splitter: _Splitter, at: tuple[int, int], resource: Message, scope: Message, metric: Message
) -> None:
    points = metric_points(metric)
    if points <= splitter.room:
        splitter.scope_for(at, resource, scope).metrics.add().CopyFrom(metric)
        splitter.added(points)
        return
    kind = metric.WhichOneof("data")
    source = getattr(metric, kind).data_points
    i = 0
    while i < points:
        take = min(splitter.room, points - i)
        piece = splitter.scope_for(at, resource, scope).metrics.add()
        _copy_header(piece, metric, kind)
        data = getattr(piece, kind)
        _copy_header(data, getattr(metric, kind), "data_points")
        data.data_points.extend(source[i : i + take])
        i += take
        splitter.added(take)


def split_to_fit(
    signal: Signal, request: Message, items: int, max_items: int, max_bytes: int
) -> list[Piece]:
    """`request` as pieces of at most `max_items` items (0: no cap) and `max_bytes` bytes."""
    cap = max_items or max(items, 1)
    out: list[Piece] = []
    pending = split_items(signal, request, cap) if items > cap else [request]
    for message in pending:
        n = count_items(signal, message)
        if message.ByteSize() > max_bytes and n > 1:
            out += split_to_fit(signal, message, n, (n + 1) // 2, max_bytes)
        else:
            out.append(Piece(signal, message.SerializeToString(), n))
    return out


class Packer:
    """Concatenates pieces of one signal into requests of at most max_items / max_bytes."""

    def __init__(self, signal: Signal, max_items: int, max_bytes: int) -> None:
        self.signal = signal
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._bodies: list[bytes] = []
        self._size = 0
        self._items = 0
        self.done: list[Piece] = []

    def fits(self, body_len: int, items: int) -> bool:
        return body_len <= self._max_bytes and (not self._max_items or items <= self._max_items)

    def add(self, piece: Piece) -> None:
        over_bytes = self._size + len(piece.body) > self._max_bytes
        over_items = bool(self._max_items) and self._items + piece.items > self._max_items
        if self._bodies and (over_bytes or over_items):
            self.flush()
        self._bodies.append(piece.body)
        self._size += len(piece.body)
        self._items += piece.items

    def add_all(self, pieces: Iterable[Piece]) -> None:
        for piece in pieces:
            self.add(piece)

    def flush(self) -> None:
        if self._bodies:
            body = self._bodies[0] if len(self._bodies) == 1 else b"".join(self._bodies)
            self.done.append(Piece(self.signal, body, self._items))
            self._bodies, self._size, self._items = [], 0, 0

    def finish(self) -> list[Piece]:
        self.flush()
        done, self.done = self.done, []
        return done
