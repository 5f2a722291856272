"""How the CLI words and formats answers (#11.13): floats without binary noise, a faster
candidate called FASTER, severities in any case and spelling."""

from __future__ import annotations

import pytest

from driftline.api._gen.driftline.v1 import query_pb2
from driftline.cli.output import number_text, table
from driftline.cli.query import regression_verdict
from driftline.cli.severity import severity_number


def test_floats_print_without_binary_noise() -> None:
    noisy = 12.38266743 + 1e-14
    assert repr(noisy) != "12.38266743"  # the noise is really there
    assert number_text(noisy) == "12.38266743"
    assert number_text(0.1 + 0.2) == "0.3"
    assert number_text(1e-300) == "1e-300"
    assert number_text(float("nan")) == "NaN"
    response = query_pb2.SqlResponse(
        columns=[query_pb2.Column(name="x", type="Float64")],
        rows=[query_pb2.Row(values=[query_pb2.Value(double_value=noisy)])],
    )
    assert table(response).splitlines()[-1].strip() == "12.38266743"


def _regression(delta: float, p: float, slower: bool) -> query_pb2.VersionRegression:
    return query_pb2.VersionRegression(
        baseline="3", candidate="4", cliffs_delta=delta, p_value=p, slower=slower
    )


def test_regression_verdict_says_faster() -> None:
    assert regression_verdict(_regression(0.9, 1e-30, True)) == "SLOWER"
    assert regression_verdict(_regression(-0.9, 1e-30, False)) == "FASTER"
    assert regression_verdict(_regression(-0.01, 0.6, False)) == "no significant difference"
    assert regression_verdict(_regression(0.01, 0.6, False)) == "no significant difference"


@pytest.mark.parametrize(
    ("name", "number"),
    [("warning", 13), ("WARNING", 13), ("Warn", 13), ("error", 17), ("critical", 21),
     ("info", 9)],
)  # fmt: skip
def test_severity_names_any_case(name: str, number: int) -> None:
    assert severity_number(name) == number


def test_unknown_severity_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"WARN.*ERROR"):
        severity_number("loud")
