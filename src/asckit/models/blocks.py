"""Building blocks that reproduce the reference Keras layers exactly in PyTorch.

Everything a model file needs to match the paper's code layer for layer: Keras' BatchNorm
settings and initialisers, TensorFlow's "same" padding (asymmetric for strided layers), the
conv/BN/ReLU units of the FCNN family, the pre-activation units of the Resnet family, and the
base class that turns class maps into logits. For the PyTorch references of 2022–2025 (CPJKU's
CP-Mobile): MobileNet's channel rounding and torchvision's conv/BN/activation unit, with
PyTorch's BatchNorm defaults and torchvision's child names, so their checkpoints load by name.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from asckit.core.errors import AsckitError

# Keras BatchNormalization defaults. Keras updates running = 0.99·running + 0.01·batch, which is
# PyTorch's momentum 0.01 (PyTorch weights the new batch by `momentum`).
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.01

# Keras 2.2.4 he_normal draws from a normal truncated at 2 std and divides the std by this factor
# (the std of a unit normal truncated at ±2) so that the truncated draw keeps variance 2/fan_in.
_TRUNCATED_NORMAL_STD = 0.87962566103423978

IntPair = int | tuple[int, int]


def _pair(value: IntPair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def scaled_width(channels: int, width: float) -> int:
    """Channel count ``channels`` scaled by the width multiplier, at least 1."""
    return max(1, int(round(channels * width)))


def make_divisible(value: float, divisor: int = 8) -> int:
    """MobileNet's channel rounding, as CPJKU's CP-Mobile uses it (``models/helpers/utils.py``):
    ``value`` to the nearest multiple of ``divisor``, at least ``divisor``, and one step up where
    rounding down lost more than 10 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def batch_norm(channels: int, affine: bool = True) -> nn.BatchNorm2d:
    """BatchNorm2d with Keras' epsilon and momentum; ``affine=False`` is Keras' center=scale=False."""
    return nn.BatchNorm2d(channels, eps=BN_EPSILON, momentum=BN_MOMENTUM, affine=affine)


def he_normal_(weight: torch.Tensor) -> torch.Tensor:
    """Keras 2.2.4 ``he_normal``: truncated normal, std sqrt(2/fan_in)/0.8796, cut at 2 std.

    PyTorch's fan_in of a (out, in/groups, kh, kw) kernel or an (out, in) matrix equals Keras'.
    """
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
    std = math.sqrt(2.0 / fan_in) / _TRUNCATED_NORMAL_STD
    return nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)


def glorot_uniform_(weight: torch.Tensor) -> torch.Tensor:
    """Keras ``glorot_uniform`` (PyTorch's xavier_uniform_ uses the same fan_in + fan_out).

    For a depthwise kernel Keras and PyTorch swap fan_in and fan_out, and the sum is the same.
    """
    return nn.init.xavier_uniform_(weight)


