"""Resnet: the two-path, frequency-split pre-activation ResNet (reference ``resnet.py``).

num_filters 24 is the paper's "Resnet" (the reference 3-class model), 48 its "Resnet-d" (the
reference 10-class model). Mel bins 0..63 and 64..127 go through separate paths of 17 convs:

- stem: BN (affine) → Conv 3×3 stride (1, 2), num_filters, no ReLU;
- 4 stacks × 2 residual blocks of BN → ReLU → Conv 3×3 → BN → ReLU → Conv 3×3 (BNs without
  affine parameters); the first block of stacks 1–3 halves time (stride (1, 2)) and doubles the
  filters, and its shortcut is AvgPool 3×3 stride (1, 2) "same" plus as many all-zero channels.

Frequency is never pooled. The paths are concatenated on frequency and the head is
BN → ReLU → Conv 1×1 (32 × num_filters: 1536 for Resnet-d) → BN → Conv 1×1 to the classes → BN,
then global average. A 10 s 1a clip gives 128 × 27 class maps. All convs are "same" without
bias, so any T ≥ 1 works. No attention, no dropout.
"""

from __future__ import annotations

import torch
from torch import nn

from asckit.models.blocks import (
    AvgPool2dSame,
    ClassMapModel,
    PreActClassHead,
    PreActConv,
    he_normal_,
    init_keras_,
    scaled_width,
    split_frequency,
)

_STACKS = 4
_BLOCKS_PER_STACK = 2
_TIME_STRIDE = (1, 2)


class ResidualBlock(nn.Module):
    """Two pre-activation 3×3 convs plus a shortcut; when ``downsample``, time is halved and the
    channels doubled, the shortcut being an average pool padded with zero channels."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool) -> None:
        super().__init__()
        stride = _TIME_STRIDE if downsample else 1
        self.conv1 = PreActConv(in_channels, out_channels, 3, stride)
        self.conv2 = PreActConv(out_channels, out_channels, 3)
        self.shortcut_pool = AvgPool2dSame(3, _TIME_STRIDE) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.conv2(self.conv1(x))
        if self.shortcut_pool is not None:
            pooled = self.shortcut_pool(x)
            x = torch.cat([pooled, torch.zeros_like(pooled)], dim=1)
        return residual + x


class ResnetPath(nn.Sequential):
    """One frequency band's path: stem + 4 stacks of 2 residual blocks (17 convs)."""

    def __init__(self, in_channels: int, num_filters: int) -> None:
        layers: list[nn.Module] = [PreActConv(in_channels, num_filters, 3, _TIME_STRIDE, bn_affine=True, relu=False)]
        channels = num_filters
        for stack in range(_STACKS):
            for block in range(_BLOCKS_PER_STACK):
                downsample = stack > 0 and block == 0
                out_channels = channels * 2 if downsample else channels
                layers.append(ResidualBlock(channels, out_channels, downsample))
                channels = out_channels
        super().__init__(*layers)
        self.out_channels = channels


class Resnet(ClassMapModel):
    """The reference two-path Resnet.

    Args:
        num_classes: 10 or 3.
        in_channels: 3 (1a) or 6 (1b).
        num_filters: filters of the stem and first stack (24 = "Resnet", 48 = "Resnet-d").
        width: multiplier on num_filters (1.0 = reference).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, num_filters: int = 24, width: float = 1.0) -> None:
        super().__init__()
        self.num_classes, self.in_channels = num_classes, in_channels
        filters = scaled_width(int(num_filters), width)
        self.lower = ResnetPath(in_channels, filters)
        self.upper = ResnetPath(in_channels, filters)
        # The reference doubles num_filters once more after the last stack and then takes 2×:
        # 4 × the last stack's width.
        self.head = PreActClassHead(self.lower.out_channels, 4 * self.lower.out_channels, num_classes)
        init_keras_(self, he_normal_)

    def class_maps(self, x: torch.Tensor) -> torch.Tensor:
        low, high = split_frequency(x)
        return self.head(torch.cat([self.lower(low), self.upper(high)], dim=2))
