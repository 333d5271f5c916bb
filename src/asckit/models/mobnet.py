"""Mobnet: the Task 1b MobileNetV2 variant with two frequency paths (reference ``mobnet.py``).

Mel bins 0..63 and 64..127 each go through their own MobileNetV2 block (alpha 1):

- stem: Conv 3×3 stride 2 (32) + BN + ReLU;
- 3 inverted-residual stages of 3 bottlenecks, expansion 2, output 32, 40, 48 channels; the first
  bottleneck of a stage has stride 2 and no residual, the other two stride 1 and a residual add;
  a bottleneck is Conv 1×1 (expand) + BN + ReLU → depthwise 3×3 + BN + ReLU → Conv 1×1 + BN;
- Conv 1×1 (56) + BN + ReLU.

Plain ReLU, not ReLU6. Inside the paths every conv has a bias and Keras' default glorot_uniform
kernel (the reference never sets them). After concatenation on frequency the head is the
Resnet's: BN → ReLU → Conv 1×1 (2 × num_filters = 48) → Dropout 0.3 → BN → Conv 1×1 to the classes
→ BN, with he_normal kernels and no biases. A 10 s 1b clip (6 × 128 × 461) gives 8 × 29 class
maps. All layers are "same", so any T ≥ 1 works.
"""

from __future__ import annotations

import torch
from torch import nn

from asckit.models.blocks import (
    ClassMapModel,
    ConvBnReLU,
    PreActClassHead,
    glorot_uniform_,
    he_normal_,
    init_keras_,
    scaled_width,
    split_frequency,
)

_STEM_CHANNELS = 32
_STAGE_CHANNELS = (32, 40, 48)
_BOTTLENECKS_PER_STAGE = 3
_EXPANSION = 2
_LAST_CHANNELS = 56


class Bottleneck(nn.Module):
    """MobileNetV2 inverted residual: expand 1×1 → depthwise 3×3 → linear 1×1 projection."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, residual: bool) -> None:
        super().__init__()
        expanded = in_channels * _EXPANSION
        self.expand = ConvBnReLU(in_channels, expanded, 1, bias=True)
        self.depthwise = ConvBnReLU(expanded, expanded, 3, stride=stride, bias=True, groups=expanded)
        self.project = ConvBnReLU(expanded, out_channels, 1, bias=True, relu=False)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return out + x if self.residual else out


class MobileNetPath(nn.Sequential):
    """One frequency band's MobileNetV2 block: stem, 3 stages of 3 bottlenecks, 1×1 conv."""

    def __init__(self, in_channels: int, width: float = 1.0) -> None:
        stem = scaled_width(_STEM_CHANNELS, width)
        layers: list[nn.Module] = [ConvBnReLU(in_channels, stem, 3, stride=2, bias=True)]
        channels = stem
        for stage_channels in _STAGE_CHANNELS:
            out_channels = scaled_width(stage_channels, width)
            for index in range(_BOTTLENECKS_PER_STAGE):
                first = index == 0
                layers.append(Bottleneck(channels, out_channels, stride=2 if first else 1, residual=not first))
                channels = out_channels
        last = scaled_width(_LAST_CHANNELS, width)
        layers.append(ConvBnReLU(channels, last, 1, bias=True))
        super().__init__(*layers)
        self.out_channels = last


class Mobnet(ClassMapModel):
    """The reference Mobnet.

    Args:
        num_classes: 3 (1b) or 10.
        in_channels: 6 for 1b features [L, R, ΔL, ΔR, ΔΔL, ΔΔR], 3 for 1a.
        num_filters: the head's 1×1 conv has 2 × num_filters channels.
        width: multiplier on every conv width (1.0 = reference); the expansion stays 2.
    """

    def __init__(self, num_classes: int = 3, in_channels: int = 6, num_filters: int = 24, width: float = 1.0) -> None:
        super().__init__()
        self.num_classes, self.in_channels = num_classes, in_channels
        self.lower = MobileNetPath(in_channels, width)
        self.upper = MobileNetPath(in_channels, width)
        hidden = scaled_width(2 * int(num_filters), width)
        self.head = PreActClassHead(self.lower.out_channels, hidden, num_classes, dropout=0.3)
        init_keras_(self.lower, glorot_uniform_)
        init_keras_(self.upper, glorot_uniform_)
        init_keras_(self.head, he_normal_)

    def class_maps(self, x: torch.Tensor) -> torch.Tensor:
        low, high = split_frequency(x)
        return self.head(torch.cat([self.lower(low), self.upper(high)], dim=2))
