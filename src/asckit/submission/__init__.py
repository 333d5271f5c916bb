"""Challenge submissions: the files a DCASE task asks for, written from asckit's outputs and checked
against the task's rules.

``dcase2020`` (DCASE 2020 Task 1: ``<label>.output.csv`` and ``<label>.meta.yaml``, their writer
and their checker) and ``commands`` (``asckit submission``, ``asckit submission-check``). A later
challenge's format (another output file, an inference package) is a module beside ``dcase2020``.

Importing this package imports nothing.
"""
