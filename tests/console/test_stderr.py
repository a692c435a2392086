"""Error lines on stderr: the message exactly as given, never read as Rich markup, on one line."""

from __future__ import annotations

import pytest

from wms.console.stderr import EXIT_USAGE, fail, problem


@pytest.mark.parametrize(
    "message",
    [
        "cannot read /data/a[/x]/picks.csv",  # an unmatched closing tag: a MarkupError before
        "missing columns [aisle, position_m]",  # read as a style: swallowed before
        "value [bold] here, pip install -e '.[test]'",
    ],
)
def test_fail_prints_the_message_as_it_is_and_exits_2(
    capsys: pytest.CaptureFixture[str], message: str
) -> None:
    exit_ = fail(message)
    assert exit_.exit_code == EXIT_USAGE == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_a_problem_is_labelled_and_never_folded(capsys: pytest.CaptureFixture[str]) -> None:
    long = "/tmp/" + "x" * 200 + "/picks.csv row 1: aisle 9 does not exist"
    problem("map error", long)
    assert capsys.readouterr().err == f"map error: {long}\n"
