"""The TAU22 frontend in numpy (``asckit.features.tau22_frontend``): lengths, the resampler on tones,
the window and mel bank against scipy and librosa, the STFT against a plain float64 one, and all of
it against the reference fixture ``reference/dcase2025/frontend.npz`` (torchaudio 2.11's own output;
those tests skip where the shared data is absent)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_frontend_fixture

from asckit.core.errors import AsckitError
from asckit.features import tau22_frontend as fe


def _peak(mel: np.ndarray) -> np.ndarray:
    """Each clip's largest mel value, broadcastable against (clips, 1, 256, frames)."""
    return mel.max(axis=(-2, -1), keepdims=True)


def _tone(hz: float, sample_rate: int, seconds: float = 0.5, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * sample_rate)) / sample_rate)


def test_a_one_second_clip_gives_32000_samples_and_65_frames_at_any_batch_shape():
    assert fe.frames(32000) == 65 and fe.frames(499) == 1
    assert fe.resample(np.zeros(44100), 44100).shape == (32000,)
    assert fe.resample(np.zeros(44101), 44100).shape == (32001,)  # ceil(320 · n / 441), as torchaudio
    assert fe.resample(np.zeros((2, 3, 48000)), 48000).shape == (2, 3, 32000)
    mel = fe.power_mel(np.zeros((2, 1, 32000)))
    assert mel.shape == (2, 1, 256, 65) and mel.dtype == np.float32
    assert fe.log_mel(np.zeros(32000)).shape == (256, 65)


def test_the_kernel_is_torchaudios_shape_and_equal_rates_pass_through():
    plan = fe.resample_kernel(44100)
    assert (plan.orig, plan.new, plan.width, plan.kernel.shape) == (441, 320, 9, (320, 459))
    assert fe.resample_kernel(44100, 32000) is plan  # cached
    assert (fe.resample_kernel(48000).orig, fe.resample_kernel(48000).new) == (3, 2)
    wave = np.random.default_rng(0).standard_normal(1000)
    same = fe.resample(wave, 32000)
    assert same.dtype == np.float32 and np.array_equal(same, wave.astype(np.float32))


@pytest.mark.parametrize("rate", [44100, 48000, 16000])
def test_a_tone_in_the_passband_keeps_its_frequency_and_amplitude(rate):
    resampled = fe.resample(_tone(1000.0, rate), rate)
    expected = _tone(1000.0, 32000)
    assert resampled.shape == expected.shape
    middle = slice(200, -200)  # the ends see the zero padding
    assert np.abs(resampled[middle] - expected[middle]).max() < 1e-3  # measured ≤ 3.5e-4 of 0.5


def test_a_tone_above_the_new_nyquist_frequency_is_filtered_out():
    # 20 kHz at 44.1 kHz would alias to 12 kHz at 32 kHz; the reference's filter takes it down by 45 dB
    tone = _tone(20000.0, 44100)
    resampled = fe.resample(tone, 44100)[500:-500]
    assert np.sqrt(np.mean(resampled**2)) < 1e-2 * np.sqrt(np.mean(tone**2))


def test_the_window_is_scipys_periodic_hann():
    import scipy.signal

    np.testing.assert_allclose(fe.window(), scipy.signal.get_window("hann", 3072, fftbins=True), rtol=0, atol=6e-8)


def test_the_mel_bank_is_librosas_htk_bank_up_to_torchaudios_float32_band_edges():
    import librosa.filters

    expected = librosa.filters.mel(sr=32000, n_fft=4096, n_mels=256, fmin=0, htk=True, norm=None).T
    bank = fe.mel_filterbank()
    assert bank.shape == (2049, 256) and bank.dtype == np.float32
    np.testing.assert_allclose(bank, expected, rtol=0, atol=2e-5)  # measured 1.5e-5: float32 edges near 16 kHz


