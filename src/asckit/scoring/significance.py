"""How sure a score is: bootstrap confidence intervals and paired differences between systems.

An evaluate split is a sample (2,970 clips for TAU 2020 Mobile, 630 on the demo set), so every
accuracy measured on it carries sampling noise: about ±2 points (95 %) on 2,970 clips and ±4 on
630. Table 1's claims ("the ensemble beats its best member") often rest on differences of that
size, so asckit judges them with the **paired bootstrap**: the recordings are resampled with
replacement ``draws`` times, the same resample for both systems (and for every seed), the column
is recomputed on each, and the 2.5th and 97.5th percentiles of the difference give its 95 %
interval. Pairing removes the clip-difficulty variance the two systems share, which is most of
it when they are built from the same models.

**What is resampled is the 10 s segment, not the clip.** Clips of one segment are not independent
samples: TAU22's dev-test holds 29,680 one-second clips cut from 2,064 segments (146 locations), ten
per segment, and TAU 2020's evaluate split records each segment on several devices at once (the
same scene, seconds apart in time, on a, b, c and the simulated devices). Resampling clips treats
them as independent and gives intervals several times too narrow on TAU22; resampling segments
(:func:`resample_weights`: every clip of a drawn segment weighted by how often the segment is
drawn) keeps their correlation. A clip whose name tells no segment (an evaluation set's
``audio/<n>.wav``) is its own segment. On TAU 2020's 2,970 evaluate clips (about 330 segments of
up to nine devices) the intervals widen too, less than on TAU22.

Columns are the paper's Table 1 accuracy columns as ``asckit.scoring.metrics.table1_row`` defines them:
``avg_acc`` is the macro (class-wise) accuracy over all clips; a device-group column (``A``,
``B&C``, ``s1-s3``, ``s4-s6``) is the mean over its devices of each device's macro accuracy.
Resampling is by segment (above), with a fixed seed, so results are reproducible. Seeds are treated as
repeated runs on the same clips: a seed-averaged column is the mean over seeds of the column.
The interval covers the sampling of clips only, not training noise (initialisation, batch
order): a difference between two single trainings can be "significant" here and still change
sign with another seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError
from asckit.labels import ALL_DEVICES, DEVICE_GROUPS, TAU22_DEVICE_GROUPS
from asckit.scoring.table1_columns import ACCURACY_COLUMNS

#: Every device-group column a table may have: Table 1's (2020) and real/seen/unseen (2024/2025).
GROUP_COLUMNS: dict[str, tuple[str, ...]] = {**DEVICE_GROUPS, **TAU22_DEVICE_GROUPS}

#: Resamples drawn by default: the interval ends move by about 0.1 point between seeds at 2,000.
DRAWS = 2000


@dataclass(frozen=True)
class ClipScores:
    """Per-clip outcome of one system on a split, sorted by filename (so systems pair up)."""

    filenames: tuple[str, ...]
    y_true: np.ndarray  # (n,) class index
    correct: np.ndarray  # (n,) bool
    devices: np.ndarray  # (n,) object: device name or None
    n_classes: int

    @property
    def segments(self) -> np.ndarray:
        """(n,) int: the 10 s segment of each clip (``asckit.data.tau.ClipName.segment_id``), numbered in
        order of first appearance; a clip whose name tells none is a segment of its own."""
        from asckit.data.tau import parse_filename

        ids: dict[str, int] = {}
        out = np.empty(len(self.filenames), dtype=np.int64)
        for i, name in enumerate(self.filenames):
            parsed = parse_filename(name)
            key = parsed.segment_id if parsed is not None else f"\0{name}"
            out[i] = ids.setdefault(key, len(ids))
        return out

    @classmethod
    def from_predictions(
        cls,
        filenames: Sequence[str],
        labels: Sequence[str],
        probs: np.ndarray,
        class_names: Sequence[str],
        devices: Sequence[str | None],
    ) -> ClipScores:
        """Row-aligned predictions and ground truth (``asckit.scoring.metrics.join_ground_truth``) → clip scores."""
        index = {name: k for k, name in enumerate(class_names)}
        order = np.argsort(np.asarray(filenames, dtype=object).astype(str), kind="stable")
        y_true = np.array([index[label] for label in labels], dtype=np.intp)[order]
        y_pred = np.argmax(np.asarray(probs), axis=1)[order]
        return cls(
            filenames=tuple(str(filenames[i]) for i in order),
            y_true=y_true,
            correct=y_pred == y_true,
            devices=np.asarray(list(devices), dtype=object)[order],
            n_classes=len(class_names),
        )


    @classmethod
    def from_ground_truth(cls, truth, predictions, truth_source: str) -> ClipScores:
        """Clip scores of ``predictions`` (``asckit.predictions.reader.Predictions``) against a split's
        labels (``asckit.data.tau.load_split``), rows joined by filename."""
        from asckit.scoring.metrics import join_ground_truth

        labels, devices = join_ground_truth(truth, predictions, truth_source)
        return cls.from_predictions(predictions.filenames, labels, predictions.probs, predictions.classes, devices)


@dataclass(frozen=True)
class Difference:
    """``better`` minus ``other`` on one column: the observed value and its bootstrap interval."""

    column: str
    observed: float
    low: float
    high: float
    level: float

    def describe(self) -> str:
        return (
            f"{100 * self.observed:+.1f} points, {100 * self.level:.0f} % CI "
            f"{100 * self.low:+.1f} to {100 * self.high:+.1f}"
        )


def resample_counts(n: int, draws: int = DRAWS, seed: int = 0) -> np.ndarray:
    """(draws, n) float32: how often each of n units is drawn in each bootstrap resample of n units."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=draws).astype(np.float32)


