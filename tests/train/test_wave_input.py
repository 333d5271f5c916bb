"""Tests for asckit.train.wave_input: the TAU22 model input in the reference's order."""

from __future__ import annotations

import math

import torch
from conftest import REPO

from asckit.train.config import load_config
from asckit.train.wave_input import WaveInput


def _config(*overrides: str):
    return load_config(REPO / "configs/dcase2024/cp_mobile.yaml", ["data.root=/r", "data.store=/s", *overrides])


def test_without_augmentation_training_input_is_the_evaluation_log_mel():
    stage = WaveInput(_config("batch_augment.spec_augment=false", "batch_augment.roll_seconds=0", "batch_augment.freq_mixstyle=null"))
    waves = torch.randn(3, 1, 32000)
    plain = stage.for_evaluation(waves)
    assert plain.shape == (3, 1, 256, 65)
    assert torch.equal(stage.for_training(waves, torch.zeros(3, dtype=torch.long), torch.Generator().manual_seed(0)), plain)


def test_masking_acts_on_the_power_mel_so_masked_bands_read_log_of_the_offset():
    stage = WaveInput(_config("batch_augment.roll_seconds=0", "batch_augment.freq_mixstyle=null"))
    waves = torch.randn(8, 1, 32000)
    x = stage.for_training(waves, torch.zeros(8, dtype=torch.long), torch.Generator().manual_seed(1))
    floor = math.log(1e-5)
    masked_rows = (x == floor).all(dim=-1)  # (B, 1, 256): whole bands at log(1e-5)
    assert masked_rows.any() and masked_rows.sum(dim=-1).max() < 48  # widths 0..47 (torchaudio's ⌊U·48⌋)
    assert stage.roll_samples == 0 and _config().batch_augment.roll_seconds == 0.1 and WaveInput(_config()).roll_samples == 3200
