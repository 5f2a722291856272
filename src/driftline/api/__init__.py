"""The gRPC query API: `driftline.v1.QueryService` plus health and reflection (see server.py).

Generated code lives in `_gen/` (`make proto`; git-ignored).
"""
