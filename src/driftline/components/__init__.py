"""The running parts of `driftline serve`, each a `lifecycle.Component` (start, shutdown).

- backpressure.py  the receivers' durable log: the WAL, refusing new data while storage lags
- wal_metrics.py   the WAL's gauges (size, head, each cursor's lag) read at scrape time
- servers.py       network listeners as components: gRPC servers, the aiohttp runner, /metrics
- pipeline.py      the WAL itself, and the drain that waits for consumers at shutdown

service.py wires these with the sink, the forwarders and the monitors, in order. May import
everything below the service layer (receiver, export, query, api …); nothing imports it but
service.py.
"""
