"""The SQL the derived-signal loop needs beyond the analytics' own: which models to cover."""

from __future__ import annotations

from collections.abc import Sequence

from driftline.storage.bind import Statement, bound, table


def recent_model_versions(
    database: str, start_ns: int, end_ns: int, models: Sequence[str] = ()
) -> Statement:
    """(model, version) pairs with inferences in [start_ns, end_ns), optionally only `models`."""
    params = bound(database, start=start_ns, end=end_ns)
    only = ""
    if models:
        params["models"] = list(models)
        only = "AND ModelName IN {models:Array(String)}"
    return (
        f"""SELECT DISTINCT ModelName, ModelVersion FROM {table("ml_inferences")}
WHERE Timestamp >= fromUnixTimestamp64Nano({{start:Int64}})
  AND Timestamp < fromUnixTimestamp64Nano({{end:Int64}}) {only}
ORDER BY ModelName, ModelVersion""",
        params,
    )
