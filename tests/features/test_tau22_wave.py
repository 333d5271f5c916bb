"""asckit.features.tau22_wave: one clip as the TAU22 frontend starts from it (first second, channels
averaged, resampled with torchaudio's formula from any rate)."""

import numpy as np
import soundfile

from asckit.features.tau22_frontend import resample
from asckit.features.tau22_wave import clip_wave


def test_a_longer_stereo_file_at_another_rate_gives_its_first_second_averaged_and_resampled(tmp_path):
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal((96000, 2))).astype(np.float32)  # 2 s at 48 kHz, stereo
    soundfile.write(tmp_path / "x.wav", audio, 48000, subtype="FLOAT")
    wave = clip_wave(tmp_path / "x.wav")
    assert wave.shape == (1, 32000) and wave.dtype == np.float32
    np.testing.assert_allclose(wave, resample(audio[:48000].mean(axis=1)[None], 48000), atol=1e-7)


def test_a_shorter_file_is_repeated_to_one_second_before_resampling(tmp_path):
    tone = (0.1 * np.sin(np.arange(22050) / 7)).astype(np.float32)  # 0.5 s at 44.1 kHz
    soundfile.write(tmp_path / "x.wav", tone, 44100, subtype="FLOAT")
    np.testing.assert_allclose(clip_wave(tmp_path / "x.wav"), resample(np.tile(tone, 2)[None], 44100), atol=1e-7)
