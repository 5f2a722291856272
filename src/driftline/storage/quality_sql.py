"""The SQL behind data quality and the multivariate sample (`analysis.quality` and
`analysis.multivariate` score what these return; `query.quality` runs them in order).

A *scope* is one side of the comparison: a time range of one model (optionally one version) in
`ml_features`, or a saved reference snapshot in `ml_reference_features`. Rows are tagged with a
*slot*: reference rows with -1-c for reference chunk c (0…k-1, equal inference counts, cut at
`chunk_bounds`), current rows with their window 0…w-1 (equal wall-clock slices of
`window_ns`, or 0 for the whole range). Every statement answers all features and all slots at
once, grouped — never a statement per feature or per window.

    models        the models with inferences
    chunk_bounds  the reference's k-1 inner chunk boundaries: timestamps at equal inference
                  counts (from ml_inferences, or the snapshot's distinct timestamps)
    inferences    per slot: inferences and distinct `InferenceId`s (duplicates), live scopes
    profile       per (feature, slot) and per (feature, side) in one scan (ROLLUP merges the
                  slots' states): rows by kind, non-finite numbers, empty categories, finite
                  min/max/mean/std, distinct values, t-digest quantiles
    snapshot_inferences  per chunk of a saved reference: its distinct timestamps
    versus        per (feature, current slot): categories never seen in the reference and
                  finite numbers outside the reference's range [lo, hi] given per feature
    categories    the most frequent new (current only) and absent (reference only) categories
    kinds         per feature of one scope: rows by kind (which features, of which kind)
    sample        a deterministic hash sample of whole inferences, one column per feature
                  (numbers as Float64, categories as String), for the multivariate methods
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from driftline.storage.bind import Statement, bound, table

QUANTILE_LEVELS: Final = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
_LEVELS_SQL: Final = ", ".join(str(q) for q in QUANTILE_LEVELS)
_PPM: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class Scope:
    """One side: [start_ns, end_ns) of a model's rows, one `version` if set; with `snapshot`
    set, that saved reference's frozen rows instead (its version was fixed when saved)."""

    start_ns: int
    end_ns: int
    version: str = ""
    snapshot: str = ""


def _scope_filter(prefix: str, scope: Scope, params: dict[str, object]) -> str:
    params[f"{prefix}_start"] = scope.start_ns
    params[f"{prefix}_end"] = scope.end_ns
    cond = (
        f"Timestamp >= fromUnixTimestamp64Nano({{{prefix}_start:Int64}}) "
        f"AND Timestamp < fromUnixTimestamp64Nano({{{prefix}_end:Int64}})"
    )
    if scope.snapshot:
        params[f"{prefix}_snapshot"] = scope.snapshot
        cond += f" AND Snapshot = {{{prefix}_snapshot:String}}"
    elif scope.version:
        params[f"{prefix}_version"] = scope.version
        cond += f" AND ModelVersion = {{{prefix}_version:String}}"
    return cond


def _features_table(scope: Scope) -> str:
    return table("ml_reference_features" if scope.snapshot else "ml_features")


def models(database: str, limit: int = 1000) -> Statement:
    """The names of the models with inferences (for "unknown model" answers)."""
    sql = (
        f"SELECT DISTINCT ModelName FROM {table('ml_inferences')} "
        "ORDER BY ModelName LIMIT {limit:UInt32}"
    )
    return sql, bound(database, limit=limit)


def chunk_bounds(database: str, model: str, ref: Scope, chunks: int) -> Statement:
    """One row: the k-1 timestamps (ns) where reference chunks 1…k-1 start, cutting the
    reference's inferences, oldest first, into k runs of ⌊n/k⌋ (the last takes the rest)."""
    params: dict[str, object] = {"model": model, "k": max(chunks, 1)}
    cond = _scope_filter("ref", ref, params)
    if ref.snapshot:
        source = (
            f"SELECT DISTINCT toUnixTimestamp64Nano(Timestamp) AS t FROM {_features_table(ref)} "
            f"WHERE ModelName = {{model:String}} AND {cond}"
        )
    else:
        source = (
            f"SELECT toUnixTimestamp64Nano(Timestamp) AS t FROM {table('ml_inferences')} "
            f"WHERE ModelName = {{model:String}} AND {cond}"
        )
    sql = f"""SELECT length(ts) AS n, intDiv(n, {{k:UInt32}}) AS size,
    if(size = 0, [], arrayMap(i -> ts[i * size + 1], range(1, {{k:UInt32}}))) AS bounds
FROM (SELECT arraySort(groupArray(t)) AS ts FROM ({source}))"""
    return sql, bound(database, **params)


