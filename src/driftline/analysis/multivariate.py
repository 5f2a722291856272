"""Multivariate drift: what per-feature tests cannot see (a changed correlation with unchanged
marginals). Pure numpy over a sample of whole inferences (storage/quality_sql.sample).

Data reconstruction error, NannyML's method (drift/multivariate/data_reconstruction):

    fit on the reference     impute (mean for numbers, most frequent category), encode each
                             category as its reference frequency (CountEncoder(normalize=True);
                             a category the reference never had → 0), standardise (population
                             std; a constant column keeps scale 1), PCA keeping the fewest
                             components whose explained variance reaches 65 % (sklearn's rule
                             for a float n_components)
    per row                  ‖x − PCA⁻¹(PCA(x))‖₂;  a chunk's value is the mean over its rows
    thresholds               mean ± 3σ (ddof 0) of the values of the reference's chunks (equal
                             row counts), NannyML's StandardDeviationThreshold; sampling error
                             std(row errors of the reference, ddof 1) / √n

A correlation flip moves points off the reference's principal plane without moving any
marginal: their reconstruction error grows while every univariate test stays quiet.

Domain classifier (NannyML's DomainClassifierCalculator, with L2-regularised logistic
regression over the encoded inputs plus squares and products of their leading principal-axis
scores instead of LightGBM: no heavy dependency): can a model tell current rows from
reference rows? Stratified 5-fold cross-validated AUROC; 0.5 means indistinguishable, alert
outside [0.45, 0.65] (NannyML's constant threshold). Where the reconstruction error sees only
distance from the reference's principal subspace, the classifier also sees shifts and
variance changes inside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

VARIANCE_KEPT = 0.65
STD_MULTIPLIER = 3.0
SAMPLING_ERROR_RANGE = 3.0
CLASSIFIER_BOUNDS = (0.45, 0.65)
CV_FOLDS = 5
CLASSIFIER_AXES = 10  # squares and products of this many leading principal-axis scores
CLASSIFIER_ROWS = 5_000  # per side: AUROC's sampling error is already < 0.01 there

Matrix = NDArray[np.float64]


Codes = NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of whole inferences: numerical columns (NaN = missing) and categorical columns as
    integer codes of their categories (0 = missing), in time order."""

    numerical: Matrix  # shape (rows, n_numerical)
    categorical: Sequence[Codes]  # one array of codes per categorical column

    @property
    def rows(self) -> int:
        if self.numerical.shape[1]:
            return int(self.numerical.shape[0])
        return len(self.categorical[0]) if self.categorical else 0

    def take(self, start: int, stop: int) -> Table:
        return Table(self.numerical[start:stop], [c[start:stop] for c in self.categorical])


@dataclass(frozen=True, slots=True)
class Fitted:
    """The reference's preprocessing and principal components."""

    means: Matrix  # numerical imputation values
    modes: tuple[int, ...]  # categorical imputation values (codes)
    frequencies: tuple[tuple[Codes, Matrix], ...]  # (sorted codes, their share of the reference)
    center: Matrix  # StandardScaler mean (encoded columns)
    scale: Matrix  # StandardScaler scale
    components: Matrix  # (k, columns): the kept principal axes
    pca_mean: Matrix
    row_error_std: float  # std (ddof 1) of the reference's row errors: sampling error
    axes: Matrix  # the leading (≤ CLASSIFIER_AXES) principal axes, for the classifier


@dataclass(frozen=True, slots=True)
class ChunkError:
    start: int  # row range within its side's sample
    stop: int
    value: float  # mean reconstruction error
    sampling_error: float
    lower: float | None
    upper: float | None

    @property
    def alert(self) -> bool:
        return (self.upper is not None and self.value > self.upper) or (
            self.lower is not None and self.value < self.lower
        )


def _frequency(column: Codes, mode: int, table: tuple[Codes, Matrix]) -> Matrix:
    """Each code's share of the reference (missing → the mode's; never seen → 0)."""
    codes, shares = table
    filled = np.where(column == 0, np.uint64(mode), column)
    at = np.searchsorted(codes, filled)
    at = np.minimum(at, len(codes) - 1) if len(codes) else at
    found = (codes[at] == filled) if len(codes) else np.zeros(len(filled), dtype=bool)
    return np.where(found, shares[at] if len(codes) else 0.0, 0.0)


