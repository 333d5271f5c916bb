"""fsFCNN-s: the fsFCNN with split frequency bands, built from the paper's description.

The public code has no fsFCNN-s; the paper (§2.2) says: mel bins 0..N/2−1 and N/2..N−1 are each
processed by their own fsFCNN "up to the ReLU-based layer", the two streams are concatenated,
processed by two further convolutional layers, then global pooling and softmax.

Choices the paper leaves open, and what this module does:

- **Trunks**: each half goes through a full ``FsFCNNTrunk`` (input BN, 10 convs, both dropouts)
  with its own weights, like the paths of the authors' two-path Resnet and Mobnet.
- **Concatenation axis**: frequency, as in the authors' two-path models, so the upper band sits
  above the lower one: 2 × (768 × 16 × 14) → 768 × 32 × 14 for a 10 s 1a clip.
- **The two further convolutional layers**: a 3×3 "same" conv with the trunk's last width
  (768) + BN + ReLU, so that the bands mix where they meet, then the 1×1 conv to the classes +
  BN without affine parameters, the class-map ending of every reference model.
- **No channel attention**: the paper names attention for the FCNN and fsFCNN and not here.
- **Global pooling**: average, as in every reference model; softmax is left to the loss.
- **Split point**: N // 2 for any number of mel bins N.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from asckit.models.blocks import (
    ClassMapModel,
    ConvBnReLU,
    batch_norm,
    he_normal_,
    init_keras_,
    split_frequency,
)
from asckit.models.fsfcnn import FsFCNNTrunk


class FsFCNNSplit(ClassMapModel):
    """Two ``FsFCNNTrunk`` on the mel halves, concatenated on frequency, a 3×3 conv, class maps.

    Args:
        num_classes: 10 or 3.
        in_channels: 3 (1a) or 6 (1b).
        num_filters: widths of the trunks' blocks 1–4; the extra 3×3 conv uses the last one.
        width: multiplier on every conv width (1.0 = the widths above).
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
        self.lower = FsFCNNTrunk(in_channels, num_filters, width)
        self.upper = FsFCNNTrunk(in_channels, num_filters, width)
        channels = self.lower.out_channels
        self.merge = ConvBnReLU(channels, channels, 3)
        self.classes = nn.Conv2d(channels, num_classes, 1, bias=False)
        self.classes_bn = batch_norm(num_classes, affine=False)
        init_keras_(self, he_normal_)

    def class_maps(self, x: torch.Tensor) -> torch.Tensor:
        low, high = split_frequency(x)
        merged = torch.cat([self.lower(low), self.upper(high)], dim=2)
        return self.classes_bn(self.classes(self.merge(merged)))