def _chunk(params: dict[str, object], bounds: Sequence[int]) -> str:
    """The reference chunk (0…k-1) of a row: comparisons with the boundaries, no lambda (a
    multiIf of constants costs a few comparisons per row)."""
    if not bounds:
        return "toInt64(0)"
    arms = []
    for i, b in enumerate(bounds):
        params[f"b{i}"] = b
        arms.append(f"Timestamp < fromUnixTimestamp64Nano({{b{i}:Int64}}), {i}")
    return f"toInt64(multiIf({', '.join(arms)}, {len(bounds)}))"


def _window(params: dict[str, object], window_ns: int) -> str:
    """The current window (0…w-1) of a row."""
    if window_ns <= 0:
        return "toInt64(0)"
    params["window_ns"] = window_ns
    return "intDiv(toUnixTimestamp64Nano(Timestamp) - {cur_start:Int64}, {window_ns:Int64})"


def _slot(params: dict[str, object], bounds: Sequence[int], window_ns: int) -> tuple[str, str]:
    """(reference slot -1-chunk, current slot = window) expressions over `Timestamp`."""
    return f"-1 - {_chunk(params, bounds)}", _window(params, window_ns)


def inferences(
    database: str, model: str, ref: Scope, cur: Scope, bounds: Sequence[int], window_ns: int
) -> Statement:
    """Per slot: inferences and distinct inference ids. A snapshot reference has no inference
    rows: its slots are missing here and come from `profile`'s distinct timestamps."""
    params: dict[str, object] = {"model": model}
    ref_slot, cur_slot = _slot(params, bounds, window_ns)
    parts = [
        f"SELECT {cur_slot} AS slot, count() AS n, uniqExact(InferenceId) AS ids "
        f"FROM {table('ml_inferences')} WHERE ModelName = {{model:String}} "
        f"AND {_scope_filter('cur', cur, params)} GROUP BY slot"
    ]
    if not ref.snapshot:
        parts.append(  # the reference's duplicates are never asked for: counts only
            f"SELECT {ref_slot} AS slot, count() AS n, n AS ids "
            f"FROM {table('ml_inferences')} WHERE ModelName = {{model:String}} "
            f"AND {_scope_filter('ref', ref, params)} GROUP BY slot"
        )
    sql = "SELECT slot, n, ids FROM (" + " UNION ALL ".join(parts) + ") ORDER BY slot"
    return sql, bound(database, **params)


def _rows(
    model: str,
    ref: Scope,
    cur: Scope,
    bounds: Sequence[int],
    window_ns: int,
    features: Sequence[str],
    params: dict[str, object],
    *,
    sides: str = "both",
    tag: str = "",
) -> str:
    """SELECT Feature, Kind, Value, Category, Timestamp, slot over the chosen side(s); `tag`
    prefixes the feature list's parameter, for a second feature list in one statement."""
    params["model"] = model
    ref_slot, cur_slot = _slot(params, bounds, window_ns)
    feature_cond = ""
    if features:
        params[f"{tag}features"] = list(features)
        feature_cond = f" AND Feature IN {{{tag}features:Array(String)}}"
    parts = []
    for name, scope, slot in (("ref", ref, ref_slot), ("cur", cur, cur_slot)):
        if sides not in ("both", name):
            continue
        parts.append(
            f"SELECT Feature, Kind, Value, Category, Timestamp, {slot} AS slot "
            f"FROM {_features_table(scope)} WHERE ModelName = {{model:String}}{feature_cond} "
            f"AND {_scope_filter(name, scope, params)}"
        )
    return " UNION ALL ".join(parts)


