"""Fusion of prediction sets into one: weighted averaging, the two-stage 3-class × 10-class product,
and logistic regression (``asckit.fusion_logistic``).

Inputs and outputs are ``asckit.predictions.Predictions`` (on the command line: prediction TSVs),
and rows are always joined by filename with ``asckit.predictions.align``, never by position. The
reference code's ``eval_hybrid.py`` multiplied two score files row by row although their rows were
in different file orders, so each clip's 10-class scores met another clip's 3-class scores; its
81.9 % is that bug's figure, and the correctly aligned fusion of the same scores gives about 79.4 %
(docs/reference-code.md §4).

Command: ``asckit fuse --average A.tsv B.tsv ... [--weights w1 w2 ...] --out OUT.tsv``,
``asckit fuse --two-stage TEN.tsv THREE.tsv --out OUT.tsv``, or
``asckit fuse --logistic A.tsv B.tsv ... --fit-on A_val.tsv B_val.tsv ... --truth meta.csv --out OUT.tsv
[--save-fusion FUSION.json]`` (fits on held-out validation outputs; ``--fusion-model FUSION.json``
applies a saved fit instead).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asckit.cli_types import non_negative_float
from asckit.errors import AsckitError
from asckit.fusion_core import normalised_weights, weighted_average
from asckit.labels import MAP_10_TO_3, SCENES_3, SCENES_10
from asckit.prediction_file import read_provenance, write_provenance
from asckit.predictions import Predictions, align, read_predictions, write_predictions


def fuse_average(preds_list: Sequence[Predictions], weights: Sequence[float] | None = None) -> Predictions:
    """Weighted mean of the probabilities of several prediction sets of the same task.

    ``weights`` default to equal; they must be non-negative with a positive sum and are normalised
    to sum to 1, so the result is again a probability per row (the reference summed its ensembles,
    which has the same argmax but rows summing to the number of models). Rows are joined by
    filename and come out in the order of the first set.
    """
    preds_list = list(preds_list)
    if not preds_list:
        raise AsckitError("fuse --average: give at least one prediction file")
    tasks = {p.task for p in preds_list}
    if len(tasks) > 1:
        described = ", ".join(f"{p.source} ({p.task}, {len(p.classes)} classes)" for p in preds_list)
        raise AsckitError(
            f"cannot average predictions of different tasks: {described}; average files with the "
            "same class columns (use --two-stage to combine 10-class with 3-class)"
        )
    weights = normalised_weights(weights, len(preds_list), "fuse --weights (one per prediction file)")
    aligned = align(*preds_list)
    fused = weighted_average([p.probs for p in aligned], weights)
    source = f"average({', '.join(p.source for p in preds_list)})"
    first = aligned[0]
    return Predictions(first.filenames, fused, first.classes, first.task, source)


def fuse_two_stage(ten: Predictions, three: Predictions) -> Predictions:
    """The two-stage product: score(x, k) = F1_k(x) · F2_{p(k)}(x), renormalised per clip.

    ``ten`` holds 10-class probabilities F1 and ``three`` the 3-class (super-class) probabilities
    F2 of the same clips; p = ``asckit.labels.MAP_10_TO_3`` maps a scene to its super-class. The
    predicted class argmax_k F1_k · F2_{p(k)} is the paper's "Class(x)". The ten products are
    renormalised to sum to 1 so the output is a probability file like any other and its log loss
    is well defined; the reference multiplied raw ensemble sums without renormalising, and its
    printed log loss (0.936) came from scikit-learn 0.22 clipping those unnormalised products.
    Rows are joined by filename, in the order of ``ten``.
    """
    if ten.classes != SCENES_10:
        raise AsckitError(f"{ten.source}: two-stage fusion needs 10-class predictions first, got {' '.join(ten.classes)}")
    if three.classes != SCENES_3:
        raise AsckitError(
            f"{three.source}: two-stage fusion needs 3-class predictions second, got {' '.join(three.classes)}"
        )
    ten, three = align(ten, three)
    product = ten.probs * three.probs[:, list(MAP_10_TO_3)]
    sums = product.sum(axis=1, keepdims=True)
    empty = np.flatnonzero(sums[:, 0] <= 0)
    if empty.size:
        raise AsckitError(
            f"{ten.source} × {three.source}: clip {ten.filenames[empty[0]]} gets probability 0 for every "
            f"class ({empty.size} clip(s) like this): the 3-class file rules out every scene the 10-class file allows"
        )
    source = f"two_stage({ten.source}, {three.source})"
    return Predictions(ten.filenames, product / sums, ten.classes, ten.task, source)


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
    from asckit.fusion_logistic import LogisticFusion, fit_logistic, fuse_logistic, labels_for

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
