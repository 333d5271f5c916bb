"""asckit.models.cp_mobile: the simplified CP-Mobile of CPJKU's 2024/2025 baselines (reference/dcase2025 README §3)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from asckit.models import build
from asckit.models.blocks import make_divisible
from asckit.models.cp_mobile import stage_widths

torch.set_num_threads(1)


def test_the_baseline_configuration_has_the_reference_counts():
    from asckit.models.counting import torchinfo_macs

    model = build("cp_mobile")
    assert sum(p.numel() for p in model.parameters()) == 61_148
    assert torchinfo_macs(model, (1, 1, 256, 65)) == 29_419_156  # reference/dcase2025/complexity.json


def test_module_names_are_the_reference_checkpoint_keys():
    # A few keys of the reference's `model.*` state_dict, prefix stripped, with their shapes.
    state = build("cp_mobile").state_dict()
    expected = {
        "in_c.0.0.weight": (8, 1, 3, 3),
        "in_c.1.1.num_batches_tracked": (),
        "stages.s1.b1.block.0.0.weight": (64, 32, 1, 1),
        "stages.s1.b3.block.1.0.weight": (64, 1, 3, 3),
        "stages.s2.b4.block.2.0.weight": (56, 64, 1, 1),
        "stages.s3.b6.block.2.1.running_var": (104,),
        "feed_forward.0.weight": (10, 104, 1, 1),
        "feed_forward.1.bias": (10,),
    }
    assert {key: tuple(state[key].shape) for key in expected} == expected
    assert len(state) == 126  # as many as the reference's model.* keys: 20 conv+BN units × 6, the head's conv + BN


def test_strides_and_shortcuts_follow_the_reference():
    model = build("cp_mobile").eval()
    blocks = {name: block for stage in model.stages for name, block in stage.named_children()}
    assert isinstance(blocks["b2"].shortcut, nn.Identity)
    assert isinstance(blocks["b3"].shortcut, nn.AvgPool2d) and blocks["b3"].shortcut.stride == (1, 2)
    assert blocks["b4"].shortcut is None and blocks["b6"].shortcut is None  # widths change
    assert blocks["b4"].block[1][0].stride == (2, 1)
    with torch.no_grad():
        maps = model.class_maps(torch.randn(2, 1, 256, 65))
    assert maps.shape == (2, 10, 32, 9)  # the B24 README's input of ff_list[1]


def test_make_divisible_rounds_like_mobilenet():
    assert [make_divisible(v) for v in (32, 57.6, 103.68, 67.2, 4, 11)] == [32, 56, 104, 64, 8, 16]
    assert make_divisible(12, 8) == 16  # 8 would lose a third: one step up
    assert stage_widths(32, 1.8) == [32, 32, 56, 104]


def test_width_scales_base_channels_before_rounding():
    half = build("cp_mobile", width=0.5).state_dict()
    base16 = build("cp_mobile", base_channels=16).state_dict()
    assert [(k, v.shape) for k, v in half.items()] == [(k, v.shape) for k, v in base16.items()]
    assert half["in_c.1.0.weight"].shape == (16, 4, 3, 3)


@pytest.mark.parametrize("frames", [1, 65, 130])
def test_any_clip_length_gives_logits(frames):
    model = build("cp_mobile", width=0.25).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 256, frames)).shape == (1, 10)
