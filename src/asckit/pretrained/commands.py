"""CLI: ``asckit import-keras FILE --out RUN`` (the paper authors' Keras models), ``asckit import-ckpt FILE
--out RUN`` (CPJKU CP-Mobile checkpoints of DCASE 2024/2025) and ``asckit pretrained list|get`` (the authors'
models, imported; the published DCASE 2025 checkpoints, downloaded and verified).

Handlers import h5py and torch only when they run, so ``asckit --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asckit.core.cli_types import positive_int


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    imp = subparsers.add_parser(
        "import-keras",
        help="turn a Keras .h5/.hdf5 model of the paper's code into an asckit run directory",
        description=(
            "Read a legacy Keras HDF5 file (Keras 2.2.x or 2.3+/TF 2; full model or weights only) with h5py, "
            "work out the asckit architecture and widths from its layers, copy the weights and write a run "
            "directory that predict-split, evaluate, fuse, export and submission accept."
        ),
    )
    imp.add_argument("file", type=Path, metavar="FILE.hdf5", help="Keras model or weights file")
    imp.add_argument("--out", type=Path, required=True, metavar="RUN", help="new run directory, e.g. runs/mobnet-keras")
    imp.add_argument("--arch", default=None, help="asckit architecture, when the guess is wrong (e.g. fcnn, resnet)")
    imp.add_argument("--task", choices=("1a", "1b"), default=None, help="task (default: from the input channels)")
    imp.add_argument("--root", type=Path, default=None, help="dataset root the run is used with (default: none)")
    imp.add_argument("--store", type=Path, default=None, help="feature store of --root (default: a settings-only store in RUN)")
    imp.set_defaults(func=run_import)

    ckpt = subparsers.add_parser(
        "import-ckpt",
        help="turn a CPJKU CP-Mobile checkpoint (DCASE 2024/2025 baselines) into an asckit run directory",
        description=(
            "Read a CP-Mobile checkpoint of CPJKU's DCASE 2024/2025 baselines (a Lightning .ckpt of the general or the "
            "device-specific training, or the organizers' model_state_dict.pt) with torch.load(weights_only=True), work out "
            "the widths from its tensors, check its frontend buffers against asckit's TAU22 frontend, and write a run "
            "directory that predict-split, evaluate, fuse, export and train --init-from accept."
        ),
    )
    ckpt.add_argument("file", type=Path, metavar="FILE.ckpt", help="checkpoint (.ckpt or .pt)")
    ckpt.add_argument("--out", type=Path, required=True, metavar="RUN", help="new run directory, e.g. runs/cp_mobile_2025")
    ckpt.add_argument("--task", choices=("2024", "2025"), default=None,
                      help="protocol (default: 2025 for a file with device models, else 2024)")
    ckpt.add_argument("--split", type=positive_int, default=None,
                      help="the training split (in %%) the weights were trained on (default: 100 for 2024, the safe "
                           "assumption for the protocol guard; 25 for 2025)")
    ckpt.add_argument("--root", type=Path, default=None, help="TAU22 dataset root the run is used with (default: none)")
    ckpt.add_argument("--store", type=Path, default=None, help="waveform store of --root (default: a settings-only store in RUN)")
    ckpt.set_defaults(func=run_import_ckpt)

    pre = subparsers.add_parser(
        "pretrained",
        help="list or fetch published models: the paper authors' (download, verify, import), DCASE 2025 checkpoints (download, verify)",
        description="The models the authors of the paper published (accuracies are theirs, as published), and the published "
        "checkpoints of the DCASE 2025 protocol (no licence is published for them: downloaded on request only).",
    )
    sub = pre.add_subparsers(dest="pretrained_command", metavar="ACTION")
    sub.required = True
    listing = sub.add_parser("list", help="the published models")
    listing.set_defaults(func=run_list)
    get = sub.add_parser("get", help="download and verify (git blob SHA-1) one; a Keras model is imported as a run directory (with its "
                         "TFLite, if published), a DCASE 2025 checkpoint is left in the cache for `asckit import-ckpt`")
    get.add_argument("name", help="a name from `asckit pretrained list`")
    get.add_argument("--out", type=Path, default=None, metavar="RUN",
                     help="run directory (default: runs/NAME); for a DCASE 2025 checkpoint, the one the printed import command writes")
    get.add_argument("--cache", type=Path, default=None,
                     help="download folder (default: $XDG_CACHE_HOME/asckit/pretrained, else ~/.cache/asckit/pretrained)")
    get.add_argument("--base-url", default=None, help="a mirror of the source repository (default: its GitHub raw files)")
    get.add_argument("--root", type=Path, default=None, help="Keras models: dataset root the run is used with")
    get.add_argument("--store", type=Path, default=None, help="Keras models: feature store of --root")
    get.add_argument("--quiet", action="store_true", help="no progress bars")
    get.set_defaults(func=run_get)


def _print_result(result) -> None:
    g = result.guess
    params = ", ".join(f"{k}={v}" for k, v in g.params.items())
    print(f"imported {g.arch}({params}{', width=' + format(g.width, 'g') if g.width != 1 else ''}), task {g.task}, "
          f"{g.num_classes} classes -> {result.run_dir}")
    print("next:")
    print(f"  asckit export {result.run_dir} --root DATASET_ROOT    (or --fp32-only without a dataset)")
    print(f"  asckit predict {result.run_dir}/export RECORDING.wav")


def run_import(args: argparse.Namespace) -> int:
    from asckit.core.io_utils import refuse_output_over_input
    from asckit.pretrained.keras_import import import_keras

    refuse_output_over_input(args.out, [args.file, args.root, args.store], folder=True)
    _print_result(import_keras(args.file, args.out, arch=args.arch, task=args.task, root=args.root, store=args.store))
    return 0


def run_import_ckpt(args: argparse.Namespace) -> int:
    from asckit.core.io_utils import refuse_output_over_input
    from asckit.pretrained.cpjku_checkpoint import import_cpjku_checkpoint

    refuse_output_over_input(args.out, [args.file, args.root, args.store], folder=True)
    result = import_cpjku_checkpoint(args.file, args.out, task=args.task, split=args.split, root=args.root, store=args.store)
    loaded = result.checkpoint
    params = ", ".join(f"{k}={v}" for k, v in loaded.params.items() if k not in ("num_classes", "in_channels"))
    devices = f", device models {', '.join(loaded.devices)}" if loaded.devices else ""
    print(f"imported cp_mobile({params}){devices}, task {result.task}, split {result.split} -> {result.run_dir}")
    for note in loaded.notes:
        print(f"note: {note}")
    print("next:")
    data = "" if args.root is not None else " --root TAU22_ROOT --store WAVEFORM_STORE"
    print(f"  asckit predict-split {result.run_dir} --split evaluate{data}    (the dev-test list)")
    return 0


def run_list(_args: argparse.Namespace) -> int:
    from asckit.pretrained.registry import (
        ACCURACY_NOTE,
        CHECKPOINTS,
        CKPT_COMMIT,
        CKPT_FOLDER,
        CKPT_LICENCE_NOTE,
        CKPT_REPOSITORY,
        MODELS,
        SOURCE_REPOSITORY,
        TFLITE_NOTE,
    )

    print(f"{'name':<16} {'task':<4} {'arch':<11} {'classes':>7} {'accuracy*':>9} {'tflite**':<8}  description")
    for m in MODELS.values():
        accuracy = f"{100 * m.accuracy:.2f} %" if m.accuracy is not None else "-"
        tflite = "yes" if m.tflite is not None else "-"
        print(f"{m.name:<16} {m.task:<4} {m.arch:<11} {m.classes:>7} {accuracy:>9} {tflite:<8}  {m.description}")
    print(f"* {ACCURACY_NOTE}; not an asckit measurement; - none published.")
    print(f"** {TFLITE_NOTE}.")
    print(f"Files: {SOURCE_REPOSITORY} (MIT licence), fetched on request, verified by git blob SHA-1.")
    print()
    print("DCASE 2025 checkpoints (get downloads and verifies; `asckit import-ckpt` imports):")
    print(f"{'name':<20} {'file':<14} description")
    for c in CHECKPOINTS.values():
        print(f"{c.name:<20} {c.file.name:<14} {c.description}")
    print(f"Files: {CKPT_REPOSITORY} at {CKPT_COMMIT[:7]}, {CKPT_FOLDER}: {CKPT_LICENCE_NOTE}.")
    return 0


def run_get(args: argparse.Namespace) -> int:
    from asckit.core.io_utils import refuse_output_over_input
    from asckit.pretrained.registry import BASE_URL, CHECKPOINTS, default_cache, get, model
    from asckit.train.run_dir import RunDir

    out = args.out or Path("runs") / args.name
    if args.name in CHECKPOINTS:
        return _get_checkpoint(args, out)
    refuse_output_over_input(out, [args.cache or default_cache(), args.root, args.store], folder=True)
    result = get(args.name, out, cache=args.cache, base_url=args.base_url or BASE_URL, progress=not args.quiet,
                 root=args.root, store=args.store)
    _print_result(result)
    tflite = model(args.name).tflite
    if tflite is not None:
        print(f"the authors' TFLite (dynamic-range int8), as published: {RunDir(result.run_dir).published_dir / tflite.name}")
    return 0


def _get_checkpoint(args: argparse.Namespace, out: Path) -> int:
    """`pretrained get` of a DCASE 2025 checkpoint: download and verify it, then name the import command."""
    from asckit.core.errors import AsckitError
    from asckit.pretrained.registry import CKPT_BASE_URL, CKPT_LICENCE_NOTE, get_checkpoint

    if args.root is not None or args.store is not None:
        raise AsckitError(f"--root and --store are for the paper's Keras models; {args.name} is a DCASE 2025 checkpoint, "
                          "which get downloads and verifies only: drop them (`asckit import-ckpt` imports it)")
    path = get_checkpoint(args.name, cache=args.cache, base_url=args.base_url or CKPT_BASE_URL, progress=not args.quiet)
    print(f"{args.name}: downloaded and verified (git blob SHA-1) -> {path}")
    print(f"note: {CKPT_LICENCE_NOTE}")
    print("next:")
    print(f"  asckit import-ckpt {path} --out {out}    (--root TAU22_ROOT --store WAVEFORM_STORE to predict with it)")
    return 0
