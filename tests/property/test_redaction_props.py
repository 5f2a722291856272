"""Redaction's byte-level shortcut is sound: for any strings (any Unicode, e-mails and card
numbers mixed in, any neighbouring bytes), whenever walking the request would change
something, the shortcut on its bytes says "maybe" — so skipping a request never leaks. And a
redacted request is a fixed point: redacting it again changes nothing."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from driftline.config.processors import PatternConfig, RedactionConfig
from driftline.processors.redaction import Redactor
from driftline.signals import Signal

RUNS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONFIG = RedactionConfig(
    drop_keys=("user.password",),
    hash_keys=("user.id",),
    patterns=(PatternConfig(name="email"), PatternConfig(name="credit_card", action="hash")),
)

pieces = st.sampled_from(
    ["bob@example.com", "a@b.cd", "@", ".", "4111111111111111", "4111 1111 1111 1111",
     "5500-0000-0000-0004", "9", " ", "-", "é", "ü@ü.de", "user.id", "x"]
)  # fmt: skip
texts = st.lists(st.one_of(pieces, st.text(max_size=8)), max_size=8).map("".join)
keys = st.sampled_from(["note", "user.id", "user.password", "k"])


def build(values: list[tuple[str, str]], resource: str) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="r").value.string_value = resource
    spans = resource_spans.scope_spans.add().spans
    for key, text in values:
        span = spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name=text[:5])
        span.attributes.add(key=key).value.string_value = text
        span.attributes.add(key="n").value.int_value = len(text) * 10**12
    return request


@RUNS
@given(values=st.lists(st.tuples(keys, texts), max_size=6), resource=texts)
def test_the_shortcut_never_skips_what_the_walk_would_change(
    values: list[tuple[str, str]], resource: str
) -> None:
    redactor = Redactor(CONFIG)
    request = build(values, resource)
    payload = request.SerializeToString()
    walked = ExportTraceServiceRequest.FromString(payload)
    changed = redactor(Signal.TRACES, walked)  # no payload: the full walk
    assert redactor.may_match(payload) or not changed
    shortcut = ExportTraceServiceRequest.FromString(payload)
    assert redactor(Signal.TRACES, shortcut, payload) == changed
    assert shortcut == walked  # per-item filtering loses nothing either
    again = walked.SerializeToString()
    assert not redactor(Signal.TRACES, walked, again)  # a fixed point
