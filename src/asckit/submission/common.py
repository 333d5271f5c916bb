"""What the DCASE Task 1 submission formats of every edition share (2020: ``dcase2020``; 2024:
``dcase2024``): the problem list of a check, the label rule, the output-file checker, the meta
checks of authors and scores, the development-results block and the ``--info`` merge.

One job: the pieces two editions would otherwise each spell out. An edition's own rules (its file
names, its meta keys, its package layout) stay in its module.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError
from asckit.labels import DEVICES
from asckit.labels import classes as classes_of
from asckit.predictions.file_format import SUM_TOLERANCE, is_argmax, prediction_text
from asckit.predictions.file_format import header as prediction_header
from asckit.tasks import TASKS

#: Evaluation-set sizes (unique files) the official validators expect, for the tasks that have one.
EXPECTED_ROWS: dict[str, int] = {name: task.evaluation_clips for name, task in TASKS.items() if task.evaluation_clips}
PLACEHOLDER = "TODO"
ABBREVIATION_MAX = 10
#: The third part of a label: the validators' task indicator (2020 ``task1a``/``task1b``; 2024 ``task1``).
LABEL_TASK_PART: dict[str, str] = {"1a": "task1a", "1b": "task1b", "2024": "task1", "2025": "task1"}
_LABEL_RE = re.compile(r"^[^_\s]+_[^_\s]+_task1[ab]?_[1-4]$")
_EVAL_NAME_RE = re.compile(r"^(\d+)\.wav$")


@dataclass
class CheckResult:
    """Problems break the submission rules; warnings are placeholders still to fill in."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_label(label: str, task: str) -> list[str]:
    """Problems with a submission label (empty when it is well formed for ``task``)."""
    part = LABEL_TASK_PART[task]
    if not _LABEL_RE.match(label):
        return [f"label {label!r} must be <Lastname>_<Institute>_{part}_<1-4>, with no other '_'"]
    if label.split("_")[2] != part:
        return [f"label {label!r} names {label.split('_')[2]}, but this is a {part} submission: use <Lastname>_<Institute>_{part}_<1-4>"]
    return []


def expected_row_count(task: str, rows: int | None) -> int:
    """The evaluation clips an output file must hold: ``rows`` (--rows, checked) or the official count."""
    if rows is not None and rows < 1:
        raise AsckitError(f"--rows {rows}: give the number of evaluation clips, 1 or more")
    return EXPECTED_ROWS[task] if rows is None else rows


def check_output_text(text: str, task: str, rows: int | None = None, source: str = "output") -> list[str]:
    """Problems with the text of an output file (at most one line per kind, with counts)."""
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


def output_text(filenames: Sequence[str], probs: np.ndarray, task: str) -> str:
    """An output file's text: header, then one row per clip with its argmax label. Each filename is
    written as the evaluation set names it, ``audio/<n>.wav``, whatever folder the predictions were
    made from (``asckit predict BUNDLE /data/eval/audio`` keys its rows by the paths it was given:
    a machine's own paths do not belong in a submission)."""
    return prediction_text(["audio/" + re.split(r"[\\/]", name)[-1] for name in filenames], probs, classes_of(task))


@dataclass
class MetaProblems:
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


def check_authors(authors: object, problems: MetaProblems) -> None:
    """A non-empty list of authors with full details, exactly one of them corresponding."""
    if not isinstance(authors, list) or not authors:
        problems.add("submission.authors must be a list of authors")
        return
    for i, author in enumerate(authors):
        problems.need(author, ["lastname", "firstname", "email", "affiliation"], f"submission.authors[{i}]")
    corresponding = sum(1 for a in authors if isinstance(a, dict) and a.get("corresponding"))
    if corresponding != 1:
        problems.add(f"mark exactly one author as corresponding (found {corresponding})")


def check_submission_block(submission: object, task: str, label: str | None, problems: MetaProblems) -> None:
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
    check_authors(submission.get("authors"), problems)


def check_meta_document(
    meta: object,
    task: str,
    label: str | None,
    source: str,
    check_system: Callable[[object, MetaProblems], None],
    check_results_block: Callable[[object, CheckResult], None],
) -> CheckResult:
    """Problems (and placeholder warnings) of a meta.yaml document: the shape every edition's
    validator checks (a mapping of submission, system and results blocks, the submission block),
    then the edition's own ``check_system(system, problems)`` and ``check_results_block(results,
    result)`` (given the whole result, so it may add problems under its own source name)."""
    result = CheckResult()
    problems = MetaProblems(source, result.problems)
    if not isinstance(meta, dict):
        problems.add("not a YAML mapping with submission, system and results blocks")
        return result
    problems.need(meta, ["submission", "system", "results"], "the document")
    check_submission_block(meta.get("submission") or {}, task, label, problems)
    check_system(meta.get("system") or {}, problems)
    check_results_block(meta.get("results") or {}, result)
    result.warnings += [f"{source}: fill in {path}" for path in placeholders(meta)]
    return result


