"""Scoring: how good a prediction file is, and how sure that is.

``metrics`` (accuracy, log loss and the paper's Table 1 row of a prediction set against the ground
truth, joined by filename), ``table1_columns`` (the keys, order and headings of Table 1's result
columns, in one place), ``significance`` (bootstrap intervals and paired differences between
systems), ``report`` (the markdown report and plots), ``evaluate`` (a prediction file scored on a
dataset split: all of the above written to a folder) and ``commands`` (``asckit evaluate``,
``asckit compare``).

Importing this package imports nothing.
"""
