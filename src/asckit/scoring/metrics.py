"""Scores of a prediction set against the ground truth: accuracy, log loss, per device, group and class.

Definitions (reference/dataset.md §3.1, docs/reference-code.md §7):

- **accuracy** is the DCASE ranking metric: macro (class-wise average) accuracy, i.e. the mean over
  the classes present in the ground truth of (correct clips of the class) / (clips of the class).
  ``micro_accuracy`` (correct clips / all clips) is kept beside it. On the balanced dev split
  (33 clips per class and device) the two coincide; on an unbalanced subset they do not.
- **log loss** is ``sklearn.metrics.log_loss`` with ``labels=`` the full class list, after each row
  of probabilities is renormalised to sum to 1 (so it is the loss of the distribution the row
  encodes, whatever rounding the file carries). sklearn clips probabilities to [eps, 1 - eps]
  (machine eps), so a zero probability on the true class costs about 36 rather than infinity.
- **per device** and **per device group** (``asckit.labels.DEVICE_GROUPS``) figures are the same
  macro accuracy, micro accuracy and log loss computed on that subset of clips, as the DCASE
  evaluation does. Each group additionally carries ``mean_device_accuracy``, the mean of its
  devices' accuracies: that is what the paper's Table 1 group columns report ("B & C (mean of 2)"),
  and what ``table1_row`` uses.
- **per class**: accuracy is the class's recall, log loss the mean loss over that class's clips.
- the **confusion matrix** has true classes as rows and predicted classes as columns.

Ground-truth rows are joined to predictions by filename (``asckit.predictions.reader.match_filenames``);
missing, duplicated or extra clips are an AsckitError, never a silent misalignment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss

from asckit.core.errors import AsckitError
from asckit.labels import ALL_DEVICES, DEVICE_GROUPS, SCENES_3, to_superclass
from asckit.predictions.reader import Predictions, match_filenames
from asckit.scoring.table1_columns import TABLE1_COLUMNS  # noqa: F401 - the keys of table1_row, named where it is


def compute_metrics(
    truth: pd.DataFrame, predictions: Predictions, truth_source: str = "ground truth"
) -> dict:
    """Score ``predictions`` against ``truth`` and return a JSON-ready dict.

    ``truth`` needs columns ``filename`` and ``scene_label``; ``device`` is optional (rows whose
    device is missing count overall but in no device table). Rows are matched by filename.
    Scene labels of 10-class ground truth are mapped to super-classes when the predictions are
    3-class. Returns the keys ``macro_accuracy``, ``micro_accuracy``, ``log_loss``, ``n``,
    ``per_device``, ``per_group``, ``per_class``, ``confusion_matrix``, ``table1``, ``task`` and
    ``classes``; accuracies are fractions in [0, 1]; undefined figures are None.
    """
    labels, devices = join_ground_truth(truth, predictions, truth_source)
    return metrics_from_arrays(labels, predictions.probs, predictions.classes, devices, predictions.task)


def join_ground_truth(
    truth: pd.DataFrame, predictions: Predictions, truth_source: str = "ground truth"
) -> tuple[list[str], list[str | None]]:
    """Ground-truth labels and devices in the row order of ``predictions``, matched by filename."""
    for column in ("filename", "scene_label"):
        if column not in truth.columns:
            raise AsckitError(
                f"{truth_source}: has no {column!r} column; evaluate on a split with labels "
                "(e.g. 'evaluate', not the unlabelled 'test')"
            )
    rows = match_filenames(
        predictions.filenames, truth["filename"].astype(str).tolist(), predictions.source, truth_source
    )
    raw_labels = truth["scene_label"].to_numpy(dtype=object)[rows]
    labels = _labels_for(raw_labels, predictions, truth_source)
    if "device" in truth.columns:
        raw_devices = truth["device"].to_numpy(dtype=object)[rows]
        devices = [None if _is_missing(d) else str(d) for d in raw_devices]
    else:
        devices = [None] * len(labels)
    return labels, devices


def metrics_from_arrays(
    labels: Sequence[str],
    probs: np.ndarray,
    class_names: Sequence[str],
    devices: Sequence[str | None] | None = None,
    task: str | None = None,
) -> dict:
    """The metrics dict of ``compute_metrics`` from row-aligned arrays.

    ``labels[i]``, ``probs[i]`` and ``devices[i]`` must describe the same clip: use
    ``compute_metrics`` to get that alignment from filenames.
    """
    class_names = tuple(class_names)
    probs = np.asarray(probs, dtype=np.float64)
    n = len(labels)
    if n == 0:
        raise AsckitError("no clips to score: the predictions and the ground truth are empty")
    if probs.shape != (n, len(class_names)):
        raise ValueError(f"probs has shape {probs.shape}, expected ({n}, {len(class_names)})")
    index = {name: k for k, name in enumerate(class_names)}
    unknown = sorted({label for label in labels if label not in index})
    if unknown:
        raise ValueError(f"labels {unknown} are not among the classes {class_names}")
    y_true = np.array([index[label] for label in labels], dtype=np.intp)
    probs = _renormalised(probs)
    y_pred = np.argmax(probs, axis=1)
    devices = [None] * n if devices is None else list(devices)

    overall = _subset_scores(y_true, y_pred, probs, len(class_names))
    result: dict = {
        "task": task,
        "classes": list(class_names),
        "n": n,
        "macro_accuracy": overall["accuracy"],
        "micro_accuracy": overall["micro_accuracy"],
        "log_loss": overall["log_loss"],
    }

    device_array = np.array(devices, dtype=object)
    per_device = {}
    for device in _device_order(devices):
        mask = device_array == device
        per_device[device] = _subset_scores(y_true[mask], y_pred[mask], probs[mask], len(class_names))
    result["per_device"] = per_device

    per_group = {}
    for group, members in DEVICE_GROUPS.items():
        present = [d for d in members if d in per_device]
        if not present:
            continue
        mask = np.isin(device_array, present)
        scores = _subset_scores(y_true[mask], y_pred[mask], probs[mask], len(class_names))
        scores["mean_device_accuracy"] = float(np.mean([per_device[d]["accuracy"] for d in present]))
        scores["devices"] = present
        per_group[group] = scores
    result["per_group"] = per_group

    per_class = {}
    for k, name in enumerate(class_names):
        mask = y_true == k
        if not mask.any():
            per_class[name] = {"accuracy": None, "log_loss": None, "n": 0}
            continue
        per_class[name] = {
            "accuracy": float(np.mean(y_pred[mask] == k)),
            "log_loss": _log_loss(y_true[mask], probs[mask], len(class_names)),
            "n": int(mask.sum()),
        }
    result["per_class"] = per_class

    matrix = confusion_matrix(y_true, y_pred, labels=np.arange(len(class_names)))
    result["confusion_matrix"] = {"classes": list(class_names), "matrix": matrix.astype(int).tolist()}
    result["table1"] = table1_row(result)
    return result


def table1_row(metrics: dict) -> dict:
    """The paper's Table 1 result columns from a metrics dict (fractions; None where absent).

    Group columns are the MEAN of the per-device accuracies in the group (spec §7, "B & C (mean
    of 2)"), not the accuracy of the pooled clips; ``val_loss`` is the overall log loss and
    ``avg_acc`` the overall macro accuracy.
    """
    row = {}
    for group in DEVICE_GROUPS:
        scores = metrics["per_group"].get(group)
        row[group] = None if scores is None else scores["mean_device_accuracy"]
    row["val_loss"] = metrics["log_loss"]
    row["avg_acc"] = metrics["macro_accuracy"]
    return row


def tau22_row(metrics: dict) -> dict:
    """The DCASE 2024/2025 table columns (``asckit.scoring.table1_columns.TAU22_COLUMNS``) from a metrics
    dict (fractions; None where absent): macro accuracy over all clips, each device's macro accuracy, and
    each group (real a–c, seen s1–s3, unseen s4–s6) as the mean of its devices' accuracies."""
    from asckit.labels import DEVICES, TAU22_DEVICE_GROUPS

    per_device = metrics["per_device"]
    row = {"avg_acc": metrics["macro_accuracy"]}
    for group, members in TAU22_DEVICE_GROUPS.items():
        present = [per_device[d]["accuracy"] for d in members if d in per_device]
        row[group] = float(np.mean(present)) if present else None
    for device in DEVICES:
        row[device] = per_device[device]["accuracy"] if device in per_device else None
    return row


