"""benchmarks/train_tau22.py: its reference arm computes the reference's frontend, and a smoke run
reports both arms (clips/s, process time, ratios, a per-op profile) in its JSON."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from asckit.features.tau22_torch import MelFrontend, Resampler

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "train_tau22.py"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "path", [str(REPO / "benchmarks"), *sys.path])  # the script imports benchmarks/timing.py
    spec = importlib.util.spec_from_file_location("benchmarks_train_tau22", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    yield module
    torch.set_num_threads(threads)  # main() sets the benchmark's threads


def test_the_reference_arm_resamples_and_takes_the_mel_as_the_reference(bench) -> None:
    waves = torch.from_numpy((0.1 * np.random.default_rng(0).standard_normal((2, 11025))).astype(np.float32))
    resampler = Resampler(44100)
    dense = bench.dense_resample(waves, resampler.kernel_tensor(), resampler.plan.orig, resampler.plan.width)
    torch.testing.assert_close(dense, resampler(waves), rtol=0, atol=0)
    mel, expected = bench.ReferenceMel()(dense), MelFrontend()(dense)
    peak = expected.amax(dim=(-2, -1), keepdim=True)
    assert mel.shape == expected.shape and ((mel - expected).abs() / peak).max() <= 1e-6


@pytest.mark.slow
def test_a_smoke_run_reports_both_arms_with_ratios_and_profiles(bench, tmp_path: Path, capsys) -> None:
    out = tmp_path / "tau22.json"
    assert bench.main(["--smoke", "--profile", "--profile-rows", "3", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    arms = report["arms"]
    assert list(arms) == ["reference", "asckit"]
    assert arms["reference"]["channels_last"] is False and arms["asckit"]["channels_last"] is True  # the TAU22 configs'
    for arm in arms.values():
        assert arm["wall_clips_s_median"] > 0 and arm["cpu_ms_per_clip_median"] > 0
        assert len(arm["profile"]["ops"]) == 3 and all(0 < row["share"] <= 1 for row in arm["profile"]["ops"])
    assert arms["reference"]["wall_ratio"] == arms["reference"]["cpu_ratio"] == 1.0
    assert arms["asckit"]["wall_ratio"] == pytest.approx(arms["asckit"]["wall_clips_s_median"] / arms["reference"]["wall_clips_s_median"])
    assert arms["asckit"]["cpu_ratio"] == pytest.approx(arms["reference"]["cpu_ms_per_clip_median"] / arms["asckit"]["cpu_ms_per_clip_median"])
    assert report["settings"]["batch"] == 4 and isinstance(report["environment"]["amx"], list)
    printed = capsys.readouterr().out
    assert "AMX" in printed and "clips/s" in printed and "ms/clip" in printed and "one profiled step" in printed
