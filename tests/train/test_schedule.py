"""Tests for asckit.train.schedule: the reference LR_WarmRestart, per step, and its resume safety."""

from __future__ import annotations

import io
import math

import pytest
import torch

from asckit.core.errors import AsckitError
from asckit.train.schedule import Cycle, cycle_end_epochs, cycles, lr_at, warm_restart_scheduler

torch.set_num_threads(1)

LR_MAX, LR_MIN = 0.1, 1e-5
REFERENCE_RESTARTS = [0, 2, 6, 14, 30, 62, 126, 254]  # spec §5, 0-based
REFERENCE_CYCLE_ENDS = [1, 5, 13, 29, 61, 125, 253]


def _optimizer(lr: float = 0.5) -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr, momentum=0.9)


def _run(scheduler, optimizer, steps: int) -> list[float]:
    """The lr each of the next ``steps`` optimizer steps runs at."""
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_lr_is_max_at_every_restart_and_half_way_in_the_middle() -> None:
    for start, end in zip(REFERENCE_RESTARTS, REFERENCE_RESTARTS[1:], strict=False):
        assert lr_at(start) == pytest.approx(LR_MAX, rel=1e-12)
        assert lr_at((start + end) / 2) == pytest.approx((LR_MAX + LR_MIN) / 2, rel=1e-12)


def test_last_step_of_a_cycle_is_just_above_min() -> None:
    steps_per_epoch = 437  # ceil(13965 / 32), the 1a training list
    for end in REFERENCE_CYCLE_ENDS:
        last = lr_at(end + 1 - 1 / steps_per_epoch)
        assert LR_MIN < last < 1.05 * LR_MIN
        assert lr_at(end + 1) == pytest.approx(LR_MAX)  # the next step restarts


def test_lr_decreases_monotonically_within_each_cycle() -> None:
    steps_per_epoch = 5
    for start, end in zip(REFERENCE_RESTARTS, REFERENCE_RESTARTS[1:], strict=False):
        lrs = [lr_at(start + k / steps_per_epoch) for k in range((end - start) * steps_per_epoch)]
        assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))
        assert lrs[-1] < lr_at(end)  # and jumps back up at the restart


def test_lr_at_options_and_errors() -> None:
    assert lr_at(0.0, lr_max=1.0, lr_min=0.0, first_cycle=3, cycle_mult=1) == pytest.approx(1.0)
    assert lr_at(4.5, lr_max=1.0, lr_min=0.0, first_cycle=3, cycle_mult=1) == pytest.approx(0.5)  # 2nd cycle, half-way
    with pytest.raises(ValueError):
        lr_at(-0.1)
    with pytest.raises(ValueError):
        lr_at(1.0, first_cycle=0)


def test_cycle_ends_for_the_reference_run_lengths() -> None:
    assert cycle_end_epochs(254) == REFERENCE_CYCLE_ENDS  # FCNN / fsFCNN
    assert cycle_end_epochs(126) == REFERENCE_CYCLE_ENDS[:6]  # Resnet: exactly 6 cycles
    assert [c.start for c in cycles(254)] == REFERENCE_RESTARTS[:7]
    # 1b: 500 epochs, the 8th cycle (T = 256) is cut off after 246 epochs and has no minimum.
    assert cycle_end_epochs(500) == REFERENCE_CYCLE_ENDS
    assert cycles(500)[-1] == Cycle(start=254, length=256, epochs_run=246)
    assert not cycles(500)[-1].complete and cycles(500)[-1].last_epoch == 499
    assert cycle_end_epochs(1) == [] and cycles(1) == [Cycle(0, 2, 1)]
    with pytest.raises(ValueError):
        cycles(0)


