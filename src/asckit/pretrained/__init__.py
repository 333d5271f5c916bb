"""Published models made asckit runs: the paper authors' Keras checkpoints, read with h5py only.

``keras_import`` (a Keras HDF5 file → an asckit run directory: architecture and widths worked out,
every weight copied), ``registry`` (the one list of the authors' published files, and ``get``:
download, verify, import) and ``commands`` (``asckit import-keras``, ``asckit pretrained list|get``).
Another framework's importer is a module beside ``keras_import``.

Importing this package imports nothing.
"""