def _impute_encode(
    table: Table, means: Matrix, modes: Sequence[int], freqs: Sequence[tuple[Codes, Matrix]]
) -> Matrix:
    num = np.where(np.isnan(table.numerical), means, table.numerical)
    encoded = [_frequency(c, m, f) for c, m, f in zip(table.categorical, modes, freqs, strict=True)]
    if encoded:
        return np.column_stack([num, *encoded]) if num.shape[1] else np.column_stack(encoded)
    return num


def _mode(column: Codes) -> int:
    """The most frequent non-missing code; ties: the smallest, as SimpleImputer does."""
    values, counts = np.unique(column[column != 0], return_counts=True)
    return int(values[int(np.argmax(counts))]) if len(values) else 0


def n_components(explained_variance: Matrix, kept: float = VARIANCE_KEPT) -> int:
    """sklearn's rule for a float n_components: the fewest leading components whose
    cumulative explained-variance ratio exceeds `kept`."""
    total = float(explained_variance.sum())
    if total <= 0:
        return 1
    ratio = np.cumsum(explained_variance) / total
    return min(int(np.searchsorted(ratio, kept, side="right")) + 1, len(explained_variance))


def fit(reference: Table) -> Fitted:
    with np.errstate(all="ignore"):
        means = np.nanmean(reference.numerical, axis=0) if reference.numerical.size else np.zeros(0)
    means = np.where(np.isnan(means), 0.0, means)
    modes = tuple(_mode(c) for c in reference.categorical)
    freqs = []
    for column, mode in zip(reference.categorical, modes, strict=True):
        filled = np.where(column == 0, np.uint64(mode), column)
        values, counts = np.unique(filled, return_counts=True)
        freqs.append((values, counts.astype(np.float64) / max(len(column), 1)))
    x = _impute_encode(reference, means, modes, freqs)
    center = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale == 0, 1.0, scale)
    z = (x - center) / scale
    pca_mean = z.mean(axis=0)
    _, singular, vt = np.linalg.svd(z - pca_mean, full_matrices=False)
    variance = singular**2 / max(len(z) - 1, 1)
    k = n_components(variance)
    axes = vt[:CLASSIFIER_AXES]
    fitted = Fitted(means, modes, tuple(freqs), center, scale, vt[:k], pca_mean, 0.0, axes)
    errors = row_errors(fitted, reference)
    std = float(np.std(errors, ddof=1)) if len(errors) > 1 else 0.0
    return Fitted(means, modes, tuple(freqs), center, scale, vt[:k], pca_mean, std, axes)


def encode(fitted: Fitted, table: Table) -> Matrix:
    """The standardised, encoded rows the PCA sees."""
    x = _impute_encode(table, fitted.means, fitted.modes, fitted.frequencies)
    return (x - fitted.center) / fitted.scale


def row_errors(fitted: Fitted, table: Table) -> Matrix:
    z = encode(fitted, table)
    centered = z - fitted.pca_mean
    reconstructed = centered @ fitted.components.T @ fitted.components + fitted.pca_mean
    return np.asarray(np.linalg.norm(z - reconstructed, axis=1), dtype=np.float64)


