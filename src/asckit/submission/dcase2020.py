"""DCASE 2020 Task 1 submission files, and a checker for them.

One job: from the evaluation-set predictions, the development results and the model's
complexity, write ``<label>.output.csv`` and ``<label>.meta.yaml`` as the challenge's submission
rules ask (reference/dataset.md §3.2, following the official validator), and check them.

- **Label**: ``<Lastname>_<Institute>_task1a_<1-4>`` (or ``task1b``): four ``_``-separated parts.
- **Output**: TAB-separated, header ``filename scene_label <classes in DCASE order>``, one row per
  evaluation clip: exactly 11,880 unique files ``<n>.wav`` with n in 0..11879 for 1a, 8,640 for
  1b (a folder before the name, as in ``audio/0.wav``, is allowed); ``scene_label`` one of the
  classes; probabilities finite, non-negative and summing to 1 (asckit's check, beyond the
  validator's). ``rows=`` overrides the count for tests on small sets.
- **Meta**: ``submission`` (label, name, abbreviation ≤ 10 characters, authors with exactly one
  corresponding author), ``system`` (description fields, complexity: total_parameters; for 1b also
  total_parameters_non_zero and model_size in KB; external_datasets; source_code) and
  ``results.development_dataset`` (overall, class_wise and, for 1a, device_wise accuracy and log
  loss). Accuracies are percentages, the challenge's convention. Author details come from
  ``--info INFO.yaml`` (merged over the generated document); left out, they are ``TODO``
  placeholders that the checker reports as warnings.

Commands: ``asckit submission RUN_OR_PREDICTIONS --task {1a,1b} --label L [--dev DEV.tsv --root DEV_ROOT]
[--model BUNDLE] [--info INFO.yaml] [--out DIR]`` (default ``RUN/submission``, or ``runs/submission``
for a prediction file) and ``asckit submission-check OUTPUT.csv META.yaml
--task {1a,1b}`` (registered in ``asckit.submission.commands``; their handlers are at the end of this module).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError
from asckit.labels import DEVICES
from asckit.labels import classes as classes_of
from asckit.submission.common import (
    EXPECTED_ROWS,  # noqa: F401 - re-exported: the 2020 counts are read here
    PLACEHOLDER,
    CheckResult,
    MetaProblems,
    check_external_datasets,
    check_label,
    check_meta_document,
    check_output_text,
    check_results,
    expected_row_count,
    merge,
    output_text,
    read_info,
    run_prediction_files,
    submission_block,
)
from asckit.submission.common import development_results as _development_results
from asckit.tasks import task_facts


def check_meta(meta: object, task: str, label: str | None = None, source: str = "meta") -> CheckResult:
    """Problems (and placeholder warnings) of a meta.yaml document, as the official validator checks it."""
    return check_meta_document(
        meta, task, label, source,
        lambda system, problems: _check_system_block(system, task, problems),
        lambda results, result: _check_results_block(results, task, MetaProblems(source, result.problems)),
    )


def _description_keys(task: str) -> list[str]:
    keys = [
        "input_sampling_rate", "acoustic_features", "embeddings", "data_augmentation", "machine_learning_method",
        "ensemble_method_subsystem_count", "decision_making", "external_data_usage",
    ]
    return keys + (["complexity_management"] if task == "1b" else [])


def _check_system_block(system: object, task: str, problems: MetaProblems) -> None:
    """``system``: description fields, complexity (integer parameter count; 1b: sizes too), external datasets."""
    problems.need(system, ["description", "complexity", "external_datasets", "source_code"], "system")
    if not isinstance(system, dict):
        return
    problems.need(system.get("description"), _description_keys(task), "system.description")
    complexity = system.get("complexity")
    problems.need(complexity, ["total_parameters"] + (["total_parameters_non_zero", "model_size"] if task == "1b" else []), "system.complexity")
    if isinstance(complexity, dict) and not isinstance(complexity.get("total_parameters"), int):
        problems.add("system.complexity.total_parameters must be an integer")
    check_external_datasets(system.get("external_datasets"), problems)


def _check_results_block(results: object, task: str, problems: MetaProblems) -> None:
    """``results.development_dataset``: overall, class-wise and (1a) device-wise accuracy and log loss."""
    problems.need(results, ["development_dataset"], "results")
    dev = results.get("development_dataset") if isinstance(results, dict) else None
    blocks: dict[str, Sequence[str] | None] = {"overall": None, "class_wise": classes_of(task)}
    if task == "1a":
        blocks["device_wise"] = DEVICES
    check_results(dev, blocks, "results.development_dataset", problems)


def check_submission(output_path: str | os.PathLike, meta_path: str | os.PathLike, task: str, rows: int | None = None) -> CheckResult:
    """Check a pair of submission files: names, output rows and meta fields."""
    import yaml

    output_path, meta_path = Path(output_path), Path(meta_path)
    result = CheckResult()
    for path, suffix in ((output_path, ".output.csv"), (meta_path, ".meta.yaml")):
        if not path.name.endswith(suffix):
            result.problems.append(f"{path}: the file name must be <label>{suffix}")
        if not path.is_file():
            result.problems.append(f"{path}: file not found; check the path, or write it with `asckit submission`")
    if result.problems:
        return result
    label = output_path.name[: -len(".output.csv")]
    if meta_path.name[: -len(".meta.yaml")] != label:
        result.problems.append(f"{meta_path}: its label differs from {output_path.name}'s ({label})")
    result.problems += [f"{output_path}: {p}" for p in check_label(label, task)]
    result.problems += check_output_text(output_path.read_text(encoding="utf-8"), task, rows, source=str(output_path))
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        result.problems.append(f"{meta_path}: not valid YAML ({str(exc).splitlines()[0]})")
        return result
    meta_check = check_meta(meta, task, label, source=str(meta_path))
    result.problems += meta_check.problems
    result.warnings += meta_check.warnings
    return result


# ----------------------------------------------------------------------------------------------
# Writing


def development_results(metrics: dict, task: str) -> dict:
    """``results.development_dataset`` from ``asckit.scoring.metrics.compute_metrics`` (accuracy in %;
    device-wise for 1a)."""
    return _development_results(metrics, device_wise=task == "1a")


def meta_document(label: str, task: str, dev_results: dict, complexity: dict, members: int = 1, fusion: str = "average") -> dict:
    """The generated meta.yaml content; author fields are placeholders to fill via ``--info``."""
    facts = task_facts(task)
    system_description = {
        "input_channels": "mono" if facts.channels == 1 else "binaural",
        "input_sampling_rate": f"{facts.sample_rate / 1000:g}kHz",
        "acoustic_features": "log-mel energies with deltas and delta-deltas",
        "embeddings": None,
        "data_augmentation": "mixup, SpecAugment",
        "machine_learning_method": "CNN",
        "ensemble_method_subsystem_count": int(members),
        "decision_making": fusion,
        "external_data_usage": None,
    }
    if task == "1b":
        system_description["complexity_management"] = "int8 quantization"
    system_complexity: dict = {"total_parameters": int(complexity["total_parameters"])}
    if task == "1b":
        system_complexity["total_parameters_non_zero"] = int(complexity["total_parameters_non_zero"])
        system_complexity["model_size"] = round(float(complexity["model_size"]), 1)
    return {
        "submission": submission_block(label),
        "system": {
            "description": system_description,
            "complexity": system_complexity,
            "external_datasets": [],
            "source_code": PLACEHOLDER,
        },
        "results": {"development_dataset": dev_results},
    }


def write_submission(
    out_dir: str | os.PathLike,
    label: str,
    task: str,
    filenames: Sequence[str],
    probs: np.ndarray,
    meta: dict,
    rows: int | None = None,
) -> tuple[Path, Path, CheckResult]:
    """Check, then write ``<label>.output.csv`` and ``<label>.meta.yaml`` into ``out_dir``.

    Nothing is written when a rule is broken: AsckitError lists the problems.
    """
    import yaml

    from asckit.core.io_utils import atomic_write_text

    problems = check_label(label, task)
    text = output_text(filenames, probs, task)
    problems += check_output_text(text, task, rows, source=f"{label}.output.csv")
    meta_check = check_meta(meta, task, label, source=f"{label}.meta.yaml")
    problems += meta_check.problems
    if problems:
        raise AsckitError(f"submission not written, {len(problems)} problem(s): {'; '.join(problems[:4])}")
    out_dir = Path(out_dir)
    output_path = out_dir / f"{label}.output.csv"
    meta_path = out_dir / f"{label}.meta.yaml"
    atomic_write_text(output_path, text)
    atomic_write_text(meta_path, yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
    return output_path, meta_path, meta_check


# ----------------------------------------------------------------------------------------------
# Command handlers (registered by asckit.submission.commands)


def run_submission(args: argparse.Namespace) -> int:
    """Handler of ``asckit submission``."""
    from asckit.data.tau import load_split
    from asckit.predictions.reader import read_predictions
    from asckit.scoring.metrics import compute_metrics

    for problem in check_label(args.label, args.task):  # before any file is read
        raise AsckitError(f"--label: {problem}")
    from asckit.core.io_utils import refuse_output_over_input

    if args.out is None:
        args.out = default_out(args.source)
    inputs = [args.source, args.dev, args.root, args.model, args.info]
    for out in (args.out, args.out / f"{args.label}.output.csv", args.out / f"{args.label}.meta.yaml"):
        refuse_output_over_input(out, inputs)
    eval_path, dev_path, root, bundle = _inputs(args)
    evaluation = read_predictions(eval_path)
    if evaluation.task != args.task:
        raise AsckitError(f"{eval_path}: holds task {evaluation.task} predictions, not {args.task}")
    dev = read_predictions(dev_path)
    metrics = compute_metrics(load_split(root, "evaluate"), dev, truth_source=f"{root} evaluate split")
    complexity, members, fusion = _complexity(bundle, args.task)
    meta = meta_document(args.label, args.task, development_results(metrics, args.task), complexity, members, fusion)
    meta = merge(meta, read_info(args.info))
    output_path, meta_path, check = write_submission(
        args.out, args.label, args.task, evaluation.filenames, evaluation.probs, meta, args.rows
    )
    for warning in check.warnings:
        print(f"asckit: warning: {warning} (pass --info INFO.yaml)")
    overall = meta["results"]["development_dataset"]["overall"]
    print(f"wrote {output_path} ({len(evaluation)} clips) and {meta_path}")
    print(f"development: accuracy {overall['accuracy']} %, log loss {overall['logloss']}")
    return 0


def default_out(source: Path) -> Path:
    """Where ``asckit submission`` writes without ``--out``: into the run folder, or under ``runs/``
    for a prediction file; never a new folder in the project root (``runs/`` is git-ignored)."""
    return source / "submission" if source.is_dir() else Path("runs") / "submission"


def _inputs(args: argparse.Namespace) -> tuple[Path, Path, Path, Path | None]:
    """Evaluation predictions, development predictions, development root and export bundle."""
    source: Path = args.source
    if source.is_dir():
        from asckit.train.run_dir import RunDir

        run = RunDir(source)
        config = run.load_config()
        eval_path, dev_path = run_prediction_files(run, source, args.dev)
        root = args.root or Path(config.data.root)
        bundle = args.model or run.exported_bundle()
        return eval_path, dev_path, root, bundle
    if not source.exists():
        raise AsckitError(f"{source}: no such run folder or prediction file; check the path")
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
