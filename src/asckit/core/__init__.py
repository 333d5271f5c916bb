"""What every stage shares and nothing else: the user-facing error (``errors``), atomic file output
(``io_utils``), one writer per folder (``locking``) and the argparse types of numeric options
(``cli_types``).

Dependency-light: ``errors``, ``io_utils`` and ``cli_types`` need the standard library only (the
torch-free runtime imports them); ``locking`` needs ``filelock``.
"""
