"""DCASE 2024 Task 1 (data-efficient, TAU22) submission packages, and a checker for them.

One job: write and check the package the 2024 challenge asks for (reference/dcase2025/README.md §6,
following the official validator, toni-heittola/dcase2024_task1_submission_validator, MIT; its rules
are re-stated here, its code is not used)::

    task1/<Label>/<Label>.output.split_{5,10,25,50,100}.csv
    task1/<Label>/<Label>.meta.yaml

- **Label**: ``<Lastname>_<Institute>_task1_<1-4>``.
- **Output** (one per training split): TAB-separated, header ``filename scene_label <the 10 scenes>``,
  one row per evaluation file ``audio/<n>.wav``, exactly 135,730 unique names ``0.wav`` …
  ``135729.wav`` (``asckit.tasks``' ``evaluation_clips``; the validator's figure, unconfirmed as the
  evaluation set's size); 12 fields per row. asckit's checks beyond the validator's (shared with
  2020, ``asckit.submission.common``): the exact column order, probabilities finite, non-negative,
  summing to 1, the label the most probable class.
- **Meta**: ``submission`` (label, name, abbreviation ≤ 10 characters, authors with exactly one
  corresponding); ``system`` (``description``: the ten ``DESCRIPTION_KEYS``; ``complexity``:
  ``total_model_size`` in bytes at the shipped precision, ``total_parameters`` (the validator
  reads it with ``int()``), ``macs``; ``external_datasets`` items with name, url,
  total_audio_length; ``source_code``); ``results.development_dataset.split_<N>`` for all five N.
  The validator checks that the five keys exist, not what they hold (it looks one level too high);
  asckit checks each one's ``overall``, ``class_wise`` (10 scenes) and ``device_wise`` (a … s6),
  each with numeric accuracy and logloss, and says that this is its own rule.
- **Complexity** is that of the run's model: parameters and torchinfo's MACs on the 1 s input
  (``asckit.models.counting``, as the organizers count them), parameter bytes at fp16 (the
  baselines ship fp16; ``SHIPPED_PRECISION``). The five splits are one system: a split whose
  figures differ from those already written is refused. The figures come from the run folder (the
  source, or ``--model RUN``), from an export bundle of the run (``--model BUNDLE``: parameter bytes
  at the precision the bundle deploys, int8 or fp16, as ``asckit export`` counted them), or from
  ``system.complexity`` in ``--info``.
- **A deployed bundle's outputs.** With ``--model BUNDLE`` the evaluation output must be the
  bundle's own (the model whose complexity is claimed): the source is then the prediction file
  ``asckit predict BUNDLE EVAL_ROOT/audio --out EVAL.tsv`` wrote, checked through its provenance
  sidecar (this bundle, its deployed precision's files); a run folder's ``predictions/test.tsv``
  (the torch model's, from ``asckit predict-split``) is refused with that command.

One ``asckit submission ... --task 2024 --split N`` call per split writes that split's output and
merges its development results into the one meta.yaml (a split written again replaces its own
entries only); ``--zip`` also writes ``OUT.zip`` in the package layout. ``asckit submission-check
PACKAGE.zip|FOLDER --task 2024`` applies the validator's rules and asckit's.
"""

from __future__ import annotations

import argparse
import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError
from asckit.labels import DEVICES
from asckit.labels import classes as classes_of
from asckit.submission.common import (
    PLACEHOLDER,
    CheckResult,
    MetaProblems,
    check_external_datasets,
    check_label,
    check_meta_document,
    check_output_text,
    check_results,
    development_results,
    expected_row_count,
    merge,
    output_text,
    read_info,
    run_prediction_files,
    submission_block,
)
from asckit.tasks import task_facts

TASK = "2024"
#: The training splits in %, one output file each.
SPLITS: tuple[int, ...] = task_facts(TASK).train_percentages
#: The validator's required ``system.description`` fields.
DESCRIPTION_KEYS: tuple[str, ...] = (
    "input_sampling_rate", "acoustic_features", "data_augmentation", "machine_learning_method", "external_data_usage",
    "complexity_management", "pipeline", "framework", "split_adaptations", "system_adaptations",
)
#: The validator's required ``system.complexity`` fields.
COMPLEXITY_KEYS: tuple[str, ...] = ("total_model_size", "total_parameters", "macs")
#: The precision the parameter bytes are counted at: the baselines ship fp16 (README §3).
SHIPPED_PRECISION = "fp16"
#: How asckit's own rules (beyond the validator's) are marked in a report.
OWN_RULE = "asckit's rule, beyond the validator"
#: The package's folder of task 1 files, as the validator reads it.
PACKAGE_FOLDER = "task1"
_OUTPUT_RE = re.compile(r"^(?P<label>[^.]+)\.output\.split_(?P<split>\d+)\.csv$")