def _subset_scores(y_true: np.ndarray, y_pred: np.ndarray, probs: np.ndarray, n_classes: int) -> dict:
    counts = np.bincount(y_true, minlength=n_classes)
    correct = np.bincount(y_true[y_pred == y_true], minlength=n_classes)
    present = counts > 0
    return {
        "accuracy": float(np.mean(correct[present] / counts[present])),
        "micro_accuracy": float(accuracy_score(y_true, y_pred)),
        "log_loss": _log_loss(y_true, probs, n_classes),
        "n": int(len(y_true)),
    }


def _log_loss(y_true: np.ndarray, probs: np.ndarray, n_classes: int) -> float:
    # Positional probs: the keyword is y_pred before scikit-learn 1.9 and y_proba from 1.9 on.
    return float(log_loss(y_true, probs, labels=np.arange(n_classes)))


def _renormalised(probs: np.ndarray) -> np.ndarray:
    sums = probs.sum(axis=1, keepdims=True)
    bad = np.flatnonzero(~(sums[:, 0] > 0) | ~np.isfinite(sums[:, 0]) | (probs < 0).any(axis=1))
    if bad.size:
        raise AsckitError(
            f"row {bad[0] + 1} of the predictions has no usable probabilities (negative, non-finite "
            f"or all zero; {bad.size} row(s) like this); check the prediction file"
        )
    return probs / sums


def _labels_for(raw_labels: Sequence[object], predictions: Predictions, truth_source: str) -> list[str]:
    """Ground-truth labels as class names of ``predictions`` (10-class → super-class for 3-class)."""
    labels = ["" if _is_missing(label) else str(label) for label in raw_labels]
    if predictions.classes == SCENES_3:
        labels = [label if label in SCENES_3 else _superclass_or_same(label) for label in labels]
    unknown = list(dict.fromkeys(label for label in labels if label not in predictions.classes))
    if unknown:
        raise AsckitError(
            f"{truth_source}: scene labels {', '.join(map(repr, unknown[:3]))} are not classes of "
            f"{predictions.source} ({' '.join(predictions.classes)}); score predictions against a "
            "split of the same task"
        )
    return labels


def _superclass_or_same(label: str) -> str:
    try:
        return to_superclass(label)
    except ValueError:
        return label


def _device_order(devices: Sequence[str | None]) -> list[str]:
    """Devices present, known ones in asckit.labels order, then any others alphabetically."""
    present = {d for d in devices if d is not None}
    known = [d for d in ALL_DEVICES if d in present]
    return known + sorted(present - set(known))


def _is_missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))
