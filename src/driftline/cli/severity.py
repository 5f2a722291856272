"""Severity names a user may type for `--severity`, to OTLP SeverityNumbers (the first of each
level's four numbers). Case-insensitive, with the spellings stored logs carry: OTel's `WARN`,
Python logging's `WARNING` and `CRITICAL`, syslog's `ERR`."""

from __future__ import annotations

from typing import Final

SEVERITY_NUMBERS: Final = {
    "TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "WARNING": 13,
    "ERROR": 17, "ERR": 17, "FATAL": 21, "CRITICAL": 21,
}  # fmt: skip


def severity_number(name: str) -> int:
    """The minimum SeverityNumber for `name`; ValueError naming the accepted names."""
    number = SEVERITY_NUMBERS.get(name.strip().upper())
    if number is None:
        names = "TRACE, DEBUG, INFO, WARN (WARNING), ERROR, FATAL (CRITICAL)"
        raise ValueError(f"unknown severity {name!r}: use one of {names}, in any case")
    return number
