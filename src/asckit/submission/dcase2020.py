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
import copy
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError
from asckit.labels import DEVICES
from asckit.labels import classes as classes_of
from asckit.predictions.file_format import SUM_TOLERANCE, is_argmax, prediction_text
from asckit.predictions.file_format import header as prediction_header
from asckit.tasks import TASKS, TASKS_2020, task_facts

#: Evaluation-set sizes (unique files) the official validator expects.
EXPECTED_ROWS: dict[str, int] = {name: TASKS[name].evaluation_clips for name in TASKS_2020}
PLACEHOLDER = "TODO"
ABBREVIATION_MAX = 10
_LABEL_RE = re.compile(r"^[^_\s]+_[^_\s]+_task1[ab]_[1-4]$")
_EVAL_NAME_RE = re.compile(r"^(\d+)\.wav$")


@dataclass
class CheckResult:
    """Problems break the submission rules; warnings are placeholders still to fill in."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# ----------------------------------------------------------------------------------------------
# Checks


def check_label(label: str, task: str) -> list[str]:
    """Problems with a submission label (empty when it is well formed for ``task``)."""
    if not _LABEL_RE.match(label):
        return [f"label {label!r} must be <Lastname>_<Institute>_task{task}_<1-4>, with no other '_'"]
    if label.split("_")[2] != f"task{task}":
        return [f"label {label!r} names {label.split('_')[2]}, but this is a task {task} submission"]
    return []


def expected_row_count(task: str, rows: int | None) -> int:
    """The evaluation clips an output file must hold: ``rows`` (--rows, checked) or the official count."""
    if rows is not None and rows < 1:
        raise AsckitError(f"--rows {rows}: give the number of evaluation clips, 1 or more")
    return EXPECTED_ROWS[task] if rows is None else rows


def check_output_text(text: str, task: str, rows: int | None = None, source: str = "output") -> list[str]:
    """Problems with the text of an ``.output.csv`` (at most a few per kind, with counts)."""
    class_names = classes_of(task)
    expected_rows = expected_row_count(task, rows)
    lines = text.splitlines()
    if not lines:
        return [f"{source}: empty file"]
    header = lines[0].split("\t")
    problems: list[str] = []
    expected_header = prediction_header(class_names)
    if header != expected_header:
        problems.append(f"{source}: header must be {' '.join(expected_header)} (TAB-separated), got {' '.join(header)[:120]}")
        return problems
    kinds: dict[str, list[str]] = {}

    def note(kind: str, message: str) -> None:
        kinds.setdefault(kind, []).append(message)

    seen: set[str] = set()
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            note("fields", f"line {number} has {len(cells)} fields, not {len(header)}")
            continue
        base = re.split(r"[\\/]", cells[0])[-1]
        match = _EVAL_NAME_RE.match(base)
        if base in seen:
            note("duplicate", f"line {number}: {cells[0]} appears twice")
        seen.add(base)
        if match is None:
            note("name", f"line {number}: filename {cells[0]!r} is not <n>.wav")
        elif not 0 <= int(match.group(1)) < expected_rows:
            note("index", f"line {number}: {cells[0]} is outside 0..{expected_rows - 1}.wav")
        if cells[1] not in class_names:
            note("label", f"line {number}: scene_label {cells[1]!r} is not a class")
        try:
            values = [float(v) for v in cells[2:]]
        except ValueError:
            note("number", f"line {number}: a probability is not a number")
            continue
        if not all(math.isfinite(v) and v >= 0 for v in values):
            note("number", f"line {number}: probabilities must be finite and non-negative")
        elif abs(sum(values) - 1.0) > SUM_TOLERANCE:
            note("sum", f"line {number}: probabilities sum to {sum(values):.6g}, not 1")
        elif cells[1] in class_names and not is_argmax(values, class_names.index(cells[1])):
            note("argmax", f"line {number}: scene_label {cells[1]} is not the most probable class")
    for messages in kinds.values():
        more = f" ({len(messages)} lines like this)" if len(messages) > 1 else ""
        problems.append(f"{source}: {messages[0]}{more}")
    if len(seen) != expected_rows:
        problems.append(f"{source}: {len(seen)} unique files, expected {expected_rows} for task {task}")
    return problems


@dataclass
class _MetaProblems:
    """The problems of one meta.yaml document, each prefixed with the document's name."""

    source: str
    found: list[str]

    def add(self, message: str) -> None:
        self.found.append(f"{self.source}: {message}")

    def need(self, block: object, keys: Sequence[str], where: str) -> None:
        """``block`` must be a mapping holding every key of ``keys``."""
        if not isinstance(block, dict):
            self.add(f"{where} must be a mapping with {', '.join(keys)}")
            return
        missing = [k for k in keys if k not in block]
        if missing:
            self.add(f"{where} lacks {', '.join(missing)}")


