"""Audio in: read any WAV/FLAC, resample, mix down or up, fit to a nominal length, cut into
windows, with clear errors.

Arrays are float32 with shape (channels, samples). Resampling uses soxr (a maintained,
high-quality resampler); reading uses soundfile. Reading, channel matching and length fitting are
``asckit.audio.clip``'s (re-exported here), the part without soxr that the 2025 inference package copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from asckit.audio.clip import (
    READABLE_FORMATS,
    audio_info,
    fit_length,
    match_channels,
    non_finite_problem,
    read_audio,
    read_span,
    require_finite_audio,
)
from asckit.core.errors import AsckitError

#: The reading, channel and length rules live in ``asckit.audio.clip`` (numpy and soundfile only, so the
#: 2025 inference package can copy them); they are part of this module's interface too.
__all__ = [
    "READABLE_FORMATS",
    "as_channels_first",
    "audio_info",
    "cut_windows",
    "fit_length",
    "load_clip",
    "match_channels",
    "non_finite_problem",
    "read_audio",
    "read_span",
    "require_finite_audio",
    "resample",
]


def cut_windows(
    read: Callable[[int, int], np.ndarray],
    total: int,
    sr: int,
    starts: Callable[[int, int, int], list[int]],
    seconds: float,
    target_sr: int,
    channels: int,
) -> Iterator[tuple[float, float, np.ndarray]]:
    """Windows of ``seconds`` of a recording of ``total`` samples at ``sr``: yields (start s, end s,
    audio (channels, window samples) at ``target_sr``).

    ``read(start, stop)`` returns those samples (channels, n) at ``sr``; ``starts(total, window,
    sr)`` the window offsets (``asckit.deploy.bundle.WindowRule.starts``). Each window is
    resampled, given ``channels`` channels, and fitted to the window length (resampling may be a
    sample off; a recording shorter than a window is repeated to length, see ``fit_length``).
    """
    native = int(round(seconds * sr))
    target = int(round(seconds * target_sr))
    for start in starts(total, native, sr):
        stop = min(start + native, total)
        audio = match_channels(resample(read(start, stop), sr, target_sr), channels)
        yield start / sr, stop / sr, fit_length(audio, target)


def as_channels_first(audio: np.ndarray) -> np.ndarray:
    """(samples,) → (1, samples); (channels, samples) stays; float32."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        return audio[None, :]
    if audio.ndim != 2:
        raise AsckitError(f"audio must be 1-D (samples) or 2-D (channels, samples), got shape {audio.shape}")
    if audio.shape[0] > audio.shape[1]:
        raise AsckitError(
            f"audio of shape {audio.shape} looks like (samples, channels); pass (channels, samples), e.g. audio.T"
        )
    return audio


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample (channels, samples) from ``sr_in`` to ``sr_out`` with soxr (no-op when equal)."""
    if sr_in == sr_out:
        return audio
    import soxr

    out = soxr.resample(audio.T, sr_in, sr_out, quality="HQ")
    return np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(-1, audio.shape[0]).T)


def load_clip(
    source: str | Path | np.ndarray,
    sr: int | None,
    target_sr: int,
    channels: int,
    clip_seconds: float | None,
) -> np.ndarray:
    """Path or array → float32 (channels, samples) at ``target_sr``, fitted to ``clip_seconds``.

    Longer recordings are cut at ``clip_seconds`` (as the reference's ``soundfile.read(stop=10*sr)``);
    shorter ones are repeated to length (see ``fit_length``). ``clip_seconds=None`` keeps the length.
    """
    if isinstance(source, (str, Path)):
        stop = None if clip_seconds is None else clip_seconds + 0.5  # spare for resampling edges
        audio, sr = read_audio(source, stop_seconds=stop)
    else:
        if sr is None:
            raise AsckitError("an audio array needs its sample rate: pass sr=...")
        audio = as_channels_first(source)
        require_finite_audio(audio, "the audio array")
    audio = match_channels(resample(audio, sr, target_sr), channels)
    if clip_seconds is not None:
        audio = fit_length(audio, int(round(clip_seconds * target_sr)))
    return audio
