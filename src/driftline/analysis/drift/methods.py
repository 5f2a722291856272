"""The drift-method registry: Evidently's names, display names, kinds, default thresholds and
the direction of the drift comparison (anchors-ml.md §1.2).

p-value tests flag drift when the p-value is *below* the threshold (`<`, or `<=` for ks and
cramer_von_mises, exactly as Evidently compares); distances flag drift when the score is *above*
(`>=`, or `>` for ed). Keeping the operator per method, not per family, is what makes verdicts at
the threshold boundary equal to Evidently's.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from driftline.errors import InvalidInputError

Kind = Literal["numerical", "categorical"]
NUM: Final = frozenset({"numerical"})
CAT: Final = frozenset({"categorical"})
BOTH: Final = frozenset({"numerical", "categorical"})

_OPS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    display_name: str
    kinds: frozenset[str]
    default_threshold: float
    drift_when: str  # score <op> threshold means drift
    p_value: bool

    def drifted(self, score: float, threshold: float) -> bool:
        return _OPS[self.drift_when](score, threshold)


_ALL: Final = (
    Method("ks", "K-S p_value", NUM, 0.05, "<=", True),
    Method("chisquare", "chi-square p_value", BOTH, 0.05, "<", True),
    Method("z", "Z-test p_value", BOTH, 0.05, "<", True),
    Method("wasserstein", "Wasserstein distance (normed)", NUM, 0.1, ">=", False),
    Method("psi", "PSI", BOTH, 0.1, ">=", False),
    Method("kl_div", "Kullback-Leibler divergence", BOTH, 0.1, ">=", False),
    Method("jensenshannon", "Jensen-Shannon distance", BOTH, 0.1, ">=", False),
    Method("hellinger", "Hellinger distance", BOTH, 0.1, ">=", False),
    Method("ed", "Energy-distance", NUM, 0.1, ">", False),
    Method("fisher_exact", "Fisher's Exact test", CAT, 0.1, "<", True),
    Method("g_test", "g_test", CAT, 0.1, "<", True),
    Method("TVD", "Total-Variation-Distance", CAT, 0.1, "<", True),
    Method("anderson", "Anderson-Darling", NUM, 0.1, "<", True),
    Method("cramer_von_mises", "Cramer-von Mises", NUM, 0.1, "<=", True),
    Method("mannw", "Mann-Whitney U-rank test", NUM, 0.05, "<", True),
    Method("t_test", "t_test", NUM, 0.05, "<", True),
)
METHODS: Final[dict[str, Method]] = {m.name: m for m in _ALL}


def get_method(name: str, kind: str) -> Method:
    """The method `name` for a column of `kind`; a clear error if unknown or unfit."""
    method = METHODS.get(name)
    if method is None:
        raise InvalidInputError(f"unknown drift method {name!r}; known: {', '.join(METHODS)}")
    if kind not in method.kinds:
        raise InvalidInputError(f"drift method {name!r} does not apply to {kind} columns")
    return method
