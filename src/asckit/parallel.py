"""Chunked work over 2 worker processes (or in-process), results handled as they finish.

Feature extraction and offline augmentation share this: ``spawn`` workers (a fork after torch
has started its thread pool can deadlock), one torch thread per worker (two processes × one
thread beat one process × two threads for this work), a bounded number of chunks in flight so
memory stays flat, and a tqdm progress bar.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait


def _single_threaded(initializer: Callable, initargs: tuple) -> None:
    import torch

    torch.set_num_threads(1)
    initializer(*initargs)


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
        pending = set()
        for chunk in chunks:
            pending.add(pool.submit(function, chunk))
            if len(pending) >= 2 * workers:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    handle(future.result())
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                handle(future.result())


def progress_bar(total: int, initial: int, enabled: bool, desc: str):
    """A tqdm bar counting clips; disabled when ``enabled`` is False."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, desc=desc, unit="clip", dynamic_ncols=True)
