"""asckit.models.blocks: TensorFlow "same" padding semantics the Keras models rely on.

TF "same" gives ceil(n / stride) outputs and pads total = (out − 1)·stride + kernel − n,
with total // 2 before and the rest after; pooling ignores the padded positions. The expected
values below are worked out by hand from that rule on x = [0, 1, 2, ...] along time.
"""

from __future__ import annotations

import pytest
import torch

from asckit.models.blocks import AvgPool2dSame, Conv2dSame, MaxPool2dSame, same_padding

torch.set_num_threads(1)


def ramp(frames: int, sign: float = 1.0) -> torch.Tensor:
    """(1, 1, 1, frames) tensor holding sign · [0, 1, ..., frames−1] along time."""
    return sign * torch.arange(frames, dtype=torch.float32).reshape(1, 1, 1, frames)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [(6, 3, 2, (0, 1)), (7, 3, 2, (1, 1)), (423, 5, 2, (2, 2)), (400, 5, 2, (1, 2)), (64, 3, 1, (1, 1))],
)
def test_same_padding_puts_the_odd_element_at_the_end(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        (6, [0 + 1 + 2, 2 + 3 + 4, 4 + 5]),  # padding (0, 1): windows start at 0, 2, 4
        (7, [0 + 1, 1 + 2 + 3, 3 + 4 + 5, 5 + 6]),  # padding (1, 1): windows start at −1, 1, 3, 5
    ],
)
def test_strided_conv_same_windows(frames, expected):
    conv = Conv2dSame(1, 1, (1, 3), stride=(1, 2))
    with torch.no_grad():
        conv.weight.fill_(1.0)
        out = conv(ramp(frames))
    assert out.flatten().tolist() == expected


def test_stride_one_conv_same_keeps_size_with_static_padding():
    conv = Conv2dSame(2, 4, 3)
    assert conv.static_padding and conv.padding == (1, 1)
    assert conv(torch.zeros(1, 2, 5, 8)).shape == (1, 4, 5, 8)


@pytest.mark.parametrize(
    ("frames", "expected"),
    [(6, [1.0, 3.0, 4.5]), (7, [0.5, 2.0, 4.0, 5.5])],
)
def test_average_pool_same_leaves_padding_out_of_the_mean(frames, expected):
    pool = AvgPool2dSame((1, 3), (1, 2))
    assert pool(ramp(frames)).flatten().tolist() == expected


def test_average_pool_same_on_both_axes_matches_brute_force():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 8)
    out = AvgPool2dSame(3, (1, 2))(x)
    assert out.shape == (2, 3, 5, 4)
    # Frequency (stride 1) pads (1, 1); time (8 frames, stride 2) pads (0, 1).
    for f in range(5):
        for t in range(4):
            rows = slice(max(f - 1, 0), min(f + 2, 5))
            cols = slice(2 * t, min(2 * t + 3, 8))
            assert torch.allclose(out[:, :, f, t], x[:, :, rows, cols].mean(dim=(2, 3)), atol=1e-6)


@pytest.mark.parametrize(("frames", "expected"), [(6, [-0.0, -2.0, -4.0]), (7, [-0.0, -1.0, -3.0, -5.0])])
def test_max_pool_same_never_picks_the_padding(frames, expected):
    # On negative values a zero padding would win; TF's pooling ignores the padding.
    out = MaxPool2dSame((1, 3), (1, 2))(ramp(frames, sign=-1.0))
    assert out.flatten().tolist() == expected
