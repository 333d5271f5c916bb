"""Model complexity as the challenge counts it: parameters, stored values, size, and MACs.

MACs come from PyTorch's own ``torch.utils.flop_counter.FlopCounterMode`` (half its FLOPs: it
counts 2 per multiply-accumulate of convs and matrix products; BN, ReLU and pooling are not
counted, as usual). It only needs shapes, so it also runs on models built on the meta device.

Size follows DCASE 2020 Task 1b: non-zero values × bits per value, 1 KB = 1024 bytes (the
500 KB budget is 128,000 float32 values). The values are the parameters plus the BatchNorm
running statistics, which the model needs at inference (Keras' ``count_params`` total).

The DCASE 2022–2025 rules (``asckit.tasks.COMPLEXITY_LIMITS``) count parameters as the CP-JKU /
``nessi`` helper does: every parameter of the network (``params`` here; BN statistics fold into
the convolutions), and MACs for one second of audio. asckit's models are fully convolutional with
a global average over time, so MACs grow linearly with the clip: the MACs of one second are those
of a clip divided by its seconds (``macs_per_second``), which avoids counting the 8 frames the
delta windows cost at the edges of a 1 s clip as if they were lost every second.

Every figure asckit shows (``asckit models``, ``asckit export``, ``reproduce`` tables) counts one
clip of ``asckit.tasks.MACS_CLIP_SECONDS`` (10 s: 1a input 3 × 128 × 423, 1b 6 × 128 × 461) and
divides by 10, whatever clip length the model was trained on: counted on a shorter clip, the 8
delta frames and the poolings' remainders weigh more (the Mobnet-0.75 student: 6.62 M MACs/s on
10 s clips, 6.54 M on the demo set's 4 s, 6.25 M on the tiny set's 1.5 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from asckit.tasks import COMPLEXITY_LIMITS, ComplexityLimit


@dataclass(frozen=True)
class Complexity:
    """Counts for one model and input shape.

    Attributes:
        params: trainable parameters (Keras' "trainable").
        bn_statistics: BatchNorm running means and variances (Keras' "non-trainable").
        nonzero: non-zero values among both; None when the model lives on the meta device.
        macs: multiply-accumulates for one clip of the given input shape.
    """

    params: int
    bn_statistics: int
    nonzero: int | None
    macs: int

    @property
    def stored_values(self) -> int:
        """Parameters plus BN statistics: Keras' ``count_params`` total."""
        return self.params + self.bn_statistics

    def size_kb(self, bits: int = 32) -> float:
        """DCASE size in KB (1024 B) at ``bits`` per value, counting non-zero values when known."""
        count = self.stored_values if self.nonzero is None else self.nonzero
        return count * bits / 8 / 1024


def _stored_tensors(model: nn.Module) -> list[torch.Tensor]:
    tensors = [p for p in model.parameters() if p.requires_grad]
    for layer in model.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm) and layer.track_running_stats:
            tensors += [layer.running_mean, layer.running_var]
    return tensors


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on a zero input of ``input_shape`` (batch included)."""
    param = next(model.parameters())
    example = torch.zeros(tuple(input_shape), dtype=param.dtype, device=param.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(example)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def complexity(model: nn.Module, input_shape: Sequence[int]) -> Complexity:
    """Parameters, BN statistics, non-zero values and MACs per clip.

    ``input_shape`` is one clip, (channels, mel, frames), or a batch, (batch, channels, mel,
    frames), whose MACs are divided by the batch size.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3:
        shape = (1, *shape)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    tensors = _stored_tensors(model)
    statistics = sum(t.numel() for t in tensors) - trainable
    on_meta = any(t.is_meta for t in tensors)
    nonzero = None if on_meta else int(sum(int(torch.count_nonzero(t)) for t in tensors))
    return Complexity(
        params=trainable, bn_statistics=statistics, nonzero=nonzero, macs=count_macs(model, shape) // shape[0]
    )


def macs_per_second(counts: Complexity, clip_seconds: float) -> float:
    """MACs for one second of audio from the counts of a clip of ``clip_seconds`` (see module docstring)."""
    return counts.macs / clip_seconds


@dataclass(frozen=True)
class LimitCheck:
    """One quantity of a model against one edition's limit."""

    limit: str  # the edition, e.g. "DCASE 2022"
    quantity: str  # "int8 KB", "params", "int8 param bytes" or "MACs/s"
    value: float
    bound: float

    @property
    def ok(self) -> bool:
        return self.value <= self.bound

    def describe(self) -> str:
        formats = {
            "int8 KB": lambda v: f"{v:,.1f} KB",
            "params": lambda v: f"{v:,.0f}",
            "int8 param bytes": lambda v: f"{v:,.0f} B",
            "MACs/s": lambda v: f"{v / 1e6:,.2f} M",
        }
        shown = formats[self.quantity]
        return f"{self.limit} {self.quantity} {shown(self.value)} ≤ {shown(self.bound)}: {'ok' if self.ok else 'OVER'}"


def check_limits(
    counts: Complexity, clip_seconds: float, limits: Sequence[ComplexityLimit] = COMPLEXITY_LIMITS
) -> list[LimitCheck]:
    """Every limited quantity of ``counts`` (a clip of ``clip_seconds``) against ``limits``.

    The 2020 size rule is checked at 8 bits per value (an int8 model), as the export deploys it.
    """
    checks = []
    for limit in limits:
        if limit.max_kb is not None:
            checks.append(LimitCheck(limit.name, "int8 KB", counts.size_kb(8), limit.max_kb))
        if limit.max_params is not None:
            checks.append(LimitCheck(limit.name, "params", counts.params, limit.max_params))
        if limit.max_param_bytes is not None:  # at int8, as the export deploys it: 1 byte a parameter
            checks.append(LimitCheck(limit.name, "int8 param bytes", counts.params, limit.max_param_bytes))
        if limit.max_macs_per_second is not None:
            checks.append(LimitCheck(limit.name, "MACs/s", macs_per_second(counts, clip_seconds), limit.max_macs_per_second))
    return checks
