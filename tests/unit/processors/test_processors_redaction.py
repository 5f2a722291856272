"""Redaction rules on constructed requests: keys dropped or hashed (equal to hashlib's), e-mails
and Luhn-valid card numbers masked or hashed, user regexes, nested values, log bodies, every
attribute list of every signal, and the byte-level shortcut never skipping a request it should
not."""

from __future__ import annotations

import hashlib
import random
import re

import pytest
from processors_requests import attrs, gauge, logs, plain, span_attrs, traces

from driftline.config.processors import PatternConfig, RedactionConfig
from driftline.processors.patterns import luhn_valid
from driftline.processors.redaction import Redactor
from driftline.signals import Signal

EMAIL = PatternConfig(name="email")
CARD = PatternConfig(name="credit_card")


def sha(text: str | bytes, salt: str = "") -> str:
    data = text.encode() if isinstance(text, str) else text
    return "sha256:" + hashlib.sha256(salt.encode() + data).hexdigest()


def redact(config: RedactionConfig, request: object, signal: Signal = Signal.TRACES) -> bool:
    """Apply with the byte-level shortcut, as the ingest path does."""
    return Redactor(config)(signal, request, request.SerializeToString())  # type: ignore[attr-defined]


def test_emails_are_masked_wherever_they_are_in_a_string() -> None:
    request = traces(
        {
            "msg": "from bob.smith+ml@mail.example.co.uk to ANN@EXAMPLE.COM, ok",
            "ok": "no address here @ all",
            "n": 3,
        }
    )
    assert redact(RedactionConfig(patterns=(EMAIL,)), request)
    got = span_attrs(request)
    assert got["msg"] == "from [redacted:email] to [redacted:email], ok"
    assert got["ok"] == "no address here @ all" and got["n"] == 3


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4111111111111111", True),  # Visa test number
        ("4111 1111 1111 1111", True),
        ("5500-0000-0000-0004", True),  # Mastercard test number, dashes
        ("378282246310005", True),  # Amex, 15 digits
        ("4111111111111112", False),  # last digit off: fails Luhn
        ("1700000000000000001", False),  # a 19-digit id failing Luhn
        ("411111111111", False),  # 12 digits: too short for a card
        ("41111111111111110000000", False),  # 23 digits: part of a longer run
    ],
)
def test_card_numbers_are_masked_only_when_luhn_valid(text: str, masked: bool) -> None:
    request = traces({"note": f"paid with {text}."})
    changed = redact(RedactionConfig(patterns=(CARD,)), request)
    expected = "paid with [redacted:credit_card]." if masked else f"paid with {text}."
    assert span_attrs(request)["note"] == expected
    assert changed is masked


