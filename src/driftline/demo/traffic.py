"""The demo's traffic: seeded feature rows, the world's fraud labels, and a paced sender.

Rows are drawn up front from a seeded generator, so every run sends the same data and the drift
findings come out the same; only the latencies depend on the machine. After the shift `amount`
is ~1.8× larger (a mean shift of log-amount) and a new merchant category, `gift_cards`,
dominates `merchant_category`; the other eight features keep their distributions. Two data
problems ride along that no drift test sees: a feature-store outage leaves `distance_km` out
of 15 % of the requests (a missing-value burst: None in the row), and `txn_last_24h` and
`avg_basket`, correlated +0.85 before, are correlated −0.85 after — each marginal unchanged.

The sender is open-loop: request i leaves at start + i/rate (later if the workers are all busy),
so a slower model version shows up as latency, not as fewer requests. Each worker keeps one
HTTP/1.1 connection. The progress line is a plain `\\r` line on stderr, drawn only on a TTY.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, TextIO

import numpy as np

from driftline.demo.model import V1, Scorer

CATEGORIES: Final = ("grocery", "dining", "travel", "electronics", "fuel")
CATEGORY_P: Final = (0.30, 0.20, 0.15, 0.20, 0.15)
NEW_CATEGORY: Final = "gift_cards"
NEW_CATEGORY_SHARE: Final = 0.6
CHANNELS: Final = ("web", "app", "pos")
CHANNEL_P: Final = (0.50, 0.35, 0.15)
LOG_AMOUNT_MEAN: Final = 4.0
LOG_AMOUNT_SHIFT: Final = 0.6
SHIFTED_FEATURES: Final = ("amount", "merchant_category")
MISSING_FEATURE: Final = "distance_km"
MISSING_SHARE: Final = 0.15
CORRELATED: Final = ("txn_last_24h", "avg_basket")
CORRELATION: Final = 0.85  # before the shift; -0.85 after
TRUTH: Final[Scorer] = V1  # the world's fraud function; version "1" knows it exactly


@dataclass(frozen=True, slots=True)
class Batch:
    """One phase's requests: feature rows, their true labels, and which get a label sent."""

    rows: Sequence[Mapping[str, float | str | None]]
    truth: Sequence[int]
    send_label: Sequence[bool]


def make_batch(seed: int, n: int, *, shifted: bool, label_fraction: float = 0.5) -> Batch:
    rng = np.random.default_rng(seed)
    log_mean = LOG_AMOUNT_MEAN + (LOG_AMOUNT_SHIFT if shifted else 0.0)
    categories, probs = list(CATEGORIES), np.array(CATEGORY_P)
    if shifted:
        categories.append(NEW_CATEGORY)
        probs = np.append(probs * (1 - NEW_CATEGORY_SHARE), NEW_CATEGORY_SHARE)
    rho = -CORRELATION if shifted else CORRELATION
    pair = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], n)
    columns: dict[str, Any] = {
        "amount": rng.lognormal(log_mean, 0.5, n),
        "account_age_days": rng.uniform(30, 3650, n),
        "distance_km": rng.exponential(20.0, n),
        "txn_last_24h": np.maximum(5.0 + 2.0 * pair[:, 0], 0.0),
        "merchant_risk": rng.beta(2.0, 5.0, n),
        "hour": rng.uniform(0.0, 24.0, n),
        "card_age_months": rng.gamma(3.0, 12.0, n),
        "avg_basket": 50.0 + 15.0 * pair[:, 1],
        "channel": rng.choice(list(CHANNELS), n, p=list(CHANNEL_P)),
        "merchant_category": rng.choice(categories, n, p=probs),
    }
    rows: list[dict[str, float | str | None]] = [
        {
            name: (str(values[i]) if values.dtype.kind in "US" else round(float(values[i]), 4))
            for name, values in columns.items()
        }
        for i in range(n)
    ]
    if shifted:  # the outage: these requests arrive without the feature
        for i in np.flatnonzero(rng.random(n) < MISSING_SHARE):
            rows[int(i)][MISSING_FEATURE] = None
    # Ground truth: fraud with the world's probability, so labels are noisy as real ones are.
    truth = (rng.random(n) < TRUTH.probabilities(list(rows))).astype(int).tolist()
    send_label = (rng.random(n) < label_fraction).tolist()
    return Batch(rows, truth, send_label)


class Progress:
    """`label [#####-----]  640/1200  12.3s` redrawn in place; silent unless `stream` is a TTY."""

    WIDTH: Final = 30

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = self._stream.isatty()
        self._label, self._total = label, max(total, 1)
        self._done = 0
        self._start = time.monotonic()
        self._drawn = 0.0
        self._lock = threading.Lock()

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self._done += n
            now = time.monotonic()
            if self._enabled and (now - self._drawn >= 0.1 or self._done >= self._total):
                self._drawn = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        filled = self.WIDTH * self._done // self._total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self._stream.write(
            f"\r  {self._label} [{bar}] {self._done:>5}/{self._total}  {now - self._start:5.1f}s"
        )
        self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()


@dataclass(frozen=True, slots=True)
class Sent:
    inferences: int
    labels: int
    errors: int


class _Client(threading.local):
    conn: http.client.HTTPConnection | None = None


class Sender:
    """POSTs rows to the model server's /predict and, for labelled rows, the truth to /label."""

    def __init__(self, host: str, port: int, workers: int = 32) -> None:
        self._host, self._port = host, port
        self._workers = workers
        self._local = _Client()

    def _post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        for attempt in (0, 1):  # one retry on a connection the server closed
            conn = self._local.conn
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=30
                )
            try:
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                if response.status >= 300:
                    raise RuntimeError(f"{path}: HTTP {response.status}: {data[:200]!r}")
                return dict(json.loads(data))
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def send(self, batch: Batch, rate: float, progress: Progress) -> Sent:
        inferences = labels = errors = 0
        lock = threading.Lock()
        slots = threading.Semaphore(self._workers * 4)  # bound what waits for a worker

        def one(i: int) -> None:
            nonlocal inferences, labels, errors
            try:
                answer = self._post("/predict", batch.rows[i])
                with lock:
                    inferences += 1
                if batch.send_label[i]:
                    self._post(
                        "/label", {"inference_id": answer["inference_id"], "label": batch.truth[i]}
                    )
                    with lock:
                        labels += 1
            except Exception:
                with lock:
                    errors += 1
            finally:
                slots.release()
                progress.advance()

        start = time.monotonic()
        with ThreadPoolExecutor(self._workers, thread_name_prefix="demo-traffic") as pool:
            for i in range(len(batch.rows)):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                slots.acquire()
                pool.submit(one, i)
        return Sent(inferences, labels, errors)
