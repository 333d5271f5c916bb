"""The deployment commands: ``asckit export`` (trained runs → bundle) and ``asckit predict``
(bundle → classified audio files).

One job: argument parsing and the handlers; the work is in ``asckit.deploy.export`` (torch,
imported inside the handler) and ``asckit.deploy.runtime`` (numpy and ONNX Runtime). Here too: which
members a run becomes (``RunToExport.members``: a TAU22 run's general and device models), the
printed report, predict's summary of which model classified the files (stderr) and the provenance
sidecar of its ``--out`` file (``predict_provenance``: the model, and per file its device id and model).
``python -m asckit.deploy MODEL PATH...`` runs ``asckit predict`` alone, for the base
install.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asckit.core.cli_types import positive_float, positive_int
from asckit.core.errors import AsckitError, ProblemsFound
from asckit.deploy.bundle import GENERAL_MEMBER, PRECISIONS, DeviceRouting, device_member_name
from asckit.deploy.export import INT8_MODES, Evaluation, Member, export_bundle, features_of_files
from asckit.features.logmel import LogMelSettings
from asckit.labels import classes as classes_of
from asckit.tasks import MACS_CLIP_SECONDS


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``asckit export`` and ``asckit predict``."""
    add_export_command(subparsers)
    add_predict_command(subparsers)


# ----------------------------------------------------------------------------------------------
# asckit export


