"""Score a prediction file against a dataset split: metrics.json, a markdown report and plots.

``evaluate(predictions_path, root, split)`` reads the ground truth with
``asckit.data.tau.load_split``, joins it to the predictions by filename, computes
``asckit.metrics.compute_metrics`` and writes ``metrics.json`` plus the ``asckit.report`` files.

Command: ``asckit evaluate PREDICTIONS.tsv --root DATASET [--split evaluate] [--out DIR]``; the
default output folder is ``<predictions folder>/<predictions stem>_eval``. It prints the paper's
Table 1 row (A, B&C, s1-s3, s4-s6, val loss, avg acc).
"""

from __future__ import annotations

import argparse
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
    from asckit.data.tau import SPLIT_FILES, load_split
    from asckit.metrics import compute_metrics
    from asckit.predictions.reader import read_predictions
    from asckit.report import write_report

    predictions_path = Path(predictions_path)
    predictions = read_predictions(predictions_path)
    truth = load_split(root, split)
    truth_source = str(Path(root) / "evaluation_setup" / SPLIT_FILES[split])
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
    from asckit.metrics import table1_row
    from asckit.significance import ClipScores, confidence_interval
    from asckit.table1 import ACCURACY_COLUMNS

    scores = ClipScores.from_ground_truth(truth, predictions, truth_source)
    row = table1_row(metrics)
    return {c: list(confidence_interval(scores, c)) for c in ACCURACY_COLUMNS if row[c] is not None}


def format_table1(metrics: dict, name: str) -> str:
    """Two lines: the Table 1 headings and this system's row (accuracies in %, one decimal)."""
    from asckit.metrics import table1_row
    from asckit.table1 import SHORT_HEADINGS as headings
    from asckit.table1 import TABLE1_COLUMNS

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


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``asckit evaluate``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score a prediction file on a dataset split (metrics.json, report, plots)",
        description=(
            "Score a prediction TSV against the labels of a TAU-layout dataset split. Rows are "
            "matched by filename; the prediction file must cover exactly the clips of the split."
        ),
    )
    parser.add_argument("predictions", type=Path, metavar="PREDICTIONS.tsv", help="prediction file to score")
    parser.add_argument("--root", required=True, type=Path, metavar="DATASET", help="dataset root (TAU layout)")
    parser.add_argument("--split", default="evaluate", help="split to score on (default: evaluate)")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", default=None,
        help="output folder (default: <predictions folder>/<predictions stem>_eval)",
    )
    parser.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of ``asckit evaluate``."""
    out_dir = args.out if args.out is not None else default_out_dir(args.predictions)
    metrics = evaluate(args.predictions, args.root, args.split, out_dir)
    print(format_table1(metrics, args.predictions.stem))
    low, high = metrics["table1_ci95"]["avg_acc"]
    print(
        f"{metrics['n']} clips; avg acc 95 % CI {100 * low:.1f}–{100 * high:.1f} (bootstrap over clips); "
        f"micro accuracy {100 * metrics['micro_accuracy']:.1f} %; "
        f"wrote {out_dir / METRICS_NAME} and {out_dir / 'report.md'}"
    )
    return 0
