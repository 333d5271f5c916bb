"""Channel attention on class maps, as the FCNN family of the reference code uses it.

``ChannelAttention`` is the channel branch of CBAM (the reference's ``channel_attention``);
``AttentionClassHead`` is the head it sits in: the class-map 1×1 conv, then the attention, so the
attention weighs classes, not features.
"""

from __future__ import annotations

import torch
from torch import nn

from asckit.models.blocks import batch_norm


class ChannelAttention(nn.Module):
    """Scale each channel by sigmoid(MLP(avg-pool) + MLP(max-pool)), the MLP shared by both.

    The MLP is Dense(C // ratio, ReLU) → Dense(C), both with biases; Keras applies its Dense
    layers to 1×1×C maps, which is what ``nn.Linear`` does on the pooled vectors.
    """

    def __init__(self, channels: int, ratio: int = 2) -> None:
        super().__init__()
        hidden = max(1, channels // ratio)  # the reference's C // ratio; never 0
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.mlp(x.mean(dim=(2, 3))) + self.mlp(x.amax(dim=(2, 3)))
        return x * torch.sigmoid(scores)[:, :, None, None]


class AttentionClassHead(nn.Sequential):
    """Class-map head of FCNN, fsFCNN and small-FCNN.

    1×1 conv to the classes (no bias) → BN (no affine) → ReLU → BN (no affine) → channel
    attention (ratio 2). The two BNs in a row are the reference's: ``resnet_layer`` ends with one
    and the model adds another.
    """

    def __init__(self, in_channels: int, num_classes: int, ratio: int = 2) -> None:
        super().__init__(
            nn.Conv2d(in_channels, num_classes, 1, bias=False),
            batch_norm(num_classes, affine=False),
            nn.ReLU(),
            batch_norm(num_classes, affine=False),
            ChannelAttention(num_classes, ratio),
        )
