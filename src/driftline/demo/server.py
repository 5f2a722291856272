"""The demo's model server: the fraud scorer behind HTTP, instrumented with driftline's SDK.

Runs in the demo's own process on a free port (a ThreadingHTTPServer in a daemon thread), shaped
like examples/serve_model.py: `POST /predict` scores a JSON row inside `sdk.track_inference`
(features, class and score on the span; the span's duration is the latency driftline measures),
`POST /label` forwards ground truth with `sdk.record_label`. `rollout(version)` switches the
live version, as a deployment would; the scenario does it between phases.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from driftline import sdk
from driftline.demo.model import FEATURES, MODEL_NAME, VERSIONS, Scorer


class ModelServer:
    def __init__(self, live: str = "1", host: str = "127.0.0.1") -> None:
        self.live: Scorer = VERSIONS[live]
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: one connection per traffic worker

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    return self._send(400, {"error": "body must be JSON"})
                if self.path == "/predict":
                    return self._send(200, server.predict(body))
                if self.path == "/label":
                    sdk.record_label(str(body["inference_id"]), body["label"], model=MODEL_NAME)
                    return self._send(202, {"ok": True})
                return self._send(404, {"error": f"no route {self.path}"})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the progress bar is the demo's only chatter

        self._http = ThreadingHTTPServer((host, 0), Handler)
        self._http.daemon_threads = True
        self.host, self.port = host, int(self._http.server_address[1])
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="demo-model-server", daemon=True
        )

    def predict(self, row: dict[str, Any]) -> dict[str, Any]:
        scorer = self.live
        with sdk.track_inference(model=MODEL_NAME, version=scorer.version) as inference:
            # a feature the request lacks (None) is not recorded: driftline counts it missing
            inference.features({n: row[n] for n in FEATURES if row.get(n) is not None})
            label, score = scorer.predict(row)
            inference.prediction(label, score=score)
        return {
            "inference_id": inference.id, "version": scorer.version,
            "prediction": label, "score": score,
        }  # fmt: skip

    def rollout(self, version: str) -> None:
        self.live = VERSIONS[version]

    def start(self) -> ModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
