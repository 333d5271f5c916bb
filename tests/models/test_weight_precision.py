"""asckit.models.weight_precision: parameters stored at the shipped precision, counted honestly by the
organizers' rule (parameters() at their own dtype) and by torchinfo's MACs."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from asckit.models.counting import parameter_bytes, torchinfo_macs
from asckit.models.cp_mobile import CPMobile
from asckit.models.weight_precision import Int8WeightConv2d, compute_copy, quantize_per_channel, to_shipped

torch.set_num_threads(1)

SHAPE = (1, 1, 256, 65)


@pytest.fixture(scope="module")
def baseline() -> nn.Module:
    torch.manual_seed(0)
    return CPMobile().eval()


def test_the_baselines_parameter_bytes_at_each_shipped_precision_and_unchanged_macs(baseline):
    fp16 = to_shipped(copy.deepcopy(baseline), "fp16")
    int8 = to_shipped(copy.deepcopy(baseline), "int8")
    assert parameter_bytes(fp16) == 61_148 * 2 == 122_296  # the template's figure (reference/dcase2025 README §3)
    # 58,440 int8 conv weights + 1,354 float16 scales + 2,708 float16 BatchNorm parameters
    assert parameter_bytes(int8) == 58_440 + 2 * 1_354 + 2 * 2_708 == 66_564
    assert {p.dtype for p in int8.parameters()} == {torch.int8, torch.float16}
    # The organizers profile an fp32 deep copy: the int8 convs keep their MACs, the scales add none.
    assert torchinfo_macs(fp16, SHAPE) == torchinfo_macs(int8, SHAPE) == 29_419_156


def test_float_and_deepcopy_as_the_organizers_profile_keep_int8_weights_int8(baseline):
    int8 = to_shipped(copy.deepcopy(baseline), "int8")
    profiled = copy.deepcopy(int8).float()
    conv = profiled.in_c[0][0]
    assert isinstance(conv, Int8WeightConv2d) and conv.weight.dtype == torch.int8 and conv.scale.dtype == torch.float32
    assert parameter_bytes(int8) == 66_564  # the copy did not touch the shipped model


def test_an_int8_conv_computes_the_float_conv_of_its_dequantized_weight():
    torch.manual_seed(1)
    conv = nn.Conv2d(3, 5, 3, stride=(1, 2), padding=1, groups=1, bias=True)
    quantized = Int8WeightConv2d.from_float(conv)
    x = torch.randn(2, 3, 9, 11)
    weight = quantized.weight.float() * quantized.scale.float()
    expected = nn.functional.conv2d(x, weight, conv.bias, stride=(1, 2), padding=1)
    torch.testing.assert_close(quantized(x), expected)
    assert (weight - conv.weight).abs().max() <= quantized.scale.float().max() / 2 + 1e-6  # within half a step


def test_an_all_zero_channel_keeps_zero_weights_and_a_finite_scale():
    weight = torch.zeros(2, 1, 3, 3)
    weight[1] = 0.5
    values, scale = quantize_per_channel(weight)
    assert values[0].abs().sum() == 0 and torch.isfinite(scale).all() and values[1].max() == 127


def test_loading_shipped_weights_into_a_freshly_shipped_model_gives_the_same_logits(baseline):
    """What the inference package does: build, ship, then load the shipped state_dict (strict)."""
    x = torch.randn(3, *SHAPE[1:])
    for precision in ("fp16", "int8"):
        shipped = to_shipped(copy.deepcopy(baseline), precision)
        fresh = to_shipped(CPMobile().eval(), precision)
        fresh.load_state_dict(shipped.state_dict(), strict=True)
        with torch.inference_mode():
            assert torch.equal(compute_copy(fresh)(x), compute_copy(shipped)(x))
        assert next(shipped.parameters()).dtype != torch.float32  # compute_copy left the shipped model as shipped


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="unknown precision 'int4'"):
        to_shipped(nn.Conv2d(1, 1, 1), "int4")
