"""Shared timing for the benchmarks: warm up, synchronise the device, time N calls."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so that a timer measures it (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def clips_per_second(one_step: Callable[[], None], steps: int, warmup: int, clips_per_step: int, device) -> float:
    """Clips/s of ``one_step`` over ``steps`` timed calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        one_step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        one_step()
    sync(device)
    return steps * clips_per_step / (time.perf_counter() - start)
