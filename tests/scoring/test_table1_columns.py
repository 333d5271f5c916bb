"""Tests for asckit.scoring.table1_columns: the paper's Table 1 columns, in its order, each with its headings."""

from asckit.scoring.table1_columns import ACCURACY_COLUMNS, HEADINGS, SHORT_HEADINGS, TABLE1_COLUMNS


def test_table1_columns_have_headings_and_accuracies_are_all_but_the_loss():
    assert TABLE1_COLUMNS == ("A", "B&C", "s1-s3", "s4-s6", "val_loss", "avg_acc")  # the paper's order
    assert set(HEADINGS) == set(SHORT_HEADINGS) == set(TABLE1_COLUMNS)
    assert ACCURACY_COLUMNS == tuple(c for c in TABLE1_COLUMNS if c != "val_loss")
