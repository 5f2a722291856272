"""OTLP/JSON ⇄ protobuf messages (pure).

OTLP/JSON is the proto3 JSON mapping with these differences (opentelemetry-proto
docs/specification.md, "JSON Protobuf Encoding"):

- `traceId`, `spanId` and `parentSpanId` — on spans, span links, log records and exemplars —
  are case-insensitive hex, not base64;
- enums are integers (names are accepted here too: being lenient costs nothing);
- 64-bit integers are decimal strings, and numbers are accepted when decoding;
- unknown fields are ignored; keys are lowerCamelCase.

Decoding rewrites the hex ids to base64 in the parsed dict, then lets
`google.protobuf.json_format.ParseDict` do the rest. The snake_case spelling of the id keys is
converted as well, so a lenient ParseDict never reads hex as base64.

Malformed input of any shape is InvalidInputError (400), never a 503 that OTel clients would
retry forever. Python's `json` accepts `\\ud800` (a lone surrogate, which is no Unicode
text) and protobuf's upb backend then fails on it with a bare SystemError — in a field name, an
enum name or a string value alike — so bodies whose escapes could spell one are walked first
and refused with a message naming the surrogate.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Iterator
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.message import Message

from driftline.errors import InvalidInputError
from driftline.receiver._otlp import OTLP_SIGNALS
from driftline.signals import Signal

_SPAN_IDS: Final = ("traceId", "spanId", "parentSpanId")
_LINK_IDS: Final = ("traceId", "spanId")
_METRIC_KINDS: Final = ("gauge", "sum", "histogram", "exponentialHistogram", "summary")
_MAX_SHOWN: Final = 40  # characters of a bad value quoted back in an error message
# A JSON escape of a surrogate code point (\\uD800-\\uDFFF): only then can a lone one appear.
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89abcdefABCDEF]")


@functools.cache
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def parse(signal: Signal, body: bytes | str) -> Message:
    """Decode an OTLP/JSON body into the signal's Export*ServiceRequest.

    Raises InvalidInputError for bad JSON, a top level that is not an object, ids that are not
    hex, and values that do not fit their field.
    """
    try:
        document = json.loads(body)
    except RecursionError:
        raise InvalidInputError("the JSON body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise InvalidInputError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidInputError("the JSON body must be an object")
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if _SURROGATE_ESCAPE.search(raw):
        _refuse_lone_surrogates(document)
    _HEX_FIXERS[signal](document)
    request = OTLP_SIGNALS[signal].request_type()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except RecursionError:
        raise InvalidInputError("the JSON body is nested too deeply") from None
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise InvalidInputError(f"invalid OTLP/JSON {request.DESCRIPTOR.name}: {exc}") from None
    except SystemError as exc:  # upb on text it cannot convert; a bad body, not a bad server
        raise InvalidInputError(f"invalid OTLP/JSON {request.DESCRIPTOR.name}: {exc}") from None
    return request


def _refuse_lone_surrogates(document: Any) -> None:
    """Raise InvalidInputError if any key or string in `document` is not valid Unicode text.

    Iterative (a stack, not recursion): json.loads already bounded the depth, and so must this.
    """
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                _check_text(key)
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            _check_text(node)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end].encode("unicode_escape").decode("ascii")
        shown = text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."
        raise InvalidInputError(
            f"the JSON body holds a lone surrogate ({bad}) in {shown!r}: not valid Unicode text"
        ) from None


def to_json(message: Message) -> str:
    """Serialize a response (or a google.rpc.Status) as OTLP/JSON: camelCase, int64 as strings."""
    return json_format.MessageToJson(message, indent=None)


# --- the hex id walk --------------------------------------------------------------------------


def _items(node: dict[str, Any], *path: str) -> Iterator[dict[str, Any]]:
    """The objects reached by following the list-valued keys of `path` (either spelling).

    Anything of an unexpected type is skipped here; ParseDict reports it afterwards.
    """
    if not path:
        yield node
        return
    key, rest = path[0], path[1:]
    children = node.get(key)
    if children is None:
        children = node.get(_snake(key))
    if isinstance(children, list):
        for child in children:
            if isinstance(child, dict):
                yield from _items(child, *rest)


def _hex_to_base64(node: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    for camel in keys:
        for key in (camel, _snake(camel)):
            value = node.get(key)
            if isinstance(value, str):
                try:
                    raw = binascii.unhexlify(value)
                except (binascii.Error, ValueError):
                    shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "..."
                    raise InvalidInputError(
                        f"{where}.{camel} must be a hex string, got {shown!r}"
                    ) from None
                node[key] = base64.b64encode(raw).decode("ascii")


def _fix_traces(document: dict[str, Any]) -> None:
    for span in _items(document, "resourceSpans", "scopeSpans", "spans"):
        _hex_to_base64(span, _SPAN_IDS, "span")
        for link in _items(span, "links"):
            _hex_to_base64(link, _LINK_IDS, "span link")


def _fix_logs(document: dict[str, Any]) -> None:
    for record in _items(document, "resourceLogs", "scopeLogs", "logRecords"):
        _hex_to_base64(record, _LINK_IDS, "log record")


def _fix_metrics(document: dict[str, Any]) -> None:
    for metric in _items(document, "resourceMetrics", "scopeMetrics", "metrics"):
        for kind in _METRIC_KINDS:
            data = metric.get(kind)
            if data is None:
                data = metric.get(_snake(kind))
            if isinstance(data, dict):
                for exemplar in _items(data, "dataPoints", "exemplars"):
                    _hex_to_base64(exemplar, _LINK_IDS, "exemplar")


_HEX_FIXERS: Final = {
    Signal.TRACES: _fix_traces,
    Signal.METRICS: _fix_metrics,
    Signal.LOGS: _fix_logs,
}
