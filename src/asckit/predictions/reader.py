"""Prediction files: read, write and validate DCASE-format TSVs, and join them by filename.

A prediction file is TAB-separated with the header ``filename scene_label <one column per class
in asckit.labels.classes(task) order>`` and one row per clip; each row's probabilities sum to 1
and ``scene_label`` is the class with the highest probability. The task is inferred from the class
columns: the 10 scenes mean '1a', the 3 super-classes '1b' (a 3-class model of the 1a pipeline
therefore writes a '1b'-shaped file).

Rows of different files are only ever matched by filename (``align``, ``match_filenames``), never
by position: the reference code's two-stage fusion paired rows by position and so multiplied the
scores of different clips (docs/reference-code.md §4).

Filename matching rule: a filename is compared as written, except that a bare name matches the
same name under a folder, so ``airport-lisbon-1000-40000-a.wav`` and
``audio/airport-lisbon-1000-40000-a.wav`` are the same clip. Technically rows are keyed by the
basename (the part after the last '/' or '\\'); two rows of one file with the same basename are an
error, and the same basename under two different non-empty folders (``audio/x.wav`` vs
``eval/x.wav``) is an error rather than a silent match.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_write_text
from asckit.labels import SCENES_3, SCENES_10, classes
from asckit.predictions.file_format import (
    LABEL_TIE_TOLERANCE,
    LEADING_COLUMNS,
    SUM_TOLERANCE,  # noqa: F401 - the rule read_predictions applies, named here too
    check_values,
    prediction_text,
)
from asckit.predictions.file_format import row_name as _row

_TASK_BY_CLASSES = {SCENES_10: "1a", SCENES_3: "1b"}
_SEPARATOR_RE = re.compile(r"[\\/]")


@dataclass(frozen=True, eq=False)
class Predictions:
    """Class probabilities for a set of clips, as held in one prediction file.

    ``probs[i, k]`` is the probability that clip ``filenames[i]`` belongs to ``classes[k]``.
    ``source`` names where the rows came from (a path, or a description such as
    ``average(a.tsv, b.tsv)``) and is used in error messages only. The object itself only checks
    shapes and class order; files are checked on read and write (rows summing to 1, no NaN, ...),
    and ``asckit.scoring.metrics`` renormalises rows before scoring.
    """

    filenames: tuple[str, ...]
    probs: np.ndarray
    classes: tuple[str, ...]
    task: str
    source: str = field(default="predictions")

    def __post_init__(self) -> None:
        object.__setattr__(self, "filenames", tuple(str(f) for f in self.filenames))
        object.__setattr__(self, "classes", tuple(self.classes))
        probs = np.asarray(self.probs, dtype=np.float64)
        object.__setattr__(self, "probs", probs)
        if self.classes != classes(self.task):
            raise ValueError(f"classes {self.classes} are not the class order of task {self.task!r}")
        if probs.ndim != 2 or probs.shape != (len(self.filenames), len(self.classes)):
            raise ValueError(
                f"{self.source}: probs has shape {probs.shape}, expected "
                f"({len(self.filenames)}, {len(self.classes)}) for {len(self.filenames)} clips"
            )

    def __len__(self) -> int:
        return len(self.filenames)

    @property
    def labels(self) -> tuple[str, ...]:
        """The predicted class of every clip (argmax; the first class wins a tie)."""
        return tuple(self.classes[k] for k in np.argmax(self.probs, axis=1))

    def take(self, rows: Sequence[int] | np.ndarray, source: str | None = None) -> Predictions:
        """A new Predictions holding ``rows`` of this one, in that order."""
        rows = np.asarray(rows, dtype=np.intp)
        return Predictions(
            filenames=tuple(self.filenames[i] for i in rows),
            probs=self.probs[rows],
            classes=self.classes,
            task=self.task,
            source=self.source if source is None else source,
        )


def task_of_classes(class_columns: Sequence[str]) -> str | None:
    """The task whose class order is exactly ``class_columns`` ('1a' or '1b'), else None."""
    return _TASK_BY_CLASSES.get(tuple(class_columns))


def write_predictions(
    path: str | os.PathLike, filenames: Sequence[str], probs: np.ndarray, task: str
) -> Path:
    """Write a DCASE prediction TSV atomically and return its path.

    The file format is ``asckit.predictions.file_format``'s. The data is checked first with the same rules
    ``read_predictions`` applies, so an invalid file is never written.
    """
    path = Path(path)
    class_names = classes(task)
    preds = _checked_predictions(list(filenames), probs, class_names, task, source=str(path))
    atomic_write_text(path, prediction_text(preds.filenames, preds.probs, class_names))
    return path


def read_predictions(path: str | os.PathLike) -> Predictions:
    """Read and validate a DCASE prediction TSV.

    Raises AsckitError (one line naming the file, the row and the fix) for: a missing file, a header
    that does not start with ``filename scene_label``, missing, unknown, repeated or reordered class
    columns, values that are not finite numbers, negative values, rows whose probabilities do not
    sum to 1 (within ``SUM_TOLERANCE``), duplicated filenames, and a ``scene_label`` that is not the
    row's highest-probability class. Probabilities are returned as read, not renormalised.
    """
    path = Path(path)
    if not path.is_file():
        raise AsckitError(f"{path}: prediction file not found; check the path")
    class_names, task = _check_header(path)
    try:
        frame = pd.read_csv(
            path, sep="\t", dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8"
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise AsckitError(f"{path}: not a readable TAB-separated prediction file ({detail})") from exc
    if len(frame) == 0:
        raise AsckitError(f"{path}: the file has a header but no rows; write one row per clip")

    filenames = frame["filename"].tolist()
    probs = np.empty((len(frame), len(class_names)), dtype=np.float64)
    for k, name in enumerate(class_names):
        column = frame[name]
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = bad[0]
            raise AsckitError(
                f"{path}: {_row(i, filenames)}: column {name!r} holds {column.iloc[i]!r}, not a "
                f"finite probability ({bad.size} row(s) like this in the column); write a number in every "
                "class column"
            )
        probs[:, k] = values

    preds = _checked_predictions(filenames, probs, class_names, task, source=str(path))
    _check_scene_labels(path, frame["scene_label"].tolist(), preds)
    return preds


def align(*predictions: Predictions) -> tuple[Predictions, ...]:
    """Reorder every prediction set to the row order of the first one, matching rows by filename.

    The result keeps each set's own probabilities and classes; filenames are those of the first
    set as written. All sets must hold exactly the same clips (see the module docstring for how
    filenames match); otherwise AsckitError lists the first missing, extra, or duplicated names and
    their counts.
    """
    if not predictions:
        raise ValueError("align() needs at least one Predictions")
    reference = predictions[0]
    aligned = [reference]
    for other in predictions[1:]:
        rows = match_filenames(reference.filenames, other.filenames, reference.source, other.source)
        aligned.append(
            Predictions(reference.filenames, other.probs[rows], other.classes, other.task, other.source)
        )
    return tuple(aligned)


def match_filenames(
    reference: Sequence[str],
    other: Sequence[str],
    reference_source: str = "reference",
    other_source: str = "other",
) -> np.ndarray:
    """Row indices into ``other`` that put its rows in the order of ``reference``.

    Both lists must name the same clips exactly once each, by the rule in the module docstring;
    otherwise AsckitError lists the offending names (first few and the count).
    """
    reference_keys = _unique_keys(reference, reference_source)
    other_keys = _unique_keys(other, other_source)
    missing = [name for name, key in zip(reference, reference_keys) if key not in other_keys]
    extra = [name for name, key in zip(other, other_keys) if key not in reference_keys]
    if missing or extra:
        parts = [
            f"{len(names)} only in {source} ({_examples(names)})"
            for names, source in ((missing, reference_source), (extra, other_source))
            if names
        ]
        raise AsckitError(
            f"{reference_source} and {other_source} list different clips: {'; '.join(parts)}; rows are "
            "matched by filename, so both must cover the same clips (same split)"
        )
    rows = np.array([other_keys[key] for key in reference_keys], dtype=np.intp)
    conflicts = [
        f"{a} vs {b}"
        for a, b in zip(reference, (other[i] for i in rows))
        if a != b and _folder(a) and _folder(b)
    ]
    if conflicts:
        raise AsckitError(
            f"{other_source}: {len(conflicts)} clip(s) sit in a different folder than in "
            f"{reference_source} ({_examples(conflicts)}); write the filenames as the dataset CSV "
            "does (e.g. audio/<name>.wav) or as bare names"
        )
    return rows


def clip_key(filename: str) -> str:
    """The name rows are matched on: the basename, so 'audio/x.wav' and 'x.wav' are one clip."""
    return _SEPARATOR_RE.split(filename)[-1]


def _folder(filename: str) -> str:
    return filename[: len(filename) - len(clip_key(filename))]


def _unique_keys(filenames: Sequence[str], source: str) -> dict[str, int]:
    """Map clip key → row index; duplicated keys are an AsckitError listing them."""
    keys: dict[str, int] = {}
    duplicates: list[str] = []
    for i, name in enumerate(filenames):
        key = clip_key(name)
        if key in keys:
            duplicates.append(name)
        else:
            keys[key] = i
    if duplicates:
        unique = list(dict.fromkeys(duplicates))
        raise AsckitError(
            f"{source}: {len(unique)} clip(s) appear more than once ({_examples(unique)}); "
            "keep exactly one row per clip"
        )
    return keys


def _check_header(path: Path) -> tuple[tuple[str, ...], str]:
    """Validate the header line; return the class columns and the task they mean."""
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline()
    except UnicodeDecodeError as exc:
        raise AsckitError(f"{path}: not a UTF-8 text file; write predictions as a TAB-separated TSV") from exc
    header = first.rstrip("\r\n").split("\t")
    if tuple(header[:2]) != LEADING_COLUMNS:
        shown = first.strip()
        shown = shown if len(shown) <= 60 else shown[:60] + "..."
        hint = " (the file is not TAB-separated)" if len(header) == 1 and shown else ""
        raise AsckitError(
            f"{path}: header {shown!r}{hint}; it must be filename, scene_label, then one column per "
            "class, separated by TABs"
        )
    class_columns = tuple(header[2:])
    task = task_of_classes(class_columns)
    if task is not None:
        return class_columns, task

    known = set(SCENES_10) | set(SCENES_3)
    unknown = [c for c in class_columns if c not in known]
    repeated = [c for c, n in Counter(class_columns).items() if n > 1]
    # Judge against the task the columns look most like, to name the missing ones.
    target = SCENES_3 if len(set(class_columns) & set(SCENES_3)) > len(set(class_columns) & set(SCENES_10)) else SCENES_10
    missing = [c for c in target if c not in class_columns]
    order = " ".join(target)
    if unknown:
        problem = f"unknown class columns {_examples(unknown)}"
    elif repeated:
        problem = f"repeated class columns {_examples(repeated)}"
    elif missing:
        problem = f"missing class columns {_examples(missing)}"
    else:
        problem = "class columns are out of order"
    raise AsckitError(
        f"{path}: {problem}; the class columns must be exactly, in this order: {order}"
    )


def _checked_predictions(
    filenames: list[str], probs: np.ndarray, class_names: tuple[str, ...], task: str, source: str
) -> Predictions:
    """Build a Predictions after checking values (``asckit.predictions.file_format.check_values``) and
    that every clip appears once; AsckitError names the first bad row."""
    probs = check_values(filenames, probs, class_names, source)
    _unique_keys(filenames, source)
    return Predictions(tuple(filenames), probs, class_names, task, source)


def _check_scene_labels(path: Path, stated: list[str], preds: Predictions) -> None:
    index = {name: k for k, name in enumerate(preds.classes)}
    for i, label in enumerate(stated):
        if label not in index:
            raise AsckitError(
                f"{path}: {_row(i, preds.filenames)}: scene_label {label!r} is not one of the class "
                f"columns ({' '.join(preds.classes)})"
            )
    stated_index = np.array([index[label] for label in stated])
    stated_prob = preds.probs[np.arange(len(preds)), stated_index]
    bad = np.flatnonzero(stated_prob < preds.probs.max(axis=1) - LABEL_TIE_TOLERANCE)
    if bad.size:
        i = bad[0]
        raise AsckitError(
            f"{path}: {_row(i, preds.filenames)}: scene_label {stated[i]!r} is not the most probable "
            f"class ({preds.labels[i]!r}; {bad.size} row(s) like this); scene_label must be the argmax"
        )


def _examples(items: Sequence[str], limit: int = 3) -> str:
    """'a, b, c' or 'a, b, c, ... (12 in all)': enough names to find the problem, on one line."""
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown}, ... ({len(items)} in all)"
