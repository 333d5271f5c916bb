"""Chunked work over 2 worker processes (or in-process), results handled in submission order.

Feature extraction and offline augmentation share this: ``spawn`` workers (a fork after torch
or OpenMP has started a thread pool can deadlock), one BLAS/OpenMP thread per worker (two
processes × one thread beat one process × two threads for this work), a bounded number of chunks
in flight so memory stays flat, and a tqdm progress bar.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

#: glibc ``mallopt`` parameters and the values workers set (see ``keep_freed_memory``).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_BYTES, _TRIM_THRESHOLD_BYTES = 32 << 20, 128 << 20


def keep_freed_memory() -> bool:
    """Let glibc reuse freed buffers of up to 32 MB instead of returning them to the kernel.

    By default glibc maps every large array (a clip's STFT is 1.8 MB) fresh from the kernel and
    unmaps it when freed, so each clip pays hundreds of page faults (``python benchmarks/features.py``
    with and without this call shows the difference in clips/s). Only worker processes
    call it; they hold at most the trim threshold (128 MB) of freed memory. False where the C
    library is not glibc.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES))


def _single_threaded(initializer: Callable, initargs: tuple) -> None:
    from threadpoolctl import threadpool_limits

    keep_freed_memory()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = "1"  # for libraries loaded from here on
    threadpool_limits(1)  # and the BLAS/OpenMP pools already loaded (numpy's OpenBLAS)
    initializer(*initargs)
    if "torch" in sys.modules:  # only workers that need torch pay for importing it
        sys.modules["torch"].set_num_threads(1)


def chunked(items: list, size: int) -> list[list]:
    """``items`` in consecutive chunks of ``size`` (the last may be shorter)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_chunks(
    function: Callable,
    chunks: list,
    workers: int,
    initializer: Callable,
    initargs: tuple,
    handle: Callable,
) -> None:
    """Call ``function(chunk)`` for every chunk and ``handle`` each result in the parent.

    With one worker (or one chunk) everything runs in this process, which keeps its own thread
    settings; otherwise ``workers`` spawned processes run ``initializer(*initargs)`` first.
    """
    if workers <= 1 or len(chunks) <= 1:
        initializer(*initargs)
        for chunk in chunks:
            handle(function(chunk))
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_single_threaded, initargs=(initializer, initargs)
    ) as pool:
        # Results are handled in submission order, so a store's row order does not depend on which
        # worker finished first: the same inputs give the same bytes.
        pending: collections.deque = collections.deque()
        for chunk in chunks:
            pending.append(pool.submit(function, chunk))
            if len(pending) >= 2 * workers:
                handle(pending.popleft().result())
        while pending:
            handle(pending.popleft().result())


def progress_bar(total: int, initial: int, enabled: bool, desc: str):
    """A tqdm bar counting clips; disabled when ``enabled`` is False."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, desc=desc, unit="clip", dynamic_ncols=True)
