"""The CLI paths of a user's first hour, on the live first-hour server (#11.11–13): typos get
the known names, abbreviated run ids work as `runs compare` prints them, short runs do not
last `0.0s`, `| head` ends quietly, severities match in any case."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from driftline.cli.runs import duration_text
from tests.integration.first_hour import FirstHour

pytestmark = pytest.mark.integration


def cli(data: FirstHour, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftline", *args, "--server", data.query],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("what", ["drift", "latency", "performance"])
def test_unknown_model_lists_the_known_ones(first_hour: FirstHour, what: str) -> None:
    done = cli(first_hour, "query", what, "--model", "frod")
    assert done.returncode == 1
    assert "unknown model 'frod'" in done.stderr
    assert "did you mean 'fraud'?" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_label_for_no_inference_says_so(first_hour: FirstHour) -> None:
    done = cli(first_hour, "label", "frod", "no-such-id", "1")
    assert done.returncode == 0
    assert "matched no stored inference" in done.stderr
    assert "did you mean 'fraud'?" in done.stderr
    known = first_hour.inference_ids["3"][1]  # an odd one: the fixture labelled even ones
    matched = cli(first_hour, "label", "fraud", known, "1")
    assert matched.returncode == 0 and matched.stderr == "", matched.stderr


def test_runs_accept_the_ids_compare_prints(first_hour: FirstHour) -> None:
    run_a, run_b = first_hour.run_ids["lr-0.01"], first_hour.run_ids["lr-0.1"]
    compared = cli(first_hour, "runs", "compare", run_a, run_b)
    assert compared.returncode == 0, compared.stderr
    printed = re.findall(r"\(([0-9a-f]{8})\)", compared.stdout.splitlines()[0])
    assert printed == [run_a[:8], run_b[:8]]
    for short in printed:
        shown = cli(first_hour, "runs", "show", short)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith(f"run {short}")
    logs = cli(first_hour, "runs", "logs", printed[0])
    assert logs.returncode == 0 and "epoch 4 done" in logs.stdout
    assert cli(first_hour, "runs", "compare", *printed).returncode == 0
    missing = cli(first_hour, "runs", "show", "ffffffffff")
    assert missing.returncode == 1
    assert "NOT_FOUND: no run id starts with 'ffffffffff'" in missing.stderr


def test_ambiguous_prefix_names_the_candidates(first_hour: FirstHour) -> None:
    done = cli(first_hour, "runs", "show", "e")
    assert done.returncode == 1 and "'e' is ambiguous" in done.stderr
    assert all(run_id in done.stderr for run_id in first_hour.run_ids.values())
    assert "not a run id" in cli(first_hour, "runs", "show", "a'b").stderr


def test_run_durations_are_not_zero(first_hour: FirstHour) -> None:
    listed = cli(first_hour, "runs", "list", "--experiment", "fraud")
    assert listed.returncode == 0, listed.stderr
    assert "0.0s" not in listed.stdout
    assert re.search(r"\b\d+ms\b", listed.stdout), listed.stdout  # the runs take ~0.3 s
    assert duration_text(0.03) == "30ms"
    assert duration_text(4.25) == "4.2s"
    assert duration_text(187) == "3m07s"
    assert duration_text(7500) == "2h05m"


def test_pipe_into_head_ends_quietly(first_hour: FirstHour) -> None:
    shell = (
        f"{sys.executable} -m driftline sql 'SELECT number FROM numbers(200000)' "
        f"--max-rows 200000 --server {first_hour.query} | head -n 2"
    )
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[0].strip() == "number"
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


@pytest.mark.parametrize("severity", ["warning", "WARNING", "warn"])
def test_logs_severity_any_case(first_hour: FirstHour, severity: str) -> None:
    done = cli(first_hour, "logs", "--severity", severity, "--grep", "epoch")
    assert done.returncode == 0, done.stderr
    assert "WARNING" in done.stdout and "epoch 4 done" in done.stdout
    run = cli(first_hour, "runs", "logs", first_hour.run_ids["lr-0.1"], "--severity", severity)
    assert run.returncode == 0 and run.stdout.count("epoch") == 5


def test_compare_says_faster(first_hour: FirstHour) -> None:
    done = cli(first_hour, "query", "latency", "--model", "fraud", "--since", "24h",
               "--compare", "4", "3")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("→ FASTER"), done.stdout