def add_export_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``asckit export``."""
    parser = subparsers.add_parser(
        "export",
        help="export trained runs to ONNX fp32, fp16 and int8 (size, budget, parity)",
        description=(
            "Export each RUN (its snapshot checkpoints averaged into one graph) to ONNX fp32 and int8 "
            "and write a bundle that `asckit predict` runs. Several RUNs make an ensemble. "
            "int8 'static' (QDQ, per-channel, calibrated on training clips) is fast; 'dynamic' (the "
            "paper's dynamic-range quantization) only shrinks the file and runs slower than fp32. "
            "A TAU22 run (DCASE 2024/2025) gives one bundle with its general model and every device "
            "model, each also in fp16 (weights stored as float16, computed in float32), and each "
            "model's parameter bytes and MACs against the 2023-2025 limits."
        ),
    )
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folder(s) written by `asckit train`")
    parser.add_argument("--int8", choices=INT8_MODES, default="static", help="int8 quantization (default: static)")
    parser.add_argument("--fp32-only", action="store_true", help="deploy fp32, no int8 (or fp16) files")
    parser.add_argument("--deploy", choices=PRECISIONS, default=None,
                        help="the precision the bundle deploys (default: int8; fp32 with --fp32-only; fp16 for TAU22 runs only)")
    parser.add_argument("--out", type=Path, help="bundle folder (default: RUN/export for one run)")
    parser.add_argument("--budget-kb", type=positive_float, default=None, help="size budget of the deployed files (default: 500 for 1b, none for 1a)")
    parser.add_argument("--snapshots", type=positive_int, default=None,
                        help="average the last K snapshots (cycle ends, then a cut final epoch; default: the run's K; 1 = smallest file)")
    parser.add_argument("--calibration-clips", type=positive_int, default=256, help="training clips for static calibration (default 256)")
    parser.add_argument("--fusion", type=Path, metavar="FUSION.json", help="logistic fusion fitted by `asckit fuse --logistic --save-fusion`")
    parser.add_argument("--root", type=Path, help="dataset root (default: the run's)")
    parser.add_argument("--no-parity", action="store_true", help="skip the int8-vs-fp32 check on the evaluate split")
    parser.set_defaults(func=run_export)


@dataclass
class RunToExport:
    """What ``asckit export`` needs from a training run directory (``settings`` None and
    ``tau22`` for a run of the TAU22 protocols; ``devices`` those with a model of their own)."""

    name: str
    task: str
    classes: tuple[str, ...]
    settings: LogMelSettings | None
    root: Path
    train_split: str
    modules: list[Any] = field(default_factory=list)
    checkpoints: list[Path] = field(default_factory=list)
    tau22: bool = False
    percent: int | None = None
    devices: tuple[str, ...] = ()

    def members(self) -> tuple[list[Member], DeviceRouting | None]:
        """The bundle's members: the run (2020), or its general model and each device model, with
        the routing that picks one of them per recording (TAU22)."""
        if not self.tau22:
            return [Member(self.name, self.modules)], None
        if not self.devices:
            return [Member(GENERAL_MEMBER, self.modules)], DeviceRouting(GENERAL_MEMBER, {})
        members = [Member(GENERAL_MEMBER, [m.base_model for m in self.modules])]
        members += [Member(device_member_name(d), [m.device_models[d] for m in self.modules]) for d in self.devices]
        return members, DeviceRouting(GENERAL_MEMBER, {d: device_member_name(d) for d in self.devices})


def load_run(run_dir: str | os.PathLike, snapshots: int | None = None) -> RunToExport:
    """Read a run written by ``asckit train``: its config, feature settings and the snapshot
    checkpoints ``asckit predict-split`` averages (``RunDir.snapshot_checkpoints``); ``snapshots``
    overrides the run's K (each snapshot adds its weights to the exported graph)."""
    import torch

    from asckit.features.store import FeatureStore
    from asckit.tasks import stored_to_input_shape
    from asckit.train.predict import load_checkpoint_model
    from asckit.train.run_dir import RunDir

    run = RunDir(run_dir)
    config = run.load_config()
    checkpoints = run.snapshot_checkpoints(snapshots or config.snapshots, explicit=snapshots is not None)
    store = FeatureStore.open(config.data.store)
    if config.is_tau22 != store.holds_waves:
        raise AsckitError(f"{config.data.store}: a {'log-mel' if config.is_tau22 else 'waveform'} store for a task {config.task} run; "
                          "give the run the store it was trained on (data.store in its config.yaml)")
    settings = None if store.holds_waves else store.settings
    if settings is not None and settings.clip_seconds is None:
        raise AsckitError(f"{config.data.store}: features have no fixed clip length; export needs the training clip length")
    in_channels = store.shape[0] if store.holds_waves else stored_to_input_shape(store.shape)[0]
    modules = [load_checkpoint_model(path, config, in_channels, torch.device("cpu")) for path in checkpoints]
    for path, module in zip(checkpoints, modules):  # a NaN model must not be deployed
        if not all(torch.isfinite(t).all() for t in module.state_dict().values() if t.is_floating_point()):
            raise AsckitError(f"{path}: the weights hold NaN or infinite values; retrain the run (its loss diverged)")
    if not run.is_finished():
        print(f"asckit: warning: {run.path} has not finished training; exporting its snapshots so far", file=sys.stderr)
    return RunToExport(
        name=run.name,
        task=config.task,
        classes=classes_of(config.prediction_task),
        settings=settings,
        root=Path(config.data.root),
        train_split=config.data.train_split,
        modules=modules,
        checkpoints=list(checkpoints),
        tau22=config.is_tau22,
        percent=config.data.split,
        devices=tuple(config.model.devices or ()),
    )


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``asckit export``."""
    from asckit.core.io_utils import refuse_output_over_input

    refuse_output_over_input(args.out, [*args.runs, args.fusion, args.root], folder=True)
    if args.fp32_only and args.deploy not in (None, "fp32"):
        raise AsckitError(f"--deploy {args.deploy} with --fp32-only: that export writes fp32 files only; leave out one of them")
    runs = [load_run(run, args.snapshots) for run in args.runs]
    first = runs[0]
    if any(r.tau22 for r in runs) and len(runs) > 1:
        raise AsckitError(
            f"{next(p for p, r in zip(args.runs, runs) if r.tau22)}: a TAU22 run's bundle holds its general and device models; "
            "export each TAU22 run on its own"
        )
    if first.tau22 and args.fusion is not None:
        raise AsckitError(f"--fusion {args.fusion}: a TAU22 bundle classifies each recording with one model (its device's); leave out --fusion")
    if not first.tau22 and args.deploy == "fp16":
        raise AsckitError(f"--deploy fp16: fp16 files are written for TAU22 runs (DCASE 2024/2025); a task {first.task} bundle deploys int8 or fp32")
    different = [str(p) for p, r in zip(args.runs, runs) if (r.task, r.classes, r.settings) != (first.task, first.classes, first.settings)]
    if different:
        raise AsckitError(
            f"{different[0]}: task, classes or feature settings differ from {args.runs[0]}; "
            "an ensemble's members must share them"
        )
    if len({r.name for r in runs}) != len(runs):
        raise AsckitError("export: two runs have the same folder name; members are named after their run folders: rename one, or give each run once")
    out = args.out
    if out is None and len(args.runs) == 1:
        from asckit.train.run_dir import RunDir

        out = RunDir(args.runs[0]).export_dir
    if out is None:
        raise AsckitError("export of several runs: give the bundle folder with --out")
    root = args.root or first.root
    int8 = None if args.fp32_only else args.int8
    calibration = evaluation = None
    if first.tau22 and (int8 == "static" or not (args.fp32_only or args.no_parity)):
        _require_tau22_root(root, args.root is None)
    if int8 == "static":
        paths, _, _ = _split_clips(root, first.train_split, first, limit=args.calibration_clips, percent=first.percent)
        calibration = features_of_files(paths, first.task, first.settings)
    if not args.fp32_only and not args.no_parity:
        paths, labels, devices = _split_clips(root, "evaluate", first)
        evaluation = Evaluation(labels, paths=paths, devices=devices, source=f"{root} evaluate split")
    logistic = None
    if args.fusion is not None:
        from asckit.fusion.logistic import LogisticFusion

        logistic = LogisticFusion.load(args.fusion).to_dict()
    budget = "default" if args.budget_kb is None else args.budget_kb
    members, routing = first.members() if first.tau22 else ([Member(r.name, r.modules) for r in runs], None)
    report = export_bundle(
        out, members, first.task, first.settings, int8=int8, classes=first.classes, calibration=calibration,
        logistic=logistic, budget_kb=budget, evaluation=evaluation, fp16=False if args.fp32_only else None,
        deploy=args.deploy, routing=routing,
    )
    print(format_report(report))
    print(f"wrote {out}")
    return 0


def _require_tau22_root(root: Path, from_run: bool) -> None:
    """A TAU22 run's calibration and parity clips come from a TAU22 dataset root (an imported run has none)."""
    from asckit.data.tau import LAYOUT_TAU22, detect_layout, require_root

    if detect_layout(require_root(root)) != LAYOUT_TAU22:
        where = "the run's data.root" if from_run else "--root"
        raise AsckitError(
            f"{root}: {where} is not a TAU22 dataset root (no split_setup/); static int8 calibrates on its training clips and "
            "the parity check runs on its dev-test clips: give --root TAU22_ROOT, or --fp32-only (no int8, no parity)"
        )


