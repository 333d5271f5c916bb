"""The learning-rate schedules, updated every step: the 2020 reference's cosine annealing with warm
restarts, and the 2024/2025 baselines' linear warm-up then one cosine (:func:`cosine_with_warmup`).

Its one job: reproduce ``LR_WarmRestart`` of the reference training scripts (docs/reference-code.md §5)
as a closed-form function (:func:`lr_at`), as the cycle layout in epochs (:func:`cycles`,
:func:`cycle_end_epochs`, used to checkpoint at every cycle end), and as a torch scheduler stepped
after every optimizer step (:func:`warm_restart_scheduler`).

The schedule: ``lr = lr_min + 0.5·(lr_max − lr_min)·(1 + cos(π·pts/T))`` with ``pts`` the
position in the current cycle in (fractional) epochs, ``epoch + step/steps_per_epoch − cycle
start``. The first cycle lasts 2 epochs and each restart doubles the length, so the 0-based
restart epochs are 0, 2, 6, 14, 30, 62, 126, 254, … and the lr is lowest at the end of epochs
1, 5, 13, 29, 61, 125, 253, …

Convention at cycle ends, the same as the reference: the lr of optimizer step ``k`` (0-based,
counted over the whole run) is ``lr_at(k / steps_per_epoch)``. The step right after a restart
runs at ``lr_max`` exactly; the last step of a cycle has ``pts/T = 1 − 1/(T·steps_per_epoch) < 1``,
so it runs just above ``lr_min``, never at it (``lr_min`` itself is only reached by the formula
at ``pts = T``, which is already the next cycle's first step at ``lr_max``).

torch's ``CosineAnnealingWarmRestarts`` with ``T_0 = first_cycle·steps_per_epoch`` and
``T_mult = cycle_mult``, stepped once per optimizer step, gives exactly these values (its integer
step counters even avoid float drift in ``pts``), so the scheduler here is that class, extended
only for resume safety and the Keras ``decay`` option.

The reference FCNN and Resnet optimizers also used Keras SGD ``decay=1e-6``, which multiplies
the scheduled lr by ``1/(1 + decay·k)`` at step ``k`` (``keras_decay`` here; 0 unless given, and
``optim.keras_decay: reference`` gives those two models 1e-6). Its effect depends on the number of
steps, not on the epochs alone: at the end of a run of E epochs over N training rows in batches
of B, ``k = E·ceil(N/B)`` and the factor is ``1/(1 + decay·E·ceil(N/B))``. With decay 1e-6 and
B = 32 over 254 epochs: 13,965 original clips → k = 110,998, factor 0.90 (−10 %); the reference's
augmented list of about 90,255 rows (13,965 × 5 + 10,215 × 2) → k = 716,534, factor 0.58 (−42 %);
a 126-epoch Resnet on that list → 0.74. The factor falls smoothly with k, so late cycles run at a
lower peak lr than early ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

from asckit.core.errors import AsckitError

__all__ = [
    "Cycle",
    "WarmRestartLR",
    "cosine_warmup_factor",
    "cosine_with_warmup",
    "cycle_end_epochs",
    "cycles",
    "lr_at",
    "warm_restart_scheduler",
]

LR_MAX = 0.1
LR_MIN = 1e-5  # 0.1 · 1e-4 in the reference
FIRST_CYCLE = 2  # epochs
CYCLE_MULT = 2


def _check_cycle_args(first_cycle: int, cycle_mult: int) -> None:
    if first_cycle < 1 or cycle_mult < 1:
        raise ValueError(f"first_cycle ({first_cycle}) and cycle_mult ({cycle_mult}) must be ≥ 1")


def lr_at(
    epoch_float: float,
    lr_max: float = LR_MAX,
    lr_min: float = LR_MIN,
    first_cycle: int = FIRST_CYCLE,
    cycle_mult: int = CYCLE_MULT,
) -> float:
    """The scheduled lr at ``epoch_float = epoch + step/steps_per_epoch`` (0-based epoch)."""
    if epoch_float < 0:
        raise ValueError(f"epoch_float must be ≥ 0, got {epoch_float}")
    _check_cycle_args(first_cycle, cycle_mult)
    start, length = 0, first_cycle
    while epoch_float >= start + length:
        start, length = start + length, length * cycle_mult
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * (epoch_float - start) / length))


@dataclass(frozen=True)
class Cycle:
    """One warm-restart cycle, in 0-based epochs."""

    start: int  # the epoch whose first step runs at lr_max
    length: int  # planned length T in epochs
    epochs_run: int  # epochs of it inside the run; < length when training stops mid-cycle

    @property
    def complete(self) -> bool:
        return self.epochs_run == self.length

    @property
    def last_epoch(self) -> int:
        """The last epoch of this cycle that is run (its end is the lr minimum when complete)."""
        return self.start + self.epochs_run - 1


def cycles(total_epochs: int, first_cycle: int = FIRST_CYCLE, cycle_mult: int = CYCLE_MULT) -> list[Cycle]:
    """The cycles of a run of ``total_epochs`` epochs; the last one may be cut off.

    For 500 epochs the 8th cycle starts at epoch 254 with T = 256 and runs 246 epochs.
    """
    if total_epochs < 1:
        raise ValueError(f"total_epochs must be ≥ 1, got {total_epochs}")
    _check_cycle_args(first_cycle, cycle_mult)
    out: list[Cycle] = []
    start, length = 0, first_cycle
    while start < total_epochs:
        out.append(Cycle(start, length, min(length, total_epochs - start)))
        start, length = start + length, length * cycle_mult
    return out


def cycle_end_epochs(total_epochs: int, first_cycle: int = FIRST_CYCLE, cycle_mult: int = CYCLE_MULT) -> list[int]:
    """The 0-based epochs at whose end the lr reaches its minimum: 1, 5, 13, 29, 61, 125, 253, …

    Only complete cycles count. When the run ends mid-cycle (500 epochs: the last cycle is cut
    after 246 of its 256 epochs), the final epoch ``total_epochs − 1`` is not in the list, and
    ``cycles(total_epochs)[-1]`` tells how far that cycle got.
    """
    return [c.last_epoch for c in cycles(total_epochs, first_cycle, cycle_mult) if c.complete]


class WarmRestartLR(CosineAnnealingWarmRestarts):
    """``CosineAnnealingWarmRestarts`` counted in optimizer steps, with the reference's epoch layout.

    Call ``step()`` once after every optimizer step (in Lightning: ``"interval": "step"``).
    Compared with the torch class it adds: the steps-per-epoch it was built for, checked on
    resume; optimizer lrs restored on ``load_state_dict`` even if the optimizer state is not;
    and the optional Keras ``decay``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        steps_per_epoch: int,
        lr_min: float = LR_MIN,
        first_cycle: int = FIRST_CYCLE,
        cycle_mult: int = CYCLE_MULT,
        keras_decay: float = 0.0,
    ) -> None:
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be ≥ 1, got {steps_per_epoch}")
        _check_cycle_args(first_cycle, cycle_mult)
        self.steps_per_epoch = steps_per_epoch
        self.keras_decay = keras_decay
        super().__init__(optimizer, T_0=first_cycle * steps_per_epoch, T_mult=cycle_mult, eta_min=lr_min)

    @property
    def epoch_float(self) -> float:
        """Position of the step about to run, in epochs (``epoch + step/steps_per_epoch``)."""
        return self.last_epoch / self.steps_per_epoch

    def get_lr(self) -> list[float | torch.Tensor]:
        lrs = super().get_lr()
        if not self.keras_decay:
            return lrs
        # Keras SGD: lr_t = lr · 1/(1 + decay · iterations), iterations = steps already taken.
        scale = 1.0 / (1.0 + self.keras_decay * self.last_epoch)
        return [lr * scale for lr in lrs]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict.get("steps_per_epoch", self.steps_per_epoch)
        if saved != self.steps_per_epoch:
            # Cycles are counted in steps; another epoch length would move every restart.
            raise AsckitError(
                f"lr schedule: the checkpoint ran {saved} steps per epoch, this run has {self.steps_per_epoch}; "
                "resume with the same training list and batch size, or start a new run"
            )
        super().load_state_dict(state_dict)
        for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):
            group["lr"] = lr


