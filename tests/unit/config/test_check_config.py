"""`driftline check-config` lists every problem in one run, refuses durations without a unit
(`latency: 250` is not 250 s) or with a space (`window: 5 m`) saying the expected form, and
words choices without an empty entry (#11.10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.cli.main import main

BAD = """\
exporters:
  clickhouse:
    batch: {max_rows: -5}
    bogus: 1
analysis:
  slos: [{model: fraud, latency: 250, target: 99}]
alerts:
  rules:
    - {name: a, kind: drift_shar, model: fraud, threshold: 0.5}
    - {name: b, kind: drift_share, model: fraud, window: 5 m, threshold: 0.5}
wal:
  sync: sometimes
derived:
  interval: 60
"""


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    path = tmp_path / "driftline.yaml"
    path.write_text(text)
    code = main(["check-config", str(path)])
    out = capsys.readouterr()
    return code, [line.strip() for line in (out.err or out.out).splitlines()[1:]]


def test_every_problem_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, problems = check(tmp_path, BAD, capsys)
    assert code == 2
    keys = sorted(p.partition(": ")[0] for p in problems)
    assert keys == sorted([
        "exporters.clickhouse.bogus", "exporters.clickhouse.batch.max_rows",
        "analysis.slos[0].latency", "analysis.slos[0].target", "alerts.rules[0].kind",
        "alerts.rules[1].window", "wal.sync", "derived.interval",
    ])  # fmt: skip


def test_durations_need_their_unit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, problems = check(tmp_path, BAD, capsys)
    text = "\n".join(problems)
    assert (
        "analysis.slos[0].latency: expected a duration with its unit (250ms, 5s, 10m, 72h), "
        "got the bare number 250 (write 250ms or 250s)"
    ) in text
    assert "alerts.rules[1].window: expected a duration with its unit" in text
    assert "got '5 m' (write '5m')" in text


def test_choices_are_worded_without_the_empty_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, problems = check(tmp_path, BAD, capsys)
    [kind] = [p for p in problems if p.startswith("alerts.rules[0].kind")]
    assert kind.startswith("alerts.rules[0].kind: must be one of drift_share, feature_score, ")
    assert kind.endswith(", got 'drift_shar' (did you mean drift_share?)")
    assert "one of ," not in "\n".join(problems)


@pytest.mark.parametrize("ok", ["0", "0s", "250ms", "1.5h", "72h"])
def test_good_durations_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str], ok: str) -> None:
    code, _ = check(tmp_path, f"exporters: {{clickhouse: {{ttl: {ok}}}}}\n", capsys)
    assert code == 0
