"""Score a prediction file against a dataset split: metrics.json, a markdown report and plots.

``evaluate(predictions_path, root, split)`` reads the ground truth with
``asckit.data.tau.load_split``, joins it to the predictions by filename, computes
``asckit.scoring.metrics.compute_metrics`` and writes ``metrics.json`` plus the ``asckit.scoring.report`` files.

The command is ``asckit evaluate`` (``asckit.scoring.commands``); ``format_table1`` is the Table 1 row
it prints (A, B&C, s1-s3, s4-s6, val loss, avg acc).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_write_text

METRICS_NAME = "metrics.json"


def default_out_dir(predictions_path: str | os.PathLike) -> Path:
    """``<folder>/<stem>_eval`` beside the predictions file."""
    path = Path(predictions_path)
    return path.parent / f"{path.stem}_eval"


def evaluate(
    predictions_path: str | os.PathLike,
    root: str | os.PathLike,
    split: str = "evaluate",
    out_dir: str | os.PathLike | None = None,
    title: str | None = None,
) -> dict:
    """Score ``predictions_path`` on ``split`` of the dataset at ``root``; write and return the metrics.

    Writes ``metrics.json`` (atomically), ``report.md``, ``confusion_matrix.png`` and
    ``per_device_accuracy.png`` into ``out_dir`` (default: ``default_out_dir(predictions_path)``).
    The returned dict is ``compute_metrics``' plus a ``source`` entry naming the inputs.
    """
    from asckit.data.tau import load_split, split_path
    from asckit.predictions.reader import read_predictions
    from asckit.scoring.metrics import compute_metrics
    from asckit.scoring.report import write_report

    predictions_path = Path(predictions_path)
    predictions = read_predictions(predictions_path)
    truth = load_split(root, split)
    truth_source = str(split_path(root, split))
    metrics = compute_metrics(truth, predictions, truth_source=truth_source)
    metrics["table1_ci95"] = table1_intervals(truth, predictions, truth_source, metrics)
    metrics["source"] = {"predictions": str(predictions_path), "root": str(root), "split": split}

    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(predictions_path)
    if out_dir.exists() and not out_dir.is_dir():
        raise AsckitError(f"{out_dir}: is a file; --out names the folder for metrics.json and the report")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / METRICS_NAME, json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    write_report(metrics, out_dir, title or predictions_path.stem)
    return metrics


def table1_intervals(truth, predictions, truth_source: str, metrics: dict) -> dict:
    """95 % bootstrap intervals (fractions) of the Table 1 accuracy columns that were measured."""
    from asckit.scoring.metrics import table1_row
    from asckit.scoring.significance import ClipScores, confidence_interval
    from asckit.scoring.table1_columns import ACCURACY_COLUMNS

    scores = ClipScores.from_ground_truth(truth, predictions, truth_source)
    row = table1_row(metrics)
    return {c: list(confidence_interval(scores, c)) for c in ACCURACY_COLUMNS if row[c] is not None}


def format_table1(metrics: dict, name: str) -> str:
    """Two lines: the Table 1 headings and this system's row (accuracies in %, one decimal)."""
    from asckit.scoring.metrics import table1_row
    from asckit.scoring.table1_columns import SHORT_HEADINGS as headings
    from asckit.scoring.table1_columns import TABLE1_COLUMNS

    row = table1_row(metrics)
    width = max(len(name), 6)
    cells = []
    for column in TABLE1_COLUMNS:
        value = row[column]
        if value is None:
            cells.append("–")
        elif column == "val_loss":
            cells.append(f"{value:.3f}")
        else:
            cells.append(f"{100 * value:.1f}")
    head = f"{'system':<{width}}  " + "  ".join(f"{headings[c]:>8}" for c in TABLE1_COLUMNS)
    body = f"{name:<{width}}  " + "  ".join(f"{cell:>8}" for cell in cells)
    return f"{head}\n{body}"