def check_external_datasets(datasets: object, problems: MetaProblems) -> None:
    """``system.external_datasets``: a list (may be empty) of items with name, url and total_audio_length."""
    if datasets is not None and not isinstance(datasets, list):
        problems.add("system.external_datasets must be a list (may be empty)")
        return
    for i, item in enumerate(datasets or []):
        problems.need(item, ["name", "url", "total_audio_length"], f"system.external_datasets[{i}]")


def check_results(dev: object, blocks: dict[str, Sequence[str] | None], where: str, problems: MetaProblems) -> None:
    """``dev`` holds each of ``blocks`` (overall: None; class_wise, device_wise: their items), each
    score with a numeric accuracy and logloss."""
    problems.need(dev, list(blocks), where)
    if not isinstance(dev, dict):
        return
    for block, items in blocks.items():
        entries = dev.get(block)
        block_where = f"{where}.{block}"
        if entries is None:
            continue
        if items is None:
            check_scores(entries, block_where, problems)
            continue
        problems.need(entries, list(items), block_where)
        if isinstance(entries, dict):
            for item in items:
                if item in entries:
                    check_scores(entries[item], f"{block_where}.{item}", problems)


def check_scores(scores: object, where: str, problems: MetaProblems) -> None:
    if not isinstance(scores, dict) or any(k not in scores for k in ("accuracy", "logloss")):
        problems.add(f"{where} needs accuracy and logloss")
        return
    for key in ("accuracy", "logloss"):
        value = scores[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.add(f"{where}.{key} is not a number ({value!r})")


def placeholders(node: object, path: str = "") -> list[str]:
    """The paths of the ``PLACEHOLDER`` values in a meta document."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in placeholders(v, f"{path}.{k}" if path else str(k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in placeholders(v, f"{path}[{i}]")]
    return [path] if node == PLACEHOLDER else []


def development_results(metrics: dict, device_wise: bool) -> dict:
    """The development results block from ``asckit.scoring.metrics.compute_metrics``: overall,
    class-wise and (``device_wise``) device-wise macro accuracy in % and log loss."""

    def scores(accuracy: float | None, logloss: float | None) -> dict:
        return {
            "accuracy": None if accuracy is None else round(100 * float(accuracy), 2),
            "logloss": None if logloss is None else round(float(logloss), 4),
        }

    results = {
        "overall": scores(metrics["macro_accuracy"], metrics["log_loss"]),
        "class_wise": {name: scores(v["accuracy"], v["log_loss"]) for name, v in metrics["per_class"].items()},
    }
    if device_wise:
        per_device = metrics["per_device"]
        results["device_wise"] = {
            device: scores(per_device[device]["accuracy"], per_device[device]["log_loss"]) if device in per_device else scores(None, None)
            for device in DEVICES
        }
    return results


def submission_block(label: str) -> dict:
    """The generated ``submission`` block: the label as name, its first part as abbreviation (at most
    ``ABBREVIATION_MAX`` characters), one placeholder author (:func:`placeholder_authors`)."""
    return {"label": label, "name": label, "abbreviation": label.split("_")[0][:ABBREVIATION_MAX], "authors": placeholder_authors()}


def placeholder_authors() -> list[dict]:
    """One placeholder author, marked corresponding (the validators want exactly one), to fill via ``--info``."""
    return [
        {
            "lastname": PLACEHOLDER,
            "firstname": PLACEHOLDER,
            "email": PLACEHOLDER,
            "corresponding": True,
            "affiliation": {"abbreviation": PLACEHOLDER, "institute": PLACEHOLDER, "location": PLACEHOLDER},
        }
    ]


def merge(base: dict, overrides: dict) -> dict:
    """``overrides`` deep-merged over ``base`` (mappings merge key by key; anything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def run_prediction_files(run, source: Path, dev: Path | None) -> tuple[Path, Path]:
    """A run folder's evaluation-set predictions (``predictions/test.tsv``) and development predictions
    (``dev``, else ``predictions/evaluate.tsv``), each required to exist, with the command that makes a
    missing one. ``run`` is the ``RunDir`` of ``source``."""
    eval_path = run.predictions("test")
    dev_path = dev or run.predictions("evaluate")
    for path, split in ((eval_path, "test"), (dev_path, "evaluate")):
        if not path.is_file():
            raise AsckitError(
                f"{path}: missing; run `asckit predict-split {source} --split {split}` first"
                + (" with --root/--store of the evaluation set" if split == "test" else "")
            )
    return eval_path, dev_path


def read_info(path: Path | None) -> dict:
    """The ``--info INFO.yaml`` mapping (empty when not given), or a one-line AsckitError."""
    import yaml

    if path is None:
        return {}
    try:
        info = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AsckitError(f"{path}: not a readable YAML file ({str(exc).splitlines()[0]})") from None
    if not isinstance(info, dict):
        raise AsckitError(f"{path}: must be a mapping of meta.yaml fields (submission: ..., system: ...)")
    return info
