"""OTLP/HTTP (protobuf) transport: `POST <endpoint>/v1/<signal>`, answers classified.

The URL's scheme decides TLS (`tls.insecure` with https:// skips certificate verification).
One keep-alive `http.client` connection per consumer thread (http.client connections are not
thread-safe), re-opened after any connection error. gzip is done here, at level 1: the
payload is already protobuf, and level 1 gets most of the gain at a fraction of the CPU.

Retryable per the OTLP specification: 429, 502, 503, 504 (with `Retry-After` in seconds or as
an HTTP date honoured as `delay_s`), and any failure to connect or to read an answer. Every
other status is permanent. A 200 answer is parsed for partial success.
"""

from __future__ import annotations

import email.utils
import gzip
import http.client
import ssl
import threading
import time
from typing import Final
from urllib.parse import urlsplit

from driftline.config.model import OtlpExporterConfig
from driftline.export.otlp.encode.shapes import SHAPES, rejected
from driftline.export.otlp.transport import Accepted, ExportRefused, ExportRetryable
from driftline.signals import Signal

RETRYABLE_STATUS: Final = frozenset({429, 502, 503, 504})
_GZIP_LEVEL: Final = 1


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _ssl_context(config: OtlpExporterConfig) -> ssl.SSLContext:
    """TLS for an https:// endpoint; with tls.insecure the certificate is not verified."""
    tls = config.tls
    context = ssl.create_default_context(cafile=tls.ca_file or None)
    if tls.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


class HttpTransport:
    def __init__(self, config: OtlpExporterConfig) -> None:
        url = urlsplit(config.endpoint)
        self._https = url.scheme == "https"
        self._host = url.hostname or ""
        self._port = url.port or (443 if url.scheme == "https" else 80)
        base = url.path.rstrip("/")
        self._paths = {signal: base + shape.http_path for signal, shape in SHAPES.items()}
        self._timeout_s = config.timeout_s
        self._gzip = config.compression == "gzip"
        self._context = _ssl_context(config) if self._https else None
        self._headers = {
            **config.headers,
            "Content-Type": "application/x-protobuf",
            **({"Content-Encoding": "gzip"} if self._gzip else {}),
        }
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._https:
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout_s, context=self._context
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def export(self, signal: Signal, body: bytes) -> Accepted:
        payload = gzip.compress(body, compresslevel=_GZIP_LEVEL) if self._gzip else body
        conn = self._connection()
        try:
            conn.request("POST", self._paths[signal], body=payload, headers=self._headers)
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as e:
            self._drop_connection()
            raise ExportRetryable(f"connection: {e!r}", code="connection") from None
        status = response.status
        if response.getheader("Connection", "").lower() == "close":
            self._drop_connection()
        if status == 200:
            if "protobuf" not in response.getheader("Content-Type", "application/x-protobuf"):
                return Accepted()  # not ours to parse (e.g. a JSON answer): full success
            try:
                count, message = rejected(signal, answer)
            except Exception:  # an unparsable 200 still means the data was accepted
                return Accepted()
            return Accepted(count, message)
        text = f"HTTP {status} from {self._paths[signal]}: {answer[:200]!r}"
        if status in RETRYABLE_STATUS:
            delay = retry_after(response.getheader("Retry-After"))
            raise ExportRetryable(text, code=f"http_{status}", delay_s=delay)
        raise ExportRefused(text, code=f"http_{status}")

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