def init_keras_(module: nn.Module, kernel_init: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Initialise every conv and linear layer inside ``module`` as Keras does: kernels with
    ``kernel_init``, biases with zeros. BatchNorm keeps PyTorch's init, which equals Keras'."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.Linear):
            kernel_init(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same" padding (before, after) of one axis: the output has ceil(size/stride)
    elements and an odd total padding puts the extra element at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: IntPair, stride: IntPair, value: float = 0.0) -> torch.Tensor:
    """Pad the two trailing axes of ``x`` as TensorFlow's "same" mode would."""
    (kh, kw), (sh, sw) = _pair(kernel), _pair(stride)
    top, bottom = same_padding(x.shape[-2], kh, sh)
    left, right = same_padding(x.shape[-1], kw, sw)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding.

    Stride-1 convs with odd kernels pad symmetrically, so they use PyTorch's own padding; strided
    ones pad from the input size at run time, because TF pads one more at the end of even axes.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        bias: bool = False,
        groups: int = 1,
    ) -> None:
        kernel, strides = _pair(kernel_size), _pair(stride)
        self.static_padding = strides == (1, 1) and all(k % 2 == 1 for k in kernel)
        padding = (kernel[0] // 2, kernel[1] // 2) if self.static_padding else (0, 0)
        super().__init__(
            in_channels, out_channels, kernel, stride=strides, padding=padding, bias=bias, groups=groups
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.static_padding:
            x = pad_same(x, self.kernel_size, self.stride)
        return self._conv_forward(x, self.weight, self.bias)


class MaxPool2dSame(nn.Module):
    """MaxPool with TensorFlow "same" padding, which never lets the padding win.

    ``pad_value=-inf`` is exact for any input; 0 is exact (and friendlier to int8 export) when the
    input is a ReLU output, which is how every model here uses it.
    """

    def __init__(self, kernel_size: IntPair, stride: IntPair, pad_value: float = float("-inf")) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.pad_value = _pair(kernel_size), _pair(stride), pad_value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_same(x, self.kernel_size, self.stride, value=self.pad_value)
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, pad_value={self.pad_value}"


class AvgPool2dSame(nn.Module):
    """AveragePool with TensorFlow "same" padding: padded positions are left out of each mean."""

    def __init__(self, kernel_size: IntPair, stride: IntPair) -> None:
        super().__init__()
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window_sum = F.avg_pool2d(pad_same(x, self.kernel_size, self.stride), self.kernel_size, self.stride)
        # The same pooling over a padded map of ones is the fraction of each window that is real.
        ones = torch.ones_like(x[:1, :1])
        real_fraction = F.avg_pool2d(pad_same(ones, self.kernel_size, self.stride), self.kernel_size, self.stride)
        return window_sum / real_fraction

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class ConvBnReLU(nn.Sequential):
    """Conv → BatchNorm → ReLU, the unit of the FCNN family and of MobileNetV2's conv blocks.

    ``padding`` is an int for the FCNN's explicit ZeroPadding2D + valid conv, or "same" for TF
    "same" padding (asymmetric when strided).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: int | str = "same",
        bias: bool = False,
        groups: int = 1,
        relu: bool = True,
    ) -> None:
        if padding == "same":
            conv: nn.Conv2d = Conv2dSame(in_channels, out_channels, kernel_size, stride, bias=bias, groups=groups)
        else:
            conv = nn.Conv2d(
                in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias, groups=groups
            )
        layers: OrderedDict[str, nn.Module] = OrderedDict(conv=conv, bn=batch_norm(out_channels))
        if relu:
            layers["relu"] = nn.ReLU(inplace=True)
        super().__init__(layers)


class ConvNormActivation(nn.Sequential):
    """Conv (no bias) → BatchNorm2d → optional ReLU: torchvision's ``Conv2dNormActivation`` as
    CPJKU's CP-Mobile builds it, without torchvision.

    Padding is ``kernel // 2`` (torchvision's default for odd kernels, symmetric even when
    strided, unlike ``Conv2dSame``); BatchNorm keeps PyTorch's defaults (eps 1e-5, momentum 0.1),
    not Keras'. The children are named ``0``, ``1``, ``2`` as torchvision's, so a reference
    state_dict (``in_c.0.0.weight``, ``in_c.0.1.running_mean`` …) loads by name.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: IntPair = 1, groups: int = 1, relu: bool = True
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups, bias=False
            ),
            nn.BatchNorm2d(out_channels),
        ]
        if relu:
            # In place (torchvision's default; CP-Mobile's reference passes inplace=False): the same
            # values without one more tensor per activation, about 10 % of a CPU training step at batch 256.
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class PreActConv(nn.Sequential):
    """BatchNorm → (ReLU) → Conv "same" without bias: the reference's ``resnet_layer``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        bn_affine: bool = False,
        relu: bool = True,
    ) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict(bn=batch_norm(in_channels, affine=bn_affine))
        if relu:
            layers["relu"] = nn.ReLU()
        layers["conv"] = Conv2dSame(in_channels, out_channels, kernel_size, stride)
        super().__init__(layers)


class PreActClassHead(nn.Sequential):
    """Head of the two-path models: BN → ReLU → 1×1 conv → (dropout) → BN → 1×1 conv to the
    classes → BN, all BNs without affine parameters. Outputs class maps."""

    def __init__(self, in_channels: int, hidden_channels: int, num_classes: int, dropout: float = 0.0) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict(hidden=PreActConv(in_channels, hidden_channels, 1))
        if dropout:
            layers["dropout"] = nn.Dropout(dropout)
        layers["classes"] = PreActConv(hidden_channels, num_classes, 1, relu=False)
        layers["bn"] = batch_norm(num_classes, affine=False)
        super().__init__(layers)


def split_frequency(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The lower and upper halves of the mel axis (bins 0..N/2-1 and N/2..N-1)."""
    half = x.shape[2] // 2
    return x[:, :, :half], x[:, :, half:]


class ClassMapModel(nn.Module):
    """Base of every asckit model: ``class_maps`` gives (batch, classes, freq', time'), and the
    logits are their global average. Softmax is left to the loss and to prediction code.

    Subclasses set ``in_channels``, ``num_classes`` and ``min_frames`` (the shortest input, in
    frames, whose maps are not empty) and implement ``class_maps``.
    """

    in_channels: int
    num_classes: int
    min_frames: int = 1

    def class_maps(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.class_maps(x).mean(dim=(2, 3))

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a one-line AsckitError when ``x`` is not (batch, in_channels, mel, ≥min_frames)."""
        name = type(self).__name__
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise AsckitError(
                f"{name} expects input (batch, {self.in_channels}, mel, frames), got {tuple(x.shape)}; "
                f"check the feature channels (1a: 3, 1b: 6, 2024/2025: 1) and the (batch, channels, mel, time) layout"
            )
        if x.shape[-1] < self.min_frames:
            raise AsckitError(
                f"{name} needs at least {self.min_frames} frames, got {x.shape[-1]}; use longer crops"
            )


def parse_widths(values: Sequence[int], expected: int, name: str) -> tuple[int, ...]:
    """``values`` as a tuple of ``expected`` positive ints, or a one-line AsckitError."""
    widths = tuple(int(v) for v in values)
    if len(widths) != expected or min(widths) < 1:
        raise AsckitError(f"{name} needs {expected} positive filter counts, got {list(values)}; fix num_filters")
    return widths