def check_meta(meta: object, task: str, label: str | None = None, source: str = "meta") -> CheckResult:
    """Problems (and placeholder warnings) of a meta.yaml document, as the official validator checks it."""
    result = CheckResult()
    problems = _MetaProblems(source, result.problems)
    if not isinstance(meta, dict):
        problems.add("not a YAML mapping with submission, system and results blocks")
        return result
    problems.need(meta, ["submission", "system", "results"], "the document")
    _check_submission_block(meta.get("submission") or {}, task, label, problems)
    _check_system_block(meta.get("system") or {}, task, problems)
    _check_results_block(meta.get("results") or {}, task, problems)
    result.warnings += [f"{source}: fill in {path}" for path in _placeholders(meta)]
    return result


def _check_submission_block(submission: object, task: str, label: str | None, problems: _MetaProblems) -> None:
    """``submission``: a well-formed label (the file names' one), a short abbreviation, the authors."""
    problems.need(submission, ["label", "name", "abbreviation", "authors"], "submission")
    if not isinstance(submission, dict):
        return
    if "label" in submission:
        for problem in check_label(str(submission["label"]), task):
            problems.add(f"submission.{problem}")
        if label is not None and submission["label"] != label:
            problems.add(f"submission.label {submission['label']!r} differs from the file names' {label!r}")
    if len(str(submission.get("abbreviation", ""))) > ABBREVIATION_MAX:
        problems.add(f"submission.abbreviation is longer than {ABBREVIATION_MAX} characters")
    _check_authors(submission.get("authors"), problems)


def _check_authors(authors: object, problems: _MetaProblems) -> None:
    """A non-empty list of authors with full details, exactly one of them corresponding."""
    if not isinstance(authors, list) or not authors:
        problems.add("submission.authors must be a list of authors")
        return
    for i, author in enumerate(authors):
        problems.need(author, ["lastname", "firstname", "email", "affiliation"], f"submission.authors[{i}]")
    corresponding = sum(1 for a in authors if isinstance(a, dict) and a.get("corresponding"))
    if corresponding != 1:
        problems.add(f"mark exactly one author as corresponding (found {corresponding})")


def _description_keys(task: str) -> list[str]:
    keys = [
        "input_sampling_rate", "acoustic_features", "embeddings", "data_augmentation", "machine_learning_method",
        "ensemble_method_subsystem_count", "decision_making", "external_data_usage",
    ]
    return keys + (["complexity_management"] if task == "1b" else [])


def _check_system_block(system: object, task: str, problems: _MetaProblems) -> None:
    """``system``: description fields, complexity (integer parameter count; 1b: sizes too), external datasets."""
    problems.need(system, ["description", "complexity", "external_datasets", "source_code"], "system")
    if not isinstance(system, dict):
        return
    problems.need(system.get("description"), _description_keys(task), "system.description")
    complexity = system.get("complexity")
    problems.need(complexity, ["total_parameters"] + (["total_parameters_non_zero", "model_size"] if task == "1b" else []), "system.complexity")
    if isinstance(complexity, dict) and not isinstance(complexity.get("total_parameters"), int):
        problems.add("system.complexity.total_parameters must be an integer")
    datasets = system.get("external_datasets")
    if datasets is not None and not isinstance(datasets, list):
        problems.add("system.external_datasets must be a list (may be empty)")
        return
    for i, item in enumerate(datasets or []):
        problems.need(item, ["name", "url", "total_audio_length"], f"system.external_datasets[{i}]")


