"""asckit.models.device_specific: a general model and one per known DCASE 2025 device."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from asckit.core.errors import AsckitError
from asckit.models.device_specific import DeviceSpecificModel

torch.set_num_threads(1)


def distinct_models(devices=("a", "b", "s1")) -> DeviceSpecificModel:
    """A tiny container whose device models differ from the base and from each other."""
    torch.manual_seed(0)
    model = DeviceSpecificModel(nn.Sequential(nn.Flatten(), nn.Linear(6, 3)), devices)
    with torch.no_grad():
        for offset, device in enumerate(model.devices, start=1):
            model.device_models[device][1].bias.add_(10.0 * offset)
    return model.eval()


def test_device_models_start_as_copies_of_the_base():
    base = nn.Linear(4, 2)
    model = DeviceSpecificModel(base)
    assert model.devices == ("a", "b", "c", "s1", "s2", "s3")
    assert model.device_models["s2"] is not base
    assert torch.equal(model.device_models["s2"].weight, base.weight)
    # The state_dict has the organizers' model_state_dict.pt layout.
    assert {"base_model.weight", "device_models.a.weight", "device_models.s3.bias"} <= set(model.state_dict())


def test_unknown_and_missing_devices_use_the_base_model():
    model = distinct_models()
    assert model.for_device("a") is model.device_models["a"]
    for device in ("c", "s4", "unknown", None):  # c has no own model here
        assert model.for_device(device) is model.base_model


def test_a_mixed_batch_gives_each_clip_its_device_models_logits_in_input_order():
    model = distinct_models()
    x = torch.randn(6, 1, 2, 3)
    devices = ["s1", "a", None, "a", "s6", "b"]
    with torch.no_grad():
        mixed = model(x, devices)
        one_by_one = torch.cat([model.for_device(d)(x[i : i + 1]) for i, d in enumerate(devices)])
        assert torch.allclose(mixed, one_by_one)
        assert torch.equal(model(x), model.base_model(x))
        assert torch.equal(model(x, ["b"] * 6), model.device_models["b"](x))


def test_gradients_reach_every_used_model():
    model = distinct_models().train()
    model(torch.randn(3, 1, 2, 3), ["a", "s5", "b"]).sum().backward()
    assert model.device_models["a"][1].weight.grad is not None and model.base_model[1].weight.grad is not None
    assert model.device_models["s1"][1].weight.grad is None


@pytest.mark.parametrize(
    ("devices", "message"),
    [(["a", "s4"], "device 's4' cannot have its own model"), (["a", "a"], "device 'a' is listed twice"), (["A"], "device 'A'")],
)
def test_only_the_known_2025_devices_get_own_models(devices, message):
    with pytest.raises(AsckitError, match=message) as info:
        DeviceSpecificModel(nn.Linear(2, 2), devices)
    assert "\n" not in str(info.value)


def test_one_device_id_per_clip():
    with pytest.raises(AsckitError, match="2 device ids for a batch of 3 clips"):
        distinct_models()(torch.randn(3, 1, 2, 3), ["a", "b"])
