"""Augmentations of batches of waveforms in the training step: circular roll and device impulse responses.

Its one job: turn a batch of stored 32 kHz waves ``(B, n)`` into augmented waves of the same
shape, on the batch's device, for the TAU22 protocols (``asckit.tasks.TASKS_TAU22``), whose model
input is computed from waves in the training step. The reference recipes (reference/dcase2025/
README.md §4) apply these per clip in their datasets' ``__getitem__``; asckit applies the same
distributions to a whole batch at once. Order, as in the reference [CP23 datasets/dcase23.py]:
device impulse response (DIR) first, then the roll, then the frontend.

All randomness comes from an explicit ``torch.Generator`` (as ``asckit.train.batch_augment``):
numbers are drawn on the generator's device and moved to the waves' device, and every call draws
the same amount whatever the batch holds, so a seed reproduces a batch exactly. The reference
drew from NumPy's and torch's global generators, per clip, in loader workers.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from asckit.core.errors import AsckitError, first_line
from asckit.features.tau22_frontend import SAMPLE_RATE

__all__ = ["DIR_SAMPLE_RATE", "DeviceImpulseResponses", "roll"]

#: The rate DIRs are loaded at: that of the stored waves (the CPJKU frontend's 32 kHz).
DIR_SAMPLE_RATE = SAMPLE_RATE


def roll(waves: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each wave of ``waves`` ``(B, n)`` circularly shifted by its own integer uniform in
    ``[−max_shift, max_shift]`` (both ends included): ``out[b, i] = waves[b, (i − s_b) mod n]``,
    ``torch.roll``'s direction. Returns a new tensor.

    The reference [B24][B25] rolls the raw 44.1 kHz wave by ``roll_sec`` 0.1 s, a uniform integer in
    ±4,410 samples (``np.random.randint(-r, r + 1)``), before resampling. asckit rolls the stored
    32 kHz waves, so the same ±0.1 s is ``max_shift`` 3,200. A deviation in where the roll happens,
    not in how far it reaches: the shifts step by 1/32,000 s instead of 1/44,100 s, and the
    wrap-around seam is cut into the 32 kHz wave (in the reference, the resampler smooths it over a
    few samples). [CP23] rolled its 32 kHz waves by ±4,000 (``--roll 4000``), after the DIR.
    """
    if waves.ndim != 2:
        raise ValueError(f"roll expects waves (batch, samples), got shape {tuple(waves.shape)}")
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"roll: max_shift={max_shift!r}; use an integer ≥ 0")
    batch, n = waves.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (batch,), generator=generator, device=generator.device)
    # Output b is the window of [x_b, x_b] that starts at (−s_b) mod n; unfold is a view of every
    # window, and advanced indexing copies only the chosen one (no (B, n) index tensor).
    if n == 0:
        return waves.clone()
    starts = torch.remainder(-shifts, n).to(waves.device)
    windows = torch.cat([waves, waves], dim=1).unfold(1, n, 1)  # (B, n + 1, n)
    return windows[torch.arange(batch, device=waves.device), starts]


