"""``asckit reproduce EXPERIMENT [--scale S] [--seeds N] [--root DIR] [--runs-dir DIR] [--rir-root DIR]``:
an experiment (``asckit.experiments.reproduce``) run end to end, its table written beside the paper's figures."""

from __future__ import annotations

import argparse

from asckit.core.cli_types import positive_int
from asckit.experiments.reproduce import reproduce
from asckit.experiments.spec import find_experiment


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="run an experiment (e.g. the paper's Table 1) end to end and write its table",
        description="Train what is missing (finished runs are reused, interrupted ones resumed), predict the "
        "evaluate split, fuse by filename, score, and write <runs>/<name>.md with the paper's figures beside ours.",
    )
    parser.add_argument(
        "experiment",
        help="the name of an experiment shipped with asckit (table1, demo, task1b, distill, ...) or the path of an "
        "experiment YAML (with a folder or .yaml: a path always means that file); its relative model-config paths "
        "are read from the folder holding its configs/ folder; data, stores and runs go under the working directory",
    )
    parser.add_argument("--root", help="dataset root (default: the experiment's; synthesised when missing)")
    parser.add_argument("--scale", help="a scale defined by the experiment (table1: demo or full)")
    parser.add_argument(
        "--seeds", type=positive_int, default=None,
        help="train every model with seeds 0..N-1; report mean ± std (default: the experiment's seeds, else 1)",
    )
    parser.add_argument("--runs-dir", help="where runs go (default: the experiment's runs/<name>-<scale>)")
    parser.add_argument("--rir-root", default=None,
                        help="the reference's measured RIRs, for scales that use them (table1 --scale full); "
                        "fetch with `asckit data download rirs --root DIR` (default data/rirs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--jobs", type=positive_int, default=None,
        help="trainings run at once, each in its own process with cores/jobs threads (default: the experiment's "
        "jobs, else 1); 2 is faster for narrow models on a 2-core CPU",
    )
    parser.add_argument("--dry-run", action="store_true",
                        help="validate the experiment and every model config, print what it would make where, and stop")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    path = reproduce(
        find_experiment(args.experiment),
        root=args.root,
        scale=args.scale,
        seeds=args.seeds,
        runs_dir=args.runs_dir,
        progress=not args.quiet,
        rir_root=args.rir_root,
        dry_run=args.dry_run,
        jobs=args.jobs,
    )
    if path is not None:
        print(f"table written to {path}")
    return 0
