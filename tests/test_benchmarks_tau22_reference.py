"""benchmarks/tau22_reference.py: the reference's frontend written as explicit torch ops, which
``benchmarks/inference.py --tau22`` times against asckit's, computes the model input asckit's computes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from asckit.features import tau22_frontend as fe

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "path", [str(REPO / "benchmarks"), *sys.path])
    spec = importlib.util.spec_from_file_location("benchmarks_tau22_reference", REPO / "benchmarks" / "tau22_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_frontend_of_a_44k_clip_is_the_numpy_frontends_log_mel(reference) -> None:
    wave = (0.1 * np.random.default_rng(0).standard_normal((1, 11025))).astype(np.float32)  # 0.25 s at 44.1 kHz
    with torch.inference_mode():
        got = reference.ReferenceFrontend(44100)(torch.from_numpy(wave)).numpy()
    expected = fe.log_mel(fe.resample(wave, 44100))[:, None]
    assert got.shape == expected.shape == (1, 1, 256, 17)
    assert np.abs(got - expected).max() <= 2e-5  # measured 2.1e-6: float32 rounding of different summation orders


def test_relu_in_place_switches_every_relu(reference) -> None:
    model = torch.nn.Sequential(torch.nn.ReLU(inplace=True), torch.nn.Sequential(torch.nn.ReLU(inplace=True)))
    reference.relu_in_place(model, False)
    assert [m.inplace for m in model.modules() if isinstance(m, torch.nn.ReLU)] == [False, False]
