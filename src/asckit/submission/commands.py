"""``asckit submission RUN_OR_PREDICTIONS --task {1a,1b} --label L [--dev DEV.tsv --root DEV_ROOT]
[--model BUNDLE] [--info INFO.yaml] [--out DIR]`` and ``asckit submission-check OUTPUT.csv META.yaml
--task {1a,1b}``: the DCASE 2020 Task 1 submission files (``asckit.submission.dcase2020``) written
from a run or a prediction file, and checked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asckit.core.cli_types import positive_int
from asckit.core.errors import AsckitError
from asckit.labels import classes as classes_of
from asckit.submission.dcase2020 import (
    check_label,
    check_submission,
    development_results,
    expected_row_count,
    merge,
    meta_document,
    write_submission,
)


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
    parser.add_argument("--out", type=Path, default=Path("submission"), help="output folder (default: submission)")
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


def run_submission(args: argparse.Namespace) -> int:
    """Handler of ``asckit submission``."""
    import yaml

    from asckit.data.tau import load_split
    from asckit.predictions.reader import read_predictions
    from asckit.scoring.metrics import compute_metrics

    for problem in check_label(args.label, args.task):  # before any file is read
        raise AsckitError(f"--label: {problem}")
    eval_path, dev_path, root, bundle = _inputs(args)
    evaluation = read_predictions(eval_path)
    if evaluation.task != args.task:
        raise AsckitError(f"{eval_path}: holds task {evaluation.task} predictions, not {args.task}")
    dev = read_predictions(dev_path)
    metrics = compute_metrics(load_split(root, "evaluate"), dev, truth_source=f"{root} evaluate split")
    complexity, members, fusion = _complexity(bundle, args.task)
    meta = meta_document(args.label, args.task, development_results(metrics, args.task), complexity, members, fusion)
    if args.info is not None:
        try:
            info = yaml.safe_load(args.info.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise AsckitError(f"{args.info}: not a readable YAML file ({str(exc).splitlines()[0]})") from None
        if not isinstance(info, dict):
            raise AsckitError(f"{args.info}: must be a mapping of meta.yaml fields (submission: ..., system: ...)")
        meta = merge(meta, info)
    output_path, meta_path, check = write_submission(
        args.out, args.label, args.task, evaluation.filenames, evaluation.probs, meta, args.rows
    )
    for warning in check.warnings:
        print(f"asckit: warning: {warning} (pass --info INFO.yaml)")
    overall = meta["results"]["development_dataset"]["overall"]
    print(f"wrote {output_path} ({len(evaluation)} clips) and {meta_path}")
    print(f"development: accuracy {overall['accuracy']} %, log loss {overall['logloss']}")
    return 0


def _inputs(args: argparse.Namespace) -> tuple[Path, Path, Path, Path | None]:
    """Evaluation predictions, development predictions, development root and export bundle."""
    source: Path = args.source
    if source.is_dir():
        from asckit.train.run_dir import RunDir

        run = RunDir(source)
        config = run.load_config()
        eval_path = run.predictions("test")
        dev_path = args.dev or run.predictions("evaluate")
        for path, split in ((eval_path, "test"), (dev_path, "evaluate")):
            if not path.is_file():
                raise AsckitError(
                    f"{path}: missing; run `asckit predict-split {source} --split {split}` first"
                    + (" with --root/--store of the evaluation set" if split == "test" else "")
                )
        root = args.root or Path(config.data.root)
        bundle = args.model or run.exported_bundle()
        return eval_path, dev_path, root, bundle
    if args.dev is None or args.root is None:
        raise AsckitError(f"{source}: with a prediction file, give --dev DEV.tsv and --root DEV_ROOT for the development results")
    return source, args.dev, args.root, args.model


def _complexity(bundle: Path | None, task: str) -> tuple[dict, int, str]:
    """Complexity figures, member count and fusion method from an export bundle."""
    from asckit.deploy.bundle import Bundle

    if bundle is None:
        raise AsckitError("no export bundle for the complexity figures; export the model (`asckit export RUN`) or give --model BUNDLE")
    data = Bundle.read(bundle)
    if data.info.task != task or tuple(data.info.classes) != classes_of(task):
        raise AsckitError(
            f"{bundle}: a bundle of task {data.info.task} ({len(data.info.classes)} classes), not of this task {task} "
            "submission; give --model the bundle of the submitted system"
        )
    summary = data.complexity or {}
    if "total_parameters" not in summary:
        raise AsckitError(f"{bundle}: the bundle records no complexity; re-export it with this asckit")
    complexity = {
        "total_parameters": summary["total_parameters"],
        "total_parameters_non_zero": summary["total_parameters_non_zero"],
        "model_size": summary["dcase_kb"],
    }
    fusion = data.fusion_method
    members = len(data.members)
    decision = "logistic regression on the members' probabilities" if fusion == "logistic" else "average of probabilities"
    return complexity, members, decision


def run_submission_check(args: argparse.Namespace) -> int:
    """Handler of ``asckit submission-check``: exit 0 when the files follow the rules, 1 otherwise."""
    expected_row_count(args.task, args.rows)  # a bad --rows is a usage error, not a problem of the files
    result = check_submission(args.output, args.meta, args.task, args.rows)
    for problem in result.problems:
        print(f"problem: {problem}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    print("submission files follow the rules" if result.ok else f"{len(result.problems)} problem(s)")
    return 0 if result.ok else 1
