"""Experiments: the paper's results reproduced from a checked-in YAML, end to end.

``reproduce`` (the experiment spec, its runner and its results table: train what is missing, fuse by
filename, score, and write the table beside the paper's figures), ``commands`` (``asckit
reproduce``) and ``demo`` (``make demo``: ``asckit reproduce demo``, an int8 export and one
classified recording; ``python -m asckit.demo`` runs it).

Importing this package imports nothing.
"""