def profile(
    database: str,
    model: str,
    ref: Scope,
    cur: Scope,
    bounds: Sequence[int],
    window_ns: int,
    features: Sequence[str] = (),
) -> Statement:
    """Per (feature, slot) and per (feature, side) — `whole` = 1 marks the side totals, whose
    `at` is -1 (reference) or 0 (current). One scan: the side totals come from ROLLUP, which
    merges the slots' aggregate states instead of aggregating the rows again. Numbers' figures
    cover finite values only; `distinct` is exact for categories and capped at 2 for numbers
    (enough to tell a constant feature)."""
    params: dict[str, object] = {"model": model}
    chunk, window = _chunk(params, bounds), _window(params, window_ns)
    feature_cond = ""
    if features:
        params["features"] = list(features)
        feature_cond = " AND Feature IN {features:Array(String)}"
    parts = []
    for name, scope, side, part in (("ref", ref, 0, chunk), ("cur", cur, 1, window)):
        parts.append(
            f"SELECT Feature, Kind, Value, Category, toUInt8({side}) AS side, {part} AS part "
            f"FROM {_features_table(scope)} WHERE ModelName = {{model:String}}{feature_cond} "
            f"AND {_scope_filter(name, scope, params)}"
        )
    rows = " UNION ALL ".join(parts)
    at = "if(whole = 1, if(side = 0, -1, 0), if(side = 0, -1 - part, part))"
    sql = f"""SELECT Feature, {at} AS at, whole, numerical, categorical, non_finite, empty,
    lo, hi, mean, std, distinct_values, quantiles, 0 AS carriers
FROM (
SELECT Feature, side, part, grouping(part) AS whole, grouping(side) AS feature_level,
    countIf(Kind = 'numerical') AS numerical, countIf(Kind = 'categorical') AS categorical,
    countIf(Kind = 'numerical' AND NOT isFinite(Value)) AS non_finite,
    countIf(Kind = 'categorical' AND Category = '') AS empty,
    minIf(Value, fin) AS lo, maxIf(Value, fin) AS hi, avgIf(Value, fin) AS mean,
    stddevSampStableIf(Value, fin) AS std,
    if(numerical >= categorical, uniqUpToIf(2)(Value, fin), uniqExactIf(Category, Category != ''))
        AS distinct_values,
    quantilesTDigestIf({_LEVELS_SQL})(Value, fin) AS quantiles
FROM (SELECT *, Kind = 'numerical' AND isFinite(Value) AS fin FROM ({rows}))
GROUP BY Feature, side, part WITH ROLLUP
) WHERE feature_level = 0
ORDER BY Feature, whole, at"""
    return sql, bound(database, **params)


def snapshot_inferences(database: str, model: str, ref: Scope, bounds: Sequence[int]) -> Statement:
    """Per reference chunk of a saved snapshot (which keeps no inference rows): the distinct
    timestamps, one per inference that carried any feature."""
    params: dict[str, object] = {"model": model}
    chunk = _chunk(params, bounds)
    cond = _scope_filter("ref", ref, params)
    sql = f"""SELECT -1 - {chunk} AS slot, uniqExact(Timestamp) AS n, n AS ids
FROM {_features_table(ref)} WHERE ModelName = {{model:String}} AND {cond}
GROUP BY slot ORDER BY slot"""
    return sql, bound(database, **params)


def versus(
    database: str,
    model: str,
    ref: Scope,
    cur: Scope,
    window_ns: int,
    categorical: Sequence[str],
    ranges: Mapping[str, tuple[float, float]],
) -> Statement:
    """Per (feature, current slot): rows of `categorical` features with a category the
    reference never had (empty strings are missing, not new), and finite numbers of the
    `ranges` features outside their (lo, hi). Only those features' rows are read: the primary
    key (ModelName, Feature, Timestamp) skips the others."""
    params: dict[str, object] = {
        "v_feats": list(ranges),
        "v_lo": [lo for lo, _ in ranges.values()],
        "v_hi": [hi for _, hi in ranges.values()],
    }
    wanted = [*categorical, *ranges]
    cur_rows = _rows(model, ref, cur, [], window_ns, wanted, params, sides="cur")
    ref_params: dict[str, object] = {}
    ref_rows = _rows(model, ref, cur, [], 0, categorical, ref_params, sides="ref", tag="u_")
    params.update(ref_params)
    sql = f"""SELECT Feature, slot, unseen, out_of_range FROM (SELECT Feature, slot,
    countIf(Kind = 'categorical' AND Category != ''
            AND (Feature, Category) NOT IN (SELECT Feature, Category FROM ({ref_rows})
                                            WHERE Kind = 'categorical')) AS unseen,
    transform(Feature, {{v_feats:Array(String)}}, {{v_lo:Array(Float64)}}, nan) AS lo,
    transform(Feature, {{v_feats:Array(String)}}, {{v_hi:Array(Float64)}}, nan) AS hi,
    countIf(Kind = 'numerical' AND isFinite(Value) AND (Value < lo OR Value > hi))
        AS out_of_range
FROM ({cur_rows}) GROUP BY Feature, slot) ORDER BY Feature, slot"""
    return sql, bound(database, **params)


