"""A GetDrift answer → the HTML drift report's view (report/html.py), shared by
`driftline report drift` and the demo (a pure mapping of the proto's fields).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from driftline.api._gen.driftline.v1 import query_pb2
from driftline.report.html import DriftView, FeatureView


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def drift_view(response: query_pb2.GetDriftResponse, reference: str) -> DriftView:
    """The HTML report's view of a GetDrift answer (its last window), `reference` described."""
    window = response.windows[-1]
    return DriftView(
        model=response.model,
        reference=reference,
        current=f"{_when(window.start_unix_nano)} … {_when(window.end_unix_nano)}",
        drift_share=response.drift_share,
        features=[
            FeatureView(
                f.feature,
                f.kind,
                f.method,
                f.score,
                f.threshold,
                f.drifted,
                list(f.bins),
                list(f.reference_shares),
                list(f.current_shares),
                f.n_reference,
                f.n_current,
                list(f.bin_edges),
            )
            for f in window.features
        ],
        generated_at=_when(time.time_ns()),
        no_data=window.no_data,
    )
