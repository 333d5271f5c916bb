"""Experiments: the paper's results reproduced from a checked-in YAML, end to end.

``spec`` (the experiment YAML: its schema, finding and loading it), ``reproduce`` (the runner:
plan, train what is missing, fuse by filename, score, and read what the table needs), ``table``
(the results table beside the paper's figures, formatted from data alone), ``commands`` (``asckit
reproduce``) and ``demo`` (``make demo``: ``asckit reproduce demo``, an int8 export and one
classified recording; ``python -m asckit.demo`` runs it).

Importing this package imports nothing.
"""
