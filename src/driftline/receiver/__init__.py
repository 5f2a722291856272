"""OTLP receivers: gRPC (:4317) and HTTP (:4318) in, a durable log out.

Every accepted request is checked (`validate`), made durable through a `DurableLog` and only
then acknowledged. Errors become status codes here and nowhere else (`status`).
"""

from driftline.receiver.ingest import DurableLog
from driftline.receiver.otlp_grpc import build_otlp_grpc_handlers, start_otlp_grpc_server
from driftline.receiver.otlp_http import build_otlp_http_app, start_otlp_http_server
from driftline.receiver.validate import Inspection, inspect

__all__ = [
    "DurableLog",
    "Inspection",
    "build_otlp_grpc_handlers",
    "build_otlp_http_app",
    "inspect",
    "start_otlp_grpc_server",
    "start_otlp_http_server",
]
