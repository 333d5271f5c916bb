"""CLI: ``asckit train CONFIG.yaml [--set key=value ...] [--resume]`` and ``asckit predict-split RUN --split S``.

Handlers import torch and Lightning only when they run, so ``asckit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from asckit.core.cli_types import positive_int


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a model from a YAML config into runs/<name>/ (resumable, multi-GPU by config)",
        description=(
            "Train a scene classifier on a feature store as the config says (see asckit.train.config for "
            "every key). The run directory runs/<name>/ receives the resolved config, a checkpoint at the end "
            "of every epoch (last.ckpt) and of every cosine cycle (cycle-EEEE.ckpt), and CSV logs. Relative paths in "
            "the config are read from its project (the folder holding its configs/ folder, else its own folder); "
            "those given with --set from the working directory."
        ),
    )
    train.add_argument("config", type=Path, metavar="CONFIG.yaml", help="training config")
    train.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value, dotted key and YAML value, e.g. --set model.width=0.25 (repeatable)",
    )
    train.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    train.add_argument(
        "--init-from", type=Path, default=None, metavar="RUN",
        help="start from the final weights of another run of the same model (fine-tuning, e.g. an imported one)",
    )
    train.add_argument(
        "--verbose", action="store_true",
        help="show Lightning's progress bar, model summary and status lines (default: one line per epoch)",
    )
    train.set_defaults(func=run_train)

    predict = subparsers.add_parser(
        "predict-split",
        help="write a run's predictions on a dataset split (snapshot average) as a DCASE TSV",
        description=(
            "Average the softmax outputs of the run's last K snapshots (its cycle-end checkpoints, then the final "
            "epoch when the run ends inside a cycle) on every clip of a split and write RUN/predictions/<split>.tsv. "
            "Checkpoints are chosen by the schedule only, never by a score."
        ),
    )
    predict.add_argument("run", type=Path, metavar="RUN", help="run directory (runs/<name>)")
    predict.add_argument(
        "--split", required=True, choices=("evaluate", "test", "train", "validation"),
        help="split to predict; train = the run's training rows (augmented copies included, one row per store row, "
        "named by store key: a teacher for `distill.teacher`), validation = its held-out clips",
    )
    predict.add_argument(
        "--kinds", nargs="+", default=None, metavar="KIND",
        help="--split train: the rows of these data.kinds instead of the run's (e.g. the student's)",
    )
    predict.add_argument("--snapshots", type=positive_int, default=None, help="K (default: the run's config)")
    predict.add_argument("--root", type=Path, default=None, help="another dataset root (default: the run's)")
    predict.add_argument("--store", type=Path, default=None, help="feature store of --root (default: the run's)")
    predict.add_argument("--out", type=Path, default=None, help="output TSV (default: RUN/predictions/<split>.tsv)")
    predict.add_argument("--batch-size", type=positive_int, default=64)
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(func=run_predict_split)


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, for copy-pasteable hints."""
    try:
        return shlex.quote(str(Path(path).relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(path))


def run_train(args: argparse.Namespace) -> int:
    from asckit.train.config import load_config
    from asckit.train.run import train
    from asckit.train.run_dir import RunDir

    config = load_config(args.config, args.overrides)
    result = train(config, resume=args.resume, init_from=args.init_from, verbose=args.verbose)
    if not result.global_zero:
        return 0
    run = _shown(result.run_dir)
    run_dir = RunDir(result.run_dir)
    checkpoints = [p.name for p in run_dir.snapshot_files()]
    if run_dir.last_checkpoint.is_file():
        checkpoints.append(run_dir.last_checkpoint.name)
    print(f"run directory: {run}  (checkpoints: {', '.join(checkpoints) or 'none'})")
    if not result.finished:
        print(f"training stopped early; continue it with: asckit train {_shown(args.config)} --resume")
        return 0
    print("next:")
    print(f"  asckit predict-split {run} --split evaluate")
    print(f"  asckit evaluate {_shown(RunDir(result.run_dir).predictions('evaluate'))} --root {_shown(config.data.root)}")
    return 0


def run_predict_split(args: argparse.Namespace) -> int:
    from asckit.core.io_utils import refuse_output_over_input
    from asckit.train.predict import predict_split

    refuse_output_over_input(args.out, [args.run, args.root, args.store])
    result = predict_split(
        args.run,
        args.split,
        snapshots=args.snapshots,
        root=args.root,
        store_path=args.store,
        out=args.out,
        batch_size=args.batch_size,
        progress=not args.quiet,
        kinds=args.kinds,
    )
    used = ", ".join(p.name for p in result.checkpoints)
    print(f"wrote {_shown(result.path)}: {result.clips} clips, mean of {len(result.checkpoints)} checkpoint(s) ({used})")
    if args.split == "evaluate":
        root = args.root or _run_root(args.run)
        print(f"next: asckit evaluate {_shown(result.path)} --root {_shown(root)}")
    return 0


def _run_root(run: Path) -> Path:
    from asckit.train.run_dir import RunDir

    return RunDir(run).load_config().data.root