class DeviceImpulseResponses:
    """Device impulse responses (DIRs) and the DIR augmentation of [CP23 datasets/dcase23.py].

    ``irs`` are 1-D float32 arrays at 32 kHz (the stored waves' rate). :meth:`from_folder` reads a
    folder of MicIRP WAVs as the reference does; :meth:`apply` convolves device-A waves with them.
    """

    def __init__(self, irs: list[np.ndarray] | tuple[np.ndarray, ...], names: list[str] | tuple[str, ...] | None = None):
        if len(irs) == 0:
            raise ValueError("DeviceImpulseResponses needs at least one impulse response")
        arrays = []
        for i, ir in enumerate(irs):
            array = np.asarray(ir, dtype=np.float32)
            if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
                raise ValueError(f"impulse response {i}: need a non-empty, finite 1-D array, got shape {array.shape}")
            arrays.append(array)
        self.irs: tuple[np.ndarray, ...] = tuple(arrays)
        self.names: tuple[str, ...] = tuple(names) if names is not None else tuple(f"ir{i}" for i in range(len(arrays)))
        if len(self.names) != len(self.irs):
            raise ValueError(f"{len(self.names)} names for {len(self.irs)} impulse responses")
        # (FFT length, device) → spectra (K, N // 2 + 1): computed once per wave length and device.
        self._spectra: dict[tuple[int, str], torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.irs)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, sample_rate: int = DIR_SAMPLE_RATE) -> DeviceImpulseResponses:
        """Every ``*.wav`` under ``folder`` (searched recursively, sorted by path, as [CP23]'s
        ``load_dirs``), read with librosa at ``sample_rate`` mono (soxr_hq resampling, librosa's
        default, named here so it stays so), float32. The MicIRP files are 44.1 kHz 24-bit mono,
        about 0.4 s (reference/dcase2025/README.md §4)."""
        import librosa

        folder = Path(folder)
        if not folder.is_dir():
            raise AsckitError(f"{folder}: device impulse response folder not found; give the folder of MicIRP WAVs")
        paths = sorted(folder.rglob("*.wav"))
        if not paths:
            raise AsckitError(f"{folder}: holds no .wav files; give the folder of MicIRP device impulse responses")
        irs = []
        for path in paths:
            try:
                with warnings.catch_warnings():  # librosa's fallback to audioread for a non-WAV file: the error says it
                    warnings.simplefilter("ignore")
                    signal, _ = librosa.load(path, sr=sample_rate, mono=True, res_type="soxr_hq")
            except Exception as exc:  # soundfile/audioread raise many types; the user sees one line
                raise AsckitError(f"{path}: cannot read this impulse response ({first_line(exc)}); replace or remove the file") from None
            if signal.size == 0 or not np.isfinite(signal).all():
                raise AsckitError(f"{path}: the impulse response is empty or holds NaN/inf; replace or remove the file")
            irs.append(signal.astype(np.float32, copy=False))
        return cls(irs, [str(p.relative_to(folder)) for p in paths])

    def _fft_spectra(self, fft_length: int, taps: int, device: torch.device) -> torch.Tensor:
        key = (fft_length, str(device))
        if key not in self._spectra:
            bank = np.zeros((len(self.irs), taps), dtype=np.float32)
            for i, ir in enumerate(self.irs):
                bank[i, : min(ir.size, taps)] = ir[:taps]
            self._spectra[key] = torch.fft.rfft(torch.from_numpy(bank).to(device), n=fft_length, dim=1)
        return self._spectra[key]

    def apply(
        self, waves: torch.Tensor, is_device_a: torch.Tensor, p: float, generator: torch.Generator
    ) -> torch.Tensor:
        """Each device-A wave of ``waves`` ``(B, n)``, with probability ``p``, convolved with one
        impulse response chosen uniformly; the others are returned untouched. Returns a new tensor.

        As [CP23]: ``scipy.signal.convolve(x, ir, 'full')`` cut to the input length (the first n
        samples), no normalisation. Every call draws one coin and one IR index per wave (used only
        for the chosen device-A waves), so the stream does not depend on the batch's devices.

        Convolution is by FFT, batched in torch on the waves' device: with IRs of about 12,900
        taps at 32 kHz, a direct convolution costs 4·10⁸ multiply-adds per 1 s clip, the FFT about
        a thousandth of that (scipy's ``convolve`` also picks the FFT at these sizes). IR taps past
        n cannot reach the first n output samples and are dropped; the FFT length is at least
        n + taps − 1, so no circular wrap-around reaches them either. float32, like the reference
        (librosa loads float32 and scipy's FFT keeps single precision).
        """
        if waves.ndim != 2:
            raise ValueError(f"DIR augmentation expects waves (batch, samples), got shape {tuple(waves.shape)}")
        batch, n = waves.shape
        if is_device_a.shape != (batch,) or is_device_a.dtype != torch.bool:
            raise ValueError(f"is_device_a must be a bool tensor of shape ({batch},), got {is_device_a.dtype} {tuple(is_device_a.shape)}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"DIR augmentation: p={p!r}; use 0 ≤ p ≤ 1")
        coin = torch.rand(batch, generator=generator, device=generator.device, dtype=torch.float64)
        which = torch.randint(0, len(self.irs), (batch,), generator=generator, device=generator.device)
        chosen = is_device_a.to(waves.device) & (coin < p).to(waves.device)
        rows = chosen.nonzero().squeeze(1)
        if rows.numel() == 0 or n == 0:
            return waves.clone()
        import scipy.fft

        taps = min(max(ir.size for ir in self.irs), n)
        fft_length = scipy.fft.next_fast_len(n + taps - 1, real=True)
        spectra = self._fft_spectra(fft_length, taps, waves.device)
        signal = waves[rows].float()
        convolved = torch.fft.irfft(
            torch.fft.rfft(signal, n=fft_length, dim=1) * spectra[which.to(waves.device)[rows]], n=fft_length, dim=1
        )[:, :n]
        out = waves.clone()
        out[rows] = convolved.to(waves.dtype)
        return out