def _split_clips(root: Path, split: str, run: RunToExport, limit: int | None = None, percent: int | None = None):
    """Audio paths, labels (in the run's classes) and devices of a split (``percent``: a TAU22 training
    split in %); a seeded random subset of ``limit`` clips when it has more."""
    from asckit.data.tau import load_split
    from asckit.labels import SCENES_3, to_superclass

    frame = load_split(root, split, percent=percent)
    if limit is not None and len(frame) > limit:
        frame = frame.sample(n=limit, random_state=0)
    paths = [Path(root) / f for f in frame["filename"]]
    labels = [str(label) for label in frame["scene_label"]]
    if run.classes == SCENES_3:
        labels = [to_superclass(label) for label in labels]
    devices = [None if d is None else str(d) for d in frame["device"]] if "device" in frame else None
    return paths, labels, devices


def format_report(report: dict) -> str:
    """A readable table of the artifacts, the totals against the budget, and the parity check (for a
    bundle with a model per device, ``format_models``' table instead of the artifacts')."""
    if "routing" in report:
        return "\n".join([format_models(report), *_parity_lines(report)])
    lines = [f"{'file':<28} {'bytes':>10} {'params':>10} {'non-zero':>10} {'bits':>4} {'DCASE KB':>9} {'MMACs/s':>8}"]
    for a in report["artifacts"]:
        lines.append(
            f"{a['file']:<28} {a['file_bytes']:>10,} {a['params']:>10,} {a['nonzero']:>10,} {a['bits']:>4} "
            f"{a['dcase_kb']:>9.1f} {a['macs_per_second'] / 1e6:>8.2f}"
        )
    lines.append(f"MMACs/s: millions of multiply-accumulates per second of audio (a {MACS_CLIP_SECONDS:g} s clip's, ÷ {MACS_CLIP_SECONDS:g})")
    total = report["totals"].get(report["deployed"], {})
    if total:
        budget = report["budget_kb"]
        against = "no budget" if budget is None else f"budget {budget:g} KB"
        lines.append(f"deployed ({report['deployed']}): {total['file_bytes']:,} B = {total['file_bytes'] / 1024:.1f} KB on disk ({against})")
    for check in report.get("limits", []):
        lines.append(f"limits: {check['text']}")
    return "\n".join(lines + _parity_lines(report))