def split_key(split: int) -> str:
    return f"split_{split}"


def output_name(label: str, split: int) -> str:
    return f"{label}.output.split_{split}.csv"


def meta_name(label: str) -> str:
    return f"{label}.meta.yaml"


# ----------------------------------------------------------------------------------------------
# Checks


def check_meta(meta: object, label: str | None = None, source: str = "meta", splits: tuple[int, ...] = SPLITS) -> CheckResult:
    """Problems (and placeholder warnings) of a 2024 meta.yaml document: the validator's rules, then
    asckit's (marked ``OWN_RULE``) on each split's results. ``splits``: the split keys required
    (all five in a package; fewer while ``asckit submission`` fills it in)."""
    def check_results_block(results: object, result: CheckResult) -> None:
        problems = MetaProblems(source, result.problems)
        problems.need(results, ["development_dataset"], "results")
        dev = results.get("development_dataset") if isinstance(results, dict) else None
        problems.need(dev, [split_key(s) for s in splits], "results.development_dataset")
        if not isinstance(dev, dict):
            return
        blocks = {"overall": None, "class_wise": classes_of(TASK), "device_wise": DEVICES}
        # The validator's check one level too high: blocks at the top of development_dataset, when there.
        present = {block: items for block, items in blocks.items() if dev.get(block)}
        if present:
            check_results(dev, present, "results.development_dataset", problems)
        own = MetaProblems(f"{source} ({OWN_RULE})", result.problems)
        for split in splits:
            if split_key(split) in dev:
                check_results(dev[split_key(split)], blocks, f"results.development_dataset.{split_key(split)}", own)

    return check_meta_document(meta, TASK, label, source, _check_system_block, check_results_block)


def _check_system_block(system: object, problems: MetaProblems) -> None:
    """``system``: the description fields, the complexity figures (total_parameters readable by
    ``int()``, as the validator reads it), the external datasets."""
    problems.need(system, ["description", "complexity", "external_datasets", "source_code"], "system")
    if not isinstance(system, dict):
        return
    problems.need(system.get("description"), list(DESCRIPTION_KEYS), "system.description")
    complexity = system.get("complexity")
    problems.need(complexity, list(COMPLEXITY_KEYS), "system.complexity")
    total = complexity.get("total_parameters") if isinstance(complexity, dict) else None
    if not _reads_as_int(total):
        problems.add(f"system.complexity.total_parameters must be an integer ({total!r})")
    check_external_datasets(system.get("external_datasets"), problems)


def _reads_as_int(value: object) -> bool:
    """Whether Python's ``int()`` reads ``value``, as the validator's ``is_int`` asks."""
    if value is None or isinstance(value, (bool, list, dict)):
        return False
    try:
        int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def check_package(path: str | os.PathLike, rows: int | None = None) -> CheckResult:
    """Check a 2024 package: ``OUT.zip`` (``task1/<Label>/...``) or a folder (holding ``task1/`` or
    the label's files themselves, as ``asckit submission --out`` leaves them)."""
    path = Path(path)
    result = CheckResult()
    expected_row_count(TASK, rows)
    if path.is_dir():
        files = _folder_files(path)
    elif path.is_file():
        try:
            files = _zip_files(path, result)
        except zipfile.BadZipFile as exc:
            result.problems.append(f"{path}: not a zip file ({exc}); give the package zip or its folder")
            return result
    else:
        result.problems.append(f"{path}: not found; give the package zip or its folder (`asckit submission ... --zip`)")
        return result
    groups: dict[str | None, dict[str, Callable[[], bytes]]] = {}
    if path.is_dir() and not (path / PACKAGE_FOLDER).is_dir():
        groups = {None: files} if files else {}  # a plain folder: the label's files themselves
    else:
        for name, read in files.items():
            if PACKAGE_FOLDER not in name or name.lower().endswith(".pdf"):
                continue  # the validator looks only at these
            folder, _, base = name.rpartition("/")
            parts = folder.split("/") if folder else []
            if len(parts) != 2 or parts[0] != PACKAGE_FOLDER:
                result.problems.append(f"{path}: {name} is not under {PACKAGE_FOLDER}/<Label>/ (the task indicator must be {PACKAGE_FOLDER})")
                continue
            groups.setdefault(parts[1], {})[base] = read
    if not groups:
        result.problems.append(f"{path}: no {PACKAGE_FOLDER}/<Label>/ files; write them with `asckit submission ... --task 2024`")
    for group, members in groups.items():
        _check_label_folder(path, group, members, rows, result)
    return result


