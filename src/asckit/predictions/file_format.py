"""The prediction TSV on disk: its header, its value rules and its writer, numpy only.

One job: the file format every stage writes (``asckit predict-split``, ``asckit fuse``,
``asckit predict``, submission outputs) and the checks a file's values must pass, with one set of
tolerances. TAB-separated, header ``filename scene_label <one column per class>``, one row per clip,
``scene_label`` the row's most probable class, probabilities written at full precision (shortest
repr, a lossless round trip). Beside a file, ``<file>.source.json`` may record what produced it (``write_provenance``:
``asckit predict-split`` and ``asckit fuse`` write one), so a teacher file says which run,
checkpoints and rows it holds. Reading into ``Predictions`` and joining by filename is
``asckit.predictions.reader`` (pandas); this module stays importable by the torch-free runtime.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_write_text

#: The two leading columns of every prediction file.
LEADING_COLUMNS: tuple[str, str] = ("filename", "scene_label")

#: How far a row's probabilities may sum from 1. Loose enough for files written with 4 decimals
#: (10 classes x 5e-5 rounding), tight enough to catch summed ensemble scores (rows summing to 2 or 3).
SUM_TOLERANCE = 1e-3

#: Ties and printing round-off: a stated scene_label whose probability is this close to the row
#: maximum is accepted as the argmax.
LABEL_TIE_TOLERANCE = 1e-6


def header(class_names: Sequence[str]) -> list[str]:
    return [*LEADING_COLUMNS, *class_names]


def format_probability(value: float) -> str:
    return repr(float(value))  # shortest exact repr: lossless round trip


def table_text(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """TAB-separated text: a header line, then one line per row."""
    return "".join("\t".join(cells) + "\n" for cells in [columns, *rows])


def write_table(path: str | os.PathLike, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    """Write a TAB-separated table atomically; returns its path."""
    path = Path(path)
    atomic_write_text(path, table_text(columns, rows))
    return path


def prediction_text(filenames: Sequence[str], probs: np.ndarray, class_names: Sequence[str]) -> str:
    """The file's text: the header, then each clip with its argmax label and probabilities."""
    probs = np.asarray(probs, dtype=np.float64)
    rows = [[name, class_names[int(np.argmax(row))], *map(format_probability, row)] for name, row in zip(filenames, probs)]
    return table_text(header(class_names), rows)


def check_values(filenames: Sequence[str], probs: np.ndarray, class_names: Sequence[str], source: str) -> np.ndarray:
    """``probs`` as float64 after checking the file rules; AsckitError names the first bad row.

    Rules: one row of ``len(class_names)`` values per filename; filenames non-empty, without tabs
    or newlines and not starting with a quote (TSV readers would unquote it); values finite and
    non-negative; rows summing to 1 within ``SUM_TOLERANCE``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape != (len(filenames), len(class_names)):
        raise AsckitError(
            f"{source}: probabilities have shape {probs.shape} for {len(filenames)} filenames; "
            f"expected ({len(filenames)}, {len(class_names)}), one column per class"
        )
    for i, name in enumerate(filenames):
        if not name or any(ch in name for ch in "\t\r\n") or name.startswith('"'):
            raise AsckitError(f"{source}: {row_name(i, filenames)}: filename {name!r} is empty, starts with a quote or holds a tab/newline")
    bad = np.flatnonzero(~np.isfinite(probs).all(axis=1))
    if bad.size:
        raise AsckitError(
            f"{source}: {row_name(bad[0], filenames)}: probabilities are not finite numbers "
            f"({bad.size} row(s) like this); check the model output for NaN/inf"
        )
    bad = np.flatnonzero((probs < 0).any(axis=1))
    if bad.size:
        raise AsckitError(
            f"{source}: {row_name(bad[0], filenames)}: negative probability "
            f"({bad.size} row(s) like this); write softmax probabilities, not logits"
        )
    sums = probs.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > SUM_TOLERANCE)
    if bad.size:
        raise AsckitError(
            f"{source}: {row_name(bad[0], filenames)}: probabilities sum to {sums[bad[0]]:.6g}, not 1 "
            f"({bad.size} row(s) like this); divide summed ensemble scores by their row sum"
        )
    return probs


def is_argmax(probs_row: Sequence[float], k: int) -> bool:
    """Whether class ``k`` is the row's most probable one (within ``LABEL_TIE_TOLERANCE``)."""
    return probs_row[k] >= max(probs_row) - LABEL_TIE_TOLERANCE


def write_prediction_file(
    path: str | os.PathLike, filenames: Sequence[str], probs: np.ndarray, class_names: Sequence[str]
) -> Path:
    """Check the values (``check_values``), then write the prediction TSV atomically."""
    path = Path(path)
    probs = check_values(list(filenames), probs, class_names, source=str(path))
    atomic_write_text(path, prediction_text(filenames, probs, class_names))
    return path


PROVENANCE_SUFFIX = ".source.json"


def provenance_path(path: str | os.PathLike) -> Path:
    """Where the provenance sidecar of the prediction file ``path`` lives."""
    path = Path(path)
    return path.with_name(path.name + PROVENANCE_SUFFIX)


def write_provenance(path: str | os.PathLike, record: dict) -> Path:
    """Write what produced the prediction file ``path`` (a JSON mapping) beside it, atomically."""
    target = provenance_path(path)
    atomic_write_text(target, json.dumps(record, indent=1) + "\n")
    return target


def read_provenance(path: str | os.PathLike) -> dict | None:
    """The provenance record of ``path``, or None when it has none (or it cannot be read)."""
    try:
        return json.loads(provenance_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def row_name(i: int, filenames: Sequence[str]) -> str:
    return f"data row {int(i) + 1} ({filenames[int(i)]})"


__all__ = [
    "LABEL_TIE_TOLERANCE",
    "LEADING_COLUMNS",
    "PROVENANCE_SUFFIX",
    "SUM_TOLERANCE",
    "check_values",
    "format_probability",
    "header",
    "is_argmax",
    "prediction_text",
    "provenance_path",
    "read_provenance",
    "row_name",
    "table_text",
    "write_prediction_file",
    "write_provenance",
    "write_table",
]
