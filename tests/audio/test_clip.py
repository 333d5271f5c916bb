"""asckit.audio.clip: reading WAV/FLAC, matching channels, fitting lengths."""

import numpy as np
import pytest
import soundfile

from asckit.audio import clip
from asckit.core.errors import AsckitError


def test_read_audio_channels_first_and_stop(tmp_path):
    path = tmp_path / "x.wav"
    soundfile.write(path, np.zeros((48000, 2), dtype=np.float32), 48000)
    audio, sr = clip.read_audio(path, stop_seconds=0.5)
    assert sr == 48000 and audio.shape == (2, 24000) and audio.dtype == np.float32


def test_empty_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros((0, 1)), 44100)
    with pytest.raises(AsckitError, match="holds no samples"):
        clip.read_audio(path)


def _write_or_skip(path, audio, sr, **kwargs):
    try:
        soundfile.write(path, audio, sr, **kwargs)
    except Exception as exc:  # an old libsndfile without the codec
        pytest.skip(f"this libsndfile cannot write {kwargs}: {exc}")


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("x.mp3", {"format": "MP3"}), ("x.ogg", {"format": "OGG", "subtype": "VORBIS"}), ("x.aiff", {"format": "AIFF"})],
)
def test_formats_other_than_wav_and_flac_are_refused_in_one_line(tmp_path, name, kwargs):
    path = tmp_path / name
    tone = (0.1 * np.sin(np.arange(44100) / 10)).astype(np.float32)
    _write_or_skip(path, tone, 44100, **kwargs)
    kind = kwargs["format"]
    with pytest.raises(AsckitError, match=rf"^{path}: {kind} audio is not supported; asckit reads WAV and FLAC: convert it") as info:
        clip.read_audio(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("name", "kwargs"), [("x.wav", {}), ("x.flac", {}), ("x.w64", {"format": "W64"}), ("x.rf64", {"format": "RF64"})])
def test_wav_and_flac_are_read(tmp_path, name, kwargs):
    path = tmp_path / name
    tone = (0.1 * np.sin(np.arange(4410) / 10)).astype(np.float32)
    soundfile.write(path, tone, 44100, subtype="PCM_24", **kwargs)
    audio, sr = clip.read_audio(path)
    assert sr == 44100 and audio.shape == (1, 4410)
    np.testing.assert_allclose(audio[0], tone, atol=1e-6)


def test_match_channels_averages_to_mono_and_duplicates_to_stereo():
    stereo = np.stack([np.ones(100), np.zeros(100)]).astype(np.float32)
    assert np.allclose(clip.match_channels(stereo, 1), 0.5)
    assert clip.match_channels(stereo[:1], 2).shape == (2, 100)


def test_fit_length_repeats_short_clips():
    audio = np.arange(4, dtype=np.float32)[None]
    assert clip.fit_length(audio, 10).tolist() == [[0, 1, 2, 3, 0, 1, 2, 3, 0, 1]]
    assert clip.fit_length(audio, 2).tolist() == [[0, 1]]
