"""The demo's fraud scorer: a fixed logistic model over 8 numeric and 2 categorical features.

Version "1" *is* the world's fraud function (traffic.py draws labels from it), so it is as
accurate as a model can be on this data and its scores are calibrated. Version "2" is a worse
candidate: it forgot two signals (`merchant_risk`, `txn_last_24h`), has its other weights shrunk,
has never seen the `gift_cards` merchant category that dominates after the shift, and takes a
heavier path (`extra_latency_s`, a stand-in for a bigger ensemble). Pure math; the only side
effect is the sleep that stands in for a real model's work.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

MODEL_NAME: Final = "fraud-demo"

NUMERIC: Final = (
    "amount", "account_age_days", "distance_km", "txn_last_24h",
    "merchant_risk", "hour", "card_age_months", "avg_basket",
)  # fmt: skip
CATEGORICAL: Final = ("channel", "merchant_category")
FEATURES: Final = NUMERIC + CATEGORICAL

# How each numeric feature enters the logit: (centre, scale) after the transform below.
# `amount` enters through its logarithm, `hour` through cos(2πh/24) (night is riskier).
_CENTRE_SCALE: Final[dict[str, tuple[float, float]]] = {
    "amount": (4.0, 0.5),
    "account_age_days": (1840.0, 1045.0),
    "distance_km": (20.0, 20.0),
    "txn_last_24h": (5.0, 2.0),
    "merchant_risk": (0.286, 0.16),
    "hour": (0.0, 0.7),
    "card_age_months": (36.0, 21.0),
    "avg_basket": (50.0, 15.0),
}


def transform_feature(name: str, value: float) -> float:
    if name == "amount":
        value = math.log(max(value, 1e-3))
    elif name == "hour":
        value = math.cos(2 * math.pi * value / 24.0)
    centre, scale = _CENTRE_SCALE[name]
    return (value - centre) / scale


@dataclass(frozen=True, slots=True, kw_only=True)
class Scorer:
    """P(fraud) = σ(bias + Σ wᵢ·zᵢ + effect[channel] + effect[merchant_category])."""

    version: str
    bias: float
    weights: Mapping[str, float]
    effects: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    base_latency_s: float = 0.004  # median time of the feature lookup both versions do
    extra_latency_s: float = 0.0

    def logit(self, row: Mapping[str, float | str | None]) -> float:
        z = self.bias
        for name, w in self.weights.items():
            value = row.get(name)
            if value is not None:  # a missing feature is imputed at its centre (z = 0)
                z += w * transform_feature(name, float(value))
        for name, table in self.effects.items():
            z += table.get(str(row[name]), 0.0)
        return z

    def probability(self, row: Mapping[str, float | str | None]) -> float:
        return 1.0 / (1.0 + math.exp(-self.logit(row)))

    def predict(self, row: Mapping[str, float | str | None]) -> tuple[int, float]:
        """(class, score). The call sleeps for the work a real model does around the math: a
        feature lookup (log-normal around `base_latency_s`) and a slower version's heavier path."""
        time.sleep(random.lognormvariate(math.log(self.base_latency_s), 0.3) + self.extra_latency_s)
        p = self.probability(row)
        return int(p >= 0.5), p

    def probabilities(self, rows: list[Mapping[str, float | str | None]]) -> np.ndarray:
        return np.array([self.probability(r) for r in rows])


V1: Final = Scorer(
    version="1",
    bias=-2.0,
    weights={
        "amount": 1.2,
        "account_age_days": -0.8,
        "distance_km": 0.9,
        "txn_last_24h": 1.0,
        "merchant_risk": 1.3,
        "hour": 0.6,
        "card_age_months": -0.5,
        "avg_basket": 0.2,
    },
    effects={
        "channel": {"web": 0.4, "app": 0.0, "pos": -0.8},
        "merchant_category": {
            "grocery": -0.6,
            "dining": -0.3,
            "travel": 0.5,
            "electronics": 0.8,
            "fuel": -0.2,
            "gift_cards": 2.0,
        },
    },
)

V2: Final = Scorer(
    version="2",
    bias=-1.6,
    weights={
        "amount": 0.5,
        "account_age_days": -0.4,
        "distance_km": 0.5,
        "hour": 0.3,
        "card_age_months": -0.2,
        "avg_basket": 0.4,
    },
    effects={
        "channel": {"web": 0.2, "app": 0.0, "pos": -0.4},
        "merchant_category": {
            "grocery": -0.3,
            "dining": -0.1,
            "travel": 0.2,
            "electronics": 0.4,
            "fuel": -0.1,
        },
    },
    extra_latency_s=0.040,
)

VERSIONS: Final = {s.version: s for s in (V1, V2)}
