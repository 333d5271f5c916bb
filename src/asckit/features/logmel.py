"""Reference-exact log-mel features and deltas (docs/reference-code.md §1).

Settings of the paper's code: n_fft 2048, hop 1024, periodic Hann window, centred STFT with
**reflect** padding, power 2, 128 HTK mel bands without area normalisation, fmax = sr/2,
natural log of (mel + 1e-8), then min/max scaling to [0, 1] **per file over all channels**
(``scale=False`` skips it, for the paper's unscaled Table 1 row 1).
Deltas are the 5-point valid-mode regression ((x[t+1]−x[t−1]) + 2(x[t+2]−x[t−2])) / 10, applied
twice, and the model input stacks [static[4:−4], Δ[2:−2], ΔΔ] on the channel axis: 431 → 423
frames for a 10 s 1a clip, 469 → 461 for 1b.

Two implementations compute the static log-mel:
- ``logmel_librosa``: librosa called with exactly those settings (the reference; float64);
- ``LogMel``: numpy/scipy with the same mel matrix (``mel_filterbank``, equal to librosa's),
  float32. It agrees with the librosa path to about 1e-6 after scaling (tests/test_logmel.py) and
  is faster (``python benchmarks/features.py`` measures it); feature extraction, offline
  augmentation and torch-free inference all use it.
Arrays are channels-first: static log-mel (channels, 128, frames).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from asckit.audio.io import load_clip
from asckit.core.errors import AsckitError
from asckit.features.fft import real_fft
from asckit.tasks import TASKS

LOG_OFFSET = 1e-8


@dataclass(frozen=True)
class LogMelSettings:
    """Everything that determines the stored features; its hash keys a feature store."""

    sample_rate: int = 44100
    channels: int = 1
    n_fft: int = 2048
    hop_length: int = 1024
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None  # None = sample_rate / 2, as the reference
    htk: bool = True
    mel_norm: str | None = None
    pad_mode: str = "reflect"
    power: float = 2.0
    log_offset: float = LOG_OFFSET
    clip_seconds: float | None = 10.0  # longer clips are cut, shorter repeated (audio.io.fit_length)
    scale: bool = True  # per-file min/max to [0, 1]; False keeps natural-log units (Table 1 row 1)

    @property
    def f_max(self) -> float:
        return self.fmax if self.fmax is not None else self.sample_rate / 2

    def frames(self, samples: int | None = None) -> int:
        """Static frames of a centred STFT: 1 + samples // hop (431 for 10 s at 44.1 kHz)."""
        if samples is None:
            if self.clip_seconds is None:
                raise ValueError("frames() needs samples when clip_seconds is None")
            samples = int(round(self.clip_seconds * self.sample_rate))
        return 1 + samples // self.hop_length

    def to_dict(self) -> dict:
        return asdict(self)

    def digest(self) -> str:
        """A short stable hash of the settings."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


#: The reference settings of each task.
TASK_SETTINGS: dict[str, LogMelSettings] = {
    name: LogMelSettings(sample_rate=task.sample_rate, channels=task.channels, clip_seconds=task.clip_seconds)
    for name, task in TASKS.items()
    if task.frontend == "logmel"
}


def settings_for(task: str, **overrides) -> LogMelSettings:
    """Reference settings of ``task`` ('1a' or '1b'), with optional field overrides."""
    if task not in TASK_SETTINGS:
        raise ValueError(f"unknown task {task!r}: use '1a' or '1b'")
    return replace(TASK_SETTINGS[task], **overrides)


#: Front-end fields a user may change for an ablation (``asckit features --set``). The channel
#: count belongs to the task; clip length and scaling have their own options.
FRONT_END_FIELDS: tuple[str, ...] = (
    "sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax", "htk", "mel_norm", "pad_mode", "power", "log_offset"
)


def parse_front_end(assignments: list[str] | dict | None) -> dict:
    """``["n_mels=256", "hop_length=512"]`` (or a mapping) → validated ``LogMelSettings`` overrides.

    Values are read as YAML scalars (``fmax=null``, ``htk=false``); an unknown field, a value of
    the wrong type or an impossible combination is an AsckitError naming the fix.
    """
    import yaml

    if not assignments:
        return {}
    if isinstance(assignments, dict):
        items = list(assignments.items())
    else:
        items = []
        for text in assignments:
            key, sep, value = text.partition("=")
            if not sep:
                raise AsckitError(f"--set {text!r}: write FIELD=VALUE, e.g. n_mels=256")
            items.append((key.strip(), yaml.safe_load(value)))
    overrides = {}
    for key, value in items:
        if key not in FRONT_END_FIELDS:
            raise AsckitError(f"front-end setting {key!r} cannot be set here; use one of {', '.join(FRONT_END_FIELDS)}")
        if key == "htk" and not isinstance(value, bool):
            raise AsckitError(f"front-end setting {key}={value!r}: use true or false")
        if key in ("sample_rate", "n_fft", "hop_length", "n_mels") and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise AsckitError(f"front-end setting {key}={value!r}: use a positive integer")
        if key in ("fmin", "power", "log_offset") and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise AsckitError(f"front-end setting {key}={value!r}: use a non-negative number")
        if key == "fmax" and value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise AsckitError(f"front-end setting fmax={value!r}: use a positive number, or null for sample_rate / 2")
        if key == "mel_norm" and value not in (None, "slaney"):
            raise AsckitError(f"front-end setting mel_norm={value!r}: use null or slaney")
        if key == "pad_mode" and value not in ("reflect", "constant"):
            raise AsckitError(f"front-end setting pad_mode={value!r}: use reflect (the reference) or constant")
        overrides[key] = float(value) if key in ("fmin", "fmax", "power", "log_offset") and value is not None else value
    return overrides


def check_front_end(settings: LogMelSettings) -> None:
    """Refuse settings that cannot give a sensible log-mel, with the reason."""
    s = settings
    if s.hop_length > s.n_fft:
        raise AsckitError(f"hop_length {s.hop_length} exceeds n_fft {s.n_fft}: frames would skip samples")
    if not 0 <= s.fmin < s.f_max <= s.sample_rate / 2:
        raise AsckitError(f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin {s.fmin}, fmax {s.f_max}, sr {s.sample_rate}")
    if s.n_mels > s.n_fft // 2 + 1:
        raise AsckitError(f"{s.n_mels} mel bands need n_fft of at least {2 * (s.n_mels - 1)}; got {s.n_fft}")
    if s.clip_seconds is not None and round(s.clip_seconds * s.sample_rate) <= s.n_fft // 2:
        shortest = (s.n_fft // 2 + 1) / s.sample_rate
        raise AsckitError(
            f"clips of {s.clip_seconds:g} s hold too few samples for n_fft {s.n_fft}; "
            f"use --clip-seconds {shortest:.3f} or more (TAU clips: 10)"
        )


def mel_filterbank(settings: LogMelSettings) -> np.ndarray:
    """librosa's ``filters.mel`` in numpy: (n_mels, 1 + n_fft // 2) float32.

    Supports the HTK and Slaney mel scales and ``norm`` None or "slaney", as librosa 0.11 defines
    them (a test compares it with librosa). Computing it in numpy keeps librosa out of the
    extraction start-up and out of torch-free inference.
    """
    s = settings
    if s.mel_norm not in (None, "slaney"):
        raise AsckitError(f"mel norm {s.mel_norm!r} is not supported here; export a bundle (it stores mel.npy)")
    fft_freqs = np.fft.rfftfreq(s.n_fft, d=1.0 / s.sample_rate)
    mel_points = np.linspace(_hz_to_mel(s.fmin, s.htk), _hz_to_mel(s.f_max, s.htk), s.n_mels + 2)
    edges = _mel_to_hz(mel_points, s.htk)
    widths = np.diff(edges)
    ramps = np.subtract.outer(edges, fft_freqs)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if s.mel_norm == "slaney":
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def _hz_to_mel(hz, htk: bool):
    hz = np.asarray(hz, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    # Slaney: linear below 1 kHz, logarithmic above.
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    linear = hz / f_sp
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / logstep, linear)


def _mel_to_hz(mel, htk: bool):
    mel = np.asarray(mel, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


@functools.lru_cache(maxsize=8)
def _cached_mel(settings: LogMelSettings) -> np.ndarray:
    return mel_filterbank(settings)


def mel_of(settings: LogMelSettings) -> np.ndarray:
    """The mel filter bank of ``settings`` (cached; treat it as read-only)."""
    return _cached_mel(settings)


def logmel_librosa(audio: np.ndarray, settings: LogMelSettings) -> np.ndarray:
    """Unscaled log-mel (channels, n_mels, frames) with librosa, float64: the reference path."""
    import librosa

    s = settings
    out = []
    for channel in np.atleast_2d(audio):
        mel = librosa.feature.melspectrogram(
            y=np.asarray(channel, dtype=np.float64),
            sr=s.sample_rate,
            n_fft=s.n_fft,
            hop_length=s.hop_length,
            win_length=s.n_fft,
            window="hann",
            center=True,
            pad_mode=s.pad_mode,
            power=s.power,
            n_mels=s.n_mels,
            fmin=s.fmin,
            fmax=s.f_max,
            htk=s.htk,
            norm=s.mel_norm,
        )
        out.append(np.log(mel + s.log_offset))
    return np.stack(out)


#: Mel filters per band group: each group multiplies only the FFT bins its filters cover.
MEL_GROUP = 8


class LogMel:
    """Unscaled log-mel in numpy: (..., samples) → (..., n_mels, frames), float32 by default.

    The fast path behind feature extraction, offline augmentation and torch-free inference. Per
    channel: reflect-pad, frame with a strided view, window, one real FFT per frame, power, then
    the mel matrix band group by band group (each group of ``MEL_GROUP``
    filters multiplies only the bins it covers: about a tenth of a dense product's work for the
    128-band HTK bank, with the same sums). Importing numpy and scipy only keeps worker start-up
    near 0.2 s, against 1.1 s for torch. ``dtype=np.float64`` computes in double precision.
    """

    def __init__(self, settings: LogMelSettings, mel: np.ndarray | None = None, dtype=np.float32):
        s = settings
        self.settings = s
        self.dtype = np.dtype(dtype)
        mel = np.asarray(mel_of(s) if mel is None else mel, dtype=self.dtype)
        if mel.shape != (s.n_mels, 1 + s.n_fft // 2):
            raise AsckitError(
                f"mel matrix has shape {mel.shape}, expected ({s.n_mels}, {1 + s.n_fft // 2}); re-export the model"
            )
        n = np.arange(s.n_fft)
        self.window = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / s.n_fft)).astype(self.dtype)  # periodic Hann
        self.groups = []  # (first filter, last filter + 1, first bin, last bin + 1, weights (bins, filters))
        for first in range(0, s.n_mels, MEL_GROUP):
            rows = mel[first : first + MEL_GROUP]
            used = np.flatnonzero(np.any(rows != 0, axis=0))
            lo, hi = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
            self.groups.append((first, first + rows.shape[0], lo, hi, np.ascontiguousarray(rows[:, lo:hi].T)))
        self._rfft = real_fft()

    def spectrum(self, signal: np.ndarray) -> np.ndarray:
        """Complex STFT (frames, 1 + n_fft // 2) of one channel, centred with the settings' padding."""
        s = self.settings
        pad = s.n_fft // 2
        if signal.shape[-1] <= pad:
            raise AsckitError(f"{signal.shape[-1]} samples are too few for n_fft {s.n_fft}; pass at least {pad + 1}")
        padded = np.pad(np.asarray(signal, dtype=self.dtype), (pad, pad), mode=s.pad_mode)
        frames = np.lib.stride_tricks.sliding_window_view(padded, s.n_fft)[:: s.hop_length]
        return self._rfft(frames * self.window)  # a fresh array: the FFT may overwrite it

    def power(self, signal: np.ndarray) -> np.ndarray:
        """|STFT|^power (frames, bins) of one channel."""
        spec = self.spectrum(signal)
        power = np.square(spec.real)
        power += np.square(spec.imag)
        p = self.settings.power
        return power if p == 2.0 else power ** (p / 2.0)

    def mel_of_power(self, power: np.ndarray) -> np.ndarray:
        """Log of the mel energies plus the offset, (n_mels, frames), from a (frames, bins) power."""
        mel = np.empty((power.shape[0], self.settings.n_mels), dtype=self.dtype)
        for first, last, lo, hi, weights in self.groups:
            np.matmul(power[:, lo:hi], weights, out=mel[:, first:last])
        mel += self.dtype.type(self.settings.log_offset)
        return np.log(mel, out=mel).T

    def __call__(self, audio) -> np.ndarray:
        audio = np.asarray(audio)
        flat = audio.reshape(-1, audio.shape[-1])
        out = np.stack([self.mel_of_power(self.power(channel)) for channel in flat])
        return out.reshape(*audio.shape[:-1], *out.shape[1:])


def scale_minmax(logmel):
    """Per-file min/max scaling to [0, 1] over all channels of each item (numpy or torch).

    ``logmel`` is (channels, n_mels, frames) or (batch, channels, n_mels, frames).
    A constant input (silence) maps to all zeros instead of dividing by zero.
    """
    axes = (-3, -2, -1)
    if isinstance(logmel, np.ndarray):
        lo = logmel.min(axis=axes, keepdims=True)
        hi = logmel.max(axis=axes, keepdims=True)
        span = np.where(hi > lo, hi - lo, 1.0)
        return (logmel - lo) / span
    lo = logmel.amin(dim=axes, keepdim=True)
    hi = logmel.amax(dim=axes, keepdim=True)
    span = (hi - lo).clamp_min(0) + (hi <= lo).to(logmel.dtype)
    return (logmel - lo) / span


def finish_logmel(logmel, settings: LogMelSettings):
    """Apply the settings' scaling rule to unscaled log-mel: min/max to [0, 1], or nothing."""
    return scale_minmax(logmel) if settings.scale else logmel


def delta(x):
    """5-point valid-mode delta along the last axis: T → T − 4 (numpy or torch)."""
    return ((x[..., 3:-1] - x[..., 1:-3]) + 2 * (x[..., 4:] - x[..., :-4])) / 10


def add_deltas(static):
    """Stored static log-mel (..., ch, n_mels, T) → model input (..., 3·ch, n_mels, T − 8).

    Channel order [static, Δ, ΔΔ], each with all input channels: 1a [S, Δ, ΔΔ];
    1b [L, R, ΔL, ΔR, ΔΔL, ΔΔR]. Works on numpy arrays and torch tensors.
    """
    if static.shape[-1] < 9:
        raise ValueError(f"deltas need at least 9 frames, got {static.shape[-1]}")
    d1 = delta(static)
    d2 = delta(d1)
    parts = (static[..., 4:-4], d1[..., 2:-2], d2)
    if isinstance(static, np.ndarray):
        return np.concatenate(parts, axis=-3)
    import torch

    return torch.cat(parts, dim=-3)


def read_clip(source: str | Path | np.ndarray, settings: LogMelSettings, sr: int | None = None) -> np.ndarray:
    """A clip (path, or array at ``sr``) as the features of ``settings`` see it: at their rate and
    channel count, fitted to their clip length (``asckit.audio.io.load_clip``)."""
    return load_clip(source, sr, settings.sample_rate, settings.channels, settings.clip_seconds)


def static_logmel(
    source: str | Path | np.ndarray,
    settings: LogMelSettings,
    sr: int | None = None,
    backend: str = "numpy",
) -> np.ndarray:
    """Scaled static log-mel (channels, n_mels, frames) float32 of one clip (path or array)."""
    audio = read_clip(source, settings, sr)
    if backend == "librosa":
        logmel = logmel_librosa(audio, settings)
    elif backend == "numpy":
        logmel = cached_logmel(settings)(audio)
    else:
        raise ValueError(f"unknown backend {backend!r}: use 'numpy' or 'librosa'")
    return finish_logmel(logmel, settings).astype(np.float32)


@functools.lru_cache(maxsize=4)
def cached_logmel(settings: LogMelSettings) -> LogMel:
    """The ``LogMel`` of ``settings`` with its reference mel matrix (cached)."""
    return LogMel(settings)


def extract(
    audio: str | Path | np.ndarray,
    sr: int | None = None,
    task: str = "1a",
    clip_seconds: float | None = 10.0,
    backend: str = "numpy",
) -> np.ndarray:
    """Model input of one clip: scaled log-mel with deltas, float32 (channels, 128, frames).

    ``audio`` is a path or an array (samples,) or (channels, samples) at rate ``sr``; it is
    resampled to the task's rate (44.1 kHz for 1a, 48 kHz for 1b), mixed down (1a) or duplicated
    to stereo (1b), and fitted to ``clip_seconds`` (cut, or repeated when shorter; None keeps
    the length). A 10 s clip gives (3, 128, 423) for 1a and (6, 128, 461) for 1b.
    """
    settings = settings_for(task, clip_seconds=clip_seconds)
    return add_deltas(static_logmel(audio, settings, sr=sr, backend=backend))
