"""CLI: `asckit features ROOT --out STORE`: extract the log-mel of a dataset into a feature store
(the summary of the store is printed at the end)."""

from __future__ import annotations

import argparse

from asckit.core.cli_types import positive_float, positive_int


def add_commands(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "features",
        help="extract log-mel of every clip into a float16 feature store, or a TAU22 root's 32 kHz waves (resumable)",
        description="Extract the reference log-mel (scaled static; deltas are computed at batch time) of every "
        "clip listed in the dataset's split CSVs into a memory-mapped float16 store. Rerunning skips stored "
        "clips; a store made with other settings is refused.",
    )
    parser.add_argument("root", help="dataset root in the TAU layout")
    parser.add_argument("--out", required=True, help="feature store folder")
    parser.add_argument("--task", choices=("1a", "1b", "2024", "2025"), help="default: told from the labels and the layout "
                        "(a TAU22 root, 2024/2025, gives a waveform store: 32 kHz float32 waves, the log-mel computed in training)")
    parser.add_argument("--splits", nargs="+", choices=("train", "evaluate", "test"), help="default: every split present")
    parser.add_argument("--clip-seconds", type=positive_float, help="nominal clip length (default: the most common duration)")
    parser.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: 2)")
    parser.add_argument("--no-scale", action="store_true", help="keep natural-log units (no per-file min/max to [0, 1])")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE",
        help="change a log-mel setting for an ablation, e.g. --set n_mels=256 --set hop_length=512 "
        "(fields: sample_rate, n_fft, hop_length, n_mels, fmin, fmax, htk, mel_norm, pad_mode, power, log_offset)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run_features)


def _run_features(args: argparse.Namespace) -> int:
    from asckit.core.io_utils import refuse_output_over_input
    from asckit.features.extraction import describe_store, extract_dataset

    refuse_output_over_input(args.out, [args.root], folder=True)
    store = extract_dataset(
        args.root,
        args.out,
        task=args.task,
        splits=tuple(args.splits) if args.splits else None,
        clip_seconds=args.clip_seconds,
        workers=args.workers,
        progress=not args.quiet,
        scale=not args.no_scale,
        front_end=args.set,
    )
    print(describe_store(store))
    return 0
