"""Tests for asckit.predictions.file_format: the TSV every stage writes, its value rules, and that the
torch-free runtime can use it (numpy only)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from asckit.core.errors import AsckitError
from asckit.labels import SCENES_3, SCENES_10
from asckit.predictions.file_format import SUM_TOLERANCE, check_values, is_argmax, write_prediction_file
from asckit.predictions.reader import read_predictions


def _probs(n: int, k: int, seed: int = 0) -> np.ndarray:
    p = np.random.default_rng(seed).random((n, k)) + 1e-3
    return p / p.sum(axis=1, keepdims=True)


def test_a_written_file_reads_back_exactly_with_argmax_labels(tmp_path):
    names = [f"audio/{i}.wav" for i in range(5)]
    probs = _probs(5, 10)
    path = write_prediction_file(tmp_path / "p.tsv", names, probs, SCENES_10)
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == ["filename", "scene_label", *SCENES_10]
    assert [line.split("\t")[1] for line in lines[1:]] == [SCENES_10[k] for k in probs.argmax(axis=1)]
    back = read_predictions(path)
    assert back.filenames == tuple(names)
    np.testing.assert_array_equal(back.probs, probs)  # shortest repr: a lossless round trip


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda n, p: (n, p * 2), "sum to 2, not 1"),
        (lambda n, p: (n, np.where(np.arange(3) == 0, -0.1, p + 0.05)), "negative probability"),
        (lambda n, p: (n, np.where(np.arange(3) == 1, np.nan, p)), "not finite"),
        (lambda n, p: (["a.wav", "b\tc.wav", "d.wav", "e.wav"], p), "tab/newline"),
        (lambda n, p: (['"quoted.wav', *n[1:]], p), "starts with a quote"),
        (lambda n, p: (n[:3], p), "shape"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(tmp_path, edit, message):
    names, probs = edit([f"{i}.wav" for i in range(4)], _probs(4, 3))
    with pytest.raises(AsckitError, match=message):
        write_prediction_file(tmp_path / "bad.tsv", names, probs, SCENES_3)
    assert not (tmp_path / "bad.tsv").exists()


def test_rows_within_the_tolerance_pass_and_ties_count_as_the_argmax():
    probs = np.array([[0.5, 0.5 + SUM_TOLERANCE / 2, 0.0]])
    assert check_values(["x.wav"], probs, SCENES_3, "t").shape == (1, 3)
    assert is_argmax([0.5, 0.5 - 1e-9, 0.0], 1) and not is_argmax([0.6, 0.4, 0.0], 1)


def test_the_module_imports_without_pandas_or_torch():
    code = (
        "import sys\n"
        "for name in ('pandas', 'torch', 'sklearn', 'librosa'):\n"
        "    sys.modules[name] = None\n"
        "import asckit.predictions.file_format\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
