"""#11.2 and #11.3 through a live server and the CLI, on fresh data (every inference sent in
the last two minutes: version 3, then version 4 with `amount` shifted).

The README's drift examples must work as written: no reference flags (there is nothing in the
24 h before the current hour, so the current hour's inferences are split at their median
time), a version comparison (the reference covers the same range), `--reference-since` alone.
Windows without inferences say "no data", not "no dataset drift (0/0 features)"."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.serve import ServerProcess

pytestmark = pytest.mark.integration
N = 600
SEC = 10**9


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("defaults")) as srv:
        yield srv


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftline", *args, "--server", server.endpoints["query_grpc"]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def cli_json(server: ServerProcess, *args: str) -> Any:
    done = cli(server, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def model(server: ServerProcess) -> str:
    name = f"fresh-{uuid.uuid4().hex[:6]}"
    rng = np.random.default_rng(4)
    provider = TracerProvider(resource=Resource.create({"service.name": "fraud"}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=server.endpoints["otlp_grpc"], insecure=True),
            max_queue_size=4 * N,
        )
    )
    tracer = provider.get_tracer("defaults")
    now = time.time_ns()
    for version, shift, oldest in (("3", 0.0, 120), ("4", 3.0, 60)):
        for i in range(N):
            start = now - oldest * SEC + i * (55 * SEC // N)
            span = tracer.start_span("predict", start_time=start)
            span.set_attributes({
                "ml.model.name": name, "ml.model.version": version,
                "ml.feature.amount": float(rng.normal(100 + 30 * shift, 30)),
                "ml.feature.age": float(rng.normal(40, 10)),
                "ml.feature.country": str(rng.choice(["DE", "FR", "US"])),
            })  # fmt: skip
            span.end(end_time=start + 2_000_000)
    provider.shutdown()
    server.wait_for(f"SELECT count() FROM ml_inferences WHERE ModelName = '{name}'", 2 * N, 120)
    return name


def by_feature(window: dict[str, Any]) -> dict[str, Any]:
    return {f["feature"]: f for f in window["features"]}


def test_no_reference_flags_split_a_young_models_data(server: ServerProcess, model: str) -> None:
    answer = cli_json(server, "query", "drift", "--model", model)
    assert "earlier half" in answer["reference_chosen"]
    (window,) = answer["windows"]
    features = by_feature(window)
    assert features["amount"].get("drifted") and not features["age"].get("drifted", False)
    # the split is at the median inference: version 3 is the reference, version 4 the current
    assert int(features["amount"]["n_reference"]) == N and int(features["amount"]["n_current"]) == N


def test_a_version_comparison_covers_the_same_range(server: ServerProcess, model: str) -> None:
    answer = cli_json(server, "query", "drift", "--model", model, "--reference-version", "3",
                      "--version", "4", "--window", "1h", "--since", "24h")  # fmt: skip
    assert answer["reference_range"] == answer["current_range"]
    assert answer["reference_version"] == "3" and answer["current_version"] == "4"
    windows = answer["windows"]
    assert len(windows) == 24
    *empty, last = windows
    assert all(w.get("no_data") and not w.get("features") for w in empty)
    assert not last.get("no_data", False)
    assert by_feature(last)["amount"].get("drifted")
    assert int(by_feature(last)["amount"]["n_reference"]) == N


def test_reference_since_alone_ends_with_the_current_window(
    server: ServerProcess, model: str
) -> None:
    answer = cli_json(server, "query", "drift", "--model", model, "--reference-since", "1h",
                      "--reference-version", "3", "--version", "4")  # fmt: skip
    assert by_feature(answer["windows"][0])["amount"].get("drifted")
    assert "ending with the current window" in answer["reference_chosen"]


def test_empty_windows_print_no_data(server: ServerProcess, model: str) -> None:
    done = cli(server, "query", "drift", "--model", model, "--reference-version", "3",
               "--version", "4", "--window", "1h", "--since", "3h")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "0/0 features" not in done.stdout
    assert done.stdout.count(": no data (no inferences in this window)") == 2  # hours before
    assert "1/3 features" in done.stdout  # the last hour: amount drifted
    assert done.stdout.startswith("reference: ")


# every card's own bars: a reference or current rect with a non-empty box
_BARS_JS = """
() => Array.from(document.querySelectorAll('.card')).map((card) => [
  card.querySelector('h3').firstChild.textContent.trim(),
  Array.from(card.querySelectorAll("svg rect[fill='#4C78A8'], svg rect[fill='#F58518']"))
    .filter((r) => r.getBBox().height > 0 && r.getBBox().width > 0 && r.querySelector('title'))
    .length,
  card.querySelector('svg') ? card.querySelector('svg').getAttribute('aria-label') : '',
])
"""


def test_the_report_draws_every_feature_in_a_real_browser(
    server: ServerProcess, model: str, tmp_path: Path, browser: Any
) -> None:
    """#11.1: the demo-like report (a drifted numerical `amount`, a stable `age`, a categorical
    `country`) has a drawn plot on every card: histograms on the numerical features' Sturges
    edges, bars for the categorical one; nothing says "no data to draw"."""
    from tests.browser import assert_charts_drawn, open_page, screenshot

    html = tmp_path / "drift.html"
    done = cli(server, "report", "drift", "--model", model, "--html", str(html))
    assert done.returncode == 0, done.stderr
    assert "no data to draw" not in html.read_text()
    answer = cli_json(server, "query", "drift", "--model", model)
    amount = by_feature(answer["windows"][0])["amount"]
    edges = [float(e) for e in amount["bin_edges"]]
    assert len(edges) == len(amount["bins"]) + 1 == len(amount["reference_shares"]) + 1
    assert edges == sorted(edges)
    with open_page(browser, html.as_uri()) as page:
        assert_charts_drawn(page, ".card")
        cards = page.evaluate(_BARS_JS)
        screenshot(page, "drift-report", tmp_path)
    assert {name for name, _, _ in cards} == {"amount", "age", "country"}
    for name, bars, label in cards:
        assert bars > 0, f"{name}: no bar drawn"
        assert label.endswith("histograms" if name != "country" else "distributions"), name
