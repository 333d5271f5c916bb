"""Metrics: macro accuracy (the DCASE ranking metric), log loss, device/group/class tables, joining by filename.

Expected values are recomputed here independently with plain loops (no sklearn), on unbalanced data
where macro and micro accuracy differ, so a swap of the two would fail.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from asckit.core.errors import AsckitError
from asckit.labels import DEVICES, SCENES_3, SCENES_10, SUPERCLASS
from asckit.predictions.reader import Predictions, clip_key
from asckit.scoring.metrics import compute_metrics, table1_row


def _dataset(n: int = 400, seed: int = 0, scale: float = 2.0):
    """Unbalanced labels and devices, and noisy predictions that are right more often than chance."""
    rng = np.random.default_rng(seed)
    class_weights = np.linspace(1, 4, 10)
    y = rng.choice(10, size=n, p=class_weights / class_weights.sum())
    device_weights = np.linspace(3, 1, len(DEVICES))
    devices = rng.choice(DEVICES, size=n, p=device_weights / device_weights.sum())
    names = [f"audio/{SCENES_10[k]}-lisbon-{i}-{40000 + i}-{d}.wav" for i, (k, d) in enumerate(zip(y, devices))]
    logits = rng.normal(size=(n, 10))
    logits[np.arange(n), y] += scale
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = pd.DataFrame({"filename": names, "scene_label": [SCENES_10[k] for k in y], "device": devices})
    return truth, Predictions(names, probs, SCENES_10, "1a", "preds.tsv")


def _macro_by_loop(labels, predicted):
    per_class = []
    for c in sorted(set(labels)):
        idx = [i for i, label in enumerate(labels) if label == c]
        per_class.append(sum(predicted[i] == c for i in idx) / len(idx))
    return sum(per_class) / len(per_class)


def _log_loss_by_loop(labels, probs, class_names):
    total = 0.0
    for label, row in zip(labels, probs):
        total -= math.log(row[class_names.index(label)] / sum(row))
    return total / len(labels)


def test_macro_accuracy_matches_an_independent_class_wise_average():
    truth, preds = _dataset()
    m = compute_metrics(truth, preds)
    labels = list(truth["scene_label"])
    predicted = list(preds.labels)
    assert m["macro_accuracy"] == pytest.approx(_macro_by_loop(labels, predicted))
    micro = np.mean([a == b for a, b in zip(labels, predicted)])
    assert m["micro_accuracy"] == pytest.approx(micro)
    assert abs(m["macro_accuracy"] - m["micro_accuracy"]) > 1e-3  # the data tells them apart
    assert m["n"] == len(truth)
    assert m["table1"]["avg_acc"] == m["macro_accuracy"]


def test_log_loss_renormalises_each_row_first():
    truth, preds = _dataset(n=120, seed=1)
    # Rows summing to 2-3, as the reference's summed ensembles did: same distribution, same loss.
    scale = np.random.default_rng(2).uniform(2, 3, size=(len(preds), 1))
    summed = Predictions(preds.filenames, preds.probs * scale, preds.classes, preds.task, "summed.tsv")
    expected = _log_loss_by_loop(list(truth["scene_label"]), preds.probs, list(SCENES_10))
    assert compute_metrics(truth, preds)["log_loss"] == pytest.approx(expected)
    assert compute_metrics(truth, summed)["log_loss"] == pytest.approx(expected)


def test_per_device_figures_are_the_macro_figures_of_each_subset():
    truth, preds = _dataset(seed=3)
    m = compute_metrics(truth, preds)
    predicted = np.array(preds.labels)
    assert list(m["per_device"]) == [d for d in DEVICES if d in set(truth["device"])]
    for device, scores in m["per_device"].items():
        mask = (truth["device"] == device).to_numpy()
        labels = list(truth["scene_label"][mask])
        assert scores["n"] == mask.sum()
        assert scores["accuracy"] == pytest.approx(_macro_by_loop(labels, list(predicted[mask])))
        assert scores["micro_accuracy"] == pytest.approx(np.mean(predicted[mask] == np.array(labels)))
        assert scores["log_loss"] == pytest.approx(_log_loss_by_loop(labels, preds.probs[mask], list(SCENES_10)))


def test_table1_group_columns_are_the_mean_of_device_accuracies_not_the_pooled_figure():
    truth, preds = _dataset(n=600, seed=4)
    m = compute_metrics(truth, preds)
    predicted = np.array(preds.labels)
    for group, members in [("B&C", ("b", "c")), ("s1-s3", ("s1", "s2", "s3")), ("s4-s6", ("s4", "s5", "s6"))]:
        mean = np.mean([m["per_device"][d]["accuracy"] for d in members])
        mask = truth["device"].isin(members).to_numpy()
        pooled = _macro_by_loop(list(truth["scene_label"][mask]), list(predicted[mask]))
        assert m["per_group"][group]["mean_device_accuracy"] == pytest.approx(mean)
        assert m["per_group"][group]["accuracy"] == pytest.approx(pooled)
        assert m["per_group"][group]["n"] == mask.sum()
        assert table1_row(m)[group] == pytest.approx(mean)
    # Device sizes differ, so for at least one group pooled and mean differ: the test can tell.
    assert any(
        abs(s["accuracy"] - s["mean_device_accuracy"]) > 1e-3 for g, s in m["per_group"].items() if g != "A"
    )
    assert m["table1"]["A"] == m["per_device"]["a"]["accuracy"]
    assert m["table1"]["val_loss"] == m["log_loss"]


def test_per_class_accuracy_is_recall_and_confusion_matrix_counts_true_rows():
    truth, preds = _dataset(seed=5)
    m = compute_metrics(truth, preds)
    labels = list(truth["scene_label"])
    predicted = list(preds.labels)
    counts = [[0] * 10 for _ in range(10)]
    for t, p in zip(labels, predicted):
        counts[SCENES_10.index(t)][SCENES_10.index(p)] += 1
    assert m["confusion_matrix"] == {"classes": list(SCENES_10), "matrix": counts}
    for k, name in enumerate(SCENES_10):
        idx = [i for i, t in enumerate(labels) if t == name]
        assert m["per_class"][name]["n"] == len(idx)
        assert m["per_class"][name]["accuracy"] == pytest.approx(counts[k][k] / len(idx))
        class_loss = _log_loss_by_loop([labels[i] for i in idx], preds.probs[idx], list(SCENES_10))
        assert m["per_class"][name]["log_loss"] == pytest.approx(class_loss)


def test_rows_are_joined_by_filename_whatever_the_order_or_folder_prefix():
    truth, preds = _dataset(seed=6)
    reference = compute_metrics(truth, preds)
    shuffled = truth.sample(frac=1.0, random_state=0).reset_index(drop=True)
    assert compute_metrics(shuffled, preds) == reference
    bare = Predictions([clip_key(f) for f in preds.filenames], preds.probs, preds.classes, preds.task, "bare.tsv")
    bare_metrics = compute_metrics(shuffled, bare)
    assert bare_metrics["macro_accuracy"] == reference["macro_accuracy"]
    assert bare_metrics["per_device"] == reference["per_device"]


@pytest.mark.parametrize("change", ["missing", "extra", "duplicate"])
def test_clip_set_mismatches_with_the_ground_truth_are_errors_listing_them(change):
    truth, preds = _dataset(n=50, seed=7)
    if change == "missing":  # a clip of the split was not predicted
        truth = pd.concat([truth, pd.DataFrame({"filename": ["audio/park-x-1-2-a.wav"], "scene_label": ["park"], "device": ["a"]})])
        named = "audio/park-x-1-2-a.wav"
    elif change == "extra":  # a predicted clip is not in the split
        named = truth["filename"].iloc[10]
        truth = truth.drop(index=10)
    else:
        truth = pd.concat([truth, truth.iloc[[3]]])
        named = truth["filename"].iloc[3]
    with pytest.raises(AsckitError) as info:
        compute_metrics(truth, preds, truth_source="fold1_evaluate.csv")
    message = str(info.value)
    assert named in message and "fold1_evaluate.csv" in message and "\n" not in message


def test_result_is_plain_json_and_absent_classes_or_devices_are_null():
    truth, preds = _dataset(n=80, seed=8)
    keep = (truth["scene_label"] != "tram").to_numpy()
    truth = truth[keep]
    preds = preds.take(np.flatnonzero(keep))
    truth = truth.assign(device=[None if i % 2 else d for i, d in enumerate(truth["device"])])
    m = compute_metrics(truth, preds)
    json.dumps(m, allow_nan=False)  # raises on numpy scalars or NaN
    assert m["per_class"]["tram"] == {"accuracy": None, "log_loss": None, "n": 0}
    # tram is absent: the macro average runs over the 9 classes present.
    assert m["macro_accuracy"] == pytest.approx(_macro_by_loop(list(truth["scene_label"]), list(preds.labels)))
    assert sum(s["n"] for s in m["per_device"].values()) == int(truth["device"].notna().sum())


def test_no_device_column_gives_no_device_tables():
    truth, preds = _dataset(n=60, seed=9)
    m = compute_metrics(truth.drop(columns="device"), preds)
    assert m["per_device"] == {} and m["per_group"] == {}
    assert all(m["table1"][g] is None for g in ("A", "B&C", "s1-s3", "s4-s6"))


def test_three_class_predictions_are_scored_against_super_classes_of_10_class_labels():
    truth, _ = _dataset(n=90, seed=10)
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=len(truth))
    preds = Predictions(truth["filename"], probs, SCENES_3, "1b", "three.tsv")
    m = compute_metrics(truth, preds)
    supers = [SUPERCLASS[s] for s in truth["scene_label"]]
    predicted = [SCENES_3[k] for k in probs.argmax(axis=1)]
    assert m["classes"] == list(SCENES_3)
    assert m["macro_accuracy"] == pytest.approx(_macro_by_loop(supers, predicted))


def test_labels_of_another_task_or_a_test_split_are_user_errors():
    truth, preds = _dataset(n=30, seed=11)
    with pytest.raises(AsckitError, match="no 'scene_label' column"):
        compute_metrics(truth.drop(columns="scene_label"), preds)
    three_class_truth = truth.assign(scene_label=[SUPERCLASS[s] for s in truth["scene_label"]])
    with pytest.raises(AsckitError, match="not classes of preds.tsv"):
        compute_metrics(three_class_truth, preds)