def resample_weights(segments: np.ndarray, draws: int = DRAWS, seed: int = 0) -> np.ndarray:
    """(draws, clips) float32 clip weights of a segment bootstrap: the segments (one id per clip) are
    resampled with replacement, and each clip weighs what its segment was drawn."""
    unique, inverse = np.unique(segments, return_inverse=True)
    return resample_counts(len(unique), draws, seed)[:, inverse]


def column_values(scores: ClipScores, column: str, weights: np.ndarray) -> np.ndarray:
    """The column under each row of clip weights (draws, n) → (draws,); NaN where undefined."""
    if column == "avg_acc":
        return _macro_accuracy(scores, weights, np.ones(len(scores.y_true), dtype=bool))
    if column in ALL_DEVICES:  # one device's macro accuracy (the 2024/2025 tables' device columns)
        return _macro_accuracy(scores, weights, scores.devices == column)
    if column not in GROUP_COLUMNS:
        raise ValueError(f"unknown column {column!r}: use one of {', '.join(ACCURACY_COLUMNS)}, a device or a device group")
    present = [d for d in GROUP_COLUMNS[column] if np.any(scores.devices == d)]
    if not present:
        return np.full(weights.shape[0], np.nan)
    per_device = np.stack([_macro_accuracy(scores, weights, scores.devices == d) for d in present])
    return _mean_of_defined(per_device)


