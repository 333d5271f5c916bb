"""FCNN: the paper's VGG-like fully convolutional network with channel attention on class maps.

Layer for layer the reference ``fcnn_att.py`` (and, with ``block3_convs=2``, the Task 1b
``small_fcnn_att.py``). Widths are ``num_filters × in_channels``, so the 1a defaults [48, 96, 192]
give 144 / 288 / 576 channels. For a 10 s 1a clip (3 × 128 × 423) the class maps are 8 × 26
(8 × 25 for the 400-frame training crops).

1. BN(input) → ZeroPad 2 → Conv 5×5 stride 2 → BN → ReLU → ZeroPad 1 → Conv 3×3 → BN → ReLU →
   MaxPool 2×2.
2. 2 × (ZeroPad 1 → Conv 3×3 → BN → ReLU) → MaxPool 2×2.
3. ``block3_convs`` × (ZeroPad 1 → Conv 3×3 → BN → ReLU), each but the last followed by
   Dropout 0.3 → MaxPool 2×2.
4. ``AttentionClassHead``: Conv 1×1 to the classes, BNs, channel attention; then global average.

Convs have no bias; all max pools are "valid" (floor), which is why short inputs lose frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from asckit.models.attention import AttentionClassHead
from asckit.models.blocks import (
    ClassMapModel,
    ConvBnReLU,
    batch_norm,
    he_normal_,
    init_keras_,
    parse_widths,
    scaled_width,
)


class FCNN(ClassMapModel):
    """The reference FCNN; ``block3_convs`` and ``block3_last_padding`` give the small-FCNN.

    Args:
        num_classes: 10 (scenes) or 3 (super-classes).
        in_channels: 3 for 1a features [static, Δ, ΔΔ], 6 for 1b.
        num_filters: filters per input channel of blocks 1, 2, 3.
        width: multiplier on every conv width (1.0 = reference).
        block3_convs: convs in block 3 (4 in the FCNN, 2 in the small-FCNN).
        block3_last_padding: zero padding before block 3's last conv; 2 reproduces the shipped
            small-FCNN, whose code had two ZeroPadding2D(1) layers in a row there.
        dropout: dropout after each block-3 conv but the last.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        num_filters: Sequence[int] = (48, 96, 192),
        width: float = 1.0,
        block3_convs: int = 4,
        block3_last_padding: int = 1,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.num_classes, self.in_channels = num_classes, in_channels
        c1, c2, c3 = (scaled_width(f * in_channels, width) for f in parse_widths(num_filters, 3, "FCNN"))
        # The 4 time-halvings need ≥ 1 frame left before the last pool's floor; two more frames of
        # padding before the last conv (the shipped small-FCNN) lower that need.
        self.min_frames = 15 if block3_last_padding == 1 else 7

        self.input_bn = batch_norm(in_channels)
        self.block1 = nn.Sequential(
            ConvBnReLU(in_channels, c1, 5, stride=2, padding=2),
            ConvBnReLU(c1, c1, 3, padding=1),
            nn.MaxPool2d(2),
        )
        self.block2 = nn.Sequential(ConvBnReLU(c1, c2, 3, padding=1), ConvBnReLU(c2, c2, 3, padding=1), nn.MaxPool2d(2))
        block3: list[nn.Module] = []
        for index in range(block3_convs):
            last = index == block3_convs - 1
            block3.append(ConvBnReLU(c2 if index == 0 else c3, c3, 3, padding=block3_last_padding if last else 1))
            if not last:
                block3.append(nn.Dropout(dropout))
        block3.append(nn.MaxPool2d(2))
        self.block3 = nn.Sequential(*block3)
        self.head = AttentionClassHead(c3, num_classes)
        init_keras_(self, he_normal_)

    def class_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block3(self.block2(self.block1(self.input_bn(x)))))
