"""The waveform store's rows: every clip of a TAU22 dataset resampled once to 32 kHz, as float32.

The TAU22 protocols (DCASE 2024/2025) compute their log-mel in the training step from waves
(``asckit.train.module``), so what is stored is the wave the reference's frontend starts from:
the clip at its own rate (TAU22: 1 s, mono, 44.1 kHz), channels averaged, fitted to the clip
length, then resampled as torchaudio's ``Resample(44100, 32000)`` does
(``asckit.features.tau22_frontend.resample``: the sinc kernel with a Hann window, width 6,
rolloff 0.99). Resampling once, on storing, instead of in every training step is what the
reference does in its model's first layer; the result is the same wave (``tests/features``
compares it with the reference's fixture).

:class:`WaveformSettings` are a waveform store's settings (``asckit.features.store``);
:func:`store_waves` fills a store from a dataset root, in worker processes, resumably.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError
from asckit.features.tau22_frontend import SAMPLE_RATE

#: How the stored waves were resampled (recorded in the settings, so a store made otherwise is told apart).
RESAMPLER = "torchaudio-sinc-hann-width6-rolloff0.99"


@dataclass(frozen=True)
class WaveformSettings:
    """Everything that determines a waveform store's rows; its hash keys the store."""

    kind = "waveform"  # class attribute: what tells a waveform store's settings from log-mel ones
    sample_rate: int = SAMPLE_RATE
    channels: int = 1
    clip_seconds: float = 1.0
    resampler: str = RESAMPLER

    @property
    def samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def row_shape(self) -> tuple[int, int]:
        """One stored clip: (channels, samples)."""
        return (self.channels, self.samples)

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, values: dict) -> WaveformSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known - {"kind"})
        if unknown:
            raise ValueError(f"unknown waveform setting(s) {', '.join(unknown)}")
        return cls(**{k: v for k, v in values.items() if k in known})

    def digest(self) -> str:
        """A short stable hash of the settings."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def read_wave(path: Path, settings: WaveformSettings) -> np.ndarray:
    """One clip as stored: float32 (channels, samples) at ``settings.sample_rate``.

    Read at the file's own rate, channels matched (averaged to mono), fitted to the clip length there
    (cut, or repeated as ``asckit.audio.io.fit_length`` does), then resampled with torchaudio's formula.
    """
    from asckit.audio.io import read_audio

    audio, sr = read_audio(path, stop_seconds=settings.clip_seconds + 0.5)
    return clip_wave(audio, sr, settings)


def clip_wave(audio: np.ndarray, sr: int, settings: WaveformSettings) -> np.ndarray:
    """A clip's samples (channels, n) at ``sr`` → its wave as stored (``read_wave``): float32
    (channels, samples) at ``settings.sample_rate``. The deployment runtime prepares each 1 s window
    of a recording with it, so it classifies what training saw."""
    from asckit.audio.io import fit_length, match_channels
    from asckit.features.tau22_frontend import resample

    audio = fit_length(match_channels(audio, settings.channels), int(round(settings.clip_seconds * sr)))
    wave = resample(audio, sr, settings.sample_rate)
    return np.asarray(fit_length(wave, settings.samples), dtype=np.float32)


_worker_state: dict = {}


def _init_worker(settings: WaveformSettings, root: str) -> None:
    _worker_state["settings"] = settings
    _worker_state["root"] = Path(root)


def _waves_chunk(keys: list[str]) -> tuple[list[str], np.ndarray, list[str]]:
    """(done keys, float32 rows, error lines) for one chunk of filenames."""
    settings: WaveformSettings = _worker_state["settings"]
    root: Path = _worker_state["root"]
    done, rows, errors = [], [], []
    for key in keys:
        try:
            rows.append(read_wave(root / key, settings))
        except AsckitError as exc:
            errors.append(str(exc))
            continue
        done.append(key)
    if not rows:
        return done, np.zeros((0,), dtype=np.float32), errors
    return done, np.stack(rows), errors


def store_waves(
    root: str | Path,
    out: str | Path,
    keys: list[str],
    dataset: dict,
    clip_seconds: float = 1.0,
    workers: int | None = None,
    chunk_size: int = 256,
    progress: bool = True,
):
    """Store the 32 kHz wave of every clip ``keys`` of ``root`` in the waveform store ``out``; returns
    the store and the error lines of clips that could not be read (the caller reports them)."""
    from asckit.features.parallel import chunked, progress_bar, run_chunks
    from asckit.features.store import FeatureStore, missing_keys

    settings = WaveformSettings(clip_seconds=clip_seconds)
    store = FeatureStore.create(out, settings, dataset=dataset)
    todo = missing_keys(store, keys)
    workers = workers or min(2, os.cpu_count() or 1)
    errors: list[str] = []
    bar = progress_bar(len(keys), len(keys) - len(todo), progress, f"waves {Path(root).name}")

    def stored(result) -> None:
        done, rows, chunk_errors = result
        if done:
            store.append(done, rows)
        errors.extend(chunk_errors)
        bar.update(len(done) + len(chunk_errors))

    try:
        run_chunks(_waves_chunk, chunked(todo, chunk_size), workers, _init_worker, (settings, str(root)), stored)
    finally:
        bar.close()
    return store, errors


__all__ = ["RESAMPLER", "WaveformSettings", "clip_wave", "read_wave", "store_waves"]