def _macro_accuracy(scores: ClipScores, weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
    onehot = np.zeros((len(scores.y_true), scores.n_classes), dtype=np.float32)
    onehot[np.arange(len(scores.y_true)), scores.y_true] = 1.0
    onehot *= mask[:, None]
    totals = weights @ onehot
    hits = weights @ (onehot * scores.correct[:, None])
    recall = np.where(totals > 0, hits / np.where(totals > 0, totals, 1.0), np.nan)
    return _mean_of_defined(recall.T)


def _mean_of_defined(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0 of the finite entries; NaN where there is none."""
    defined = np.isfinite(values)
    counts = defined.sum(axis=0)
    sums = np.where(defined, values, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def confidence_interval(
    scores: ClipScores, column: str = "avg_acc", draws: int = DRAWS, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of one system's column (fractions)."""
    values = column_values(scores, column, resample_weights(scores.segments, draws, seed))
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def paired_difference(
    better: Sequence[ClipScores],
    other: Sequence[ClipScores],
    column: str = "avg_acc",
    draws: int = DRAWS,
    seed: int = 0,
    level: float = 0.95,
) -> Difference:
    """Seed-averaged ``better`` − ``other`` on ``column``, with a paired bootstrap interval.

    Each argument holds one ``ClipScores`` per seed; every one must cover the same clips.
    """
    runs = [*better, *other]
    if not better or not other:
        raise ValueError("paired_difference needs at least one seed of each system")
    reference = runs[0].filenames
    for scores in runs[1:]:
        if scores.filenames != reference:
            raise AsckitError("the systems were scored on different clips; a paired comparison needs the same split")
    weights = np.vstack([np.ones((1, len(reference)), dtype=np.float32), resample_weights(runs[0].segments, draws, seed)])

    def mean_over_seeds(group: Sequence[ClipScores]) -> np.ndarray:
        return np.mean([column_values(s, column, weights) for s in group], axis=0)

    difference = mean_over_seeds(better) - mean_over_seeds(other)
    observed, resampled = float(difference[0]), difference[1:]
    resampled = resampled[np.isfinite(resampled)]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(resampled, [tail, 100 - tail]) if resampled.size else (np.nan, np.nan)
    return Difference(column=column, observed=observed, low=float(low), high=float(high), level=level)


def verdict(differences: Sequence[Difference]) -> str:
    """The verdict on "better beats every other" from its differences: one of three words.

    ``reproduced`` when every interval lies wholly above zero; ``NOT reproduced`` when some
    interval lies wholly below zero (the data contradict the claim); otherwise ``within noise``:
    some interval reaches zero, whichever side of it the measured difference falls on (a
    one-seed edge of a point or two is not a reproduction, nor a refutation).
    """
    if not differences:
        raise ValueError("verdict needs at least one difference")
    if all(d.low > 0 for d in differences):
        return "reproduced"
    if any(d.high < 0 for d in differences):
        return "NOT reproduced"
    return "within noise"


def clip_scores_of_file(predictions_path: str | Path, root: str | Path, split: str = "evaluate") -> ClipScores:
    """Per-clip scores of a prediction TSV on a labelled split of the dataset at ``root``."""
    from asckit.data.tau import load_split, split_path
    from asckit.predictions.reader import read_predictions

    truth_source = str(split_path(root, split))
    return ClipScores.from_ground_truth(load_split(root, split), read_predictions(predictions_path), truth_source)


def compare_files(
    better: Sequence[str | Path], other: Sequence[str | Path], root: str | Path, split: str = "evaluate",
    columns: Sequence[str] = ACCURACY_COLUMNS, draws: int = DRAWS,
) -> dict[str, Difference]:
    """``better`` − ``other`` per column; each side is one prediction file per seed."""
    a = [clip_scores_of_file(path, root, split) for path in better]
    b = [clip_scores_of_file(path, root, split) for path in other]
    if a[0].n_classes != b[0].n_classes:
        raise AsckitError(f"{better[0]} has {a[0].n_classes} classes and {other[0]} {b[0].n_classes}; compare like with like")
    return {column: paired_difference(a, b, column, draws) for column in columns if _measured(a[0], column)}


def _measured(scores: ClipScores, column: str) -> bool:
    members = GROUP_COLUMNS.get(column, (column,))
    return column == "avg_acc" or any(np.any(scores.devices == d) for d in members)


__all__ = [
    "ACCURACY_COLUMNS",
    "DRAWS",
    "ClipScores",
    "Difference",
    "clip_scores_of_file",
    "compare_files",
    "column_values",
    "confidence_interval",
    "paired_difference",
    "resample_counts",
    "resample_weights",
    "verdict",
]
