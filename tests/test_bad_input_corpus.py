"""Tests for the bad-input corpus's harness (tests/bad_input_corpus.py): what a strict case refuses.

Each fake command below breaks one promise the corpus checks (one ``asckit: error:`` line holding the
diagnosis and the fix, nothing written anywhere); ``check_case`` must fail on it, and pass the good one.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import bad_input_corpus
import pytest
from bad_input_corpus import Case, check_case


def _fake(monkeypatch, command) -> None:
    monkeypatch.setattr(bad_input_corpus, "main", command)


def _good(argv) -> int:
    print(f"asckit: error: {argv[0]}: no such file; check the path", file=sys.stderr)
    return 2


def _usage_block(argv) -> int:
    print("usage: asckit features [-h] ROOT\nasckit: error: the following arguments are required: ROOT", file=sys.stderr)
    return 2


def _with_a_warning(argv) -> int:
    print("asckit: warning: something else\nasckit: error: x: no such file; check the path", file=sys.stderr)
    return 2


def _writes(where):
    def command(argv) -> int:
        Path(where(), "left.txt").write_text("x")
        return _good(argv)

    return command


GOOD = Case("good", ["{c}/x.tsv"], ("no such file", "check the path"))


@pytest.fixture
def shared(tmp_path):
    (tmp_path / "world").mkdir()
    return {"base": tmp_path / "world"}


def test_a_one_line_error_with_diagnosis_and_fix_passes(monkeypatch, tmp_path, shared, capsys):
    _fake(monkeypatch, _good)
    check_case(GOOD, tmp_path, shared, capsys)
    assert os.environ.get("HOME") != str(tmp_path / "env" / "home") and Path.cwd() != tmp_path / "env" / "cwd"  # put back


@pytest.mark.parametrize(
    ("command", "case", "complaint"),
    [
        (_usage_block, GOOD, "not one 'asckit: error:' line"),
        (_with_a_warning, GOOD, "not one 'asckit: error:' line"),
        (_good, Case("input only", ["{c}/x.tsv"], ("x.tsv",)), "only repeat the command line"),
        (_good, Case("other exit", ["{c}/x.tsv"], ("no such file",), code=1), "exit 2, expected 1"),
        (_writes(Path.cwd), GOOD, "written to the working directory"),
        (_writes(lambda: os.environ["HOME"]), GOOD, "written to the working directory, HOME"),
        (_writes(tempfile.gettempdir), GOOD, "written to the working directory, HOME or the temp"),
        (_writes(lambda: os.environ["XDG_CACHE_HOME"]), GOOD, "temp/cache folders"),
        (_writes(lambda: os.environ["MPLCONFIGDIR"]), GOOD, "temp/cache folders"),
    ],
    ids=["usage block", "stray warning", "needle repeats the input", "exit status", "cwd", "HOME", "TMPDIR", "XDG_CACHE_HOME",
         "MPLCONFIGDIR"],
)
def test_a_case_that_breaks_a_promise_fails(command, case, complaint, monkeypatch, tmp_path, shared, capsys):
    _fake(monkeypatch, command)
    with pytest.raises(AssertionError, match=complaint):
        check_case(case, tmp_path, shared, capsys)


def test_a_write_into_the_case_folder_fails(monkeypatch, tmp_path, shared, capsys):
    _fake(monkeypatch, lambda argv: (Path(argv[0]).write_text("x"), _good(argv))[1])
    with pytest.raises(AssertionError, match="the command wrote or changed files"):
        check_case(GOOD, tmp_path, shared, capsys)
