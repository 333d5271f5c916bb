"""fsFCNN: the frequency-sub-sampling-controlled FCNN (reference ``fsfcnn_att.py``).

Unlike the FCNN, widths do not grow with the input channels: the defaults give exactly
48 / 96 / 512 / 768 channels. Every conv is TF "same" without bias, followed by BN and ReLU.
Frequency is pooled only twice (the time axis four times plus the strided first conv), so a
10 s 1a clip (3 × 128 × 423) ends in 32 × 14 class maps: 128×212 → 64×106 → 32×53 → 32×27 → 32×14.

1. BN(input) → Conv 5×5 stride (1, 2) → Conv 3×3 → MaxPool 3×3 stride 2.
2. 2 × Conv 3×3 → MaxPool 3×3 stride 2.
3. 2 × Conv 3×3 → MaxPool 3×3 stride (1, 2) → 2 × Conv 3×3 → MaxPool 3×3 stride (1, 2).
4. Conv 3×3 → Dropout 0.5 → Conv 3×3 → Dropout 0.5.
5. The FCNN's attention class-map head, then global average.

All pools are TF "same" (ceil), so any T ≥ 1 works.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from asckit.models.attention import AttentionClassHead
from asckit.models.blocks import (
    ClassMapModel,
    ConvBnReLU,
    MaxPool2dSame,
    batch_norm,
    he_normal_,
    init_keras_,
    parse_widths,
    scaled_width,
)


def _pool(stride: tuple[int, int]) -> MaxPool2dSame:
    # Every pool follows a ReLU, so zero padding equals TF's "padding never wins".
    return MaxPool2dSame(3, stride, pad_value=0.0)


class FsFCNNTrunk(nn.Module):
    """The fsFCNN up to its last ReLU (and dropout): blocks 1–4 above, 10 convs."""

    def __init__(
        self,
        in_channels: int,
        num_filters: Sequence[int] = (48, 96, 512, 768),
        width: float = 1.0,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        c1, c2, c3, c4 = (scaled_width(f, width) for f in parse_widths(num_filters, 4, "fsFCNN"))
        self.out_channels = c4
        self.input_bn = batch_norm(in_channels)
        self.block1 = nn.Sequential(ConvBnReLU(in_channels, c1, 5, stride=(1, 2)), ConvBnReLU(c1, c1, 3), _pool((2, 2)))
        self.block2 = nn.Sequential(ConvBnReLU(c1, c2, 3), ConvBnReLU(c2, c2, 3), _pool((2, 2)))
        self.block3 = nn.Sequential(
            ConvBnReLU(c2, c3, 3),
            ConvBnReLU(c3, c3, 3),
            _pool((1, 2)),
            ConvBnReLU(c3, c3, 3),
            ConvBnReLU(c3, c3, 3),
            _pool((1, 2)),
        )
        self.block4 = nn.Sequential(
            ConvBnReLU(c3, c4, 3), nn.Dropout(dropout), ConvBnReLU(c4, c4, 3), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block4(self.block3(self.block2(self.block1(self.input_bn(x)))))


class FsFCNN(ClassMapModel):
    """The reference fsFCNN: ``FsFCNNTrunk`` + ``AttentionClassHead``.

    Args:
        num_classes: 10 or 3.
        in_channels: 3 (1a) or 6 (1b).
        num_filters: widths of blocks 1–4 (not multiplied by the input channels).
        width: multiplier on every conv width (1.0 = reference).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        num_filters: Sequence[int] = (48, 96, 512, 768),
        width: float = 1.0,
    ) -> None:
        super().__init__()
        self.num_classes, self.in_channels = num_classes, in_channels
        self.trunk = FsFCNNTrunk(in_channels, num_filters, width)
        self.head = AttentionClassHead(self.trunk.out_channels, num_classes)
        init_keras_(self, he_normal_)

    def class_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))