@pytest.mark.parametrize("steps_per_epoch", [3, 7])
def test_scheduler_matches_lr_at_every_step(steps_per_epoch: int) -> None:
    optimizer = _optimizer()
    scheduler = warm_restart_scheduler(optimizer, steps_per_epoch)
    total = 254 * steps_per_epoch
    got = _run(scheduler, optimizer, total)
    want = [lr_at(k / steps_per_epoch) for k in range(total)]
    torch.testing.assert_close(torch.tensor(got, dtype=torch.float64), torch.tensor(want, dtype=torch.float64),
                               rtol=1e-10, atol=0)
    assert scheduler.epoch_float == 254


def test_scheduler_keras_decay_scales_by_step() -> None:
    optimizer = _optimizer()
    scheduler = warm_restart_scheduler(optimizer, 4, keras_decay=1e-2)
    got = _run(scheduler, optimizer, 60)
    want = [lr_at(k / 4) / (1 + 1e-2 * k) for k in range(60)]
    assert got == pytest.approx(want, rel=1e-10)


def test_scheduler_sets_every_group_to_lr_max() -> None:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    optimizer = torch.optim.SGD([{"params": params[:1], "lr": 3.0}, {"params": params[1:], "lr": 0.2}])
    warm_restart_scheduler(optimizer, 10, lr_max=0.05)
    assert [g["lr"] for g in optimizer.param_groups] == [0.05, 0.05]


def _checkpoint(obj) -> dict:
    """Round-trip through torch.save / torch.load, as a checkpoint file would."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer)


@pytest.mark.parametrize("restore_optimizer", [True, False])
def test_state_dict_resume_continues_at_the_same_position(restore_optimizer: bool) -> None:
    steps_per_epoch, stop = 5, 27  # stop mid-way through the 2nd cycle (epochs 2..5)
    optimizer = _optimizer()
    scheduler = warm_restart_scheduler(optimizer, steps_per_epoch, keras_decay=1e-3)
    _run(scheduler, optimizer, stop)
    saved = _checkpoint({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()})
    uninterrupted = _run(scheduler, optimizer, 60)

    resumed_optimizer = _optimizer()
    resumed = warm_restart_scheduler(resumed_optimizer, steps_per_epoch, keras_decay=1e-3)
    if restore_optimizer:
        resumed_optimizer.load_state_dict(saved["optimizer"])
    resumed.load_state_dict(saved["scheduler"])
    assert resumed.epoch_float == pytest.approx(stop / steps_per_epoch)
    assert _run(resumed, resumed_optimizer, 60) == uninterrupted
    assert not math.isclose(uninterrupted[0], LR_MAX)  # a real mid-cycle position, not a fresh start


def test_resume_with_another_epoch_length_is_refused() -> None:
    optimizer = _optimizer()
    scheduler = warm_restart_scheduler(optimizer, 5)
    _run(scheduler, optimizer, 3)
    other = warm_restart_scheduler(_optimizer(), 6)
    with pytest.raises(AsckitError, match="steps per epoch"):
        other.load_state_dict(scheduler.state_dict())


def test_the_baselines_warm_up_then_one_cosine_per_step() -> None:
    import math

    from asckit.train.schedule import cosine_warmup_factor, cosine_with_warmup

    # transformers' get_cosine_schedule_with_warmup, written out: linear from 0, then half a cosine to 0.
    assert cosine_warmup_factor(0, 2000, 20550) == 0.0  # the first step trains at lr 0, as the baseline's
    assert cosine_warmup_factor(1000, 2000, 20550) == 0.5
    assert cosine_warmup_factor(2000, 2000, 20550) == 1.0
    mid = 2000 + (20550 - 2000) // 2
    assert math.isclose(cosine_warmup_factor(mid, 2000, 20550), 0.5, abs_tol=1e-4)
    assert cosine_warmup_factor(20550, 2000, 20550) == 0.0
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1.0)
    scheduler = cosine_with_warmup(optimizer, 0.005, 4, 10)
    lrs = []
    for _ in range(10):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:5] == pytest.approx([0.0, 0.00125, 0.0025, 0.00375, 0.005])
    assert all(a > b for a, b in zip(lrs[4:], lrs[5:]))
