"""A small model served over HTTP, instrumented with driftline's SDK.

    make run &                                   # the collector on 127.0.0.1:4317
    .venv/bin/python examples/serve_model.py     # the model on 127.0.0.1:8080
    curl -s localhost:8080/predict -d '{"age": 41, "income": 52000, "country": "DE"}'
    curl -s localhost:8080/label -d '{"inference_id": "…", "label": 1}'
    .venv/bin/driftline models

The model is a fixed logistic regression (fraud or not); what matters is the three lines that
instrument it: `sdk.configure`, `sdk.track_inference`, `sdk.record_label`.
"""

from __future__ import annotations

import argparse
import json
import math
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from driftline import sdk

MODEL, VERSION = "fraud-lr", "1"
WEIGHTS = {"age": -0.03, "income": -0.00002, "txn_amount": 0.004}
COUNTRY_RISK = {"NG": 1.2, "BR": 0.6, "US": 0.1, "DE": -0.2}


def fraud_probability(features: dict[str, Any]) -> float:
    z = -1.0 + COUNTRY_RISK.get(str(features.get("country")), 0.0)
    z += sum(w * float(features.get(name, 0.0)) for name, w in WEIGHTS.items())
    return 1.0 / (1.0 + math.exp(-z))


# The decorator form, for code that returns the prediction itself: features are read from the
# first argument when it is a mapping, the scalar result becomes ml.prediction.
@sdk.track_inference(model=MODEL, version=VERSION)
def predict(features: dict[str, Any]) -> float:
    return fraud_probability(features)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        except json.JSONDecodeError:
            return self._send(400, {"error": "body must be JSON"})
        if self.path == "/predict":
            # The context-manager form: class and score recorded separately.
            with sdk.track_inference(model=MODEL, version=VERSION) as inference:
                inference.features(body)
                score = fraud_probability(body)
                inference.prediction(int(score >= 0.5), score=score)
            return self._send(200, {"inference_id": inference.id, "fraud_probability": score})
        if self.path == "/label":
            sdk.record_label(str(body.get("inference_id")), body.get("label"), model=MODEL)
            return self._send(202, {"ok": True})
        return self._send(404, {"error": f"no route {self.path}"})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:8080")
    parser.add_argument("--collector", default=None, help="OTLP gRPC endpoint (default: env)")
    args = parser.parse_args()
    configured = sdk.configure(service_name="fraud-api", endpoint=args.collector)
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    print(f"serving {MODEL} v{VERSION} on http://{args.listen} (POST /predict, /label)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        configured.shutdown()


if __name__ == "__main__":
    main()
