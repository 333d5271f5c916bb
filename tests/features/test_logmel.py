import numpy as np
import pytest
import scipy.signal
import torch

from asckit.core.errors import AsckitError
from asckit.features import logmel

torch.set_num_threads(1)


def _noise(seconds, sr, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    tone = np.sin(2 * np.pi * 440 * np.arange(int(seconds * sr)) / sr)
    return (0.05 * rng.standard_normal((channels, int(seconds * sr))) + 0.1 * tone).astype(np.float32)


def _librosa_reference(audio, sr):
    """The reference feature computed independently with librosa's exact settings (spec §1)."""
    import librosa

    out = [
        np.log(
            librosa.feature.melspectrogram(
                y=ch.astype(np.float64), sr=sr, n_fft=2048, hop_length=1024, window="hann", center=True,
                pad_mode="reflect", power=2.0, n_mels=128, fmax=sr / 2, htk=True, norm=None,
            )
            + 1e-8
        )
        for ch in audio
    ]
    x = np.stack(out)
    return (x - x.min()) / (x.max() - x.min())


@pytest.mark.parametrize("task,sr,channels,frames", [("1a", 44100, 1, 431), ("1b", 48000, 2, 469)])
def test_numpy_and_librosa_paths_match_the_reference(task, sr, channels, frames):
    audio = _noise(10, sr, channels)
    reference = _librosa_reference(audio, sr)
    settings = logmel.settings_for(task)
    assert reference.shape == (channels, 128, frames)
    for backend in ("numpy", "librosa"):
        ours = logmel.static_logmel(audio, settings, sr=sr, backend=backend)
        assert ours.shape == reference.shape
        assert np.abs(ours - reference).max() < 1e-4, backend


def test_extract_shapes_and_channel_order():
    x1a = logmel.extract(_noise(10, 44100), sr=44100, task="1a")
    assert x1a.shape == (3, 128, 423) and x1a.dtype == np.float32
    stereo = _noise(10, 48000, 2)
    x1b = logmel.extract(stereo, sr=48000, task="1b")
    assert x1b.shape == (6, 128, 461)
    static = logmel.static_logmel(stereo, logmel.settings_for("1b"), sr=48000)
    np.testing.assert_allclose(x1b[0], static[0, :, 4:-4])  # L
    np.testing.assert_allclose(x1b[1], static[1, :, 4:-4])  # R
    np.testing.assert_allclose(x1b[2], logmel.delta(static[0])[:, 2:-2], atol=1e-6)  # ΔL


def test_delta_is_savgol_derivative_in_valid_mode():
    x = np.random.default_rng(1).standard_normal((4, 50))
    ours = logmel.delta(x)
    savgol = scipy.signal.savgol_filter(x, 5, polyorder=1, deriv=1, axis=-1)[..., 2:-2]
    np.testing.assert_allclose(ours, savgol, atol=1e-12)


def test_add_deltas_numpy_and_torch_agree():
    static = np.random.default_rng(2).random((2, 2, 8, 30)).astype(np.float32)
    np_out = logmel.add_deltas(static)
    torch_out = logmel.add_deltas(torch.from_numpy(static)).numpy()
    assert np_out.shape == (2, 6, 8, 22)
    np.testing.assert_allclose(np_out, torch_out, atol=1e-6)
    with pytest.raises(ValueError):
        logmel.add_deltas(static[..., :8])


def test_scaling_is_per_file_over_all_channels():
    x = np.stack([np.full((4, 5), 1.0), np.full((4, 5), 3.0)])[None]
    x[0, 0, 0, 0] = -1.0
    scaled = logmel.scale_minmax(x)
    assert scaled.min() == 0.0 and scaled.max() == 1.0
    assert np.allclose(scaled[0, 1], 1.0)  # channel R took the shared max
    silent = logmel.scale_minmax(np.zeros((1, 4, 5)))
    assert np.all(silent == 0)
    t = logmel.scale_minmax(torch.from_numpy(x))
    np.testing.assert_allclose(t.numpy(), scaled)


def test_float16_storage_error_is_bounded():
    x = logmel.static_logmel(_noise(10, 44100), logmel.settings_for("1a"), sr=44100)
    assert np.abs(x.astype(np.float16).astype(np.float32) - x).max() <= 5e-4


def test_length_rule_cut_or_repeat_and_resampling():
    settings = logmel.settings_for("1a", clip_seconds=2.0)
    long = logmel.static_logmel(_noise(3, 44100), settings, sr=44100)
    short = logmel.static_logmel(_noise(0.5, 44100), settings, sr=44100)
    assert long.shape == short.shape == (1, 128, 1 + 88200 // 1024)
    resampled = logmel.extract(_noise(2, 16000), sr=16000, clip_seconds=2.0)
    assert resampled.shape == (3, 128, 1 + 88200 // 1024 - 8)
    free = logmel.extract(_noise(3, 44100), sr=44100, clip_seconds=None)
    assert free.shape[-1] == 1 + 3 * 44100 // 1024 - 8


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(AsckitError, match="sample rate"):
        logmel.extract(np.zeros(1000))
    with pytest.raises(AsckitError, match="no such audio file"):
        logmel.extract(tmp_path / "none.wav")
    bad = tmp_path / "bad.wav"
    bad.write_text("hello")
    with pytest.raises(AsckitError, match=r"bad.wav: not a readable audio file"):
        logmel.extract(bad)


@pytest.mark.parametrize("htk, norm", [(True, None), (False, "slaney")])
def test_band_grouped_mel_product_equals_the_dense_one(htk, norm):
    """LogMel multiplies each group of filters only with the bins it covers; nothing is lost."""
    settings = logmel.settings_for("1a", htk=htk, mel_norm=norm, clip_seconds=1.0)
    extractor = logmel.LogMel(settings)
    power = np.random.default_rng(7).random((40, 1025)).astype(np.float32)
    dense = np.log(power @ logmel.mel_of(settings).T + settings.log_offset).T
    np.testing.assert_allclose(extractor.mel_of_power(power), dense, rtol=1e-5, atol=1e-6)
    covered = sum(hi - lo for _, _, lo, hi, _ in extractor.groups)
    assert covered < 1025 * len(extractor.groups) / 4  # the point of grouping: most bins skipped


def test_logmel_on_a_too_short_signal_is_a_clear_error():
    extractor = logmel.LogMel(logmel.settings_for("1a"))
    with pytest.raises(AsckitError, match="too few for n_fft 2048"):
        extractor(np.zeros(1000, dtype=np.float32))
