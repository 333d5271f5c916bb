"""Tests for asckit.features.store: the one row format serves log-mel and waveform stores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asckit.core.errors import AsckitError
from asckit.features.logmel import settings_for
from asckit.features.store import FeatureStore
from asckit.features.waves import WaveformSettings


def test_a_waveform_store_keeps_float32_waves_exactly_and_reopens(tmp_path):
    settings = WaveformSettings()
    waves = np.random.default_rng(0).standard_normal((3, 1, 32000)).astype(np.float32)
    store = FeatureStore.create(tmp_path / "w", settings, dataset={"task": "2025"})
    store.append(["a.wav", "b.wav", "c.wav"], waves)
    store.close()
    assert (tmp_path / "w" / "data.f32").stat().st_size == 3 * 32000 * 4
    assert not (tmp_path / "w" / "data.f16").exists()
    again = FeatureStore.open(tmp_path / "w")
    assert again.holds_waves and again.shape == (1, 32000) and again.settings == settings
    got = again.get(["c.wav", "a.wav"])
    assert got.dtype == np.float32 and np.array_equal(got, waves[[2, 0]])  # stored bit for bit, not as float16


def test_a_log_mel_store_is_unchanged_float16(tmp_path):
    settings = settings_for("1a", clip_seconds=1.0)
    rows = np.random.default_rng(1).random((2, 1, 128, settings.frames())).astype(np.float32)
    store = FeatureStore.create(tmp_path / "m", settings, settings.frames())
    store.append(["x", "y"], rows)
    store.close()
    again = FeatureStore.open(tmp_path / "m")
    assert not again.holds_waves and again.get(["y"]).dtype == np.float16
    assert json.loads((tmp_path / "m" / "manifest.json").read_text())["dtype"] == "float16"


def test_a_waveform_store_refuses_waves_of_other_settings_and_a_forged_dtype(tmp_path):
    store = FeatureStore.create(tmp_path / "w", WaveformSettings(), dataset={})
    store.append(["a.wav"], np.zeros((1, 1, 32000), np.float32))
    store.close()
    with pytest.raises(AsckitError, match=r"other settings \(clip_seconds 1\.0 → 2\.0"):
        FeatureStore.create(tmp_path / "w", WaveformSettings(clip_seconds=2.0), dataset={})
    manifest = json.loads((tmp_path / "w" / "manifest.json").read_text())
    manifest["dtype"] = "float16"
    (tmp_path / "w" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(AsckitError, match="dtype 'float16' is not float32"):
        FeatureStore.open(tmp_path / "w")
