"""Prediction files, the one format every stage after training writes and reads.

``file_format``: the TSV on disk (header, value rules, writer, provenance sidecar), numpy only, so
the torch-free runtime (``asckit predict``) writes it. ``reader``: a file read and validated into
``Predictions`` and prediction sets joined by filename, never by position (pandas; the toolkit).

Importing this package imports nothing.
"""