def _parity_lines(report: dict) -> list[str]:
    """The dynamic-int8 note, and a line per parity check (int8, fp16) with a warning where it fails."""
    lines = []
    if report["int8_mode"] == "dynamic":
        lines.append("note: dynamic int8 runs Conv as ConvInteger in ONNX Runtime: ~4x smaller files, but slower than fp32")
    for precision, key in (("int8", "parity"), ("fp16", "parity_fp16")):
        par = report.get(key)
        if not par:
            continue
        lines.append(
            f"parity on {par['clips']} clips ({par['source']}): top-1 agreement {100 * par['agreement']:.1f} % "
            f"(target ≥ {100 * par['agreement_target']:g} %); accuracy fp32 {100 * par['fp32']['accuracy']:.1f} % / "
            f"{precision} {100 * par['int8']['accuracy']:.1f} % ({precision} − fp32 {par['difference']['text']}); "
            f"log loss {par['fp32']['log_loss']:.3f} / {par['int8']['log_loss']:.3f}: "
            + (f"{precision} matches fp32" if par["holds"] else f"{precision} does NOT match fp32")
        )
        if not par["holds"]:
            if precision == "fp16":
                hint = "--deploy fp32"
            else:
                hint = "more --calibration-clips" if report["int8_mode"] == "static" else "--int8 static"
                # A TAU22 bundle holds fp16 files too: as fast as int8 in ONNX Runtime, and what the baselines ship.
                hint += ", --deploy fp16 (its parity is the next line)" if report.get("parity_fp16") else ""
            lines.append(f"warning: {'; '.join(par['problems'])}; try {hint}, or --fp32-only")
    return lines


