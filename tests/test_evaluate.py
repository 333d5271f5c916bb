"""`evaluate` and `asckit evaluate` end to end on a tiny dataset root in the TAU layout."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from asckit.cli import main
from asckit.errors import AsckitError
from asckit.evaluate import default_out_dir, evaluate
from asckit.labels import DEVICES, SCENES_10
from asckit.metrics import compute_metrics
from asckit.predictions import Predictions, clip_key, read_predictions, write_predictions


def _make_root(root, clips_per_class_and_device: int = 2) -> pd.DataFrame:
    """Write meta.csv and the fold1 evaluate/test CSVs (no audio: scoring never reads it)."""
    rows = [
        (f"audio/{scene}-lisbon-{1000 + c}-{40000 + 10 * c + j}-{device}.wav", scene, device)
        for c, scene in enumerate(SCENES_10)
        for device in DEVICES
        for j in range(clips_per_class_and_device)
    ]
    truth = pd.DataFrame(rows, columns=["filename", "scene_label", "device"])
    (root / "evaluation_setup").mkdir(parents=True)
    meta = truth.assign(
        identifier=[f"lisbon-{1000 + SCENES_10.index(s)}" for s in truth["scene_label"]], source_label=truth["device"]
    )
    meta[["filename", "scene_label", "identifier", "source_label"]].to_csv(root / "meta.csv", sep="\t", index=False)
    truth[["filename", "scene_label"]].to_csv(root / "evaluation_setup" / "fold1_evaluate.csv", sep="\t", index=False)
    truth[["filename"]].to_csv(root / "evaluation_setup" / "fold1_test.csv", sep="\t", index=False)
    return truth


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


def test_evaluate_scores_by_filename_and_writes_metrics_report_and_plots(tmp_path):
    truth = _make_root(tmp_path / "data")
    preds = _write_predictions(tmp_path / "runs" / "fcnn.tsv", truth)
    metrics = evaluate(tmp_path / "runs" / "fcnn.tsv", tmp_path / "data")

    expected = compute_metrics(truth, preds)
    for key in ("macro_accuracy", "micro_accuracy", "log_loss", "n", "per_device", "per_group", "per_class", "table1"):
        assert metrics[key] == expected[key]
    assert metrics["n"] == len(truth)
    assert list(metrics["per_device"]) == list(DEVICES)
    for column, (low, high) in metrics["table1_ci95"].items():  # every measured column, around its value
        assert low <= metrics["table1"][column] <= high and high - low > 0, column

    out = default_out_dir(tmp_path / "runs" / "fcnn.tsv")
    assert out == tmp_path / "runs" / "fcnn_eval"
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == metrics
    for name in ("report.md", "confusion_matrix.png", "per_device_accuracy.png"):
        assert (out / name).stat().st_size > 0


def test_evaluate_command_prints_the_table1_row(tmp_path, capsys):
    truth = _make_root(tmp_path / "data")
    _write_predictions(tmp_path / "p.tsv", truth, seed=1)
    out = tmp_path / "scored"
    assert main(["evaluate", str(tmp_path / "p.tsv"), "--root", str(tmp_path / "data"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    t1 = metrics["table1"]
    assert printed[0].split() == ["system", "A", "B&C", "s1–s3", "s4–s6", "val", "loss", "avg", "acc"]
    assert printed[1].split() == [
        "p",
        *(f"{100 * t1[g]:.1f}" for g in ("A", "B&C", "s1-s3", "s4-s6")),
        f"{t1['val_loss']:.3f}",
        f"{100 * t1['avg_acc']:.1f}",
    ]
    low, high = metrics["table1_ci95"]["avg_acc"]
    assert f"avg acc 95 % CI {100 * low:.1f}–{100 * high:.1f}" in printed[2]


def test_predictions_missing_a_clip_of_the_split_are_refused(tmp_path, capsys):
    truth = _make_root(tmp_path / "data")
    _write_predictions(tmp_path / "p.tsv", truth.iloc[1:])
    code = main(["evaluate", str(tmp_path / "p.tsv"), "--root", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "fold1_evaluate.csv" in err and truth["filename"].iloc[0] in err
    assert not default_out_dir(tmp_path / "p.tsv").exists()


def test_a_split_without_labels_cannot_be_scored(tmp_path):
    truth = _make_root(tmp_path / "data")
    _write_predictions(tmp_path / "p.tsv", truth)
    with pytest.raises(AsckitError, match="scene_label"):
        evaluate(tmp_path / "p.tsv", tmp_path / "data", split="test")
