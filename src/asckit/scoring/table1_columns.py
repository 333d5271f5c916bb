"""The result columns of the paper's Table 1: their keys, order and headings, in one place.

Keys are ``asckit.labels.DEVICE_GROUPS`` (accuracy per device group), ``val_loss`` (log loss on
the evaluate split) and ``avg_acc`` (macro accuracy). ``asckit.scoring.metrics.table1_row`` computes
them; the report, ``asckit evaluate``, ``asckit reproduce`` and the bootstrap intervals
(``asckit.scoring.significance``) show them. Pure Python, so importing it costs nothing.
"""

from __future__ import annotations

from asckit.labels import DEVICE_GROUPS

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

__all__ = ["ACCURACY_COLUMNS", "HEADINGS", "SHORT_HEADINGS", "TABLE1_COLUMNS"]
