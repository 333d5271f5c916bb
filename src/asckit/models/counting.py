"""Model complexity as the challenge counts it: parameters, stored values, size, and MACs.

MACs come from PyTorch's own ``torch.utils.flop_counter.FlopCounterMode`` (half its FLOPs: it
counts 2 per multiply-accumulate of convs and matrix products; BN, ReLU and pooling are not
counted, as usual). It only needs shapes, so it also runs on models built on the meta device.

Size follows DCASE 2020 Task 1b: non-zero values × bits per value, 1 KB = 1024 bytes (the
500 KB budget is 128,000 float32 values). The values are the parameters plus the BatchNorm
running statistics, which the model needs at inference (Keras' ``count_params`` total).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


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
