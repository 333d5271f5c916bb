"""One clip as the TAU22 frontend starts from it: the wave a waveform store row holds.

``clip_wave(path)`` reads a file at its own rate (``asckit.audio.clip``: WAV/FLAC, one-line errors),
averages its channels, fits it to the clip length there (the first second; a shorter file repeated,
``asckit.audio.clip.fit_length``), resamples it with torchaudio's formula
(``asckit.features.tau22_frontend.resample``: windowed sinc, rates reduced by their gcd, so any rate)
and fits the result to the clip's samples at 32 kHz.

Its one job is that rule, in one place: ``asckit.features.waves`` stores these waves, and the 2025
inference package (``asckit.submission.dcase2025``) copies this module, so a packaged model sees the
waves its run was trained and predicted on. numpy and soundfile only.
"""

from __future__ import annotations

import os

import numpy as np

from asckit.audio.clip import fit_length, match_channels, read_audio
from asckit.features.tau22_frontend import SAMPLE_RATE, resample


def clip_wave(path: str | os.PathLike, clip_seconds: float = 1.0, sample_rate: int = SAMPLE_RATE, channels: int = 1) -> np.ndarray:
    """float32 (channels, clip_seconds · sample_rate) of the audio file ``path`` (module docstring)."""
    audio, sr = read_audio(path, stop_seconds=clip_seconds + 0.5)
    return fit_wave(audio, sr, clip_seconds, sample_rate, channels)


def fit_wave(audio: np.ndarray, sr: int, clip_seconds: float = 1.0, sample_rate: int = SAMPLE_RATE, channels: int = 1) -> np.ndarray:
    """A clip's samples (channels, n) at ``sr`` → its wave as ``clip_wave`` makes it: channels matched,
    fitted to ``clip_seconds`` at ``sr``, resampled, fitted to the clip's samples at ``sample_rate``.
    The deployment runtime prepares each 1 s window of a recording with it, so it classifies what
    training saw."""
    audio = fit_length(match_channels(audio, channels), int(round(clip_seconds * sr)))
    wave = resample(audio, sr, sample_rate)
    return np.asarray(fit_length(wave, int(round(clip_seconds * sample_rate))), dtype=np.float32)
