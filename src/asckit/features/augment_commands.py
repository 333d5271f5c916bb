"""CLI: `asckit augment ROOT --kind KIND [KIND ...] --out STORE` (offline augmented rows into a store)."""

from __future__ import annotations

import argparse

from asckit.core.cli_types import at_least, float_between, positive_float, positive_int

#: Below -20 dB the noise is 100x the scene's power and no scene is left; above 100 dB it is far
#: below 16-bit quantisation (about -98 dB), so the row would be a copy of the original.
NOISE_SNR_DB = float_between(-20, 100, "below -20 dB no scene is left; above 100 dB the noise is under 16-bit quantisation")

# Kept here rather than imported so that `asckit --help` stays free of numpy/torch imports.
KIND_CHOICES = ("noise", "mix", "spectrum-correction", "reverb-drc", "speed", "pitch", "all")


def add_commands(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "augment",
        help="add offline-augmented log-mel rows (mix, noise, pitch, speed, spectrum correction, reverb+DRC) to a store",
        description="Augment the training clips of a dataset and add their log-mel to an existing feature store "
        "(made by `asckit features ROOT --out STORE`), with the store's settings. Each row is keyed "
        "<filename>#<kind>, tagged with its kind, source clip and drawn parameters. Same seed, same rows; "
        "rerunning skips stored rows. spectrum-correction and reverb-drc use device-A clips only.",
    )
    parser.add_argument("root", help="dataset root in the TAU layout (its training split is augmented)")
    parser.add_argument("--kind", nargs="+", required=True, choices=KIND_CHOICES, metavar="KIND",
                        help=f"one or more of {', '.join(KIND_CHOICES)}")
    parser.add_argument("--out", required=True, help="existing feature store folder to add rows to")
    parser.add_argument("--seed", type=at_least(0), default=0, help="seed of every drawn parameter and of the simulated RIR bank")
    parser.add_argument("--copies", type=positive_int, default=1, help="augmented rows per clip and kind (default 1, as the paper)")
    parser.add_argument("--noise-snr", type=NOISE_SNR_DB, default=None, metavar="DB",
                        help="noise at this SNR (-20 to 100 dB) instead of the reference's fixed std 0.01")
    parser.add_argument("--rir-set", choices=("mardy", "2003", "reverb"), default=None,
                        help="the reference's measured RIRs: exactly its list, order and read rule for this set, "
                        "with its compand curves (files from `asckit data download rirs --root DIR`)")
    parser.add_argument("--rir-root", default=None,
                        help="folder holding the downloaded reference RIRs (default data/rirs)")
    parser.add_argument("--rir-dir", default=None,
                        help="a folder of your own impulse-response WAVs, all used, sorted; "
                        "default (without --rir-set): a simulated pyroomacoustics bank")
    parser.add_argument("--rir-count", type=positive_int, default=24, help="size of the simulated RIR bank (default 24)")
    parser.add_argument("--rir-max-seconds", type=positive_float, default=None, help="cut measured RIRs to this length")
    parser.add_argument("--drc-set", choices=("mardy", "2003", "reverb"), default=None,
                        help="the reference's compand curves to cycle through (default: the --rir-set's, "
                        "else mardy, as its drc.sh)")
    parser.add_argument("--energy-normalise", action="store_true",
                        help="rescale reverberated clips to the dry clip's energy (the reference's _en variants)")
    parser.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run_augment)


def _run_augment(args: argparse.Namespace) -> int:
    from asckit.features.augmented import AugmentOptions, augment_dataset, kind_record

    options = AugmentOptions(
        seed=args.seed,
        copies=args.copies,
        noise_snr_db=args.noise_snr,
        rir_set=args.rir_set,
        rir_root=args.rir_root,
        rir_dir=args.rir_dir,
        rir_count=args.rir_count,
        rir_max_seconds=args.rir_max_seconds,
        drc_set=args.drc_set,
        energy_normalise=args.energy_normalise,
    )
    from asckit.core.io_utils import refuse_output_over_input

    refuse_output_over_input(args.out, [args.root, args.rir_root, args.rir_dir], folder=True)
    summaries = augment_dataset(args.root, args.out, args.kind, options, workers=args.workers, progress=not args.quiet)
    for summary in summaries:
        print(summary.line())
    record = kind_record(args.out, "reverb-drc")
    if record is not None and any(s.kind == "reverb-drc" for s in summaries):
        from asckit.audio.rir import describe_bank

        print(f"reverb-drc RIRs: {describe_bank(record)}")
    return 0