def equal_chunks(rows: int, chunks: int) -> list[tuple[int, int]]:
    """NannyML's size-based chunks: ⌊rows/chunks⌋ rows each, the remainder in the last."""
    if rows <= 0:
        return []
    size = max(rows // max(chunks, 1), 1)
    starts = list(range(0, rows, size))[: max(chunks, 1)]
    return [(s, starts[i + 1] if i + 1 < len(starts) else rows) for i, s in enumerate(starts)]


def std_bounds(values: Sequence[float]) -> tuple[float | None, float | None]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None, None
    mean, std = float(np.mean(finite)), float(np.std(finite))
    return max(mean - STD_MULTIPLIER * std, 0.0), mean + STD_MULTIPLIER * std


def reconstruction_drift(
    reference: Table,
    current_chunks: Sequence[Table],
    reference_chunks: int = 10,
) -> tuple[Fitted, list[ChunkError], list[ChunkError]]:
    """(fit, the reference's chunks, the current chunks), thresholds from the reference's."""
    fitted = fit(reference)
    errors = row_errors(fitted, reference)
    spans = equal_chunks(len(errors), reference_chunks)
    ref_values = [float(errors[a:b].mean()) for a, b in spans]
    lower, upper = std_bounds(ref_values)

    def chunk(a: int, b: int, values: Matrix) -> ChunkError:
        n = len(values)
        value = float(values.mean()) if n else math.nan
        serr = fitted.row_error_std / math.sqrt(n) if n else math.nan
        return ChunkError(a, b, value, serr, lower, upper)

    ref_results = [chunk(a, b, errors[a:b]) for a, b in spans]
    cur_results = []
    for table in current_chunks:
        values = row_errors(fitted, table) if table.rows else np.zeros(0)
        cur_results.append(chunk(0, table.rows, values))
    return fitted, ref_results, cur_results


def _logistic_fit(x: Matrix, y: Matrix, l2: float = 1.0, iterations: int = 15) -> Matrix:
    """Newton's method for L2-regularised logistic regression (intercept unpenalised)."""
    xb = np.column_stack([np.ones(len(x)), x])
    w = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        gradient = xb.T @ (p - y) + penalty * w
        hessian = xb.T @ (xb * (p * (1 - p))[:, None]) + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.max(np.abs(step))) < 1e-6:
            break
    return w


def auroc(y: Matrix, score: Matrix) -> float:
    """Area under the ROC curve from ranks (ties averaged): the Mann-Whitney U / (n1·n0)."""
    positives = y == 1
    n1, n0 = int(positives.sum()), int((~positives).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = rankdata(score)
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def classifier_inputs(fitted: Fitted, table: Table) -> Matrix:
    """The encoded rows plus the squares and pairwise products of their scores on the leading
    principal axes: a linear model over these sees changes of variance along an axis and of
    correlation between axes (a flipped correlation), not only shifts of the means."""
    z = encode(fitted, table)
    scores = (z - fitted.pca_mean) @ fitted.axes.T
    i, j = np.triu_indices(scores.shape[1])
    return np.column_stack([z, scores[:, i] * scores[:, j]])


def _standardise(train: Matrix, test: Matrix) -> tuple[Matrix, Matrix]:
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std == 0, 1.0, std)
    return (train - mean) / std, (test - mean) / std


def _subsample(table: Table, rows: int, rng: np.random.Generator) -> Table:
    if table.rows <= rows:
        return table
    keep = np.sort(rng.choice(table.rows, rows, replace=False))
    return Table(table.numerical[keep], [c[keep] for c in table.categorical])


def domain_classifier_auroc(
    fitted: Fitted, reference: Table, current: Table, seed: int, folds: int = CV_FOLDS
) -> float:
    """Cross-validated AUROC of telling `current` rows (1) from `reference` rows (0), on at
    most CLASSIFIER_ROWS rows of each side (a seeded subsample)."""
    if reference.rows < folds or current.rows < folds:
        return math.nan
    rng = np.random.default_rng(seed)
    sides = [_subsample(t, CLASSIFIER_ROWS, rng) for t in (reference, current)]
    x = np.vstack([classifier_inputs(fitted, t) for t in sides])
    y = np.concatenate([np.zeros(sides[0].rows), np.ones(sides[1].rows)])
    fold = np.empty(len(y), dtype=int)
    for label in (0, 1):  # stratified: each fold holds its share of both sides
        idx = np.flatnonzero(y == label)
        fold[rng.permutation(idx)] = np.arange(len(idx)) % folds
    scores = np.empty(len(y))
    for f in range(folds):
        test = fold == f
        train_x, test_x = _standardise(x[~test], x[test])
        w = _logistic_fit(train_x, y[~test])
        scores[test] = np.column_stack([np.ones(int(test.sum())), test_x]) @ w
    return auroc(y, scores)