def _folder_files(folder: Path) -> dict[str, Callable[[], bytes]]:
    """A folder's files: by package path when it holds ``task1/``, else its own files by name."""
    if (folder / PACKAGE_FOLDER).is_dir():
        return {p.relative_to(folder).as_posix(): p.read_bytes for p in sorted(folder.rglob("*")) if p.is_file()}
    return {p.name: p.read_bytes for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}


def _zip_files(path: Path, result: CheckResult) -> dict[str, Callable[[], bytes]]:
    archive = zipfile.ZipFile(path)
    bad = archive.testzip()
    if bad is not None:
        result.problems.append(f"{path}: {bad} is damaged in the zip; write the package again")
    return {info.filename: (lambda name=info.filename: archive.read(name)) for info in archive.infolist() if not info.is_dir()}


def _check_label_folder(package: Path, folder: str | None, members: dict[str, Callable[[], bytes]], rows: int | None, result: CheckResult) -> None:
    """One ``task1/<Label>/`` folder (``folder`` None: a plain folder of the label's files)."""
    import yaml

    where = f"{package}" + (f" {PACKAGE_FOLDER}/{folder}" if folder else "")
    outputs: dict[int, str] = {}
    metas = [name for name in members if name.endswith(".meta.yaml")]
    for name in members:
        match = _OUTPUT_RE.match(name)
        if match and int(match.group("split")) in SPLITS:
            outputs[int(match.group("split"))] = name
        elif name not in metas:
            result.problems.append(f"{where}: {name} is not <Label>.output.split_<5|10|25|50|100>.csv or <Label>.meta.yaml")
    if len(metas) != 1:
        result.problems.append(f"{where}: needs one <Label>.meta.yaml, found {len(metas)}")
        return
    missing = [s for s in SPLITS if s not in outputs]
    if missing:
        result.problems.append(f"{where} ({OWN_RULE}): no output for split {', '.join(map(str, missing))}; "
                               "write it with `asckit submission ... --split N`")
    try:
        meta = yaml.safe_load(members[metas[0]]().decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        result.problems.append(f"{where}/{metas[0]}: not valid YAML ({str(exc).splitlines()[0]})")
        return
    label = meta.get("submission", {}).get("label") if isinstance(meta, dict) and isinstance(meta.get("submission"), dict) else None
    meta_check = check_meta(meta, None, source=f"{where}/{metas[0]}")
    result.problems += meta_check.problems
    result.warnings += meta_check.warnings
    if label is None:
        return
    if folder is not None and folder != label:
        result.problems.append(f"{where}: the folder name differs from submission.label {label!r}")
    for name in [metas[0], *outputs.values()]:
        if name.split(".")[0] != label:
            result.problems.append(f"{where}/{name}: its label differs from submission.label {label!r}")
    for split in sorted(outputs):
        text = members[outputs[split]]().decode("utf-8", errors="replace")
        result.problems += check_output_text(text, TASK, rows, source=f"{where}/{outputs[split]}")


# ----------------------------------------------------------------------------------------------
# Writing


def meta_document(label: str) -> dict:
    """The generated meta.yaml content without results and complexity; author fields are
    placeholders to fill via ``--info`` (one placeholder author, marked corresponding)."""
    facts = task_facts(TASK)
    return {
        "submission": submission_block(label),
        "system": {
            "description": {
                "input_sampling_rate": f"{facts.sample_rate / 1000:g}kHz",
                "acoustic_features": "log-mel energies",
                "data_augmentation": PLACEHOLDER,
                "machine_learning_method": "CNN",
                "external_data_usage": None,
                "complexity_management": SHIPPED_PRECISION,
                "pipeline": "training",
                "framework": "pytorch",
                "split_adaptations": None,
                "system_adaptations": None,
            },
            "complexity": {},
            "external_datasets": [],
            "source_code": PLACEHOLDER,
        },
        "results": {"development_dataset": {}},
    }


def run_complexity(run: str | os.PathLike, precision: str = SHIPPED_PRECISION) -> dict:
    """``system.complexity`` of a task 2024 run's model: parameter bytes at ``precision``, parameters
    and torchinfo's MACs on the 1 s input (built on the meta device: no weights are read)."""
    import torch

    from asckit.models import build
    from asckit.models.counting import complexity
    from asckit.models.registry import clip_shape
    from asckit.train.run_dir import RunDir

    config = RunDir(run).load_config()
    if config.task != TASK:
        raise AsckitError(f"{run}: a run of task {config.task}, not a 2024 one; give the run of the submitted system")
    with torch.device("meta"):
        model = build(config.model.name, num_classes=config.num_classes, width=config.model.width, **config.model.params)
    counts = complexity(model, clip_shape(config.model.name, task=TASK), macs_by="torchinfo")
    return {"total_model_size": counts.param_bytes(precision), "total_parameters": counts.params, "macs": counts.macs}


def _comparable(complexity: object) -> dict:
    return {k: complexity.get(k) for k in COMPLEXITY_KEYS} if isinstance(complexity, dict) else {}


def build_meta(existing: dict | None, label: str, split: int, dev_results: dict, complexity: dict | None, info: dict, source: str) -> dict:
    """The meta.yaml after writing ``split``: the generated document, then what ``existing`` (the
    file as earlier calls left it) holds, then the model's ``complexity``, then ``info``; this
    split's results replace its own entries only. A complexity that differs from the one the other
    splits were written with is an AsckitError."""
    document = merge(meta_document(label), existing or {})
    if complexity is not None:
        document["system"]["complexity"] = merge(document["system"].get("complexity") or {}, complexity)
    document = merge(document, info)
    dev = (existing or {}).get("results", {}).get("development_dataset") or {}
    others = [k for k in dev if k != split_key(split)]
    old, new = _comparable(((existing or {}).get("system") or {}).get("complexity")), _comparable(document["system"].get("complexity"))
    if others and old != new:
        raise AsckitError(
            f"{source}: split {split}'s model has complexity {new}, but {', '.join(others)} were written with {old}; "
            "the five splits are one system: submit the same model trained on each split, or write to a new --out"
        )
    if not all(new.get(k) is not None for k in COMPLEXITY_KEYS):
        raise AsckitError(
            f"{source}: no complexity figures ({', '.join(COMPLEXITY_KEYS)}); give a run folder (as the source or "
            "--model RUN), or system.complexity in --info"
        )
    complexity_block = document["system"]["complexity"]
    document["system"]["complexity"] = {**{k: complexity_block[k] for k in COMPLEXITY_KEYS}, **complexity_block}
    merged_dev = {**dev, split_key(split): dev_results}
    document["results"] = {**(document.get("results") or {}), "development_dataset": {
        split_key(s): merged_dev[split_key(s)] for s in SPLITS if split_key(s) in merged_dev
    }}
    return document


def read_existing_meta(path: Path) -> dict | None:
    """The meta.yaml an earlier call wrote (None when there is none), or a one-line AsckitError."""
    import yaml

    if not path.is_file():
        return None
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AsckitError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}); fix it or remove it to start the package again") from None
    if not isinstance(meta, dict):
        raise AsckitError(f"{path}: not a meta.yaml mapping; fix it or remove it to start the package again")
    return meta


