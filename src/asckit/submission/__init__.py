"""Challenge submissions: the files a DCASE task asks for, written from asckit's outputs and checked
against the task's rules.

``dcase2020`` (DCASE 2020 Task 1: ``<label>.output.csv`` and ``<label>.meta.yaml``, their writer
and their checker), ``dcase2024`` (DCASE 2024 Task 1: the package of five split outputs and one
meta.yaml, its writer and its checker), ``common`` (what the editions share) and ``commands``
(``asckit submission``, ``asckit submission-check``). A later challenge's format (an inference
package) is a module beside them.

Importing this package imports nothing.
"""
