"""Tests for asckit.features.spectrum_correction: the magnitude ratios behind the coefficients
and the log-mel of a corrected spectrum."""

import numpy as np

from asckit.features.logmel import LogMel, mel_of, settings_for
from asckit.features.spectrum_correction import corrected_logmel, magnitude_ratio_sum, stft_magnitude

SR = 44100


def _tone(freq, seconds=1.0, sr=SR, amplitude=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None, :]


def test_magnitude_ratio_recovers_a_known_gain_and_stays_finite_on_silence():
    settings = settings_for("1a", clip_seconds=1.0)
    clip = np.random.default_rng(3).standard_normal((1, SR)).astype(np.float32) * 0.1
    total, frames = magnitude_ratio_sum(
        stft_magnitude(0.5 * clip, settings), stft_magnitude(clip, settings)
    )
    assert frames == settings.frames(SR)
    np.testing.assert_allclose(total / frames, 0.5, rtol=1e-3)
    silent = np.zeros((1, 1025, 4))
    total, frames = magnitude_ratio_sum(silent, silent)
    np.testing.assert_array_equal(total / frames, 1.0)  # 0/0 is no change, not nan
    total, _ = magnitude_ratio_sum(np.ones_like(silent), silent)
    assert np.all(np.isfinite(total))


def test_corrected_logmel_with_unit_coefficients_is_the_feature_extractors_logmel():
    settings = settings_for("1a", clip_seconds=1.0)
    clip = _tone(1000.0) + 0.01 * np.random.default_rng(4).standard_normal((1, SR)).astype(np.float32)
    extractor = LogMel(settings)
    expected = extractor(clip)
    got = corrected_logmel(clip, np.ones(1025), extractor)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_corrected_logmel_applies_each_bins_coefficient():
    settings = settings_for("1a", clip_seconds=1.0)
    clip = np.random.default_rng(5).standard_normal((1, SR)).astype(np.float32) * 0.1
    mel = mel_of(settings)
    extractor = LogMel(settings, mel=mel)
    # A uniform factor c is the same as scaling the waveform by c (the STFT is linear).
    np.testing.assert_allclose(
        corrected_logmel(clip, np.full(1025, 3.0), extractor),
        corrected_logmel(3.0 * clip, np.ones(1025), extractor),
        atol=1e-4,
    )
    # Zeroing the upper half of the bins leaves the bands below 11 kHz alone and silences those above.
    cut = np.where(np.arange(1025) < 512, 1.0, 0.0)
    full = corrected_logmel(clip, np.ones(1025), extractor)
    got = corrected_logmel(clip, cut, extractor)
    below = mel[:, 512:].sum(axis=1) == 0
    above = mel[:, :512].sum(axis=1) == 0
    assert below.any() and above.any()
    np.testing.assert_allclose(got[:, below], full[:, below], atol=1e-5)
    np.testing.assert_allclose(got[:, above], np.log(settings.log_offset), atol=1e-5)