def write_split(
    out_dir: str | os.PathLike,
    label: str,
    split: int,
    filenames: list[str],
    probs: np.ndarray,
    dev_results: dict,
    complexity: dict | None,
    info: dict,
    rows: int | None = None,
) -> tuple[Path, Path, CheckResult]:
    """Check, then write ``<label>.output.split_<split>.csv`` and merge ``split`` into
    ``<label>.meta.yaml`` in ``out_dir``. Nothing is written when a rule is broken."""
    import yaml

    from asckit.core.io_utils import atomic_write_text

    out_dir = Path(out_dir)
    output_path, meta_path = out_dir / output_name(label, split), out_dir / meta_name(label)
    meta = build_meta(read_existing_meta(meta_path), label, split, dev_results, complexity, info, str(meta_path))
    written = tuple(s for s in SPLITS if split_key(s) in meta["results"]["development_dataset"])
    text = output_text(filenames, probs, TASK)
    problems = check_label(label, TASK)
    problems += check_output_text(text, TASK, rows, source=output_path.name)
    meta_check = check_meta(meta, label, source=meta_path.name, splits=written)
    problems += meta_check.problems
    if problems:
        raise AsckitError(f"submission not written, {len(problems)} problem(s): {'; '.join(problems[:4])}")
    atomic_write_text(output_path, text)
    atomic_write_text(meta_path, yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
    return output_path, meta_path, meta_check


def zip_path(out_dir: str | os.PathLike) -> Path:
    """``OUT.zip`` beside the folder ``OUT``."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + ".zip")


def write_zip(out_dir: str | os.PathLike, label: str) -> tuple[Path, list[int]]:
    """``OUT.zip`` with the label's files of ``out_dir`` as ``task1/<label>/...``; returns it and the
    splits it lacks."""
    from asckit.core.io_utils import atomic_path

    out_dir = Path(out_dir)
    names = [output_name(label, s) for s in SPLITS if (out_dir / output_name(label, s)).is_file()] + [meta_name(label)]
    target = zip_path(out_dir)
    with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.write(out_dir / name, f"{PACKAGE_FOLDER}/{label}/{name}")
    return target, [s for s in SPLITS if not (out_dir / output_name(label, s)).is_file()]


# ----------------------------------------------------------------------------------------------
# Command handlers (chosen by asckit.submission.commands for --task 2024)


def run_submission(args: argparse.Namespace) -> int:
    """Handler of ``asckit submission --task 2024``: one split into the package folder."""
    from asckit.core.io_utils import refuse_output_over_input
    from asckit.data.tau import load_split
    from asckit.predictions.reader import read_predictions
    from asckit.scoring.metrics import compute_metrics
    from asckit.submission.dcase2020 import default_out

    if args.split is None:
        raise AsckitError(f"--task 2024 needs --split N, the training split in % of these predictions ({', '.join(map(str, SPLITS))})")
    for problem in check_label(args.label, TASK):  # before any file is read
        raise AsckitError(f"--label: {problem}")
    if args.out is None:
        args.out = default_out(args.source)
    inputs = [args.source, args.dev, args.root, args.model, args.info]
    outputs = [args.out, args.out / output_name(args.label, args.split), args.out / meta_name(args.label)]
    for out in outputs + ([zip_path(args.out)] if args.zip else []):
        refuse_output_over_input(out, inputs)
    eval_path, dev_path, root, model_run, bundle = _inputs(args)
    evaluation = read_predictions(eval_path)
    dev = read_predictions(dev_path)
    for path, predictions in ((eval_path, evaluation), (dev_path, dev)):
        if tuple(predictions.classes) != classes_of(TASK):
            raise AsckitError(f"{path}: holds {len(predictions.classes)}-class predictions, not the 10 scenes of task 2024")
    metrics = compute_metrics(load_split(root, "evaluate"), dev, truth_source=f"{root} evaluate split")
    complexity = bundle_complexity(bundle) if bundle is not None else run_complexity(model_run) if model_run is not None else None
    info = read_info(args.info)
    if bundle is not None:  # what the figures are counted at; the user's --info still wins
        info = merge({"system": {"description": {"complexity_management": deployed_precision(bundle)}}}, info)
    dev_results = development_results(metrics, device_wise=True)
    output_path, meta_path, check = write_split(
        args.out, args.label, args.split, evaluation.filenames, evaluation.probs, dev_results, complexity, info, args.rows,
    )
    for warning in check.warnings:
        print(f"asckit: warning: {warning} (pass --info INFO.yaml)")
    overall = dev_results["overall"]
    print(f"wrote {output_path} ({len(evaluation)} clips) and {meta_path}")
    print(f"split {args.split} development: accuracy {overall['accuracy']} %, log loss {overall['logloss']}")
    if args.zip:
        target, missing = write_zip(args.out, args.label)
        note = f" (no split {', '.join(map(str, missing))} yet)" if missing else ""
        print(f"wrote {target}{note}")
    return 0


def _inputs(args: argparse.Namespace):
    """Evaluation predictions, development predictions, development root, and the run or the export
    bundle (``asckit.deploy.bundle.Bundle``) to count."""
    source: Path = args.source
    model_run, bundle = _model_source(args.model) if args.model is not None else (None, None)
    if bundle is not None:
        _require_bundle_predictions(source, bundle)
    if source.is_dir():
        from asckit.train.run_dir import RunDir

        run = RunDir(source)
        config = run.load_config()
        trained = config.data.split or 100
        if config.task != TASK or trained != args.split:
            raise AsckitError(
                f"{source}: a task {config.task} run trained on split {trained}, not a 2024 run of split {args.split}; "
                "give the run of this split (or --split of this run)"
            )
        eval_path, dev_path = run_prediction_files(run, source, args.dev)
        return eval_path, dev_path, args.root or Path(config.data.root), model_run or source, None
    if not source.exists():
        raise AsckitError(f"{source}: no such run folder or prediction file; check the path")
    if args.dev is None or args.root is None:
        raise AsckitError(f"{source}: with a prediction file, give --dev DEV.tsv and --root DEV_ROOT for the development results")
    return source, args.dev, args.root, model_run, bundle


def _model_source(model: Path):
    """``--model`` for 2024: a run folder (its model counted at fp16), or (None, the export bundle) of a 2024 run."""
    from asckit.deploy.bundle import BUNDLE_FILE, Bundle
    from asckit.train.run_dir import RunDir

    if (model / BUNDLE_FILE).is_file() or (model.name == BUNDLE_FILE and model.is_file()):
        bundle = Bundle.read(model)
        if bundle.info.task != TASK:
            raise AsckitError(f"--model {model}: a bundle of task {bundle.info.task}, not of a 2024 run; "
                              "give the bundle `asckit export` wrote for the submitted 2024 run")
        if not {"param_bytes", "total_parameters", "macs"} <= set(bundle.complexity):
            raise AsckitError(f"--model {model}: the bundle records no parameter memory; re-export the run with this asckit")
        return None, bundle
    if not RunDir(model).has_config():
        raise AsckitError(
            f"--model {model}: neither a run folder (config.yaml) nor an export bundle (bundle.json); give the submitted "
            "model's run folder or its `asckit export` bundle, or system.complexity in --info"
        )
    return model, None


def bundle_complexity(bundle) -> dict:
    """``system.complexity`` of an export bundle of a 2024 run: the parameter bytes at the precision it
    deploys, its parameters and torchinfo's MACs on the 1 s input, as ``asckit export`` counted them
    (for a bundle of several models, the largest: ``asckit.deploy.export``)."""
    figures = bundle.complexity
    return {"total_model_size": int(figures["param_bytes"]), "total_parameters": int(figures["total_parameters"]),
            "macs": int(figures["macs"])}


def deployed_precision(bundle) -> str:
    """``system.description.complexity_management`` of a bundle's submission, e.g. "int8 (static quantization, asckit export)"."""
    how = f"{bundle.int8_mode} quantization" if bundle.precision == "int8" and bundle.int8_mode else "weights stored at this precision"
    return f"{bundle.precision} ({how}, asckit export)"


def _require_bundle_predictions(source: Path, bundle) -> None:
    """The evaluation output of a ``--model BUNDLE`` submission is the bundle's own: ``source`` is a prediction
    file whose provenance says ``asckit predict`` wrote it with this bundle's deployed files."""
    from asckit.deploy.bundle import BUNDLE_FILE
    from asckit.predictions.file_format import provenance_path, read_provenance

    fix = (f"classify the evaluation set with the bundle (`asckit predict {bundle.folder} EVAL_ROOT/audio --out EVAL.tsv`) "
           "and give EVAL.tsv as the source, with --dev and --root")
    if source.is_dir():
        raise AsckitError(f"--model {bundle.folder}: the evaluation output must be the bundle's, not {source}'s torch predictions; {fix}")
    record = read_provenance(source) if source.is_file() else None
    if record is None:
        raise AsckitError(f"{source}: no provenance sidecar ({provenance_path(source).name}) says the bundle {bundle.folder} made it; {fix}")
    made_with = Path(str(record.get("model", "")))
    made_with = made_with.parent if made_with.name == BUNDLE_FILE else made_with
    deployed = [m.files.get(bundle.precision) for m in bundle.members]
    if record.get("made_by") != "asckit predict" or made_with != Path(bundle.folder).resolve():
        raise AsckitError(f"{source}: made by {record.get('made_by')} with {record.get('model') or record.get('run')}, "
                          f"not by asckit predict with the bundle {bundle.folder}; {fix}")
    if record.get("member_files") != deployed:
        raise AsckitError(f"{source}: made with the bundle's {', '.join(record.get('member_files') or [])}, not the {bundle.precision} "
                          f"files it deploys ({', '.join(map(str, deployed))}); predict again without --precision")


def run_submission_check(args: argparse.Namespace) -> int:
    """Handler of ``asckit submission-check PACKAGE --task 2024``: exit 0 when it follows the rules, 1 otherwise."""
    expected_row_count(TASK, args.rows)  # a bad --rows is a usage error, not a problem of the files
    result = check_package(args.output, args.rows)
    for problem in result.problems:
        print(f"problem: {problem}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    print("submission package follows the rules" if result.ok else f"{len(result.problems)} problem(s)")
    return 0 if result.ok else 1
