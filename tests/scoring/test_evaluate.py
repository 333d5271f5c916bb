"""`evaluate` and `asckit evaluate` end to end on a tiny dataset root in the TAU layout."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import write_scoring_root

from asckit.cli import main
from asckit.core.errors import AsckitError
from asckit.labels import DEVICES, SCENES_10
from asckit.predictions.reader import Predictions, clip_key, read_predictions, write_predictions
from asckit.scoring.evaluate import default_out_dir, evaluate


def _write_predictions(path, truth: pd.DataFrame, seed: int = 0) -> Predictions:
    """Noisy but informative predictions, in shuffled order and with bare filenames."""
    rng = np.random.default_rng(seed)
    y = np.array([SCENES_10.index(s) for s in truth["scene_label"]])
    logits = rng.normal(size=(len(y), 10))
    logits[np.arange(len(y)), y] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    order = rng.permutation(len(y))
    names = [clip_key(truth["filename"].iloc[i]) for i in order]
    write_predictions(path, names, probs[order], "1a")
    return read_predictions(path)


# Designed predictions whose scores are derived by hand: the k-th device of DEVICES (a = 0 ..
# s6 = 8) gets the scenes of index < k wrong (it names the next scene with probability 0.8) and the
# others right (probability 0.8 on the true scene); the other nine classes share 0.2.
P_TOP, P_REST = 0.8, 0.2 / 9
# Device k: (10 - k) of 10 classes right → a 1.0, b 0.9, c 0.8, s1 0.7, ..., s6 0.2.
HAND_DEVICE_ACCURACY = {device: (10 - k) / 10 for k, device in enumerate(DEVICES)}
# Groups are the mean of their devices: A 1.0; B&C (0.9 + 0.8) / 2; s1-s3 (0.7 + 0.6 + 0.5) / 3; s4-s6 (0.4 + 0.3 + 0.2) / 3.
HAND_TABLE1_GROUPS = {"A": 1.0, "B&C": 0.85, "s1-s3": 0.6, "s4-s6": 0.3}
# Scene c is right on the devices k <= c: recall min(c + 1, 9) / 9; the mean over the 10 scenes is
# (1 + 2 + ... + 9 + 9) / 90 = 0.6. Right clips: 2 x (10 + 9 + ... + 2) = 108 of 180 = 0.6.
HAND_MACRO, HAND_MICRO = 0.6, 0.6
HAND_LOG_LOSS = -(0.6 * np.log(P_TOP) + 0.4 * np.log(P_REST))


def _write_designed_predictions(path, truth: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    order = rng.permutation(len(truth))  # file order must not matter: rows are joined by filename
    names, probs = [], np.full((len(truth), 10), P_REST)
    for row, i in enumerate(order):
        scene, device = SCENES_10.index(truth["scene_label"].iloc[i]), truth["device"].iloc[i]
        predicted = (scene + 1) % 10 if scene < DEVICES.index(device) else scene
        probs[row, predicted] = P_TOP
        names.append(clip_key(truth["filename"].iloc[i]))
    write_predictions(path, names, probs, "1a")


def test_evaluate_scores_by_filename_and_writes_metrics_report_and_plots(tmp_path):
    truth = write_scoring_root(tmp_path / "data")
    _write_designed_predictions(tmp_path / "runs" / "fcnn.tsv", truth)
    metrics = evaluate(tmp_path / "runs" / "fcnn.tsv", tmp_path / "data")

    assert metrics["n"] == len(truth) == 180
    assert metrics["macro_accuracy"] == pytest.approx(HAND_MACRO)
    assert metrics["micro_accuracy"] == pytest.approx(HAND_MICRO)
    assert metrics["log_loss"] == pytest.approx(HAND_LOG_LOSS)
    assert list(metrics["per_device"]) == list(DEVICES)
    for device, accuracy in HAND_DEVICE_ACCURACY.items():
        assert metrics["per_device"][device]["accuracy"] == pytest.approx(accuracy), device
    for c, scene in enumerate(SCENES_10):
        assert metrics["per_class"][scene]["accuracy"] == pytest.approx(min(c + 1, 9) / 9), scene
    expected_table1 = {**HAND_TABLE1_GROUPS, "val_loss": HAND_LOG_LOSS, "avg_acc": HAND_MACRO}
    assert metrics["table1"] == pytest.approx(expected_table1)
    for column, (low, high) in metrics["table1_ci95"].items():  # every measured column, around its value
        assert low <= metrics["table1"][column] <= high, column
        assert (high - low > 0) is (column != "A"), column  # device a is always right: no spread to resample

    out = default_out_dir(tmp_path / "runs" / "fcnn.tsv")
    assert out == tmp_path / "runs" / "fcnn_eval"
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == metrics
    for name in ("report.md", "confusion_matrix.png", "per_device_accuracy.png"):
        assert (out / name).stat().st_size > 0


def test_evaluate_command_prints_the_table1_row(tmp_path, capsys):
    truth = write_scoring_root(tmp_path / "data")
    _write_designed_predictions(tmp_path / "p.tsv", truth)
    out = tmp_path / "scored"
    assert main(["evaluate", str(tmp_path / "p.tsv"), "--root", str(tmp_path / "data"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["system", "A", "B&C", "s1–s3", "s4–s6", "val", "loss", "avg", "acc"]
    assert printed[1].split() == ["p", "100.0", "85.0", "60.0", "30.0", f"{HAND_LOG_LOSS:.3f}", "60.0"]
    low, high = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["table1_ci95"]["avg_acc"]
    assert f"avg acc 95 % CI {100 * low:.1f}–{100 * high:.1f}" in printed[2]


def test_predictions_missing_a_clip_of_the_split_are_refused(tmp_path, capsys):
    truth = write_scoring_root(tmp_path / "data")
    _write_predictions(tmp_path / "p.tsv", truth.iloc[1:])
    code = main(["evaluate", str(tmp_path / "p.tsv"), "--root", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "fold1_evaluate.csv" in err and truth["filename"].iloc[0] in err
    assert not default_out_dir(tmp_path / "p.tsv").exists()


def test_a_split_without_labels_cannot_be_scored(tmp_path):
    truth = write_scoring_root(tmp_path / "data")
    _write_predictions(tmp_path / "p.tsv", truth)
    with pytest.raises(AsckitError, match="scene_label"):
        evaluate(tmp_path / "p.tsv", tmp_path / "data", split="test")
