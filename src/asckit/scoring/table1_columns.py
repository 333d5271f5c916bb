"""The result columns of the paper's Table 1: their keys, order and headings, in one place.

Keys are ``asckit.labels.DEVICE_GROUPS`` (accuracy per device group), ``val_loss`` (log loss on
the evaluate split) and ``avg_acc`` (macro accuracy). ``asckit.scoring.metrics.table1_row`` computes
them; the report, ``asckit evaluate``, ``asckit reproduce`` and the bootstrap intervals
(``asckit.scoring.significance``) show them. Pure Python, so importing it costs nothing.

Beside them, the columns of the DCASE 2024/2025 tables (:data:`TAU22_COLUMNS`): macro class-averaged
accuracy first (the primary figure), the real / seen / unseen device groups, then each device, as the
2024/2025 baselines' READMEs report them (``asckit.scoring.metrics.tau22_row``).
"""

from __future__ import annotations

from asckit.labels import DEVICE_GROUPS, DEVICES, TAU22_DEVICE_GROUPS

#: Keys of the paper's Table 1 result columns, in the paper's order.
TABLE1_COLUMNS: tuple[str, ...] = (*DEVICE_GROUPS, "val_loss", "avg_acc")

#: The columns that are accuracies (all but the log loss).
ACCURACY_COLUMNS: tuple[str, ...] = tuple(c for c in TABLE1_COLUMNS if c != "val_loss")

#: Headings of the markdown report (``asckit.scoring.report``).
HEADINGS: dict[str, str] = {
    **{group: f"{group} acc. %" for group in DEVICE_GROUPS},
    "val_loss": "val loss",
    "avg_acc": "Avg acc. %",
}

#: Short headings of the console and experiment tables (``asckit evaluate``, ``asckit reproduce``).
SHORT_HEADINGS: dict[str, str] = {
    **{group: group.replace("-", "–") for group in DEVICE_GROUPS},
    "val_loss": "val loss",
    "avg_acc": "avg acc",
}

#: The DCASE 2024/2025 table columns: macro accuracy, the device groups, every development device.
TAU22_COLUMNS: tuple[str, ...] = ("avg_acc", *TAU22_DEVICE_GROUPS, *DEVICES)

#: Their headings (the experiment tables).
TAU22_HEADINGS: dict[str, str] = {"avg_acc": "macro acc", **{g: g for g in TAU22_DEVICE_GROUPS}, **{d: d.upper() for d in DEVICES}}


def table_columns(task: str) -> tuple[str, ...]:
    """The result columns of a table of ``task``: Table 1's for 2020, :data:`TAU22_COLUMNS` for 2024/2025."""
    return TAU22_COLUMNS if task in ("2024", "2025") else TABLE1_COLUMNS


__all__ = ["ACCURACY_COLUMNS", "HEADINGS", "SHORT_HEADINGS", "TABLE1_COLUMNS", "TAU22_COLUMNS", "TAU22_HEADINGS", "table_columns"]
