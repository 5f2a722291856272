"""Evidently's default method (`registry._get_default_stattest`, anchors-ml.md §1.3).

`n_unique` is counted over ref ∪ cur after NaN/±inf were dropped; "small" means the
*reference* has ≤ 1000 rows. Numerical columns with few distinct values are treated like
categorical ones (chisquare / z, or jensenshannon on one bin per value).
"""

from __future__ import annotations


def default_method(kind: str, n_unique: int, n_ref: int) -> str:
    small = n_ref <= 1000
    if kind == "numerical" and n_unique > 5:
        return "ks" if small else "wasserstein"
    if not small:
        return "jensenshannon"
    if kind == "numerical":
        return "chisquare" if n_unique > 2 else "z"
    return "chisquare" if n_unique > 2 else "z"
