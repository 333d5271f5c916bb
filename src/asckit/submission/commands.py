"""``asckit submission`` and ``asckit submission-check``: the DCASE Task 1 submission files written
from a run or a prediction file, and checked. ``--task 1a``/``1b``: DCASE 2020
(``asckit.submission.dcase2020``: ``<label>.output.csv`` and ``<label>.meta.yaml``); ``--task 2024``:
the DCASE 2024 package (``asckit.submission.dcase2024``: one output per training split, one call per
``--split``, one meta.yaml, optionally ``OUT.zip``). ``asckit package``: the DCASE 2025 inference
package of a run (``asckit.submission.dcase2025``: an installable repository, one call per submission).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asckit.core.cli_types import positive_int
from asckit.core.errors import AsckitError

#: The tasks with a submission format.
SUBMISSION_TASKS: tuple[str, ...] = ("1a", "1b", "2024")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``asckit submission``, ``asckit submission-check`` and ``asckit package``."""
    from asckit.submission.dcase2024 import SPLITS

    parser = subparsers.add_parser(
        "submission",
        help="write DCASE Task 1 submission files (2020: <label>.output.csv, <label>.meta.yaml; 2024: a package per label)",
        description=(
            "Write the evaluation-set output and the meta file with development results and complexity. "
            "RUN_OR_PREDICTIONS is a run folder (its predictions/test.tsv and predictions/evaluate.tsv, "
            "from `asckit predict-split`) or an evaluation-set prediction TSV (then give --dev and --root). "
            "--task 2024: one call per --split into the same --out, each adding <label>.output.split_N.csv "
            "and merging its results into <label>.meta.yaml; --zip also writes OUT.zip (task1/<label>/...)."
        ),
    )
    parser.add_argument("source", type=Path, metavar="RUN_OR_PREDICTIONS")
    parser.add_argument("--task", required=True, choices=SUBMISSION_TASKS)
    parser.add_argument("--label", required=True, help="<Lastname>_<Institute>_task1a_<1-4> (2024: ..._task1_<1-4>)")
    parser.add_argument("--split", type=positive_int, choices=SPLITS, default=None,
                        help="task 2024: the training split (%%) these predictions come from")
    parser.add_argument("--dev", type=Path, metavar="DEV.tsv", help="predictions on the development evaluate split")
    parser.add_argument("--root", type=Path, metavar="DEV_ROOT", help="development dataset root (labels of --dev)")
    parser.add_argument("--model", type=Path, metavar="BUNDLE",
                        help="export bundle for the complexity figures (task 2024: the run folder of the model, or its TAU22 "
                             "export bundle: then the evaluation predictions must be the bundle's, from `asckit predict`)")
    parser.add_argument("--info", type=Path, metavar="INFO.yaml", help="meta.yaml fields (authors, names, ...) merged over the generated ones")
    parser.add_argument(
        "--out", type=Path, default=None,
        help="output folder (default: RUN/submission for a run folder, else runs/submission: git-ignored, as all generated output)",
    )
    parser.add_argument("--rows", type=positive_int, default=None,
                        help="expected evaluation clips (default: 11880 for 1a, 8640 for 1b, 135730 for 2024)")
    parser.add_argument("--zip", action="store_true", help="task 2024: also write OUT.zip, the package as task1/<label>/...")
    parser.set_defaults(func=_submission)

    check = subparsers.add_parser(
        "submission-check",
        help="check DCASE Task 1 submission files against the challenge rules",
        description=(
            "Check <label>.output.csv and <label>.meta.yaml (2020), or a 2024 package (its zip or folder): "
            "names, rows, columns, classes, probability sums, meta fields."
        ),
    )
    check.add_argument("output", type=Path, metavar="LABEL.output.csv|PACKAGE")
    check.add_argument("meta", type=Path, metavar="LABEL.meta.yaml", nargs="?", default=None, help="2020 tasks only")
    check.add_argument("--task", required=True, choices=SUBMISSION_TASKS)
    check.add_argument("--rows", type=positive_int, default=None, help="expected evaluation clips (default: the official count)")
    check.set_defaults(func=_submission_check)

    package = subparsers.add_parser(
        "package",
        help="write the DCASE 2025 Task 1 inference package of a run (a repository to pip install)",
        description=(
            "Write the repository the DCASE 2025 Task 1 organizers install: setup.py, requirements.txt and the package "
            "<Lastname>_<Inst>_task1 with the module <label>.py (load_model, load_inputs, get_model_for_device, predict), "
            "resources/ (dummy.wav, test.csv) and ckpts/. RUN is a finished cp_mobile run of the TAU22 frontend trained on "
            "split 25 (general or device-specific). The package runs without asckit: asckit's model and frontend code is "
            "copied into it. Call again with _2, _3, _4 into the same --out to add submissions."
        ),
    )
    package.add_argument("run", type=Path, metavar="RUN")
    package.add_argument("--label", required=True, help="<Lastname>_<Inst>_task1_<1-4>: submission N of the package <Lastname>_<Inst>_task1")
    package.add_argument("--out", type=Path, required=True, metavar="DIR",
                         help="the package's repository folder (created if missing; files asckit did not write are left alone)")
    package.add_argument("--precision", default="fp16",
                         help="stored precision of the parameters: fp16 (default, as the organizers' template) or int8 (int8 conv weights)")
    package.add_argument("--root", type=Path, metavar="DEV_ROOT",
                         help="TAU22 development set whose dev-test list becomes resources/test.csv (default: the run's data.root)")
    package.set_defaults(func=_package)


def _submission(args: argparse.Namespace) -> int:
    if args.task == "2024":
        from asckit.submission.dcase2024 import run_submission

        return run_submission(args)
    from asckit.submission.dcase2020 import run_submission

    for option, given in (("--split", args.split is not None), ("--zip", args.zip)):
        if given:
            raise AsckitError(f"{option}: only for --task 2024 (a 2020 submission has one output file); remove it")
    return run_submission(args)


def _package(args: argparse.Namespace) -> int:
    from asckit.submission.dcase2025 import run_package

    return run_package(args)


def _submission_check(args: argparse.Namespace) -> int:
    if args.task == "2024":
        from asckit.submission.dcase2024 import run_submission_check

        if args.meta is not None:
            raise AsckitError(f"{args.meta}: --task 2024 checks the whole package; give only the zip or the folder")
        return run_submission_check(args)
    from asckit.submission.dcase2020 import run_submission_check

    if args.meta is None:
        raise AsckitError(f"--task {args.task}: give both LABEL.output.csv and LABEL.meta.yaml")
    return run_submission_check(args)
