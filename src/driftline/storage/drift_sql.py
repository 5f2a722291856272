"""The SQL behind drift (drift_rows.py runs it; `driftline.analysis.drift` scores the results).

Every value is a bound parameter (`{name:Type}`), the database too (`{db:Identifier}`,
bind.py); the fragments assembled here are fixed text chosen by code.

Rows are tagged with a *side*: -1 for the reference, 0…k-1 for the current window(s) (k > 1
when the current range is split into `window_s` windows, or when the current side is the
reference cut into equal-count chunks, `Scope.chunks`). `arrayJoin` makes a row that lies in
both ranges count on both sides, and every statement answers all features and all windows at
once, grouped — never a query per feature or per window.

    stats    per (feature, side): kind, rows, uniqUpTo(21) (enough for Evidently's choices:
             ≤2 / ≤5 union uniques and >20 reference uniques), min, max, mean, sample variance,
             population std — method choice, Sturges edges, t_test, wasserstein's norm.
    counts   per (feature, side, value) for categorical and low-cardinality numerical features.
    hist     per (feature, window, side, bin): rows per Sturges bin for edges given per
             (feature, window), with np.histogram's rule (half-open, last bin closed); reference
             rows are counted once per window because each window has its own edges.
    w1ks_select per (feature, window): exact W1·n_ref·n_cur and max|F_ref−F_cur|·n_ref·n_cur from
             one sort of the weighted union (+n_cur per reference value, −n_ref per current
             value): the running sum is (F_ref−F_cur)·n_ref·n_cur at every point.
    values   raw values of a few features, columnar, for methods that need them.

A side may be a saved reference (a snapshot in ml_reference_features): then the two sides are
two SELECTs joined by UNION ALL, and the current window is still read once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from driftline.analysis.drift.types import Window
from driftline.storage.bind import Statement, bound, table


@dataclass(frozen=True, slots=True)
class Scope:
    """The rows of one drift question: a model's features in the reference and current windows.

    A window with `snapshot` reads that saved reference (ml_reference_features) instead of
    ml_features; its version was fixed when it was saved. `window_s > 0` splits the current
    range into windows of that many seconds; `chunks > 0` instead makes the current side the
    reference itself, cut per feature into `chunks` chunks of ⌊n / chunks⌋ values in time order,
    the remainder joining the last (NannyML's CountBasedChunker with incomplete='append')."""

    database: str
    model: str
    reference: Window
    current: Window
    features: tuple[str, ...] = ()
    window_s: int = 0
    chunks: int = 0

    def only(self, features: Sequence[str]) -> Scope:
        return replace(self, features=tuple(features))

    @property
    def windowed(self) -> bool:
        return self.window_s > 0 or self.chunks > 0


def rows_apart(ref: Window, cur: Window) -> bool:
    """No row can be on both sides: the ranges are disjoint or the sides read other tables."""
    if ref.snapshot or cur.snapshot:
        return True
    return max(ref.start_ns, cur.start_ns) >= min(ref.end_ns, cur.end_ns)


def _base(scope: Scope, features_param: str = "features") -> Statement:
    """SELECT Feature, Kind, Value, Category, side FROM … with every filter bound."""
    parts, params = _parts(scope, features_param)
    return " UNION ALL ".join(parts), params


def _window_cond(name: str, w: Window, params: dict[str, Any]) -> str:
    params[f"{name}_start"], params[f"{name}_end"] = w.start_ns, w.end_ns
    cond = (
        f"Timestamp >= fromUnixTimestamp64Nano({{{name}_start:Int64}}) "
        f"AND Timestamp < fromUnixTimestamp64Nano({{{name}_end:Int64}})"
    )
    if w.snapshot:
        params[f"{name}_snapshot"] = w.snapshot
        cond += f" AND Snapshot = {{{name}_snapshot:String}}"
    elif w.version:
        params[f"{name}_version"] = w.version
        cond += f" AND ModelVersion = {{{name}_version:String}}"
    return f"({cond})"


def _source(w: Window) -> str:
    return table("ml_reference_features" if w.snapshot else "ml_features")


# the chunk of a reference value: its 0-based position among the feature's values in time
# order, divided by the chunk size ⌊n / chunks⌋ (at least 1; fewer values than chunks is
# refused before scoring); the remainder joins the last chunk
_CHUNK_SIDE = """toInt64(least(intDiv(
        row_number() OVER (PARTITION BY Feature ORDER BY Timestamp, Value, Category) - 1,
        greatest(intDiv(count() OVER (PARTITION BY Feature), {chunks:UInt64}), 1)),
    {chunks:UInt64} - 1))"""


def _parts(scope: Scope, features_param: str = "features") -> tuple[list[str], dict[str, Any]]:
    """The SELECTs whose UNION ALL is `_base`: one per side when rows are apart (or the current
    side is the chunked reference), else one."""
    ref, cur = scope.reference, scope.current
    params = bound(scope.database, model=scope.model)
    ref_cond = _window_cond("ref", ref, params)
    cur_cond = _window_cond("cur", cur, params)
    if scope.window_s > 0:
        params["window_ns"] = scope.window_s * 1_000_000_000
        cur_side = "intDiv(toUnixTimestamp64Nano(Timestamp) - {cur_start:Int64}, {window_ns:Int64})"
    else:
        cur_side = "toInt64(0)"
    feature_cond = ""
    if scope.features:
        params[features_param] = list(scope.features)
        feature_cond = f"AND Feature IN {{{features_param}:Array(String)}} "
    common = (
        f"WHERE ModelName = {{model:String}} {feature_cond}"
        "AND (Kind = 'categorical' OR isFinite(Value))"
    )

    def select(w: Window, cond: str, side: str) -> str:
        return (
            f"SELECT Feature, Kind, Value, Category, {side} AS side "
            f"FROM {_source(w)} {common} AND {cond}"
        )

    if scope.chunks > 0:
        params["chunks"] = scope.chunks
        return [select(ref, ref_cond, "toInt64(-1)"), select(ref, ref_cond, _CHUNK_SIDE)], params
    if rows_apart(ref, cur):
        # each side is its own SELECT (over its own table for a saved reference): the primary
        # key (ModelName, Feature, Timestamp) then prunes each side to its own time range
        return [
            select(ref, ref_cond, "toInt64(-1)"),
            select(cur, cur_cond, f"toInt64({cur_side})"),
        ], params
    # overlapping ranges: a row can be on both sides, so it is emitted once per side
    side = (
        f"arrayJoin(arrayConcat(if({ref_cond}, [toInt64(-1)], []), "
        f"if({cur_cond}, [toInt64({cur_side})], [])))"
    )
    sql = (
        f"SELECT Feature, Kind, Value, Category, {side} AS side "
        f"FROM {table('ml_features')} {common} "
        "AND Timestamp >= fromUnixTimestamp64Nano(least({ref_start:Int64}, {cur_start:Int64})) "
        "AND Timestamp < fromUnixTimestamp64Nano(greatest({ref_end:Int64}, {cur_end:Int64})) "
        f"AND ({ref_cond} OR {cur_cond})"
    )
    return [sql], params


def stats(scope: Scope) -> Statement:
    # aggregated inside each side's SELECT: there `side` is constant for one current window, so
    # the grouping is by the LowCardinality Feature alone
    parts, params = _parts(scope)
    grouped = [
        f"""SELECT Feature, side, toString(any(Kind)) AS kind, count() AS n,
    if(kind = 'categorical', uniqUpTo(21)(Category), uniqUpTo(21)(Value)) AS uniq,
    min(Value), max(Value), avg(Value), varSampStable(Value), stddevPopStable(Value)
FROM ({part}) GROUP BY Feature, side"""
        for part in parts
    ]
    body = "\nUNION ALL\n".join(grouped)
    return f"SELECT * FROM ({body}) ORDER BY Feature, side", params


def counts(scope: Scope) -> Statement:
    base, params = _base(scope)
    sql = f"""SELECT Feature, side, if(Kind = 'categorical', Category, toString(Value)) AS key,
    count() AS n
FROM ({base}) GROUP BY Feature, side, key ORDER BY Feature, side, key"""
    return sql, params


def hist(
    scope: Scope,
    n_windows: int,
    keys: Sequence[int],
    los: Sequence[float],
    steps: Sequence[float],
    his: Sequence[float],
    nbs: Sequence[int],
) -> Statement:
    """Rows per Sturges bin. Bin set `keys[j] = feature_index·2^20 + window` has `nbs[j]`
    equal-width bins from `los[j]` to `his[j]`; edge i is `i·steps[j] + los[j]` (the last is
    `his[j]`), the same float operations as np.linspace, so comparing a value with its edges
    here puts it in the bin np.histogram would. Lookups go through `transform` (a hash lookup;
    on the LowCardinality Feature column it runs once per dictionary entry), never through a
    per-row copy of an edge array."""
    base, params = _base(scope)
    params.update(
        {
            "h_k": n_windows,
            "h_feats": list(scope.features),
            "h_idx": list(range(len(scope.features))),
            "h_keys": list(keys),
            "h_los": list(los),
            "h_steps": list(steps),
            "h_his": list(his),
            "h_nbs": list(nbs),
        }
    )
    # reference rows are counted once per window (each window has its own edges)
    window = (
        "toInt64(0)"
        if n_windows == 1
        else "arrayJoin(if(side = -1, arrayMap(x -> toInt64(x), range({h_k:UInt64})), [side]))"
    )
    if n_windows == 1:
        # one bin set per feature: look up by Feature itself, which on a LowCardinality
        # column is evaluated once per dictionary entry instead of once per row
        def look(arr: str, typ: str, default: str) -> str:
            return (
                f"transform(Feature, {{h_feats:Array(String)}}, {{{arr}:Array({typ})}}, {default})"
            )
    else:

        def look(arr: str, typ: str, default: str) -> str:
            return f"transform(key, {{h_keys:Array(UInt64)}}, {{{arr}:Array({typ})}}, {default})"

    sql = f"""SELECT Feature, w, side, bin, count() AS n FROM (
    SELECT Feature, side, Value, {window} AS w,
        toUInt64(transform(Feature, {{h_feats:Array(String)}}, {{h_idx:Array(UInt64)}},
            toUInt64(0))) * 1048576 + toUInt64(w) AS key,
        {look("h_los", "Float64", "nan")} AS lo,
        {look("h_steps", "Float64", "nan")} AS step,
        {look("h_his", "Float64", "nan")} AS hi,
        {look("h_nbs", "Int64", "toInt64(0)")} AS nb,
        least(greatest(toInt64(floor((Value - lo) / step)), 0), nb - 1) AS g0,
        if(g0 + 1 = nb, hi, toFloat64(g0 + 1) * step + lo) AS upper0,
        multiIf(Value < toFloat64(g0) * step + lo, g0 - 1,
                g0 + 1 < nb AND Value >= upper0, g0 + 1, g0) AS bin
    FROM ({base}) WHERE Feature IN {{h_feats:Array(String)}}
) WHERE nb > 0 GROUP BY Feature, w, side, bin"""
    return sql, params


_W1_FIGURES = """length(rv) AS nr, length(cv) AS nc,
    arraySort(p -> p.1, arrayConcat(arrayMap(v -> (v, toInt64(nc)), rv),
                                    arrayMap(v -> (v, -toInt64(nr)), cv))) AS pairs,
    arrayMap(p -> p.1, pairs) AS xs,
    arrayCumSum(arrayMap(p -> p.2, pairs)) AS cum,
    arraySum((c, a, b) -> abs(toFloat64(c)) * (b - a),
             arrayPopBack(cum), arrayPopBack(xs), arrayPopFront(xs)) AS w1_scaled,
    arrayMax((c, a, b) -> if(b > a, abs(c), 0),
             arrayPopBack(cum), arrayPopBack(xs), arrayPopFront(xs)) AS d_scaled"""


def w1ks_select(scope: Scope, parallel: int = 4) -> Statement:
    """Per (feature, window): nr, nc, W1·nr·nc and KS D·nr·nc (only the figures come back).

    One window over disjoint ranges (the usual case): one GROUP BY Feature with the two sides
    as `groupArrayIf`, and the features split into `parallel` UNION ALL branches — each
    feature's sort runs on one thread, and branches are the unit ClickHouse parallelises.
    Otherwise the reference arrays are joined to every current window's arrays."""
    features = scope.features
    if not scope.windowed and rows_apart(scope.reference, scope.current):
        parts, params = [], {}
        chunks = [list(features[i::parallel]) for i in range(parallel) if features[i::parallel]]
        for i, chunk in enumerate(chunks):
            base, p = _base(scope.only(chunk), f"features_{i}")
            params.update(p)
            parts.append(
                f"""SELECT Feature, toInt64(0) AS w, {_W1_FIGURES}
FROM (SELECT Feature, groupArrayIf(Value, side = -1) AS rv, groupArrayIf(Value, side = 0) AS cv
      FROM ({base}) GROUP BY Feature)"""
            )
        body = "\nUNION ALL\n".join(parts)
        return f"SELECT Feature, w, nr, nc, w1_scaled, d_scaled FROM ({body})", params
    base, params = _base(scope)
    sql = f"""WITH src AS ({base})
SELECT Feature, w, nr, nc, w1_scaled, d_scaled FROM (
SELECT Feature, w, {_W1_FIGURES}
FROM (SELECT Feature, groupArray(Value) AS rv FROM src WHERE side = -1 GROUP BY Feature) AS r
INNER JOIN (SELECT Feature, side AS w, groupArray(Value) AS cv FROM src WHERE side >= 0
            GROUP BY Feature, w) AS c USING Feature)"""
    return sql, params


# W1 as the L1 distance of the two quantile functions, from each side sorted on its own (two
# plain sorts, cheaper than one sort of the weighted union), without merging the two: on the
# unit interval in steps of 1/(N·M), cell f of the finer side (N values) is [f·M, (f+1)·M)
# and cell g of the coarser side (M ≤ N values) is [g·N, (g+1)·N), so a fine cell overlaps at
# most two coarse cells: g0 = ⌊f·M/N⌋ for p0 = min((g0+1)·N, (f+1)·M) - f·M steps, and
# g0 + 1 for the other M - p0. The coarse values are laid out along the fine cells by repeating
# coarse value g for the ceil((g+1)·N/M) - ceil(g·N/M) fine cells that start inside it (no
# per-element lookups: ClickHouse lambdas copy captured arrays). All step counts are integers.
_W1_QUANTILE = """length(rs) AS nr, length(cs) AS nc,
    toUInt64(greatest(nr, nc)) AS big_n, toUInt64(least(nr, nc)) AS small_m,
    if(nr >= nc, rs, cs) AS fine, if(nr >= nc, cs, rs) AS coarse,
    arrayMap(g -> intDiv((g + 1) * big_n + small_m - 1, small_m)
                  - intDiv(g * big_n + small_m - 1, small_m), range(small_m)) AS reps,
    arrayFlatten(arrayMap((v, r) -> arrayWithConstant(r, v), coarse, reps)) AS at0,
    arrayFlatten(arrayMap((v, r) -> arrayWithConstant(r, v),
                          arrayPushBack(arrayPopFront(coarse), coarse[-1]), reps)) AS at1,
    arrayMap(f -> least((intDiv(f * small_m, big_n) + 1) * big_n, (f + 1) * small_m)
                  - f * small_m, range(big_n)) AS p0,
    arraySum((x, a, b, p) -> abs(x - a) * toFloat64(p) + abs(x - b) * toFloat64(small_m - p),
             fine, at0, at1, p0) AS w1_steps"""


def _bins_of(values: str) -> str:
    """The Sturges bin of every element of `values` with np.histogram's rule (as in `hist`):
    a first guess from the division, then one step down or up where the guess's own edges
    (computed with numpy's float operations) disagree. lo/step/hi/nb must be in scope."""
    guess = f"arrayMap(v -> least(greatest(toInt64(floor((v - lo) / step)), 0), nb - 1), {values})"
    return (
        "arrayMap((g, v) -> multiIf(v < toFloat64(g) * step + lo, g - 1, "
        "g + 1 < nb AND v >= if(g + 1 = nb, hi, toFloat64(g + 1) * step + lo), g + 1, g), "
        f"{guess}, {values})"
    )


def w1_quantile(
    scope: Scope, bins: Sequence[tuple[float, float, float, int]], parallel: int = 4
) -> Statement:
    """Per feature of one current window: nr, nc, W1·nr·nc (exact, see _W1_QUANTILE) and,
    where `bins[i]` = (lo, step, hi, nb) has nb > 0, the Sturges bin counts of each side as
    (bin ids, first positions) of the sorted values — the bins of a sorted array are runs, so
    only where a run starts comes back. One scan replaces both the W1 sort and the plot pass."""
    features = scope.features
    parts, params = [], {}
    idx = list(range(len(features)))
    chunks = [idx[i::parallel] for i in range(parallel) if idx[i::parallel]]
    params.update({
        "q_feats": list(features), "q_los": [b[0] for b in bins],
        "q_steps": [b[1] for b in bins], "q_his": [b[2] for b in bins],
        "q_nbs": [b[3] for b in bins],
    })  # fmt: skip

    def look(arr: str, typ: str, default: str) -> str:
        return f"transform(Feature, {{q_feats:Array(String)}}, {{{arr}:Array({typ})}}, {default})"

    for i, chunk in enumerate(chunks):
        base, p = _base(scope.only([features[j] for j in chunk]), f"qf_{i}")
        params.update(p)
        parts.append(
            f"""SELECT Feature, nr, nc,
    w1_steps / toFloat64(big_n * small_m) * nr * nc AS w1_scaled,
    {look("q_los", "Float64", "nan")} AS lo, {look("q_steps", "Float64", "nan")} AS step,
    {look("q_his", "Float64", "nan")} AS hi, {look("q_nbs", "Int64", "toInt64(0)")} AS nb,
    if(nb > 0, {_bins_of("rs")}, []) AS rb,
    if(nb > 0, {_bins_of("cs")}, []) AS cb,
    arrayFilter((b, d, i) -> i = 1 OR d != 0, rb, arrayDifference(rb), arrayEnumerate(rb)) AS r_ids,
    arrayFilter((i, d) -> i = 1 OR d != 0, arrayEnumerate(rb), arrayDifference(rb)) AS r_at,
    arrayFilter((b, d, i) -> i = 1 OR d != 0, cb, arrayDifference(cb), arrayEnumerate(cb)) AS c_ids,
    arrayFilter((i, d) -> i = 1 OR d != 0, arrayEnumerate(cb), arrayDifference(cb)) AS c_at
FROM (SELECT Feature, rs, cs, {_W1_QUANTILE}
      FROM (SELECT Feature, arraySort(groupArrayIf(Value, side = -1)) AS rs,
                   arraySort(groupArrayIf(Value, side = 0)) AS cs
            FROM ({base}) GROUP BY Feature))"""
        )
    body = "\nUNION ALL\n".join(parts)
    sql = f"SELECT Feature, nr, nc, w1_scaled, r_ids, r_at, c_ids, c_at FROM ({body})"
    return sql, params


def values(scope: Scope) -> Statement:
    """Raw values as one float64 matrix (feature position in the list, side, value): all
    columns numeric so the client can decode it straight into numpy (`query_np`)."""
    base, params = _base(scope)
    sql = f"""SELECT toFloat64(indexOf({{features:Array(String)}}, Feature)), toFloat64(side), Value
FROM ({base})"""
    return sql, params


def recent_split(
    database: str, model: str, before_start_ns: int, current: Window, reference_version: str
) -> Statement:
    """For the default reference: the model's inferences in [before_start, current start) (of
    the reference version, if set), and the count and median timestamp (ns, the upper middle
    value) of its inferences in the current window."""
    params = bound(
        database, model=model, before=before_start_ns, cur_start=current.start_ns,
        cur_end=current.end_ns, ref_version=reference_version, cur_version=current.version,
    )  # fmt: skip
    is_current = (
        "Timestamp >= fromUnixTimestamp64Nano({cur_start:Int64}) "
        "AND ({cur_version:String} = '' OR ModelVersion = {cur_version:String})"
    )
    sql = f"""SELECT
    countIf(Timestamp < fromUnixTimestamp64Nano({{cur_start:Int64}})
            AND ({{ref_version:String}} = '' OR ModelVersion = {{ref_version:String}})) AS before,
    countIf({is_current}) AS current,
    quantileExactHighIf(0.5)(toUnixTimestamp64Nano(Timestamp), {is_current}) AS median
FROM {table("ml_inferences")}
WHERE ModelName = {{model:String}}
  AND Timestamp >= fromUnixTimestamp64Nano({{before:Int64}})
  AND Timestamp < fromUnixTimestamp64Nano({{cur_end:Int64}})"""
    return sql, params
