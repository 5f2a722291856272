"""Pure math over typed aggregates: drift statistics (Evidently's methods, NannyML's chunk
thresholds), latency (SLO burn rates, the version-regression U test) and model performance
(label metrics, CBPE, accuracy drift).

Dataclasses in, dataclasses out; testable without an engine. What lives here may import
numpy, scipy, `driftline.errors` and `driftline.config` types — never `driftline.storage`, a
ClickHouse client, grpc or any I/O. The aggregates it scores are fetched by storage/*_rows.py,
and query/ composes the two.
"""
