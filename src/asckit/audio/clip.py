"""A recording in, as float32 (channels, samples): read from WAV/FLAC with one-line errors (NaN and
infinite samples refused), its channels matched, its length fitted.

numpy and soundfile only, no other asckit module but ``core.errors``: the self-contained 2025
inference package (``asckit.submission.dcase2025``) copies this module as it is, with the TAU22
frontend that reads clips through it (``asckit.features.tau22_wave``). Resampling with soxr, windows
of long recordings and whole-clip loading stay in ``asckit.audio.io``, which re-exports these names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError, first_line

#: The containers asckit reads (soundfile's format names): WAV (with its WAVEX, W64 and RF64
#: variants) and FLAC. libsndfile also decodes MP3, Ogg Vorbis/Opus, AIFF and more; those are
#: refused with one line rather than classified on a path no test covers.
READABLE_FORMATS = frozenset({"WAV", "WAVEX", "W64", "RF64", "FLAC"})


def read_audio(path: str | Path, stop_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Read ``path`` as float32 (channels, samples) and its sample rate; at most ``stop_seconds``.

    Raises AsckitError (one line naming the file) for missing, unreadable or empty files.
    """
    path = Path(path)
    if not path.is_file():
        raise AsckitError(f"{path}: no such audio file; check the path (or restore the file)")
    sr, _ = audio_info(path)
    stop = None if stop_seconds is None else int(round(stop_seconds * sr))
    return read_span(path, 0, stop, sr), sr


def audio_info(path: str | Path) -> tuple[int, int]:
    """Sample rate and length in samples of a WAV or FLAC file (``READABLE_FORMATS``), without reading it."""
    import soundfile

    path = Path(path)
    try:
        info = soundfile.info(str(path))
    except Exception as exc:  # LibsndfileError, RuntimeError, TypeError for non-audio input
        raise AsckitError(f"{path}: not a readable audio file ({first_line(exc)}); convert it to WAV or FLAC") from None
    if info.format not in READABLE_FORMATS:
        raise AsckitError(
            f"{path}: {info.format} audio is not supported; asckit reads WAV and FLAC: convert it "
            f"(e.g. `ffmpeg -i {path.name} {path.stem}.wav`)"
        )
    if info.frames <= 0:
        raise AsckitError(f"{path}: the audio file holds no samples; give a recording with sound in it")
    return int(info.samplerate), int(info.frames)


def read_span(path: str | Path, start: int, stop: int | None, sr: int) -> np.ndarray:
    """Samples ``start:stop`` of a file (``sr`` its rate, for messages) as float32 (channels, samples)."""
    import soundfile

    try:
        data, _ = soundfile.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except Exception as exc:
        raise AsckitError(f"{path}: reading failed at {start / sr:.1f} s ({first_line(exc)}); the file is damaged") from None
    if data.shape[0] == 0:
        raise AsckitError(f"{path}: the audio file holds no samples; give a recording with sound in it")
    require_finite_audio(data, str(path))
    return np.ascontiguousarray(data.T)


def non_finite_problem(count: int) -> str:
    """How a file with ``count`` NaN or infinite samples is reported (here and by ``data check``)."""
    return f"holds {count} NaN or infinite sample(s); repair or remove this file"


def require_finite_audio(audio: np.ndarray, where: str) -> None:
    """Refuse audio holding NaN or infinite samples (float WAVs can): they would poison every stage after."""
    if not np.isfinite(audio).all():
        bad = int(np.size(audio) - np.count_nonzero(np.isfinite(audio)))
        raise AsckitError(f"{where}: {non_finite_problem(bad)}")


def match_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Mix down to mono by averaging (as TAU's device A) or duplicate mono to stereo."""
    have = audio.shape[0]
    if have == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True)
    if have == 1:
        return np.repeat(audio, channels, axis=0)
    raise AsckitError(f"cannot turn {have}-channel audio into {channels} channels")


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Truncate to ``samples``, or repeat the clip (wrap) until it is that long.

    Repeating keeps short clips' statistics; zero padding would put digital silence
    (log(1e-8) ≈ −18.4) into the per-file min/max scaling and distort every value.
    """
    have = audio.shape[-1]
    if have >= samples:
        return audio[..., :samples]
    reps = -(-samples // have)
    return np.tile(audio, (1, reps))[..., :samples]