def _luhn_check_digit(body: str) -> int:
    """Independent formulation: double every second digit from the right of body+check."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        total += sum(divmod(d * 2, 10)) if i % 2 == 0 else d
    return (10 - total % 10) % 10


def test_luhn_agrees_with_an_independent_formulation() -> None:
    rng = random.Random(4)
    for _ in range(500):
        body = "".join(rng.choice("0123456789") for _ in range(rng.randint(12, 18)))
        check = _luhn_check_digit(body)
        assert luhn_valid(f"{body}{check}")
        assert not luhn_valid(f"{body}{(check + rng.randint(1, 9)) % 10}")


def test_hashed_keys_equal_hashlib_for_every_value_type() -> None:
    request = traces(
        {
            "user.id": "u-123",
            "user.n": 42,
            "user.x": 0.5,
            "user.b": True,
            "user.raw": b"\x00\xff",
            "user.tags": ["a", 7],
            "user.map": {"k": "v"},
            "other": "u-123",
        }
    )
    keys = ("user.id", "user.n", "user.x", "user.b", "user.raw", "user.tags", "user.map")
    assert redact(RedactionConfig(hash_keys=keys), request)
    got = span_attrs(request)
    assert got["user.id"] == sha("u-123")
    assert got["user.n"] == sha("42")
    assert got["user.x"] == sha("0.5")
    assert got["user.b"] == sha("true")
    assert got["user.raw"] == sha(b"\x00\xff")
    assert got["user.tags"] == [sha("a"), sha("7")]
    assert got["user.map"] == {"k": sha("v")}
    assert got["other"] == "u-123"


def test_the_salt_is_prepended_before_hashing() -> None:
    request = traces({"user.id": "u-123"})
    redact(RedactionConfig(hash_keys=("user.id",), salt="pepper"), request)
    assert span_attrs(request)["user.id"] == sha("u-123", salt="pepper")
    assert span_attrs(request)["user.id"] != sha("u-123")


def test_dropped_keys_go_at_every_depth_and_the_rest_keeps_its_order() -> None:
    request = traces(
        {
            "a": 1,
            "password": "hunter2",
            "b": 2,
            "nested": {"password": "x", "keep": "y", "deeper": [{"password": "z", "w": 1}]},
            "c": 3,
        }
    )
    assert redact(RedactionConfig(drop_keys=("password",)), request)
    spans = request.resource_spans[0].scope_spans[0].spans
    assert [kv.key for kv in spans[0].attributes] == ["a", "b", "nested", "c"]
    assert span_attrs(request)["nested"] == {"keep": "y", "deeper": [{"w": 1}]}


def test_patterns_reach_values_nested_in_arrays_and_kvlists() -> None:
    request = traces({"payload": {"to": ["x@y.io", "plain"], "meta": {"card": "4111111111111111"}}})
    assert redact(RedactionConfig(patterns=(EMAIL, CARD)), request)
    assert span_attrs(request)["payload"] == {
        "to": ["[redacted:email]", "plain"],
        "meta": {"card": "[redacted:credit_card]"},
    }


def test_a_pattern_with_action_hash_replaces_the_match_by_its_hash() -> None:
    request = traces({"msg": "contact bob@example.com now"})
    config = RedactionConfig(patterns=(PatternConfig(name="email", action="hash"),), salt="s")
    redact(config, request)
    assert span_attrs(request)["msg"] == f"contact {sha('bob@example.com', salt='s')} now"


def test_log_bodies_string_and_structured() -> None:
    request = logs(
        "login failed for eve@example.org",
        {"user": "eve@example.org", "password": "pw", "n": 1},
        42,
        attributes={"client.email": "eve@example.org"},
    )
    config = RedactionConfig(drop_keys=("password",), patterns=(EMAIL,))
    assert redact(config, request, Signal.LOGS)
    records = request.resource_logs[0].scope_logs[0].log_records
    assert plain(records[0].body) == "login failed for [redacted:email]"
    assert plain(records[1].body) == {"user": "[redacted:email]", "n": 1}
    assert plain(records[2].body) == 42
    assert all(attrs(r.attributes) == {"client.email": "[redacted:email]"} for r in records)


def test_resource_scope_event_and_link_attributes_of_spans() -> None:
    request = traces({"x": 1}, resource={"owner": "ops@example.com", "ssn": "1"})
    resource_spans = request.resource_spans[0]
    resource_spans.scope_spans[0].scope.attributes.add(key="ssn").value.string_value = "2"
    span = resource_spans.scope_spans[0].spans[0]
    event = span.events.add(name="e")
    event.attributes.add(key="note").value.string_value = "mail me: a@b.cd"
    event.attributes.add(key="ssn").value.string_value = "3"
    span.links.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8).attributes.add(
        key="ssn"
    ).value.string_value = "4"
    assert redact(RedactionConfig(drop_keys=("ssn",), patterns=(EMAIL,)), request)
    assert attrs(resource_spans.resource.attributes) == {"owner": "[redacted:email]"}
    assert len(resource_spans.scope_spans[0].scope.attributes) == 0
    assert attrs(event.attributes) == {"note": "mail me: [redacted:email]"}
    assert len(span.links[0].attributes) == 0


def test_metric_data_point_attributes() -> None:
    request = gauge({"customer": "c@d.ef", "tenant": "t1"})
    assert redact(
        RedactionConfig(hash_keys=("tenant",), patterns=(EMAIL,)), request, Signal.METRICS
    )
    point = request.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[0]
    assert attrs(point.attributes) == {"customer": "[redacted:email]", "tenant": sha("t1")}


def test_user_regexes_keep_their_own_flags_groups_and_anchors() -> None:
    config = RedactionConfig(
        patterns=(
            PatternConfig(name="ticket", regex=r"(?i)tck-(\d{4})-\1"),  # backreference
            PatternConfig(name="whole", regex=r"^secret-\w+$"),
        )
    )
    request = traces(
        {"a": "see TCK-1234-1234 and tck-1234-9999", "b": "secret-abc", "c": "x secret-abc"}
    )
    assert redact(config, request)
    got = span_attrs(request)
    assert got["a"] == "see [redacted:ticket] and tck-1234-9999"
    assert got["b"] == "[redacted:whole]" and got["c"] == "x secret-abc"


def test_nothing_to_redact_changes_nothing() -> None:
    request = traces({"msg": "all fine", "id": 12345}, resource={"service.name": "svc"})
    before = request.SerializeToString()
    config = RedactionConfig(
        drop_keys=("password",), hash_keys=("user.id",), patterns=(EMAIL, CARD)
    )
    assert not redact(config, request)
    assert request.SerializeToString() == before
    # and without the shortcut (no payload given), the walk agrees
    assert not Redactor(config)(Signal.TRACES, request)


def test_the_byte_level_shortcut_skips_only_requests_without_a_match() -> None:
    """For strings with and without e-mails / card numbers / keys in many byte contexts: the
    shortcut says 'maybe' whenever the full walk changes something."""
    rng = random.Random(11)
    config = RedactionConfig(hash_keys=("user.id",), patterns=(EMAIL, CARD))
    redactor = Redactor(config)
    pieces = ["é", "5", "4111111111111111", "a@b.io", "x", " ", "ü@ü.de", "@", "9" * 13, "."]
    skipped = 0
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        key = rng.choice(["note", "user.id", "k"])
        request = traces({key: text, "n": rng.randint(0, 10**15)})
        payload = request.SerializeToString()
        maybe = redactor.may_match(payload)
        changed = redactor(Signal.TRACES, request)  # the full walk, no shortcut
        assert maybe or not changed, (key, text)
        skipped += not maybe
    assert skipped > 20  # the shortcut does skip clean requests


def test_a_user_regex_turns_the_shortcut_off() -> None:
    config = RedactionConfig(patterns=(PatternConfig(name="t", regex="zz"),))
    assert Redactor(config).may_match(b"")
    assert not Redactor(RedactionConfig(patterns=(EMAIL,))).may_match(b"nothing")


def test_masks_name_their_rule() -> None:
    request = traces({"m": "x@y.io"})
    redact(RedactionConfig(patterns=(PatternConfig(name="mail", regex=r"\S+@\S+"),)), request)
    assert re.fullmatch(r"\[redacted:mail\]", span_attrs(request)["m"])


@pytest.mark.parametrize("dirty", [range(0, 200, 50), range(40), [*range(40), 199]])
def test_each_item_is_tested_on_its_own_bytes_and_none_is_missed(dirty: range | list[int]) -> None:
    """Sparse matches (only those spans walked), dense ones (the per-item test switches off
    after a while), and a match after the switch."""
    marked = set(dirty)
    request = traces(
        *({"msg": f"u{i}@example.com" if i in marked else f"clean {i}"} for i in range(200))
    )
    assert redact(RedactionConfig(patterns=(EMAIL,)), request)
    got = [span_attrs(request, i)["msg"] for i in range(200)]
    assert got == ["[redacted:email]" if i in marked else f"clean {i}" for i in range(200)]


def _card_in_hash() -> str:
    """An e-mail whose salted hash holds a Luhn-valid run of 13+ decimal digits."""
    card = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")
    for i in range(100_000):
        email = f"user{i}@example.com"
        digest = sha(email, salt="s")
        if any(luhn_valid(m.group()) for m in card.finditer(digest)):
            return email
    raise AssertionError("no such e-mail in range")


def test_rules_see_the_original_text_not_each_others_output() -> None:
    email = _card_in_hash()
    request = traces({"msg": f"to {email}"})
    config = RedactionConfig(patterns=(PatternConfig(name="email", action="hash"), CARD), salt="s")
    assert redact(config, request)
    assert span_attrs(request)["msg"] == f"to {sha(email, salt='s')}"


def test_overlapping_matches_the_earliest_wins_then_the_first_rule() -> None:
    config = RedactionConfig(
        patterns=(
            EMAIL,
            PatternConfig(name="user", regex=r"id=\S+"),
            PatternConfig(name="at", regex="@"),
        )
    )
    request = traces({"a": "id=bob@example.com end", "b": "mail bob@example.com"})
    redact(config, request)
    assert span_attrs(request)["a"] == "[redacted:user] end"  # starts first
    assert span_attrs(request)["b"] == "mail [redacted:email]"  # same start: email listed first


def test_redacting_twice_changes_nothing() -> None:
    config = RedactionConfig(
        hash_keys=("user.id",),
        patterns=(PatternConfig(name="email", action="hash"), CARD),
    )
    request = traces({"user.id": "u-1", "msg": "a@b.io paid 4111111111111111"})
    assert redact(config, request)
    once = request.SerializeToString()
    assert not redact(config, request)
    assert request.SerializeToString() == once


def test_a_regex_that_can_match_empty_inserts_nothing() -> None:
    request = traces({"m": "xyz"})
    config = RedactionConfig(patterns=(PatternConfig(name="ahead", regex="(?=y)"),))
    assert not redact(config, request)
    assert span_attrs(request)["m"] == "xyz"
