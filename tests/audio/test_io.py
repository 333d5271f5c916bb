import numpy as np
import pytest
import soundfile

from asckit.audio import io
from asckit.core.errors import AsckitError


def test_read_audio_channels_first_and_stop(tmp_path):
    path = tmp_path / "x.wav"
    soundfile.write(path, np.zeros((48000, 2), dtype=np.float32), 48000)
    audio, sr = io.read_audio(path, stop_seconds=0.5)
    assert sr == 48000 and audio.shape == (2, 24000) and audio.dtype == np.float32


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros((0, 1)), 44100)
    with pytest.raises(AsckitError, match="holds no samples"):
        io.read_audio(path)


def test_match_channels_and_resample():
    stereo = np.stack([np.ones(100), np.zeros(100)]).astype(np.float32)
    assert np.allclose(io.match_channels(stereo, 1), 0.5)
    assert io.match_channels(stereo[:1], 2).shape == (2, 100)
    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000).astype(np.float32)[None]
    up = io.resample(tone, 16000, 44100)
    assert up.shape == (1, 44100)
    spectrum = np.abs(np.fft.rfft(up[0]))
    assert abs(np.argmax(spectrum) - 1000) <= 1  # 1 s at 44.1 kHz → 1 Hz per bin


def test_fit_length_repeats_short_clips():
    audio = np.arange(4, dtype=np.float32)[None]
    assert io.fit_length(audio, 10).tolist() == [[0, 1, 2, 3, 0, 1, 2, 3, 0, 1]]
    assert io.fit_length(audio, 2).tolist() == [[0, 1]]


def test_samples_by_channels_is_rejected():
    with pytest.raises(AsckitError, match="looks like"):
        io.as_channels_first(np.zeros((1000, 2)))
