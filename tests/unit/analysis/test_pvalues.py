"""#11.7: p-values come from survival functions and match scipy where 1 − cdf underflows.
Pure analysis functions, fed figures computed here with numpy (no engine)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftline.analysis.drift import scores
from driftline.analysis.latency import mann_whitney_p
from driftline.analysis.performance import accuracy_drift


def test_mann_whitney_p_from_u_and_ties_equals_scipy_at_tiny_p() -> None:
    g = np.random.default_rng(1)
    for shift in (0.0, 0.2, 1.5):  # p from ~0.5 down to ~1e-100
        a = np.round(g.normal(0, 1, 500), 1)  # rounded: many ties
        b = np.round(g.normal(shift, 1, 400), 1)
        u = float(np.sum(a[:, None] > b[None, :]) + 0.5 * np.sum(a[:, None] == b[None, :]))
        _, t = np.unique(np.concatenate([a, b]), return_counts=True)
        ties = float(np.sum(t.astype(float) ** 3 - t))
        want = stats.mannwhitneyu(a, b, alternative="two-sided").pvalue
        assert mann_whitney_p(u, len(a), len(b), ties) == pytest.approx(want, rel=1e-9)
    assert want < 1e-30


def test_z_tests_do_not_underflow() -> None:
    ref, cur = {"a": 900, "b": 100}, {"a": 300, "b": 700}
    p1, p2 = 0.1, 0.7
    pooled = (p1 * 1000 + p2 * 1000) / 2000
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert 0 < 2 * stats.norm.sf(abs(z)) < 1e-100
    assert scores.z_test(ref, cur) == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    drift = accuracy_drift(0.95, 1000, 0.5, 1000)
    pooled = 0.725
    z = 0.45 / np.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert drift.p_value == pytest.approx(2 * stats.norm.sf(z), rel=1e-9)
    assert drift.p_value > 0