def warm_restart_scheduler(
    optimizer: torch.optim.Optimizer,
    steps_per_epoch: int,
    lr_max: float = LR_MAX,
    lr_min: float = LR_MIN,
    first_cycle: int = FIRST_CYCLE,
    cycle_mult: int = CYCLE_MULT,
    keras_decay: float = 0.0,
) -> WarmRestartLR:
    """The reference schedule on ``optimizer``: every param group starts at ``lr_max``.

    Step it after every optimizer step. Step ``k`` then runs at
    ``lr_at(k / steps_per_epoch, lr_max, lr_min, first_cycle, cycle_mult) / (1 + keras_decay·k)``.
    """
    for group in optimizer.param_groups:
        # initial_lr is what torch schedulers anneal from; set it so a reused optimizer can't keep an old one.
        group["lr"] = group["initial_lr"] = lr_max
    return WarmRestartLR(optimizer, steps_per_epoch, lr_min, first_cycle, cycle_mult, keras_decay)


def cosine_warmup_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """The lr factor of optimizer step ``step`` (0-based) in the CPJKU baselines' schedule, transformers'
    ``get_cosine_schedule_with_warmup`` (one half cosine): ``step / warmup_steps`` during the warm-up (so
    the first step runs at lr 0, as there), then ``0.5·(1 + cos(π·progress))`` with
    ``progress = (step − warmup) / (total − warmup)``, never below 0."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def cosine_with_warmup(optimizer: torch.optim.Optimizer, lr_max: float, warmup_steps: int, total_steps: int):
    """The 2024/2025 baselines' schedule on ``optimizer`` (every group at ``lr_max``), stepped after
    every optimizer step over ``total_steps`` (epochs × steps per epoch): :func:`cosine_warmup_factor`.
    A warm-up longer than the run is refused (the lr would never reach ``lr_max``)."""
    if warmup_steps > total_steps:
        raise AsckitError(
            f"optim.warmup_steps: {warmup_steps} warm-up steps exceed the run's {total_steps} optimizer steps; "
            "lower optim.warmup_steps (or set optim.warmup_fraction)"
        )
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] = lr_max
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_warmup_factor(step, warmup_steps, total_steps))
