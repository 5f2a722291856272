"""Turning WAL records into export request bodies: per-signal shapes, counting, re-packing."""
