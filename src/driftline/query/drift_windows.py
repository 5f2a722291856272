"""Which windows a drift question compares when the request leaves them open (pure).

What a user of the CLI expects, on fresh data as on old:

    current      the last hour: ends now (or at the given end), starts 1 h before its end
                 (cut into `window_s` slices, a trailing slice of under a second is dropped)
    reference    as given, with the gaps filled:
      start only     ends where the current window starts — or, when that is not after the
                     reference start (`--reference-since 1h` beside the default current
                     hour; within a second, for clock skew), with the current window, so the
                     two may overlap
      end only       starts 24 h before its end
      neither, another version than the current: the current range (a version comparison
                     covers the same time)
      neither        the 24 h before the current window if the model has inferences there;
                     otherwise (a model younger than the current window) the current range is
                     split at the median timestamp of its inferences: the earlier half is the
                     reference, the later half the current window

The last rule needs two figures from the engine (`needs_data`), fetched by query/drift.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from driftline.analysis.drift.types import Window
from driftline.errors import InvalidInputError

HOUR_NS: Final = 3600 * 10**9
CURRENT_SPAN_NS: Final = HOUR_NS
REFERENCE_SPAN_NS: Final = 24 * HOUR_NS
# a client computes "1h ago" with its own clock, a moment before the server computes the
# default current window: starts closer than this are the same start
CLOCK_SLACK_NS: Final = 10**9


@dataclass(frozen=True, slots=True)
class WindowAsk:
    """A window as the request gives it; 0 means "not given"."""

    start_ns: int = 0
    end_ns: int = 0
    version: str = ""


@dataclass(frozen=True, slots=True)
class Chosen:
    reference: Window
    current: Window
    how: str  # how the reference was chosen, for the answer


def current_window(ask: WindowAsk, now_ns: int, window_s: int = 0) -> Window:
    """The current window; split into `window_s` slices, an end taken from the server's clock
    drops a last slice of under a second (`--since 24h --window 1h` is 24 slices, not 25)."""
    end = ask.end_ns or now_ns
    start = ask.start_ns or end - CURRENT_SPAN_NS
    if window_s > 0 and not ask.end_ns:
        rest = (end - start) % (window_s * 10**9)
        if 0 < rest <= CLOCK_SLACK_NS and end - rest > start:
            end -= rest
    return Window(start, end, ask.version)


def given_reference(ask: WindowAsk, current: Window) -> Chosen | None:
    """The reference when the request fixes it (or its version does); None: the data decide."""
    if ask.start_ns:
        if ask.end_ns:
            end, how = ask.end_ns, "requested"
        elif current.start_ns - ask.start_ns > CLOCK_SLACK_NS:
            end, how = current.start_ns, "requested start, ending where the current window starts"
        else:
            end, how = current.end_ns, "requested start, ending with the current window"
        return Chosen(Window(ask.start_ns, end, ask.version), current, how)
    if ask.end_ns:
        start = ask.end_ns - REFERENCE_SPAN_NS
        return Chosen(Window(start, ask.end_ns, ask.version), current, "the 24 h before its end")
    if ask.version and ask.version != current.version:
        same = Window(current.start_ns, current.end_ns, ask.version)
        return Chosen(same, current, f"version {ask.version} over the current range")
    return None


def before_window(ask: WindowAsk, current: Window) -> Window:
    """The default reference when the model has data in it: the 24 h before the current."""
    return Window(current.start_ns - REFERENCE_SPAN_NS, current.start_ns, ask.version)


def from_data(
    ask: WindowAsk, current: Window, n_before: int, n_current: int, median_ns: int
) -> Chosen:
    """The default reference from what the engine holds (see the module docstring)."""
    if n_before > 0 or n_current < 2:
        return Chosen(before_window(ask, current), current, "the 24 h before the current window")
    split = median_ns if median_ns > current.start_ns else current.start_ns + 1
    return Chosen(
        Window(current.start_ns, split, ask.version),
        Window(split, current.end_ns, current.version),
        "no inferences before the current window: its earlier half by inferences",
    )


def check(chosen: Chosen) -> None:
    for name, w in (("reference", chosen.reference), ("current", chosen.current)):
        if w.end_ns <= w.start_ns:
            raise InvalidInputError(f"the {name} window is empty (end <= start)")