def categories(
    database: str,
    model: str,
    ref: Scope,
    cur: Scope,
    features: Sequence[str],
    limit: int = 10,
) -> Statement:
    """(feature, 'new'|'absent', category, rows): categories seen on one side only, the `limit`
    most frequent of each feature, most frequent first."""
    params: dict[str, object] = {"limit": limit}
    cur_rows = _rows(model, ref, cur, [], 0, features, params, sides="cur")
    ref_rows = _rows(model, ref, cur, [], 0, features, params, sides="ref")

    def only(kind: str, mine: str, other: str) -> str:
        return f"""SELECT Feature, '{kind}' AS which, Category, count() AS n FROM ({mine})
    WHERE Kind = 'categorical' AND Category != ''
      AND (Feature, Category) NOT IN (SELECT Feature, Category FROM ({other})
                                      WHERE Kind = 'categorical')
    GROUP BY Feature, Category ORDER BY n DESC, Category LIMIT {{limit:UInt32}} BY Feature"""

    sql = f"""SELECT Feature, which, Category, n FROM (
{only("new", cur_rows, ref_rows)}
UNION ALL
{only("absent", ref_rows, cur_rows)}) ORDER BY Feature, which, n DESC, Category"""
    return sql, bound(database, **params)


def kinds(database: str, model: str, scope: Scope, features: Sequence[str] = ()) -> Statement:
    """Per feature of one scope: numerical rows, categorical rows (the dominant kind)."""
    params: dict[str, object] = {"model": model}
    cond = _scope_filter("s", scope, params)
    feature_cond = ""
    if features:
        params["features"] = list(features)
        feature_cond = " AND Feature IN {features:Array(String)}"
    sql = f"""SELECT Feature, countIf(Kind = 'numerical'), countIf(Kind = 'categorical')
FROM {_features_table(scope)} WHERE ModelName = {{model:String}}{feature_cond} AND {cond}
GROUP BY Feature ORDER BY Feature"""
    return sql, bound(database, **params)


def sample(
    database: str,
    model: str,
    scope: Scope,
    numerical: Sequence[str],
    categorical: Sequence[str],
    rate: float,
    seed: int,
) -> Statement:
    """Whole inferences of one scope, a deterministic share `rate` of them (a hash of the
    inference's timestamp and `seed`), oldest first: t (ns), then one Float64 column per
    numerical feature (NaN where absent) and one UInt64 column per categorical one: the
    category's cityHash64, 0 where absent or empty (numbers all the way: the client decodes
    columns straight into numpy, and the math only needs category identity). An inference's
    features share its span's timestamp, which re-assembles them."""
    params: dict[str, object] = {
        "model": model,
        "seed": seed,
        "ppm": max(0, min(_PPM, round(rate * _PPM))),
        "features": [*numerical, *categorical],
    }
    cond = _scope_filter("s", scope, params)
    columns = ["toUnixTimestamp64Nano(Timestamp) AS t"]
    for i, name in enumerate(numerical):
        params[f"n{i}"] = name
        columns.append(f"anyIf(Value, Feature = {{n{i}:String}} AND Kind = 'numerical') AS n{i}")
    for i, name in enumerate(categorical):
        params[f"c{i}"] = name
        columns.append(
            f"anyIf(Category, Feature = {{c{i}:String}} AND Kind = 'categorical') AS c{i}"
        )
    # anyIf over no row gives the type's default (0): mark absent numbers NaN through a count
    counts = [
        f"countIf(Feature = {{n{i}:String}} AND Kind = 'numerical') AS k{i}"
        for i in range(len(numerical))
    ]
    select = ", ".join(
        ["t", *[f"if(k{i} = 0, nan, n{i})" for i in range(len(numerical))]]
        + [f"if(c{i} = '', toUInt64(0), cityHash64(c{i}))" for i in range(len(categorical))]
    )
    sql = f"""SELECT {select} FROM (
    SELECT {", ".join(columns + counts)}
    FROM {_features_table(scope)}
    WHERE ModelName = {{model:String}} AND Feature IN {{features:Array(String)}} AND {cond}
      AND cityHash64(toUnixTimestamp64Nano(Timestamp), {{seed:UInt64}}) % {_PPM} < {{ppm:UInt64}}
    GROUP BY Timestamp) ORDER BY t"""
    return sql, bound(database, **params)
