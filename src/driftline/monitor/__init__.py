"""Answers about models: drift, latency and performance, computed in ClickHouse."""
