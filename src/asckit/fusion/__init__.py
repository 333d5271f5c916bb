"""Fusion: several prediction sets of the same clips into one.

``average`` (the weighted mean), ``two_stage`` (the 3-class × 10-class product), ``logistic`` (a
logistic regression fitted on held-out member outputs) and ``commands`` (``asckit fuse``) work on
``asckit.predictions.reader.Predictions``; ``core`` is their arithmetic on probability matrices,
numpy only, shared with the torch-free deployment runtime so that a bundle fuses its members exactly
as ``asckit fuse`` fuses their prediction files.

Rows are always joined by filename (``asckit.predictions.reader.align``), never by position. The
reference code's ``eval_hybrid.py`` multiplied two score files row by row although their rows were
in different file orders, so each clip's 10-class scores met another clip's 3-class scores; its
81.9 % is that bug's figure, and the correctly aligned fusion of the same scores gives about 79.4 %
(docs/reference-code.md §4).

Importing this package imports nothing.
"""
