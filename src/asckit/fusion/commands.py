"""``asckit fuse``: prediction files in, one fused prediction file (with its provenance sidecar) out.

``asckit fuse --average A.tsv B.tsv ... [--weights w1 w2 ...] --out OUT.tsv``,
``asckit fuse --two-stage TEN.tsv THREE.tsv --out OUT.tsv``, or
``asckit fuse --logistic A.tsv B.tsv ... --fit-on A_val.tsv B_val.tsv ... --truth meta.csv --out OUT.tsv
[--save-fusion FUSION.json]`` (fits on held-out validation outputs; ``--fusion-model FUSION.json``
applies a saved fit instead).
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from asckit.core.cli_types import non_negative_float
from asckit.core.errors import AsckitError
from asckit.core.io_utils import refuse_output_over_input
from asckit.fusion.average import fuse_average
from asckit.fusion.two_stage import fuse_two_stage
from asckit.predictions.file_format import read_provenance, write_provenance
from asckit.predictions.reader import Predictions, read_predictions, write_predictions


def fusion_provenance(how: str, inputs: Sequence[Path], weights: Sequence[float] | None = None) -> dict:
    """What a fused file was made of: the method and each input with its own provenance record."""
    return {
        "made_by": f"asckit fuse ({how})",
        "inputs": [{"file": str(Path(p).resolve()), "source": read_provenance(p)} for p in inputs],
        "weights": list(weights) if weights is not None else None,
    }


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``asckit fuse``."""
    parser = subparsers.add_parser(
        "fuse",
        help="fuse prediction files (average, two-stage product, logistic regression), rows joined by filename",
        description=(
            "Fuse prediction TSVs into one. Rows are matched by filename, never by position; "
            "all inputs must cover the same clips."
        ),
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--average", nargs="+", metavar="PRED.tsv", type=Path,
        help="mean of the probabilities of two or more files of the same task",
    )
    mode.add_argument(
        "--two-stage", nargs=2, metavar=("TEN.tsv", "THREE.tsv"), type=Path,
        help="10-class probabilities times the 3-class probability of each scene's super-class",
    )
    mode.add_argument(
        "--logistic", nargs="+", metavar="PRED.tsv", type=Path,
        help="logistic regression on the members' concatenated probabilities (fitted with --fit-on)",
    )
    parser.add_argument(
        "--fit-on", nargs="+", metavar="VAL.tsv", type=Path,
        help="--logistic: the same members' predictions on a held-out validation split, in the same order",
    )
    parser.add_argument(
        "--truth", type=Path, metavar="CSV",
        help="--logistic: TAB CSV with filename and scene_label of the --fit-on clips (e.g. the dataset's meta.csv)",
    )
    parser.add_argument("--fusion-model", type=Path, metavar="FUSION.json", help="--logistic: apply a saved fit")
    parser.add_argument("--save-fusion", type=Path, metavar="FUSION.json", help="--logistic: save the fit (for asckit export --fusion)")
    parser.add_argument(
        "--weights", nargs="+", type=non_negative_float, metavar="W",
        help="one weight per --average file (normalised to sum to 1; default equal)",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="OUT.tsv", help="fused prediction file")
    parser.set_defaults(func=run_fuse)


def run_fuse(args: argparse.Namespace) -> int:
    """Handler of ``asckit fuse``: read the inputs, fuse, write ``--out``."""
    logistic_only = {"--fit-on": args.fit_on, "--truth": args.truth, "--fusion-model": args.fusion_model, "--save-fusion": args.save_fusion}
    misplaced = [flag for flag, value in logistic_only.items() if value is not None]
    if args.logistic is None and misplaced:
        raise AsckitError(f"fuse: {', '.join(misplaced)} only apply to --logistic")
    inputs = [*(args.average or args.logistic or args.two_stage), *(args.fit_on or []), args.truth, args.fusion_model]
    refuse_output_over_input(args.out, inputs)
    refuse_output_over_input(args.save_fusion, inputs, "--save-fusion")
    if args.save_fusion is not None and args.save_fusion.resolve() == args.out.resolve():
        raise AsckitError(f"--out and --save-fusion both name {args.out}; give each its own file")
    if args.logistic is not None:
        if args.weights is not None:
            raise AsckitError("fuse: --weights only applies to --average; drop it for --logistic")
        fused = _run_logistic(args)
        how = "logistic-regression fusion"
    elif args.average is not None:
        if len(args.average) < 2:
            raise AsckitError("fuse --average: give two or more prediction files to average")
        fused = fuse_average([read_predictions(p) for p in args.average], args.weights)
        how = "average"
    else:
        if args.weights is not None:
            raise AsckitError("fuse: --weights only applies to --average; drop it for --two-stage")
        ten_path, three_path = args.two_stage
        fused = fuse_two_stage(read_predictions(ten_path), read_predictions(three_path))
        how = "two-stage product"
    write_predictions(args.out, fused.filenames, fused.probs, fused.task)
    inputs = args.logistic or args.average or list(args.two_stage)
    write_provenance(args.out, fusion_provenance(how, inputs, args.weights))
    print(f"wrote {args.out}: {how} of {len(fused)} clips, {len(fused.classes)} classes")
    return 0


def _run_logistic(args: argparse.Namespace) -> Predictions:
    """``--logistic``: fit on ``--fit-on`` + ``--truth`` (or load ``--fusion-model``), apply, maybe save."""
    from asckit.fusion.logistic import LogisticFusion, fit_logistic, fuse_logistic, labels_for

    if len(args.logistic) < 2:
        raise AsckitError("fuse --logistic: give two or more prediction files (one per member)")
    if args.fusion_model is not None:
        if args.fit_on is not None or args.truth is not None:
            raise AsckitError("fuse --logistic: give either --fusion-model or --fit-on with --truth, not both")
        fusion = LogisticFusion.load(args.fusion_model)
    else:
        if args.fit_on is None or args.truth is None:
            raise AsckitError(
                "fuse --logistic: fit it with --fit-on VAL.tsv ... (the members on a held-out validation split) "
                "and --truth CSV, or give --fusion-model FUSION.json"
            )
        if len(args.fit_on) != len(args.logistic):
            raise AsckitError(
                f"fuse --logistic: {len(args.logistic)} member files but {len(args.fit_on)} --fit-on files; "
                "give one validation file per member, in the same order"
            )
        fit_preds = [read_predictions(p) for p in args.fit_on]
        labels = labels_for(args.truth, fit_preds[0])
        fusion = fit_logistic(fit_preds, labels, members=[str(p) for p in args.logistic], source=", ".join(map(str, args.fit_on)))
    fused = fuse_logistic([read_predictions(p) for p in args.logistic], fusion)
    if args.save_fusion is not None:
        fusion.save(args.save_fusion)
        print(f"wrote {args.save_fusion}: logistic fusion of {', '.join(fusion.members)}")
    return fused
