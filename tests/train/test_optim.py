"""KerasSGD: the same update as torch.optim.SGD while the lr is constant, a different one after an lr change."""

from __future__ import annotations

import copy

import pytest
import torch

from asckit.train.optim import KerasSGD
from asckit.train.schedule import warm_restart_scheduler


def _problem(seed: int = 0):
    """A small regression net, data and a loss; float64 so that differences are not rounding noise."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    x, y = torch.randn(32, 6, dtype=torch.float64), torch.randn(32, 1, dtype=torch.float64)
    return net, x, y


def _groups(net, weight_decay: float):
    first, second = net[0], net[2]
    return [
        {"params": [first.weight, first.bias, second.bias], "weight_decay": 0.0},
        {"params": [second.weight], "weight_decay": weight_decay},
    ]


def _train(net, optimizer, x, y, lrs):
    """One step per lr in ``lrs``; returns the flat weights after every step."""
    history = []
    for lr in lrs:
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        optimizer.step()
        history.append(torch.cat([p.detach().flatten().clone() for p in net.parameters()]))
    return history


def _pair(weight_decay: float = 0.0, momentum: float = 0.9):
    net, x, y = _problem()
    twin = copy.deepcopy(net)
    keras = KerasSGD(_groups(net, weight_decay), lr=0.1, momentum=momentum)
    torch_sgd = torch.optim.SGD(_groups(twin, weight_decay), lr=0.1, momentum=momentum)
    return (net, keras), (twin, torch_sgd), x, y


@pytest.mark.parametrize("weight_decay", [0.0, 2e-3])
def test_constant_power_of_two_lr_is_bit_identical_to_torch_sgd(weight_decay):
    # v = −lr·b exactly: scaling by 2^k commutes with rounding, so every step matches to the bit.
    (net, keras), (twin, torch_sgd), x, y = _pair(weight_decay)
    ours = _train(net, keras, x, y, [0.125] * 40)
    theirs = _train(twin, torch_sgd, x, y, [0.125] * 40)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a, b)


def test_constant_lr_agrees_to_rounding():
    (net, keras), (twin, torch_sgd), x, y = _pair(weight_decay=2e-3)
    ours = _train(net, keras, x, y, [0.1] * 40)
    theirs = _train(twin, torch_sgd, x, y, [0.1] * 40)
    assert max(float((a - b).abs().max()) for a, b in zip(ours, theirs)) < 1e-12


def test_a_warm_restart_separates_them_and_keras_takes_the_smaller_first_step():
    (net, keras), (twin, torch_sgd), x, y = _pair()
    lrs = [1e-5] * 20 + [0.1] * 10  # a cycle's end, then the restart to lr_max
    ours = _train(net, keras, x, y, lrs)
    theirs = _train(twin, torch_sgd, x, y, lrs)
    before = max(float((a - b).abs().max()) for a, b in zip(ours[:20], theirs[:20]))
    assert before < 1e-15  # constant lr: the same trajectory
    # The first step after the restart: torch applies 0.1 to the whole buffer of 1e-5-era gradients.
    step_keras = float((ours[20] - ours[19]).norm())
    step_torch = float((theirs[20] - theirs[19]).norm())
    assert step_torch > 3 * step_keras
    assert float((ours[-1] - theirs[-1]).abs().max()) > 1e-3


def test_keras_update_by_hand():
    # v ← m·v − lr·(g + wd·w); w ← w + v, two steps with different lrs on w = 1, loss = w²/2 (g = w).
    w = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = KerasSGD([w], lr=0.5, momentum=0.9, weight_decay=0.1)
    expected_w, v = 1.0, 0.0
    for lr in (0.5, 0.25):
        opt.param_groups[0]["lr"] = lr
        opt.zero_grad()
        (0.5 * w**2).sum().backward()
        opt.step()
        v = 0.9 * v - lr * (expected_w + 0.1 * expected_w)
        expected_w += v
        assert float(w.detach()) == pytest.approx(expected_w, abs=1e-15)


def test_velocity_survives_state_dict_round_trip():
    (net, keras), _, x, y = _pair()
    _train(net, keras, x, y, [0.1] * 3)
    clone = copy.deepcopy(net)
    resumed = KerasSGD(_groups(clone, 0.0), lr=0.1, momentum=0.9)
    resumed.load_state_dict(copy.deepcopy(keras.state_dict()))  # as read back from a checkpoint file
    a = _train(net, keras, x, y, [0.05] * 3)
    b = _train(clone, resumed, x, y, [0.05] * 3)
    assert all(torch.equal(p, q) for p, q in zip(a, b))


def test_runs_under_the_warm_restart_scheduler():
    net, x, y = _problem()
    opt = KerasSGD(net.parameters(), lr=0.1, momentum=0.9)
    scheduler = warm_restart_scheduler(opt, steps_per_epoch=2)
    seen = []
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert seen[0] == pytest.approx(0.1) and seen[4] == pytest.approx(0.1)  # step 4 = epoch 2, the restart
    assert seen[3] < 0.02


def test_rejects_negative_settings():
    with pytest.raises(ValueError):
        KerasSGD([torch.nn.Parameter(torch.zeros(1))], lr=-1.0)
