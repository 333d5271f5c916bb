"""CLI: `asckit data synth | check | download | cut-tau20`."""

from __future__ import annotations

import argparse

from asckit.core.cli_types import at_least, positive_float, positive_int
from asckit.tasks import TASKS  # pure Python: cheap to import while the parser is built

#: The tasks `data synth` and `data check` take: 1a, 1b, 2024, 2025.
TASK_CHOICES = tuple(TASKS)


def add_commands(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="datasets: synthesise, check, download, cut TAU20 into TAU22")
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
        help="download a TAU dataset from Zenodo (resumable, md5-checked), the DCASE 2024 splits, or impulse responses",
        description="Download, verify (size and md5) and unpack a TAU Urban Acoustic Scenes dataset (2020, or the "
        "2022 Mobile development set of DCASE 2022-2025), then check it. Interrupted downloads resume; a corrupt "
        "archive is deleted and named, never unpacked. `rirs` fetches the reference's measured room impulse "
        "responses (MARDY, 2003, REVERB challenge) from its GitHub repository, each verified by its git blob SHA-1, "
        "for `asckit augment --rir-set`. `micirp` fetches the 66 MicIRP device impulse responses (Creative Commons) "
        "of the CP-Mobile DIR augmentation the same way. `dcase2024-splits` fetches the 2024 training splits and "
        "the dev-test list of the CPJKU baseline into ROOT/split_setup/ (no checksum is published: their content "
        "is checked before they are put in place).",
    )
    download.add_argument("dataset", choices=(*_downloadable(), *_file_sets()), help="which dataset, split files or impulse responses")
    download.add_argument("--root", required=True, help="folder to download (and unpack) into; for dcase2024-splits the TAU22 dataset "
                          "folder (the one holding audio/ and meta.csv): the files go to ROOT/split_setup/")
    download.add_argument("--set", dest="rir_set", choices=("mardy", "2003", "reverb", "all"), default=None,
                          help="rirs only: the files the reference uses for this set, or all (default: every file "
                          "of its reverb_drc folder, 130 files, 56.7 MB)")
    download.add_argument("--meta-only", action="store_true", help="TAU datasets only: only the doc and meta archives (CSVs)")
    download.add_argument("--keep-archives", action="store_true", help="TAU datasets only: keep the zip files after unpacking")
    download.add_argument("--quiet", action="store_true", help="no progress bar")
    download.set_defaults(func=_run_download)

    cut = data_sub.add_parser(
        "cut-tau20",
        help="cut the TAU 2020 Mobile development recordings into the 1 s clips of TAU22, checked against its meta.csv",
        description="Cut each 10 s recording of TAU Urban Acoustic Scenes 2020 Mobile (development) into the 1 s "
        "clips of TAU Urban Acoustic Scenes 2022 Mobile: second k of audio/NAME-DEVICE.wav becomes "
        "audio/NAME-k-DEVICE.wav (samples k*44100 to (k+1)*44100, the recording's own sample format: 24-bit PCM), "
        "for every clip TAU22's meta.csv lists (get it with `asckit data download tau2022-mobile-dev --meta-only "
        "--root DIR`, 1.5 MB). Writes OUT/audio/, OUT/meta.csv and, where the meta.csv's folder holds them, "
        "OUT/evaluation_setup/*.csv, each listing the clips OUT holds. Clips TAU22 lists that TAU20 cannot give, and "
        "seconds of TAU20 recordings TAU22 does not list, are reported one per line (exit 1). Every clip is written "
        "atomically; a rerun cuts only what is missing.",
    )
    cut.add_argument("tau20_root", metavar="TAU20_ROOT", help="the TAU 2020 Mobile development set (the folder holding audio/)")
    cut.add_argument("--meta", required=True, metavar="TAU22_META_CSV", help="TAU22's meta.csv (from its meta archive)")
    cut.add_argument("--out", required=True, metavar="OUT", help="the TAU22 dataset folder to write (a rerun cuts only the clips it lacks)")
    cut.add_argument("--quiet", action="store_true", help="no progress bar")
    cut.set_defaults(func=_run_cut_tau20)


def _downloadable() -> tuple[str, ...]:
    from asckit.data.download import downloadable_datasets

    return tuple(downloadable_datasets())


def _file_sets() -> tuple[str, ...]:
    """What `data download` fetches beside the Zenodo datasets: single files of repositories and releases."""
    from asckit.data.download import MICIRP_KEY, RIRS_KEY, SPLITS_KEY

    return (RIRS_KEY, MICIRP_KEY, SPLITS_KEY)


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
    from asckit.data import download as dl

    if args.dataset in _file_sets() and (args.meta_only or args.keep_archives):
        takes = "--set and --root" if args.dataset == dl.RIRS_KEY else "--root only"
        raise AsckitError(f"--meta-only and --keep-archives are for the TAU datasets; `{args.dataset}` takes {takes}")
    if args.rir_set is not None and args.dataset != dl.RIRS_KEY:
        raise AsckitError(f"--set is for `asckit data download rirs`, not {args.dataset}")
    if args.dataset == dl.RIRS_KEY:
        path = dl.download_rirs(args.root, args.rir_set or "all", progress=not args.quiet)
        print(f"RIRs ready: {path} (use: asckit augment ROOT --kind reverb-drc --rir-set mardy --rir-root {path})")
        return 0
    if args.dataset == dl.MICIRP_KEY:
        path = dl.download_micirp(args.root, progress=not args.quiet)
        print(f"MicIRP device impulse responses ready (Creative Commons, from MicIRP): {path}")
        return 0
    if args.dataset == dl.SPLITS_KEY:
        path = dl.download_splits(args.root, progress=not args.quiet)
        print(f"DCASE 2024 splits ready: {path}")
        return 0
    path = dl.download(args.dataset, args.root, meta_only=args.meta_only, keep_archives=args.keep_archives, progress=not args.quiet)
    print(f"dataset ready: {path}")
    return 0


def _run_cut_tau20(args: argparse.Namespace) -> int:
    from asckit.data.cut_tau20 import cut_tau20

    result = cut_tau20(args.tau20_root, args.meta, args.out, progress=not args.quiet)
    print(result.summary())
    return 0
