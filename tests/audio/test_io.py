import numpy as np
import pytest

from asckit.audio import io
from asckit.core.errors import AsckitError


def test_resample_keeps_a_tone_at_its_frequency():
    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000).astype(np.float32)[None]
    up = io.resample(tone, 16000, 44100)
    assert up.shape == (1, 44100)
    spectrum = np.abs(np.fft.rfft(up[0]))
    assert abs(np.argmax(spectrum) - 1000) <= 1  # 1 s at 44.1 kHz → 1 Hz per bin


def test_the_reading_rules_of_audio_clip_are_part_of_this_module():
    from asckit.audio import clip

    assert io.read_audio is clip.read_audio and io.fit_length is clip.fit_length and io.match_channels is clip.match_channels


def test_samples_by_channels_is_rejected():
    with pytest.raises(AsckitError, match="looks like"):
        io.as_channels_first(np.zeros((1000, 2)))
