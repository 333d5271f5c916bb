"""Tests for asckit.core.cli_types: numeric options refuse bad values with a one-line usage error (exit 2)."""

from __future__ import annotations

import argparse

import pytest

from asckit import cli
from asckit.core.cli_types import at_least, finite_float, float_between, fraction, non_negative_float, positive_float, positive_int


@pytest.mark.parametrize(
    ("parse", "good", "bad"),
    [
        (positive_int, {"1": 1, "64": 64}, ["0", "-3", "2.5", "x", ""]),
        (at_least(0), {"0": 0, "7": 7}, ["-1", "1e3", "seven"]),
        (positive_float, {"0.5": 0.5, "500": 500.0}, ["0", "-1", "nan", "inf", "x"]),
        (non_negative_float, {"0": 0.0, "2.5": 2.5}, ["-0.1", "nan"]),
        (finite_float, {"-5": -5.0, "12.5": 12.5}, ["nan", "-inf", "abc"]),
        (fraction, {"0": 0.0, "1": 1.0, "0.25": 0.25}, ["1.01", "-0.5", "nan"]),
        (float_between(-20, 100, "why"), {"-20": -20.0, "100": 100.0, "6": 6.0}, ["-100", "100.5", "inf", "x"]),
    ],
)
def test_each_type_takes_its_range_and_refuses_the_rest(parse, good, bad):
    for text, value in good.items():
        assert parse(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


@pytest.mark.parametrize(
    "argv",
    [
        ["augment", "root", "--kind", "noise", "--out", "store", "--rir-count", "0"],
        ["augment", "root", "--kind", "noise", "--out", "store", "--noise-snr", "-100"],
        ["predict-split", "run", "--split", "evaluate", "--batch-size", "0"],
        ["export", "run", "--calibration-clips", "0"],
        ["export", "run", "--snapshots", "-1"],
        ["export", "run", "--budget-kb", "nan"],
        ["predict", "bundle", "x.wav", "--threads", "0"],
        ["features", "root", "--out", "store", "--workers", "0"],
        ["data", "synth", "out", "--seed", "-1"],
        ["reproduce", "demo", "--seeds", "0"],
        ["fuse", "--average", "a.tsv", "b.tsv", "--weights", "1", "-1", "--out", "o.tsv"],
    ],
)
def test_a_bad_number_is_a_one_line_usage_error_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    option = next(a for a in argv if a.startswith("--") and a not in ("--kind", "--out", "--split", "--average"))
    assert len(err) == 1 and err[0].startswith(f"asckit: error: {argv[0]}") and f"argument {option}" in err[0], err
    assert not any("Traceback" in line for line in err)


def _numeric_actions(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _numeric_actions(sub, f"{path} {name}")
        elif action.type in (int, float):
            yield f"{path} {'/'.join(action.option_strings) or action.dest}"


def test_no_command_takes_a_number_without_a_validator():
    """Every numeric option of every command uses an asckit.core.cli_types validator, not bare int/float."""
    assert list(_numeric_actions(cli.build_parser(), "asckit")) == []
