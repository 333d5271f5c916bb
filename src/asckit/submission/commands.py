"""``asckit submission RUN_OR_PREDICTIONS --task {1a,1b} --label L [--dev DEV.tsv --root DEV_ROOT]
[--model BUNDLE] [--info INFO.yaml] [--out DIR]`` and ``asckit submission-check OUTPUT.csv META.yaml
--task {1a,1b}``: the DCASE 2020 Task 1 submission files (``asckit.submission.dcase2020``) written
from a run or a prediction file, and checked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asckit.core.cli_types import positive_int
from asckit.submission.dcase2020 import run_submission, run_submission_check


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``asckit submission`` and ``asckit submission-check``."""
    parser = subparsers.add_parser(
        "submission",
        help="write DCASE 2020 Task 1 submission files (<label>.output.csv, <label>.meta.yaml)",
        description=(
            "Write the evaluation-set output and the meta file with development results and complexity. "
            "RUN_OR_PREDICTIONS is a run folder (its predictions/test.tsv and predictions/evaluate.tsv, "
            "from `asckit predict-split`) or an evaluation-set prediction TSV (then give --dev and --root)."
        ),
    )
    parser.add_argument("source", type=Path, metavar="RUN_OR_PREDICTIONS")
    parser.add_argument("--task", required=True, choices=("1a", "1b"))
    parser.add_argument("--label", required=True, help="<Lastname>_<Institute>_task1a_<1-4>")
    parser.add_argument("--dev", type=Path, metavar="DEV.tsv", help="predictions on the development evaluate split")
    parser.add_argument("--root", type=Path, metavar="DEV_ROOT", help="development dataset root (labels of --dev)")
    parser.add_argument("--model", type=Path, metavar="BUNDLE", help="export bundle for the complexity figures")
    parser.add_argument("--info", type=Path, metavar="INFO.yaml", help="meta.yaml fields (authors, names, ...) merged over the generated ones")
    parser.add_argument(
        "--out", type=Path, default=None,
        help="output folder (default: RUN/submission for a run folder, else runs/submission: git-ignored, as all generated output)",
    )
    parser.add_argument("--rows", type=positive_int, default=None, help="expected evaluation clips (default: 11880 for 1a, 8640 for 1b)")
    parser.set_defaults(func=run_submission)

    check = subparsers.add_parser(
        "submission-check",
        help="check DCASE 2020 Task 1 submission files against the challenge rules",
        description="Check <label>.output.csv and <label>.meta.yaml: names, rows, columns, classes, probability sums, meta fields.",
    )
    check.add_argument("output", type=Path, metavar="LABEL.output.csv")
    check.add_argument("meta", type=Path, metavar="LABEL.meta.yaml")
    check.add_argument("--task", required=True, choices=("1a", "1b"))
    check.add_argument("--rows", type=positive_int, default=None, help="expected evaluation clips (default: the official count)")
    check.set_defaults(func=run_submission_check)
