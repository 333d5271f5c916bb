"""The scoring commands: ``asckit evaluate`` (a prediction file scored on a dataset split: metrics.json,
report and plots; prints the Table 1 row) and ``asckit compare`` (two systems' paired-bootstrap
difference on the same clips).

``asckit evaluate PREDICTIONS.tsv --root DATASET [--split evaluate] [--out DIR]``; the default
output folder is ``<predictions folder>/<predictions stem>_eval``.
``asckit compare A.tsv[,A2.tsv...] B.tsv[,B2.tsv...] --root DATASET [--split evaluate] [--draws N]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asckit.core.cli_types import positive_int
from asckit.core.errors import AsckitError
from asckit.core.io_utils import refuse_output_over_input
from asckit.scoring.evaluate import METRICS_NAME, default_out_dir, evaluate, format_table1
from asckit.scoring.significance import DRAWS, compare_files


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``asckit evaluate`` and ``asckit compare``."""
    _add_evaluate(subparsers)
    _add_compare(subparsers)


def _add_evaluate(subparsers: argparse._SubParsersAction) -> None:
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
    refuse_output_over_input(out_dir, [args.predictions, args.root])
    metrics = evaluate(args.predictions, args.root, args.split, out_dir)
    print(format_table1(metrics, args.predictions.stem))
    low, high = metrics["table1_ci95"]["avg_acc"]
    print(
        f"{metrics['n']} clips; avg acc 95 % CI {100 * low:.1f}–{100 * high:.1f} (bootstrap over clips); "
        f"micro accuracy {100 * metrics['micro_accuracy']:.1f} %; "
        f"wrote {out_dir / METRICS_NAME} and {out_dir / 'report.md'}"
    )
    return 0


def _add_compare(subparsers: argparse._SubParsersAction) -> None:
    """Register ``asckit compare``."""
    parser = subparsers.add_parser(
        "compare",
        help="is one system better than another? paired-bootstrap difference on the same clips",
        description=(
            "Compare two systems scored on the same labelled split: for each Table 1 accuracy column, "
            "A − B in points with its 95 % paired-bootstrap interval (clips resampled together for "
            "both) and a verdict. Give several files per side (comma-separated) for several seeds."
        ),
    )
    parser.add_argument("a", metavar="A.tsv[,A2.tsv...]", help="prediction file(s) of system A")
    parser.add_argument("b", metavar="B.tsv[,B2.tsv...]", help="prediction file(s) of system B")
    parser.add_argument("--root", required=True, metavar="DATASET", help="dataset root (TAU layout)")
    parser.add_argument(
        "--split", default="evaluate", choices=("train", "evaluate"), help="labelled split both were scored on (default: evaluate)"
    )
    parser.add_argument("--draws", type=positive_int, default=DRAWS, help=f"bootstrap resamples (default: {DRAWS})")
    parser.set_defaults(func=_run_compare)


def _seed_files(text: str, side: str) -> list[str]:
    """The comma-separated prediction files of one side: no empty item, no file twice (one seed each)."""
    files = [item.strip() for item in text.split(",")]
    if any(not item for item in files):
        raise AsckitError(f"{side} {text!r}: an empty file name in the comma-separated list; give A.tsv or A1.tsv,A2.tsv")
    repeated = sorted({f for f in files if files.count(f) > 1})
    if repeated:
        raise AsckitError(f"{side}: {repeated[0]} is listed twice; each file is one seed, list each once")
    return files


def _run_compare(args) -> int:
    if args.draws < 100:
        raise AsckitError(f"--draws {args.draws}: use at least 100 resamples (2000 gives stable 95 % intervals)")
    a, b = _seed_files(args.a, "A"), _seed_files(args.b, "B")
    differences = compare_files(a, b, args.root, args.split, draws=args.draws)
    print(f"A = {', '.join(a)}\nB = {', '.join(b)}\n{len(a)} vs {len(b)} seed(s); A − B on the {args.split} split:")
    for column, difference in differences.items():
        outcome = "A better" if difference.low > 0 else "B better" if difference.high < 0 else "no clear difference"
        print(f"  {column:7s} {difference.describe():38s} {outcome}")
    return 0