def _check_results_block(results: object, task: str, problems: _MetaProblems) -> None:
    """``results.development_dataset``: overall, class-wise and (1a) device-wise accuracy and log loss."""
    problems.need(results, ["development_dataset"], "results")
    dev = results.get("development_dataset") if isinstance(results, dict) else None
    blocks: dict[str, Sequence[str] | None] = {"overall": None, "class_wise": classes_of(task)}
    if task == "1a":
        blocks["device_wise"] = DEVICES
    problems.need(dev, list(blocks), "results.development_dataset")
    if not isinstance(dev, dict):
        return
    for block, items in blocks.items():
        entries = dev.get(block)
        where = f"results.development_dataset.{block}"
        if entries is None:
            continue
        if items is None:
            _check_scores(entries, where, problems)
            continue
        problems.need(entries, list(items), where)
        if isinstance(entries, dict):
            for item in items:
                if item in entries:
                    _check_scores(entries[item], f"{where}.{item}", problems)


def _check_scores(scores: object, where: str, problems: _MetaProblems) -> None:
    if not isinstance(scores, dict) or any(k not in scores for k in ("accuracy", "logloss")):
        problems.add(f"{where} needs accuracy and logloss")
        return
    for key in ("accuracy", "logloss"):
        value = scores[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.add(f"{where}.{key} is not a number ({value!r})")


def _placeholders(node: object, path: str = "") -> list[str]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _placeholders(v, f"{path}.{k}" if path else str(k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _placeholders(v, f"{path}[{i}]")]
    return [path] if node == PLACEHOLDER else []


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


def output_text(filenames: Sequence[str], probs: np.ndarray, task: str) -> str:
    """The ``.output.csv`` text: header, then one row per clip with its argmax label."""
    return prediction_text(filenames, probs, classes_of(task))


def development_results(metrics: dict, task: str) -> dict:
    """``results.development_dataset`` from ``asckit.scoring.metrics.compute_metrics`` (accuracy in %)."""

    def scores(accuracy: float | None, logloss: float | None) -> dict:
        return {
            "accuracy": None if accuracy is None else round(100 * float(accuracy), 2),
            "logloss": None if logloss is None else round(float(logloss), 4),
        }

    results = {
        "overall": scores(metrics["macro_accuracy"], metrics["log_loss"]),
        "class_wise": {name: scores(v["accuracy"], v["log_loss"]) for name, v in metrics["per_class"].items()},
    }
    if task == "1a":
        per_device = metrics["per_device"]
        results["device_wise"] = {
            device: scores(per_device[device]["accuracy"], per_device[device]["log_loss"]) if device in per_device else scores(None, None)
            for device in DEVICES
        }
    return results


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
        "submission": {
            "label": label,
            "name": label,
            "abbreviation": label.split("_")[0][:ABBREVIATION_MAX],
            "authors": [
                {
                    "lastname": PLACEHOLDER,
                    "firstname": PLACEHOLDER,
                    "email": PLACEHOLDER,
                    "corresponding": True,
                    "affiliation": {"abbreviation": PLACEHOLDER, "institute": PLACEHOLDER, "location": PLACEHOLDER},
                }
            ],
        },
        "system": {
            "description": system_description,
            "complexity": system_complexity,
            "external_datasets": [],
            "source_code": PLACEHOLDER,
        },
        "results": {"development_dataset": dev_results},
    }


def merge(base: dict, overrides: dict) -> dict:
    """``overrides`` deep-merged over ``base`` (mappings merge key by key; anything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


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
    import yaml

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
