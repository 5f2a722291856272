"""The web console in a real headless Chromium, against a live `driftline serve` holding data
this module sends (tests/console_data.py). For every page: it loads without console errors,
its numbers are the query API's answers to the same request (asked here with driftline.client)
and, where the data allows, an independent computation (scipy, the counts sent); its charts
have drawn. Screenshots go to the test's output directory (DRIFTLINE_SCREENSHOTS), and with
DRIFTLINE_UPDATE_SCREENSHOTS=1 also to docs/img/ for the README.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from driftline.client import Client, QueryError
from tests import console_data
from tests.browser import assert_charts_drawn, open_page, screenshot
from tests.serve import ServerProcess

pytestmark = pytest.mark.integration
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Any]]:
    with ServerProcess(tmp_path_factory.mktemp("console")) as server:
        seeded = console_data.send(server.endpoints)
        console_data.wait_stored(server, seeded)
        yield server, seeded


@pytest.fixture(scope="module")
def client(live: tuple[ServerProcess, Any]) -> Iterator[Client]:
    with Client(live[0].endpoints["query_grpc"]) as c:
        yield c


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(os.environ.get("DRIFTLINE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))


def url(live: tuple[ServerProcess, Any], path: str) -> str:
    return f"http://{live[0].endpoints['console']}{path}"


def shoot(page: Any, name: str, shots: Path) -> None:
    path = screenshot(page, name, shots)
    assert path.stat().st_size > 10_000  # a real rendering, not a blank page
    if os.environ.get("DRIFTLINE_UPDATE_SCREENSHOTS"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_IMG / f"console-{name}.png")


def cells(page: Any, table: str) -> list[dict[str, str | None]]:
    """Every row of a table as {data-key: data-value} (the raw number the page formats)."""
    rows: list[dict[str, str | None]] = page.eval_on_selector_all(
        f"{table} tbody tr",
        """rows => rows.map(r => Object.fromEntries(Array.from(r.querySelectorAll('td'))
            .map(td => [td.dataset.key, td.dataset.value ?? td.textContent.trim()])))""",
    )
    return rows


def number(text: str | None) -> float:
    assert text is not None
    return float(text)


def test_models_page_shows_the_query_api_answers(
    browser: Any, live: tuple[ServerProcess, Any], client: Client, shots: Path
) -> None:
    _server, seeded = live
    with open_page(browser, url(live, "/models?since=24h")) as page:
        page.wait_for_selector("body[data-verdicts]", timeout=30_000)
        rows = cells(page, "section[data-name=models] table")
        assert_charts_drawn(page, "span.chart")
        verdicts = dict(
            page.eval_on_selector_all(
                "[data-verdict]", "els => els.map(e => [e.dataset.verdict, e.textContent])"
            )
        )
        qualities = dict(
            page.eval_on_selector_all(
                "[data-quality]", "els => els.map(e => [e.dataset.quality, e.textContent])"
            )
        )
        shoot(page, "models", shots)
    expected = {(m.model, m.version): m for m in client.models(since="24h")}
    assert len(rows) == len(expected) == len(seeded.spans)
    for row in rows:
        key = (str(row["model"]), str(row["version"]))
        answer = expected[key]
        assert int(number(row["inferences"])) == answer.inferences == seeded.spans[key]
        assert number(row["p50_ms"]) == answer.p50_ms
        assert number(row["p99_ms"]) == answer.p99_ms
        assert number(row["error_rate"]) == answer.error_rate
    assert set(verdicts) == {f"{m}::{v}" for m, v in seeded.spans}
    for key, text in verdicts.items():
        model, _, version = key.partition("::")
        try:
            drift = client.drift(model, version=version)
        except QueryError as exc:  # e.g. v3 has no values in the current window
            assert exc.code == "FAILED_PRECONDITION" and text == "no data"
            continue
        window = drift.windows[-1] if drift.windows else None
        if window is None or not window.features:
            assert text == "no data"
        elif window.dataset_drift:
            assert text == f"drift ({window.drifted_count}/{len(window.features)})"
        else:
            assert text == "ok"
    assert verdicts["fraud::4"].startswith("drift")  # the shift the data carries
    assert set(qualities) == set(verdicts)
    for key, text in qualities.items():
        model, _, version = key.partition("::")
        try:
            quality = client.quality(model, version=version)
        except QueryError as exc:
            assert exc.code == "FAILED_PRECONDITION" and text == "no data"
            continue
        if quality.no_data or not quality.windows:
            assert text == "no data"
            continue
        flagged = {f for w in quality.windows for f in w.flagged_features}
        assert text == (f"issues ({len(flagged)})" if quality.flagged else "ok")


def test_model_page_drift_latency_accuracy_versions(
    browser: Any, live: tuple[ServerProcess, Any], client: Client, shots: Path
) -> None:
    _server, seeded = live
    with open_page(browser, url(live, "/model?model=fraud&since=1h&feature=amount")) as page:
        page.wait_for_selector("body[data-painted]", timeout=30_000)
        drift_rows = cells(page, "#drift-table table")
        version_rows = cells(page, "#versions-table table")
        assert_charts_drawn(page, ".chart")
        names = page.eval_on_selector_all(".chart", "els => els.map(e => e.dataset.name)")
        regression = page.text_content(".regression")
        shoot(page, "model", shots)

    answer = client.drift("fraud", since="1h").windows[-1]
    by_feature = {f.feature: f for f in answer.features}
    assert {r["feature"] for r in drift_rows} == set(by_feature)
    for row in drift_rows:
        f = by_feature[str(row["feature"])]
        assert number(row["score"]) == f.score and number(row["threshold"]) == f.threshold
        assert int(number(row["n_current"])) == f.n_current
    # Independent: the reference window holds v3's amounts, the current one v4's.
    ks = stats.ks_2samp(seeded.amounts["3"], seeded.amounts["4"])
    assert by_feature["amount"].drifted and ks.pvalue < 0.05
    assert np.isclose(by_feature["amount"].score, ks.pvalue, rtol=1e-6, atol=1e-300)
    # One drift-over-time chart per feature, the distribution, latency and accuracy.
    assert {f"drift {f}" for f in by_feature} <= set(names)
    assert {"distribution amount", "latency", "accuracy"} <= set(names)

    versions = {str(r["version"]): r for r in version_rows}
    latency = {
        g.keys["version"]: g
        for g in client.latency("fraud", since="24h", group_by=["version"]).groups
    }
    for version, row in versions.items():
        assert (
            int(number(row["count"])) == latency[version].count == seeded.spans[("fraud", version)]
        )
        assert number(row["p99_ms"]) == latency[version].p99_ms
    perf = client.performance("fraud", since="24h", group_by=["version"])
    v4 = next(g for g in perf.groups if g.keys["version"] == "4")
    assert number(versions["4"]["accuracy"]) == v4.metrics["accuracy"]
    assert int(number(versions["4"]["labelled"])) == v4.labelled == seeded.labels
    assert regression is not None and "slower" in regression  # v4 was sent slower


def test_traces_page_waterfall_logs_and_inferences(
    browser: Any, live: tuple[ServerProcess, Any], client: Client, shots: Path
) -> None:
    _server, seeded = live
    path = f"/traces?trace_id={seeded.trace_id}&model=fraud&since=24h"
    with open_page(browser, url(live, path)) as page:
        page.wait_for_selector("body[data-painted]", timeout=30_000)
        assert_charts_drawn(page, ".chart")
        bars = page.eval_on_selector_all("svg.waterfall rect.span", "els => els.length")
        logs = cells(page, "#logs-table table")
        inferences = cells(page, "#inferences-table table")
        shoot(page, "traces", shots)
    spans = client.trace(seeded.trace_id)
    assert bars == len(spans) == 3  # request → features, predict
    assert [r["body"] for r in logs] == [r.body for r in client.logs(trace_id=seeded.trace_id)]
    assert seeded.log_text in [r["body"] for r in logs]
    expected = client.inferences("fraud", since="24h", limit=25)
    assert [r["trace_id"] for r in inferences] == [i.trace_id for i in expected]

    with open_page(
        browser, url(live, f"/traces?text={seeded.log_text[-8:]}&severity=ERROR")
    ) as page:
        page.wait_for_selector("body[data-painted]", timeout=30_000)
        assert [r["body"] for r in cells(page, "#logs-table table")] == [seeded.log_text]


def test_runs_page_filter_sort_and_compare(
    browser: Any, live: tuple[ServerProcess, Any], client: Client, shots: Path
) -> None:
    _server, seeded = live
    compare = ",".join(seeded.run_ids)
    path = f"/runs?experiment=fraud-train&sort=-metrics.loss&compare={compare}"
    with open_page(browser, url(live, path)) as page:
        page.wait_for_selector("body[data-painted]", timeout=30_000)
        rows = cells(page, "#runs-table table")
        params = cells(page, "#params-table table")
        assert_charts_drawn(page, ".chart")
        names = page.eval_on_selector_all(".chart", "els => els.map(e => e.dataset.name)")
        shoot(page, "runs", shots)
    runs = {r.run_id: r for r in client.runs(experiments=["fraud-train"])}
    assert len(rows) == len(runs) == len(seeded.run_ids)
    losses = [number(r["metrics.loss"]) for r in rows]
    assert losses == sorted(losses, reverse=True)  # sorted by the URL's sort=-metrics.loss
    for row in rows:
        run = next(r for r in runs.values() if r.run_name == row["run_name"])
        assert number(row["metrics.loss"]) == run.metrics["loss"].latest
        i = seeded.run_ids.index(run.run_id)
        assert np.isclose(run.metrics["loss"].latest, 1.0 / (9 + 1 + i))  # what was logged
    lr = next(p for p in params if p["param"] == "lr")
    assert sorted(v for k, v in lr.items() if k in runs) == sorted(seeded.run_params.values())
    assert {"metric loss", "metric accuracy"} <= set(names)

    with open_page(browser, url(live, "/runs?filter=params.lr+%3D+%270.01%27")) as page:
        page.wait_for_selector("body[data-painted]", timeout=30_000)
        filtered = cells(page, "#runs-table table")
    assert [r["params.lr"] for r in filtered] == ["0.01"]


def test_a_bad_filter_is_shown_not_thrown(browser: Any, live: tuple[ServerProcess, Any]) -> None:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url(live, "/runs?filter=metrics.loss+%3E%3E+1"), wait_until="networkidle")
        page.wait_for_selector("body[data-painted]", timeout=30_000)
        assert "INVALID_ARGUMENT" in (page.text_content(".error") or "")
        assert not errors
    finally:
        context.close()


def test_the_console_asks_for_the_query_token(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    token = "s3cret-console"
    env = {"DRIFTLINE_QUERY_TOKEN": token}
    with ServerProcess(tmp_path_factory.mktemp("console-auth"), env=env) as server:
        base = f"http://{server.endpoints['console']}"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/models", timeout=10)
        assert refused.value.code == 401
        request = urllib.request.Request(
            f"{base}/api/models", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        other_host = urllib.request.Request(f"{base}/models", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as rebinding:
            urllib.request.urlopen(other_host, timeout=10)
        assert rebinding.value.code == 403

        context = browser.new_context()
        page = context.new_page()
        try:
            page.goto(f"{base}/models?since=6h")
            assert "/login" in page.url
            page.fill("input[name=token]", "wrong")
            page.click("button[type=submit]")
            assert "not the query token" in (page.text_content(".error") or "")
            page.fill("input[name=token]", token)
            page.click("button[type=submit]")
            page.wait_for_selector("body[data-painted]", timeout=30_000)
            assert page.url.endswith("/models?since=6h")
        finally:
            context.close()
