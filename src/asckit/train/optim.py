"""SGD with momentum as Keras computes it: the learning rate is folded into the velocity.

Its one job: the reference's optimizer update (Keras 2.2.4 ``SGD(momentum=m, nesterov=False)``,
docs/reference-code.md §5), which differs from ``torch.optim.SGD`` whenever the learning rate changes:

- Keras: ``v ← m·v − lr·g``, ``w ← w + v``: every past gradient stays scaled by the lr it was
  taken with;
- torch: ``b ← m·b + g``, ``w ← w − lr·b``: the whole buffer is scaled by the *current* lr.

With a constant lr the two are the same update (``v = −lr·b`` by induction; bit for bit when lr
is a power of two, since scaling by 2^k commutes with rounding). With the reference's warm
restarts they are not: at a restart the lr jumps from 1e-5 to 0.1, and torch multiplies the
buffer of gradients taken at 1e-5 by 0.1 (a first step about 10 times larger than Keras', which
decays over the next ~1/(1 − m) = 10 steps), while near a cycle's end torch's steps are smaller
than Keras' (whose velocity still holds the larger steps of a few iterations ago).

``g`` includes the coupled L2 term ``weight_decay·w`` where a param group sets ``weight_decay``,
as torch's SGD does: asckit gives the reference's ``kernel_regularizer=l2(wd)`` kernels
``weight_decay = 2·wd`` (Keras adds ``wd·Σw²`` to the loss; see ``asckit.train.module``), so the
regularised gradient enters the velocity exactly as in Keras.

On the synthetic demo set the difference is within noise: a narrow FCNN, 6 epochs (one warm
restart), 3 seeds, Keras − torch avg acc +0.2 points (95 % CI −1.5 to +2.0;
``asckit reproduce configs/experiments/fidelity_sgd.yaml --scale demo --seeds 3``). It is the
default because it is the reference's update, and more restarts (254 epochs have 7) give it more
steps to matter.

Hand-written because torch has no lr-in-velocity SGD; it is a dozen lines of ``torch._foreach``
arithmetic, tested against ``torch.optim.SGD`` (tests/test_train_optim.py).
"""

from __future__ import annotations

import torch

__all__ = ["KerasSGD"]


class KerasSGD(torch.optim.Optimizer):
    """``v ← m·v − lr·(g + weight_decay·w)``; ``w ← w + v`` (Keras SGD, no Nesterov).

    The velocity is kept per parameter in ``state[p]["velocity"]`` (created at zero, as Keras'
    moments) and saved with the optimizer state, so a resumed run continues the same update.
    """

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"lr ({lr}), momentum ({momentum}) and weight_decay ({weight_decay}) must be ≥ 0")
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            if group["weight_decay"]:
                grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
            velocities = []
            for p in params:
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                velocities.append(state["velocity"])
            lr = group["lr"]
            lr = lr.item() if isinstance(lr, torch.Tensor) else float(lr)
            torch._foreach_mul_(velocities, group["momentum"])
            torch._foreach_add_(velocities, grads, alpha=-lr)
            torch._foreach_add_(params, velocities)
        return loss
