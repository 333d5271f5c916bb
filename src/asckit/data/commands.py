"""CLI: `asckit data synth | check | download`."""

from __future__ import annotations

import argparse

from asckit.core.cli_types import at_least, positive_float, positive_int
from asckit.tasks import TASKS  # pure Python: cheap to import while the parser is built

#: The tasks `data synth` and `data check` take: 1a, 1b, 2024, 2025.
TASK_CHOICES = tuple(TASKS)


def add_commands(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="datasets: synthesise, check, download")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True

    synth = data_sub.add_parser(
        "synth",
        help="write the synthetic multi-device dataset in the TAU layout",
        description="Write a synthetic dataset in the exact TAU layout: 10 scene classes built from "
        "shared textures and events, location-disjoint splits, device A plus parallel devices b, c and "
        "simulated s1-s6 (s4-s6 unseen in training). Same seed, same bytes. --task 1a/1b: the TAU 2020 "
        "layout; --task 2024/2025 (the same set): TAU 2022 Mobile's 1 s clips cut from 10 s segments, the "
        "nested 5/10/25/50/100 %% training splits in split_setup/ and an evaluation/ set with device ids.",
    )
    synth.add_argument(
        "root",
        help="output folder: created when absent or empty; one that already holds the synthetic set of the same "
        "--task, --preset, --seed and --clip-seconds is reused as it is (a rerun regenerates nothing); "
        "any other non-empty folder is refused",
    )
    synth.add_argument("--task", choices=TASK_CHOICES, default="1a",
                       help="1a, 1b (TAU 2020 layout) or 2024, 2025 (both write the same TAU22 set; default 1a)")
    synth.add_argument("--preset", choices=("tiny", "demo", "full"), default="demo")
    synth.add_argument("--seed", type=at_least(0), default=0)
    synth.add_argument("--clip-seconds", type=positive_float, default=None,
                       help="clip duration (default: the preset's; 1a/1b only: TAU22 clips are 1 s)")
    synth.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: 2)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=_run_synth)

    check = data_sub.add_parser(
        "check",
        help="validate a dataset root and print its summary (exit 1 on problems)",
        description="Validate the TAU layout: CSV columns and separators, labels, duplicates, location-disjoint "
        "splits, missing/unreadable/truncated audio, sample rate and channels. Reports every problem. TAU22 roots "
        "(1 s clips, split_setup/) also get the split checks: nested splits, whole 10 s segments, training devices "
        "a, b, c, s1-s3 only, no test clip in a split, the official row counts (not for synthetic sets).",
    )
    check.add_argument("root", help="dataset root (holds audio/, meta.csv, evaluation_setup/)")
    check.add_argument("--no-audio", action="store_true", help="check only the CSVs")
    check.add_argument("--task", choices=TASK_CHOICES, help="expected task (default: told from the labels and the layout)")
    check.set_defaults(func=_run_check)

    download = data_sub.add_parser(
        "download",
        help="download a TAU 2020 dataset from Zenodo (resumable, md5-checked), or the reference's RIRs",
        description="Download, verify (size and md5) and unpack a TAU Urban Acoustic Scenes 2020 dataset, then "
        "check it. Interrupted downloads resume; a corrupt archive is deleted and named, never unpacked. "
        "`rirs` fetches the reference's measured room impulse responses (MARDY, 2003, REVERB challenge) from "
        "its GitHub repository, each verified by its git blob SHA-1, for `asckit augment --rir-set`.",
    )
    download.add_argument("dataset", choices=(*_downloadable(), "rirs"), help="which dataset (or rirs)")
    download.add_argument("--root", required=True, help="folder to download and unpack into")
    download.add_argument("--set", dest="rir_set", choices=("mardy", "2003", "reverb", "all"), default=None,
                          help="rirs only: the files the reference uses for this set, or all (default: every file "
                          "of its reverb_drc folder, 130 files, 56.7 MB)")
    download.add_argument("--meta-only", action="store_true", help="only the doc and meta archives (CSVs)")
    download.add_argument("--keep-archives", action="store_true", help="keep the zip files after unpacking")
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    download.set_defaults(func=_run_download)


def _downloadable() -> tuple[str, ...]:
    from asckit.data.download import downloadable_datasets

    return tuple(downloadable_datasets())


def _run_synth(args: argparse.Namespace) -> int:
    from asckit.data.synth import synthesize
    from asckit.data.tau import check_dataset

    summary = synthesize(
        args.root,
        task=args.task,
        preset=args.preset,
        seed=args.seed,
        clip_seconds=args.clip_seconds,
        workers=args.workers,
        progress=not args.quiet,
    )
    if summary["reused"]:
        print(f"{args.root} already holds this synthetic set (same task, preset, seed and clip length): reused, nothing regenerated")
    print(check_dataset(args.root, audio=False).format())
    return 0


def _run_check(args: argparse.Namespace) -> int:
    from asckit.data.tau import check_dataset

    report = check_dataset(args.root, audio=not args.no_audio, task=args.task)
    print(report.format())
    return 0 if report.ok else 1


def _run_download(args: argparse.Namespace) -> int:
    from asckit.core.errors import AsckitError
    from asckit.data.download import RIRS_KEY, download, download_rirs

    if args.dataset == RIRS_KEY:
        if args.meta_only or args.keep_archives:
            raise AsckitError("--meta-only and --keep-archives are for the TAU datasets; `rirs` takes --set and --root")
        path = download_rirs(args.root, args.rir_set or "all", progress=not args.quiet)
        print(f"RIRs ready: {path} (use: asckit augment ROOT --kind reverb-drc --rir-set mardy --rir-root {path})")
        return 0
    if args.rir_set is not None:
        raise AsckitError(f"--set is for `asckit data download rirs`, not {args.dataset}")
    path = download(args.dataset, args.root, meta_only=args.meta_only, keep_archives=args.keep_archives, progress=not args.quiet)
    print(f"dataset ready: {path}")
    return 0
