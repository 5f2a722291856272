"""The query API's logic, free of gRPC types: each question is plan → statements → rows →
answer. A planner decides which statements a request needs, storage/ runs them into typed
rows, analysis/ scores them.

    drift.py, drift_windows.py   drift questions (window defaults, plan/fetch/score, chunk
                                 thresholds)
    latency.py, performance.py   latency (percentiles, burn rates, regression), performance
    references.py                saved reference profiles
    sql.py, statement.py         read-only SQL (the `Sql` RPC's sandbox)
    runs.py, run_filter.py       experiment runs (MLflow's search grammar)

May import analysis/, storage/, config, errors; never api/, console/, mlflow/ or cli/.
"""
