"""The weighted average of prediction sets of one task, rows joined by filename."""

from __future__ import annotations

from collections.abc import Sequence

from asckit.core.errors import AsckitError
from asckit.fusion.core import normalised_weights, weighted_average
from asckit.predictions.reader import Predictions, align


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