def format_models(report: dict) -> str:
    """The table of a bundle with a model per device: each model's devices, parameters, parameter
    bytes and ONNX file bytes at each precision, MACs per second and its verdict per precision
    against the task's edition; then which verdict counts."""
    precisions = report["precisions"]
    artifacts = report["artifacts"]
    answers = report["routing"]["answers"]
    general = report["routing"]["general"]
    editions = sorted({c["limit"] for c in report["limits"]})
    lines = [f"asckit deployment figures per model, against {', '.join(editions)} "
             f"(parameter bytes at each precision; MMACs/s: torchinfo's MACs per second of audio):"]
    head = f"{'model':<12} {'devices':<14} {'params':>8} " + " ".join(f"{p + ' B':>9}" for p in precisions)
    head += " " + " ".join(f"{p + ' file':>10}" for p in precisions) + f" {'MMACs/s':>8}  verdict (" + "/".join(precisions) + ")"
    lines.append(head)
    for member in dict.fromkeys(a["member"] for a in artifacts):
        own = {a["precision"]: a for a in artifacts if a["member"] == member}
        base = own["fp32"]
        devices = "all others" if member == general else ", ".join(answers.get(member, []))
        verdict = "/".join(
            "ok" if all(c["ok"] for c in report["limits"] if c["member"] == member and c["precision"] in (None, p)) else "OVER"
            for p in precisions
        )
        lines.append(
            f"{member:<12} {devices:<14} {base['params']:>8,} " + " ".join(f"{own[p]['param_bytes']:>9,}" for p in precisions)
            + " " + " ".join(f"{own[p]['file_bytes']:>10,}" for p in precisions)
            + f" {base['macs_per_second'] / 1e6:>8.2f}  {verdict}"
        )
    for check in report["limits"]:  # the verdict column shows the others
        if not check["ok"] and check["precision"] in (None, report["deployed"]):
            lines.append(f"limits: {check['text']} (deployed {report['deployed']})")
    total = report["totals"].get(report["deployed"], {})
    if total:
        lines.append(f"deployed ({report['deployed']}): {total['file_bytes']:,} B on disk in {len(total['files'])}{_files(len(total['files']))}; "
                     f"largest model {total['param_bytes']:,} B of parameters, {total['macs_per_second'] / 1e6:.2f} MMACs/s")
    lines.append(f"note: {report['figures_note']}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# asckit predict


def add_predict_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``asckit predict``."""
    parser = subparsers.add_parser(
        "predict",
        help="classify audio files with an exported model (DCASE TSV + table)",
        description=(
            "Classify WAV/FLAC recordings of any sample rate, channel count and length with an exported "
            "model. Recordings longer than the clip length are classified in windows of it (10 s; 1 s for "
            "TAU22 bundles) and averaged; shorter ones are repeated to length. Folders are walked recursively. "
            "A TAU22 bundle with device models classifies each file with its device's model (--device-id, "
            "--devices); a file without an id, or with an id that has no model of its own, gets the general model."
        ),
    )
    _add_arguments(parser)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="MODEL", help="export folder (bundle.json) or an exported .onnx file")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="audio files or folders")
    parser.add_argument("--out", type=Path, metavar="OUT.tsv", help="write whole-file probabilities (DCASE format)")
    parser.add_argument("--windows", type=Path, metavar="WINDOWS.tsv", help="write per-window probabilities")
    parser.add_argument("--precision", choices=PRECISIONS, help="bundle member files to use (default: the bundle's)")
    parser.add_argument("--threads", type=positive_int, default=None, help="ONNX Runtime threads (default: all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    devices = parser.add_mutually_exclusive_group()
    devices.add_argument("--device-id", metavar="ID", help="the recording device of every file (TAU22 bundles: a, b, c, s1, s2, s3 "
                         "may have a model of their own; any other id uses the general model)")
    devices.add_argument("--devices", type=Path, metavar="LIST.csv", help="each file's device: a TAB-separated list with the header "
                         "filename<TAB>device_id, as the 2025 evaluation set's fold1_test.csv (a file takes the row whose filename "
                         "ends its path; a file in no row uses the general model)")
    parser.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    """Handler of ``asckit predict``: exit 0 when every file was classified; 1 when some could not be
    (each listed as a problem, the rest written); a single named file that cannot be is a usage error (2)."""
    from asckit.core.io_utils import refuse_output_over_input
    from asckit.deploy.device_list import DeviceList
    from asckit.deploy.runtime import load_exported_model

    inputs = [args.model, *args.paths, args.devices]
    refuse_output_over_input(args.out, inputs)
    refuse_output_over_input(args.windows, inputs, "--windows")
    if args.out is not None and args.windows is not None and args.out.resolve() == args.windows.resolve():
        raise AsckitError(f"--out and --windows both name {args.out}; give each its own file")
    if args.device_id is not None and not args.device_id.strip():
        raise AsckitError("--device-id: empty; give the recording device's id, e.g. a or s1 (or leave the option out)")
    listing = DeviceList.read(args.devices) if args.devices is not None else None
    model = load_exported_model(args.model, args.precision, args.threads)
    device_ids = args.device_id.strip() if args.device_id is not None else (listing.device_of if listing is not None else None)
    result = model.predict(args.paths, progress=not args.no_progress, device_ids=device_ids)
    if not result.files and len(args.paths) == 1 and not args.paths[0].is_dir():
        raise AsckitError(result.errors[0].message)  # one named file, one line
    if not result.files:
        raise ProblemsFound([e.message for e in result.errors], f"none of the {len(result.errors)} file(s) could be classified; nothing written")
    routing = routing_summary(result, model, listing) if model.routing is not None else None
    shortest = model.info.window.seconds / 2
    for short in (f for f in result.files if f.duration < shortest):  # repeated to length: a guess, not a hearing
        print(
            f"asckit: warning: {short.path}: only {short.duration:.3f} s long, repeated to the model's "
            f"{model.info.window.seconds:g} s; its scene is a guess",
            file=sys.stderr,
        )
    print(result.table())
    if args.out is not None:
        from asckit.predictions.file_format import write_provenance

        result.write_tsv(args.out)
        write_provenance(args.out, predict_provenance(args, model, result))
        print(f"wrote {args.out}: {len(result.files)} file(s)")
    if args.windows is not None:
        result.write_windows_tsv(args.windows)
        print(f"wrote {args.windows}: {sum(len(f.windows) for f in result.files)} window(s)")
    if result.errors:
        total = len(result.errors) + len(result.files)
        raise ProblemsFound([e.message for e in result.errors],
                            f"{len(result.errors)} of {total} file(s) could not be classified; the others are in the results"
                            + (f" ({routing})" if routing else ""))
    if routing:
        print(f"asckit: {routing}", file=sys.stderr)
    return 0


def routing_summary(result, model, listing=None) -> str:
    """Which models classified the files, e.g. ``device models: a 12 files, b 3; general model 5 files
    (no id 2, not in LIST.csv 1; ids without a model of their own: s4 2)``."""
    used = result.models_used()
    devices = [(d, used[name]) for d, name in model.routing.devices.items() if used[name]]
    general = used[model.routing.general]
    parts = []
    if devices:
        parts.append("device models: " + ", ".join(f"{d} {n}{_files(n) if i == 0 else ''}" for i, (d, n) in enumerate(devices)))
    why = []
    to_general = [f for f in result.files if f.model == model.routing.general]
    unlisted = sum(1 for f in to_general if listing is not None and not listing.is_listed(f.path))
    no_id = sum(1 for f in to_general if f.device_id is None) - unlisted
    if no_id:
        why.append(f"no id {no_id}")
    if unlisted:
        why.append(f"not in {listing.path.name} {unlisted}")
    other = Counter(f.device_id for f in to_general if f.device_id is not None)
    if other:
        why.append("ids without a model of their own: " + ", ".join(f"{d} {n}" for d, n in sorted(other.items())))
    if general:
        parts.append(f"general model {general}{_files(general)}" + (f" ({'; '.join(why)})" if why else ""))
    return "; ".join(parts)


def _files(count: int) -> str:
    return " file" if count == 1 else " files"


def predict_provenance(args: argparse.Namespace, model, result) -> dict:
    """What produced a prediction file of ``asckit predict``: the model, its precision, how device ids
    were given, and for a bundle with device models the id and the model of each file."""
    record = {
        "made_by": "asckit predict",
        "model": str(Path(args.model).resolve()),
        "member_files": [p.name for p in model.member_files],  # <member>.<precision>.onnx
        "device_ids": (f"--device-id {args.device_id}" if args.device_id is not None
                       else f"--devices {Path(args.devices).resolve()}" if args.devices is not None else None),
        "rows": len(result.files),
    }
    if model.routing is not None:
        record["files"] = [{"filename": f.path, "device_id": f.device_id, "model": f.model} for f in result.files]
    return record


def main(argv: list[str] | None = None) -> int:
    """``python -m asckit.deploy MODEL PATH...``: the predict command on its own.

    The same command as ``asckit predict``, without loading the command table: in the base install
    ``asckit`` hides the commands that need ``asckit[train]``; this entry point never imports them.
    """
    from asckit.cli import Parser  # one-line usage errors, as `asckit predict` gives them

    parser = Parser(prog="python -m asckit.deploy", description="Classify audio files with an exported asckit model.")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_predict(args)
    except ProblemsFound as exc:
        from asckit.cli import report_problems

        report_problems(exc)
        return 1
    except AsckitError as exc:
        print(f"asckit: error: {exc}", file=sys.stderr)
        return 2

