"""Every architecture exports to ONNX (opset 18, dynamo exporter) and traces under torch.compile
without graph breaks. Narrow widths and short inputs keep this fast."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from asckit.models import build, names

torch.set_num_threads(1)
FRAMES = 40


def narrow_model(name: str) -> nn.Module:
    """A width-1/8 model in eval mode with non-trivial BN statistics, so BN folding is exercised."""
    torch.manual_seed(0)
    model = build(name, width=0.125).eval()
    for layer in model.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 2.0)
    return model


@pytest.mark.parametrize("name", names())
def test_onnx_runtime_agrees_with_pytorch(name, tmp_path):
    model = narrow_model(name)
    path = tmp_path / f"{name}.onnx"
    example = torch.randn(2, model.in_channels, 128, FRAMES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=True,
            external_data=False,
            opset_version=18,
            dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1024)},),
        )
    assert not list(tmp_path.glob("*.data")), "weights must be inside the .onnx file"
    opsets = {entry.domain: entry.version for entry in onnx.load(str(path)).opset_import}
    assert opsets[""] >= 17
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    clips = torch.randn(3, model.in_channels, 128, FRAMES)  # another batch size than exported
    (onnx_logits,) = session.run(None, {session.get_inputs()[0].name: clips.numpy()})
    with torch.no_grad():
        torch_logits = model(clips).numpy()
    assert onnx_logits.shape == (3, model.num_classes)
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", names())
def test_torch_compile_traces_without_graph_breaks(name):
    model = build(name, width=0.125)  # training mode: dropout and BN updates are traced too
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(model)(torch.randn(2, model.in_channels, 128, FRAMES))
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1
