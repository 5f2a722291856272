"""Runs drift_sql's statements and returns the typed aggregates analysis/drift scores.

One function per statement; each takes a `Scope` (and what its statement needs beyond it) and
returns `driftline.analysis.drift.aggregates` types. Only small results come back, except
`values`, which is decoded columnar straight into numpy.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from clickhouse_connect.driver.client import Client

from driftline.analysis.drift.aggregates import REF, Bins, BinSpec, Counts, Raw, SideStats, Stats
from driftline.analysis.drift.aggregates import W1 as W1Figures
from driftline.analysis.drift.types import Window
from driftline.storage import drift_sql
from driftline.storage.drift_sql import Scope


def stats(client: Client, scope: Scope) -> Stats:
    sql, params = drift_sql.stats(scope)
    out: Stats = defaultdict(dict)
    for f, side, kind, n, uniq, lo, hi, mean, var, std in client.query(
        sql, parameters=params
    ).result_rows:
        out[f][int(side)] = SideStats(kind, int(n), int(uniq), lo, hi, mean, var, std)
    return dict(out)


def counts(client: Client, scope: Scope, kinds: dict[str, str]) -> Counts:
    """Rows per value; numerical values come back as floats, categories as strings."""
    sql, params = drift_sql.counts(scope)
    out: Counts = defaultdict(lambda: defaultdict(dict))
    for f, side, key, n in client.query(sql, parameters=params).result_rows:
        value: object = key if kinds[f] == "categorical" else float(key)
        out[f][int(side)][value] = int(n)
    return {f: dict(sides) for f, sides in out.items()}


def bins(
    client: Client, scope: Scope, n_windows: int, specs: dict[tuple[str, int], BinSpec]
) -> Bins:
    """Rows per Sturges bin of every (feature, window) in `specs` (features of `scope`)."""
    keys, chosen = [], []
    for i, f in enumerate(scope.features):
        for w in range(n_windows):
            if (f, w) in specs:
                keys.append(i * 1048576 + w)
                chosen.append(specs[f, w])
    sql, params = drift_sql.hist(
        scope, n_windows=n_windows, keys=keys,
        los=[b.lo for b in chosen], steps=[b.step for b in chosen],
        his=[b.hi for b in chosen], nbs=[b.n_bins for b in chosen],
    )  # fmt: skip
    out: Bins = defaultdict(dict)
    for f, w, side, b, n in client.query(sql, parameters=params).result_rows:
        out[f, int(w), int(side)][int(b)] = int(n)
    return dict(out)


def w1_quantile(
    client: Client, scope: Scope, specs: Sequence[BinSpec | None]
) -> tuple[W1Figures, Bins]:
    """Exact W1 of one current window per feature, and the plot bins of those with a spec."""
    flat = [(b.lo, b.step, b.hi, b.n_bins) if b else (0.0, 0.0, 0.0, 0) for b in specs]
    sql, params = drift_sql.w1_quantile(scope, flat)
    w1: W1Figures = {}
    found: Bins = {}
    for f, nr, nc, w1s, r_ids, r_at, c_ids, c_at in client.query(
        sql, parameters=params
    ).result_rows:
        w1[f, 0] = (w1s / (nr * nc), math.nan)
        for side, ids, at, n in ((REF, r_ids, r_at, nr), (0, c_ids, c_at, nc)):
            if len(ids):  # runs of one bin in the sorted values, starting at (1-based)
                ends = [*at[1:], n + 1]
                runs = zip(ids, at, ends, strict=True)
                found[f, 0, side] = {int(i): int(e - a) for i, a, e in runs}
    return w1, found


def w1ks(client: Client, scope: Scope) -> W1Figures:
    """Exact W1 and KS D per (feature, window)."""
    sql, params = drift_sql.w1ks_select(scope)
    return {
        (f, int(w)): (w1s / (nr * nc), ds / (nr * nc))
        for f, w, nr, nc, w1s, ds in client.query(sql, parameters=params).result_rows
    }


def values(client: Client, scope: Scope, n_windows: int) -> Raw:
    """The finite values of every feature of `scope` on every side (empty arrays included)."""
    sql, params = drift_sql.values(scope)
    mat = np.asarray(client.query_np(sql, parameters=params), dtype=np.float64).reshape(-1, 3)
    out: Raw = {}
    for i, f in enumerate(scope.features, start=1):
        of_f = mat[mat[:, 0] == i]
        for s in (REF, *range(n_windows)):
            out[f, s] = of_f[of_f[:, 1] == s, 2]
    return out


def recent_split(
    client: Client, database: str, model: str, before_start_ns: int, current: Window,
    reference_version: str,
) -> tuple[int, int, int]:  # fmt: skip
    """(inferences before the current window, inferences in it, their median timestamp)."""
    sql, params = drift_sql.recent_split(
        database, model, before_start_ns, current, reference_version
    )
    before, n_current, median = client.query(sql, parameters=params).result_rows[0]
    return int(before), int(n_current), int(median)