def test_the_power_mel_is_a_plain_float64_centred_stft_and_mel_projection():
    wave = np.random.default_rng(1).standard_normal((2, 8000)).astype(np.float32)
    padded = np.pad(wave.astype(np.float64), [(0, 0), (2048, 2048)], mode="reflect")
    window = np.zeros(4096)
    window[512:3584] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(3072) / 3072)
    frames = np.stack([padded[:, i * 500 : i * 500 + 4096] for i in range(fe.frames(8000))], axis=1)
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    expected = np.swapaxes(power @ fe.mel_filterbank().astype(np.float64), -1, -2)
    mel = fe.power_mel(wave)
    assert mel.shape == expected.shape == (2, 256, 17)
    assert np.abs(mel - expected).max() <= 1e-6 * expected.max()
    np.testing.assert_allclose(fe.log_mel(wave), np.log(expected + 1e-5), rtol=0, atol=1e-4)


def test_a_given_bank_is_used_as_it_is_at_each_call_and_a_read_only_one_grouped_once():
    wave = np.random.default_rng(2).standard_normal(4000).astype(np.float32)
    writeable = fe.mel_filterbank().copy()
    np.testing.assert_array_equal(fe.power_mel(wave, writeable), fe.power_mel(wave))
    writeable[:, 100:] = 0  # the caller changes its bank: the next call uses the new one
    mel = fe.power_mel(wave, writeable)
    assert np.all(mel[100:] == 0) and np.array_equal(mel[:96], fe.power_mel(wave)[:96])  # 96: whole band groups
    read_only = fe.mel_filterbank().copy()
    read_only.setflags(write=False)
    assert fe._groups_of(read_only) is fe._groups_of(read_only)  # the 1.3 ms grouping is paid once
    np.testing.assert_array_equal(fe.power_mel(wave, read_only), fe.power_mel(wave))
    with pytest.raises(ValueError, match=r"mel_fb has shape \(2049, 128\)"):
        fe.power_mel(wave, np.zeros((2049, 128), np.float32))


def test_a_wave_too_short_for_the_reflect_padding_is_one_line_naming_the_minimum():
    with pytest.raises(AsckitError, match=r"2048 samples are too few .* pass at least 2049"):
        fe.power_mel(np.zeros(2048))


@needs_frontend_fixture
def test_the_kernel_and_the_resampled_waves_are_the_references(frontend_reference):
    np.testing.assert_array_equal(fe.resample_kernel(44100).stored(), frontend_reference["resample_kernel"][:, 0])
    resampled = fe.resample(frontend_reference["wave44k"], 44100)
    assert np.abs(resampled - frontend_reference["wave32k"][:, 0]).max() <= 1e-6  # measured 1.8e-7


@needs_frontend_fixture
def test_the_window_and_the_mel_bank_are_the_references(frontend_reference):
    np.testing.assert_allclose(fe.window(), frontend_reference["window"], rtol=0, atol=2e-7)  # torch rounds in float32
    bank = fe.mel_filterbank()
    np.testing.assert_allclose(bank, frontend_reference["mel_fb"], rtol=0, atol=1e-5)
    # torchaudio's float32 arithmetic is reproduced: only the weights beside the 4 band edges where
    # torch's float32 pow is one ulp off differ (80 of 524,544)
    assert np.count_nonzero(bank != frontend_reference["mel_fb"]) <= 100


@needs_frontend_fixture
def test_the_mel_and_log_mel_are_the_references_within_float32_rounding(frontend_reference):
    mel, peak = frontend_reference["mel"], _peak(frontend_reference["mel"])
    assert np.all(np.abs(fe.power_mel(frontend_reference["wave32k"]) - mel) <= 3e-6 * peak)  # measured 2.1e-6
    # with the reference's own mel bank only the STFT's rounding is left
    assert np.all(np.abs(fe.power_mel(frontend_reference["wave32k"], frontend_reference["mel_fb"]) - mel) <= 1e-6 * peak)  # measured 2.5e-7
    above_floor = mel > 1e-6 * peak  # below it float32 rounding of the 2049-term sums dominates (README §7)
    end_to_end = fe.log_mel(fe.resample(frontend_reference["wave44k"], 44100)[:, None])
    assert np.abs(end_to_end - frontend_reference["logmel"])[above_floor].max() <= 1e-4  # measured 3.2e-5
