"""Fidelity of asckit.models to the reference Keras code (docs/reference-code.md §2 and its facts 4-8).

Full-width models are built on the meta device: parameter counts and output shapes need no
memory or compute. Forward passes on real tensors use narrow widths.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from asckit.core.errors import AsckitError
from asckit.models import REFERENCE_CONFIGS, build, names
from asckit.models.attention import AttentionClassHead, ChannelAttention
from asckit.models.blocks import ClassMapModel

torch.set_num_threads(1)


def build_meta(name: str, **params) -> ClassMapModel:
    with torch.device("meta"):
        return build(name, **params)


def bn_statistics(model: nn.Module) -> int:
    """Running means and variances: Keras counts them in count_params() as non-trainable."""
    return sum(
        m.running_mean.numel() + m.running_var.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d)
    )


# docs/reference-code.md §2 "Parameter counts": (build args, Keras trainable, Keras total = count_params()).
# PyTorch's trainable parameters map one to one to Keras' trainable weights (a BN with
# center=scale=False has none in either); Keras' non-trainable weights are the BN moving mean and
# variance, which PyTorch keeps as the buffers running_mean / running_var.
KERAS_COUNTS = [
    pytest.param({"name": "fcnn"}, 11_780_329, 11_786_711, id="fcnn-10class"),
    pytest.param({"name": "fcnn", "num_classes": 3}, 11_776_192, 11_782_546, id="fcnn-3class"),
    pytest.param({"name": "fsfcnn"}, 16_531_913, 16_539_703, id="fsfcnn"),
    pytest.param({"name": "resnet", "num_filters": 48}, 12_966_444, 12_980_492, id="resnet-d-10class"),
    pytest.param({"name": "resnet", "num_filters": 24, "num_classes": 3}, 3_240_732, 3_247_758, id="resnet-3class"),
    pytest.param({"name": "mobnet"}, 145_328, 152_838, id="mobnet"),
    pytest.param({"name": "small_fcnn", "variant": "train"}, 349_438, 350_470, id="small_fcnn-train"),
    pytest.param({"name": "small_fcnn", "variant": "shipped"}, 233_326, 234_166, id="small_fcnn-shipped"),
]


@pytest.mark.parametrize(("kwargs", "keras_trainable", "keras_total"), KERAS_COUNTS)
def test_trainable_parameters_equal_keras(kwargs, keras_trainable, keras_total):
    model = build_meta(**kwargs)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == keras_trainable


@pytest.mark.parametrize(("kwargs", "keras_trainable", "keras_total"), KERAS_COUNTS)
def test_trainable_plus_bn_statistics_equal_keras_total(kwargs, keras_trainable, keras_total):
    model = build_meta(**kwargs)
    assert sum(p.numel() for p in model.parameters()) + bn_statistics(model) == keras_total


# docs/reference-code.md fidelity fact 6 (and §2.1: FCNN 8×25 at the 400-frame training crop).
CLASS_MAP_SIZES = [
    pytest.param({"name": "fcnn"}, 423, (10, 8, 26), id="fcnn-423"),
    pytest.param({"name": "fcnn"}, 400, (10, 8, 25), id="fcnn-400"),
    pytest.param({"name": "fsfcnn"}, 423, (10, 32, 14), id="fsfcnn-423"),
    pytest.param({"name": "resnet", "num_filters": 48}, 423, (10, 128, 27), id="resnet-423"),
    pytest.param({"name": "mobnet"}, 461, (3, 8, 29), id="mobnet-461"),
    pytest.param({"name": "small_fcnn"}, 461, (3, 8, 28), id="small_fcnn-461"),
    # Two ZeroPadding2D(1) before block 3's last 3×3 conv: 16×57 → 18×59, pooled to 9×29.
    pytest.param({"name": "small_fcnn", "variant": "shipped"}, 461, (3, 9, 29), id="small_fcnn-shipped-461"),
    # fsFCNN-s trunks see 64 bins each: 16 × 14 per band, concatenated on frequency.
    pytest.param({"name": "fsfcnn_split"}, 423, (10, 32, 14), id="fsfcnn_split-423"),
]


@pytest.mark.parametrize(("kwargs", "frames", "expected"), CLASS_MAP_SIZES)
def test_class_map_sizes_match_reference(kwargs, frames, expected):
    model = build_meta(**kwargs)
    with torch.device("meta"):
        maps = model.class_maps(torch.zeros(2, model.in_channels, 128, frames))
    assert tuple(maps.shape) == (2, *expected)


def count_layers(model: nn.Module, kind: type, **where) -> int:
    return sum(isinstance(m, kind) and all(getattr(m, k) == v for k, v in where.items()) for m in model.modules())


def test_layer_counts_match_paper_and_reference():
    # FCNN: 9 convs (paper §2.2); fsFCNN: 11; Resnet: 17 per path + 2 head convs; Mobnet:
    # 3 stages × 3 bottlenecks per path, one depthwise conv each, 6 residual adds per path.
    # (docs/reference-code.md §2.4: 18 depthwise convs; the h5 holds 36 depthwise weight arrays, kernel
    # and bias of 18 layers: 18 layers is what matches the exact parameter count.)
    assert count_layers(build_meta("fcnn"), nn.Conv2d) == 9
    assert count_layers(build_meta("fsfcnn"), nn.Conv2d) == 11
    resnet = build_meta("resnet")
    assert count_layers(resnet.lower, nn.Conv2d) == count_layers(resnet.upper, nn.Conv2d) == 17
    mobnet = build_meta("mobnet")
    assert sum(isinstance(m, nn.Conv2d) and m.groups > 1 for m in mobnet.modules()) == 18
    assert sum(getattr(m, "residual", False) is True for m in mobnet.modules()) == 12
    # small-FCNN block 3 has 2 convs instead of 4.
    assert count_layers(build_meta("small_fcnn"), nn.Conv2d) == 7


def test_dropout_rates_and_places_match_reference():
    assert [m.p for m in build_meta("fcnn").block3.modules() if isinstance(m, nn.Dropout)] == [0.3] * 3
    assert [m.p for m in build_meta("small_fcnn").modules() if isinstance(m, nn.Dropout)] == [0.3]
    assert [m.p for m in build_meta("fsfcnn").modules() if isinstance(m, nn.Dropout)] == [0.5, 0.5]
    assert count_layers(build_meta("resnet"), nn.Dropout) == 0
    assert [m.p for m in build_meta("mobnet").head.modules() if isinstance(m, nn.Dropout)] == [0.3]


@pytest.mark.parametrize("name", names())
def test_batchnorm_uses_the_reference_epsilon_and_momentum(name):
    norms = [m for m in build_meta(name).modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms
    if name == "cp_mobile":  # a PyTorch reference: PyTorch's defaults
        assert all(m.eps == 1e-5 and m.momentum == pytest.approx(0.1) for m in norms)
    else:  # the Keras references
        assert all(m.eps == 1e-3 and m.momentum == pytest.approx(0.01) for m in norms)


def test_batchnorm_running_mean_moves_like_keras_momentum_099():
    model = build("small_fcnn", width=0.25)
    bn = model.input_bn
    x = torch.randn(4, 6, 128, 20) + 3.0
    model.train()
    model(x)
    # Keras: moving = 0.99·moving + 0.01·batch, starting from 0.
    assert torch.allclose(bn.running_mean, 0.01 * x.mean(dim=(0, 2, 3)), atol=1e-6)


@pytest.mark.parametrize("name", names())
def test_conv_biases_only_where_reference_has_them(name):
    model = build_meta(name)
    if name == "mobnet":
        # Inside the MobileNetV2 paths every conv has a bias; the resnet_layer head has none.
        inner = [m for path in (model.lower, model.upper) for m in path.modules() if isinstance(m, nn.Conv2d)]
        assert inner and all(m.bias is not None for m in inner)
        assert all(m.bias is None for m in model.head.modules() if isinstance(m, nn.Conv2d))
    else:
        assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))


def truncation_bound(weight: torch.Tensor) -> float:
    fan_in = weight[0].numel()
    return 2 * (2.0 / fan_in) ** 0.5 / 0.87962566103423978


def test_convs_use_keras_truncated_he_normal():
    torch.manual_seed(0)
    model = build("fcnn", width=0.5)
    weight = model.block3[0].conv.weight.detach()  # 3×3, 144 → 288: 373k draws
    fan_in = weight[0].numel()
    # Keras divides the std by 0.8796 so that the draw truncated at 2 std has variance 2/fan_in.
    assert weight.std().item() == pytest.approx((2.0 / fan_in) ** 0.5, rel=0.02)
    assert weight.abs().max().item() <= truncation_bound(weight)
    assert weight.abs().max().item() > 0.97 * truncation_bound(weight)
    linear = model.head[-1].mlp[0]
    assert linear.weight.abs().max().item() <= truncation_bound(linear.weight)


def test_mobnet_inner_convs_use_glorot_uniform_and_zero_biases():
    torch.manual_seed(0)
    model = build("mobnet")
    conv = model.lower[-1].conv  # 1×1, 48 → 56
    limit = (6.0 / (48 + 56)) ** 0.5
    assert conv.weight.abs().max().item() <= limit
    assert conv.weight.abs().max().item() > 0.95 * limit
    assert torch.count_nonzero(conv.bias) == 0
    head_conv = model.head.hidden.conv
    assert head_conv.weight.abs().max().item() <= truncation_bound(head_conv.weight)


@pytest.mark.parametrize("name", ["fcnn", "fsfcnn", "small_fcnn"])
def test_channel_attention_follows_class_map_conv(name):
    model = build_meta(name)
    head = model.head
    assert isinstance(head, AttentionClassHead)
    layers = list(head)
    assert isinstance(layers[0], nn.Conv2d) and layers[0].out_channels == model.num_classes
    assert isinstance(layers[-1], ChannelAttention)


def test_channel_attention_parameters_and_behaviour():
    attention = ChannelAttention(10, ratio=2)
    # fact 7: shared MLP 10 → 5 → 10 with biases = 115 parameters.
    assert sum(p.numel() for p in attention.parameters()) == 115
    x = torch.randn(2, 10, 4, 6)
    with torch.no_grad():
        out = attention(x)
        ratio = out / x
    # One weight in (0, 1) per sample and channel, the same at every position.
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), atol=1e-5)
    assert bool((ratio > 0).all() and (ratio < 1).all())


@pytest.mark.parametrize("name", names())
def test_outputs_are_logits_averaged_from_class_maps(name):
    torch.manual_seed(0)
    model = build(name, width=0.125).eval()
    x = torch.randn(2, model.in_channels, 128, 40)
    with torch.no_grad():
        logits = model(x)
        maps = model.class_maps(x)
    assert logits.shape == (2, model.num_classes)
    assert torch.allclose(logits, maps.mean(dim=(2, 3)))
    assert not any(isinstance(m, nn.Softmax | nn.LogSoftmax) for m in model.modules())


@pytest.mark.parametrize("name", names())
def test_min_frames_is_the_shortest_valid_input(name):
    model = build_meta(name)
    with torch.device("meta"):
        maps = model(torch.zeros(1, model.in_channels, 128, model.min_frames))
        assert maps.shape == (1, model.num_classes)
        if model.min_frames > 1:
            with pytest.raises(AsckitError, match="at least"):
                model(torch.zeros(1, model.in_channels, 128, model.min_frames - 1))
            # Without the check, one frame less really breaks the graph.
            with pytest.raises(RuntimeError):
                model.class_maps(torch.zeros(1, model.in_channels, 128, model.min_frames - 1))


def test_wrong_channel_count_is_a_user_error():
    model = build_meta("fcnn")
    with torch.device("meta"), pytest.raises(AsckitError, match=r"\(batch, 3, mel, frames\)"):
        model(torch.zeros(1, 6, 128, 423))


@pytest.mark.parametrize("name", names())
def test_width_multiplier_narrows_the_same_graph(name):
    full, narrow = build_meta(name), build_meta(name, width=0.25)
    convs = [m for m in full.modules() if isinstance(m, nn.Conv2d)]
    narrow_convs = [m for m in narrow.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == len(narrow_convs)
    assert sum(p.numel() for p in narrow.parameters()) < sum(p.numel() for p in full.parameters()) / 4
    assert narrow.num_classes == full.num_classes
    # The class-map conv keeps its class count whatever the width.
    assert narrow_convs[-1].out_channels == convs[-1].out_channels


def test_defaults_follow_the_task():
    for name in ("fcnn", "fsfcnn", "fsfcnn_split", "resnet"):
        model = build_meta(name)
        assert (model.num_classes, model.in_channels) == (10, 3)
    for name in ("mobnet", "small_fcnn"):
        model = build_meta(name)
        assert (model.num_classes, model.in_channels) == (3, 6)
    assert (build_meta("cp_mobile").num_classes, build_meta("cp_mobile").in_channels) == (10, 1)  # the TAU22 log-mel
    assert build_meta("resnet").head.hidden.conv.out_channels == 768  # num_filters 24: the paper's "Resnet"


def test_build_kwargs_rebuild_the_same_model():
    model = build_meta("small_fcnn", variant="shipped", width=0.5, num_classes=10)
    again = build_meta(**model.build_kwargs)
    shapes = [(key, value.shape) for key, value in model.state_dict().items()]
    assert shapes == [(key, value.shape) for key, value in again.state_dict().items()]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "vgg"}, "unknown model 'vgg'"),
        ({"name": "resnet", "num_filter": 48}, "no parameter num_filter"),
        ({"name": "small_fcnn", "variant": "tiny"}, "unknown small_fcnn variant"),
        ({"name": "fcnn", "num_filters": [48, 96]}, "needs 3 positive filter counts"),
        ({"name": "mobnet", "width": 0}, "width must be > 0"),
    ],
)
def test_bad_build_arguments_raise_one_line_errors(kwargs, message):
    with pytest.raises(AsckitError, match=message) as info:
        build_meta(**kwargs)
    assert "\n" not in str(info.value)


def test_reference_configs_cover_every_architecture():
    assert {config.name for config in REFERENCE_CONFIGS} == set(names())
    assert names() == ["fcnn", "fsfcnn", "fsfcnn_split", "resnet", "mobnet", "small_fcnn", "cp_mobile"]
