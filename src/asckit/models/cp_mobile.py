"""CP-Mobile, simplified: CPJKU's DCASE 2024/2025 Task 1 baseline (reference/dcase2025 README §3).

The graph of ``models/net.py`` of CPJKU/dcase2024_task1_baseline and dcase2025_task1_baseline
(the two files are identical), built from the same facts:

- ``in_c``: two 3×3 convs with stride 2, each + BN + ReLU, to base/4 then base channels;
- ``stages``: three stages of 3, 2 and 1 inverted-residual blocks, numbered b1…b6 across the
  stages, to base, base·m and base·m² channels (each rounded by ``make_divisible``), m the
  ``channels_multiplier``; a block is 1×1 expansion (in·expansion_rate, rounded) + BN + ReLU →
  3×3 depthwise + BN + ReLU → 1×1 projection + BN, a shortcut where input and output widths
  agree (identity, or a 3×3 average pool with the block's stride), then ReLU;
- strides sit on the depthwise convs of b3 (1, 2) — time only — and b4 (2, 1) — frequency only;
- ``feed_forward``: 1×1 conv to the classes + BN; the logits are the mean of those class maps.

Every conv has "padding = kernel // 2" and no bias; BatchNorm has PyTorch's defaults (eps 1e-5,
momentum 0.1); ReLUs work in place (the reference's do not: the same values, one tensor fewer per
activation); convs start from Kaiming-normal with fan_out, BN from ones/zeros (the reference's
``initialize_weights``). Module names are the reference's (``in_c.0.0.weight``,
``stages.s1.b1.block.0.1.running_var``, ``feed_forward.0.weight`` …), so a reference state_dict
loads with ``load_state_dict`` once the checkpoint's prefix is stripped
(``asckit.pretrained.cpjku_checkpoint``).

The reference's ``feed_forward`` ends with ``AdaptiveAvgPool2d(1)``; here that average is
``ClassMapModel.forward``'s, so the class maps stay reachable (no parameters, no MACs: the
state_dict and torchinfo's counts are the same). The default configuration (base 32, multiplier
1.8, expansion 2.1) has 61,148 parameters and 29,419,156 MACs on a 1 s input (1, 256, 65) as
torchinfo counts them (reference/dcase2025/complexity.json).

``width`` is asckit's: it multiplies ``base_channels`` before the reference's rounding to a
multiple of 8, and every later width follows from it (stages through the multiplier, expansions
through the rate), so ``width=0.5`` is the reference's ``base_channels=16``.
"""

from __future__ import annotations

import torch
from torch import nn

from asckit.models.blocks import ClassMapModel, ConvNormActivation, make_divisible

#: Blocks per stage and the strides of the blocks that have one (the reference's defaults).
BLOCKS_PER_STAGE: tuple[int, ...] = (3, 2, 1)
BLOCK_STRIDES: dict[str, tuple[int, int]] = {"b3": (1, 2), "b4": (2, 1)}


class InvertedResidual(nn.Module):
    """1×1 expansion → 3×3 depthwise (with the block's stride) → 1×1 projection, the shortcut where
    widths agree, then ReLU (the reference's ``Block``; its convs are ``block.0``, ``.1``, ``.2``)."""

    def __init__(self, in_channels: int, out_channels: int, expansion_rate: float, stride: tuple[int, int]) -> None:
        super().__init__()
        expanded = make_divisible(in_channels * expansion_rate, 8)
        self.block = nn.Sequential(
            ConvNormActivation(in_channels, expanded, 1),
            ConvNormActivation(expanded, expanded, 3, stride=stride, groups=expanded),
            ConvNormActivation(expanded, out_channels, 1, relu=False),
        )
        self.shortcut: nn.Module | None = None
        if in_channels == out_channels:
            # AvgPool2d's default count_include_pad=True, as in the reference.
            self.shortcut = nn.Identity() if stride == (1, 1) else nn.AvgPool2d(3, stride=stride, padding=1)
        self.after_block_activation = nn.ReLU(inplace=True)  # on the sum, a fresh tensor (see ConvNormActivation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.after_block_activation(out)


def stage_widths(base_channels: int, channels_multiplier: float, stages: int = len(BLOCKS_PER_STAGE)) -> list[int]:
    """Channels after ``in_c`` and after each stage: base rounded to 8, then base·multiplier^i rounded."""
    base = make_divisible(base_channels, 8)
    return [base] + [make_divisible(base * channels_multiplier**stage, 8) for stage in range(stages)]


class CPMobile(ClassMapModel):
    """The simplified CP-Mobile of CPJKU's 2024/2025 baselines.

    Args:
        num_classes: 10 scenes.
        in_channels: 1 (the tau22 frontend's log-mel).
        base_channels: channels after ``in_c`` before rounding (reference 32).
        channels_multiplier: width growth per stage (the 2024/2025 baselines: 1.8; ``get_model``'s own default is 2.3).
        expansion_rate: expansion of the inverted-residual blocks (baselines: 2.1; ``get_model``'s default 3.0).
        width: asckit's multiplier on ``base_channels`` (module docstring).
    """

    min_frames = 1  # every conv pads kernel // 2: any input of at least one frame gives a class map

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        base_channels: int = 32,
        channels_multiplier: float = 1.8,
        expansion_rate: float = 2.1,
        width: float = 1.0,
    ) -> None:
        super().__init__()
        self.num_classes, self.in_channels = num_classes, in_channels
        widths = stage_widths(base_channels * width, channels_multiplier)
        self.in_c = nn.Sequential(
            ConvNormActivation(in_channels, widths[0] // 4, 3, stride=2),
            ConvNormActivation(widths[0] // 4, widths[0], 3, stride=2),
        )
        self.stages = nn.Sequential()
        block_number = 0
        for stage, blocks in enumerate(BLOCKS_PER_STAGE):
            layers = nn.Sequential()
            channels = widths[stage]
            for _ in range(blocks):
                block_number += 1
                name = f"b{block_number}"
                stride = BLOCK_STRIDES.get(name, (1, 1))
                layers.add_module(name, InvertedResidual(channels, widths[stage + 1], expansion_rate, stride))
                channels = widths[stage + 1]
            self.stages.add_module(f"s{stage + 1}", layers)
        self.feed_forward = nn.Sequential(nn.Conv2d(widths[-1], num_classes, 1, bias=False), nn.BatchNorm2d(num_classes))
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out")

    def class_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self.feed_forward(self.stages(self.in_c(x)))
