"""The web console's page times in a real headless Chromium against a live `driftline serve`.

  models  50 models x 2 versions (20k inference spans each, 2M in all, 4 features each):
          the Models page's first paint (the table with traffic and p99 sparklines) and the
          time until every drift verdict has filled in. Target: first paint ≤ 1 s.
  model   one model with 10M inference spans over 48 h (4 features each: 40M feature rows,
          10 % labelled): the Model page (drift over time, distributions, latency, accuracy,
          versions) over the last 24 h and over the last hour. Target ≤ 2 s.

Data is generated in the engine (INSERT … SELECT FROM numbers()) by a child process that owns
the data directory only while it writes; then `driftline serve` opens that directory and the
pages are timed: navigation start → the page's "painted" mark (every section drawn), best of 3
after one warm-up. The query API's own times for the same answers are reported next to them
(the peer: what the console adds on top). Prints one JSON object.

    python bench/console_bench.py [--models 50] [--spans-per-model 20000] [--spans 10000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from timing import best_of  # noqa: E402  (bench/timing.py)

from driftline.client import Client  # noqa: E402
from tests.browser import launch  # noqa: E402
from tests.serve import ServerProcess  # noqa: E402

HOUR = 3600 * 10**9
FEATURES = 4  # bench/console_gen.py: amount, tenure, ml.prediction.score, country


def _log(msg: str) -> None:
    print(f"[console-bench] {msg}", file=sys.stderr, flush=True)


def generate(data_dir: Path, models: int, per_model: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(Path(__file__).parent / "console_gen.py"),
         str(data_dir / "clickhouse"), str(models), str(per_model), str(time.time_ns())],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started


def page_ms(browser: Any, url: str, mark: str = "paintedAt") -> float:
    """Navigation start → the page's mark, in ms (the page's own performance.now())."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(url)
        attribute = "data-" + "".join(f"-{c.lower()}" if c.isupper() else c for c in mark)
        page.wait_for_selector(f"body[{attribute}]", state="attached", timeout=120_000)
        return float(page.evaluate(f"Number(document.body.dataset.{mark})"))
    finally:
        context.close()


def timed_page(browser: Any, url: str, mark: str = "paintedAt", runs: int = 3) -> float:
    page_ms(browser, url, mark)  # warm-up
    return min(page_ms(browser, url, mark) for _ in range(runs))


def models_phase(browser: Any, models: int, per_model: int) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="driftline-console-bench-models-"))
    _log(f"generating {models} models x 2 versions, {models * per_model:,} spans …")
    load_s = generate(data, models, per_model)
    with ServerProcess(data) as server:
        base = f"http://{server.endpoints['console']}"
        with Client(server.endpoints["query_grpc"]) as client:
            list_s, _ = best_of(lambda: client.models(since="24h"))
            spark_s, _ = best_of(
                lambda: client.latency(since="24h", group_by=["model", "version", "bucket"],
                                       bucket_seconds=3600)
            )  # fmt: skip
            verdict_s, _ = best_of(lambda: client.drift("m00", version="1"))
        first_paint = timed_page(browser, f"{base}/models?since=24h")
        verdicts = timed_page(browser, f"{base}/models?since=24h", "verdictsAt", runs=1)
    return {
        "models": models, "versions": 2, "spans": models * per_model, "load_s": round(load_s, 1),
        "first_paint_ms": round(first_paint), "all_verdicts_ms": round(verdicts),
        "target_first_paint_ms": 1000,
        "rpc_ms": {"ListModels": round(list_s * 1000),
                   "GetLatency_sparklines": round(spark_s * 1000),
                   "GetDrift_one_verdict": round(verdict_s * 1000)},
    }  # fmt: skip


def model_phase(browser: Any, spans: int) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="driftline-console-bench-model-"))
    _log(f"generating one model with {spans:,} spans …")
    load_s = generate(data, 1, spans)
    out: dict[str, Any] = {
        "spans": spans,
        "feature_rows": spans * FEATURES,
        "labels": spans // 10,
        "load_s": round(load_s, 1),
        "target_ms": 2000,
    }
    with ServerProcess(data) as server:
        base = f"http://{server.endpoints['console']}"
        with Client(server.endpoints["query_grpc"], timeout=300) as client:
            for since, window_s in (("24h", 4 * 3600), ("1h", 600)):
                drift_s, _ = best_of(
                    lambda s=since, w=window_s: client.drift("big", since=s, window_seconds=w)
                )
                latency_s, _ = best_of(
                    lambda s=since: client.latency("big", since=s, group_by=["bucket"])
                )
                perf_s, _ = best_of(
                    lambda s=since: client.performance("big", since=s, group_by=["bucket"])
                )
                page = timed_page(browser, f"{base}/model?model=big&since={since}")
                out[f"since_{since}"] = {
                    "page_ms": round(page),
                    "rpc_ms": {"GetDrift_windows": round(drift_s * 1000),
                               "GetLatency_buckets": round(latency_s * 1000),
                               "GetPerformance_buckets": round(perf_s * 1000)},
                }  # fmt: skip
                _log(f"model page since={since}: {page:.0f} ms")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--spans-per-model", type=int, default=20_000)
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    with launch() as browser:
        result["models_page"] = models_phase(browser, args.models, args.spans_per_model)
        _log(f"models page: {result['models_page']['first_paint_ms']} ms first paint")
        if not args.skip_model:
            result["model_page"] = model_phase(browser, args.spans)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
