"""One writer at a time: an exclusive lock for a folder that a command writes (a feature store, a run
directory, an export bundle).

The lock is ``filelock``'s (a maintained ``flock`` wrapper), held on a hidden file beside the folder
(``.NAME.lock``), so the folder's own contents stay as the tool writes them. The operating system drops
it when the holding process ends, so a crash or a kill never leaves a stale lock. A second writer
prints one line saying what it waits for, then waits until the first is done, and carries on from what
the first left (a store then has the first writer's rows). Within one process the lock is re-entrant
(``is_singleton``): a command that opens the same store twice does not wait for itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filelock import FileLock



def lock_path(folder: str | os.PathLike) -> Path:
    """The lock file of ``folder``: ``.NAME.lock`` in its parent."""
    folder = Path(folder).absolute()
    return folder.parent / f".{folder.name}.lock"


def acquire_writer(folder: str | os.PathLike, what: str) -> FileLock:
    """Take the writer lock of ``folder`` (``what`` names it in the message, e.g. 'feature store').

    Returns the held lock; call ``.release()`` when done (or let the process end).
    """
    from filelock import FileLock, Timeout  # imported here: the torch-free runtime never writes these folders

    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, is_singleton=True, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(
            f"asckit: {folder}: another process is writing this {what}; waiting for it to finish (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        lock.acquire()
    return lock


__all__ = ["acquire_writer", "lock_path"]
