"""The pure parts of data quality and multivariate drift, against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from driftline.analysis import multivariate as mv
from driftline.analysis import quality as dq


@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_std_threshold_is_nannyml_mean_pm_3_sigma_clipped(values: list[float]) -> None:
    lower, upper = dq.std_threshold(values)
    mean, std = np.mean(values), np.std(values)
    want_lo, want_hi = max(mean - 3 * std, 0.0), min(mean + 3 * std, 1.0)
    assert lower is None if want_lo <= 0 else lower == pytest.approx(want_lo, abs=1e-12)
    assert upper is None if want_hi >= 1 else upper == pytest.approx(want_hi, abs=1e-12)


def test_a_reference_without_missing_values_alerts_on_any() -> None:
    lower, upper = dq.std_threshold([0.0] * 10)
    assert (lower, upper) == (None, 0.0)
    assert dq.Check(dq.MISSING, 0.001, lower, upper).alert
    assert not dq.Check(dq.MISSING, 0.0, lower, upper).alert
    assert not dq.Check(dq.MISSING, math.nan, lower, upper).alert


def test_missing_share_counts_absent_nan_and_empty() -> None:
    counts = dq.Counts(numerical=80, non_finite=5)
    assert dq.missing_share(counts, 100) == (20 + 5) / 100
    assert dq.missing_share(dq.Counts(categorical=90, empty=9), 100) == (10 + 9) / 100
    assert math.isnan(dq.missing_share(counts, 0))


@pytest.mark.parametrize("seed", range(5))
def test_n_components_follows_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    pca = PCA(n_components=0.65).fit(x)
    _, s, _ = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    assert mv.n_components(s**2 / (len(x) - 1)) == pca.n_components_


@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=2, max_size=60))
def test_auroc_matches_sklearn_with_ties(pairs: list[tuple[int, int]]) -> None:
    y = np.array([p[0] for p in pairs], dtype=float)
    score = np.array([p[1] for p in pairs], dtype=float)
    if len(set(y)) < 2:
        assert math.isnan(mv.auroc(y, score))
        return
    assert mv.auroc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


@given(st.integers(0, 500), st.integers(1, 12))
def test_equal_chunks_cover_every_row_once(rows: int, chunks: int) -> None:
    spans = mv.equal_chunks(rows, chunks)
    covered = [i for a, b in spans for i in range(a, b)]
    assert covered == list(range(rows))
    if rows >= chunks:
        assert len(spans) == chunks
        assert all(b - a == rows // chunks for a, b in spans[:-1])
