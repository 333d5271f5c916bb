"""The frontend of the DCASE 2022–2025 (TAU22) CPJKU baselines in numpy: the one place holding its facts.

The reference [B24][B25] (reference/dcase2025/README.md §3) runs torchaudio ``Resample(44100, 32000)``
(windowed sinc with a Hann window, ``lowpass_filter_width`` 6, ``rolloff`` 0.99, rates reduced by their
gcd: 441 → 320, kernel (320, 1, 459)), then ``MelSpectrogram(sample_rate=32000, n_fft=4096,
win_length=3072, hop_length=500, n_mels=256, f_min=0, f_max=None)`` with torchaudio's defaults (power 2,
centred STFT with reflect padding, periodic Hann window of 3072 samples zero-padded on both sides to 4096,
HTK mel scale, no norm), then ``log(x + 1e-5)``. A 1 s clip gives 65 frames.

torchaudio cannot be installed beside current torch releases, and the deployment runtime imports no
torch at all, so this module computes the same thing with numpy only (``tau22_torch`` builds its torch
modules from the arrays defined here). Differences from torchaudio's own numbers, measured against the
fixture ``reference/dcase2025/frontend.npz`` (tests/features/test_tau22_frontend.py):

- the resampling kernel is torchaudio's, bit for bit (its float32 rounding of the phase offsets
  included); resampled waves agree to float32 rounding (about 2e-7);
- the mel filter bank follows torchaudio's float32 arithmetic (a float32 ``linspace`` computed the way
  torch does, a float32 triangle); at 4 of the 258 band edges torch's vectorised float32 ``pow`` (not
  correctly rounded, and machine-dependent) lands one ulp away from numpy's, so 80 of the 524,544
  weights differ by at most 1e-5; the power mel then agrees to about 2e-6 of each clip's peak and the
  log-mel to about 3e-5 wherever the mel is above 1e-6 of the peak. Passing the reference's own filter
  bank (``mel_fb=``, e.g. a checkpoint's ``mel.1.mel_scale.fb``) brings the mel to about 3e-7 of the peak.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from asckit.core.errors import AsckitError
from asckit.features.fft import real_fft

#: The rate the frontend runs at (Hz): the reference resamples every clip to it.
SAMPLE_RATE = 32000
#: FFT size: 1 + N_FFT // 2 = 2049 frequency bins.
N_FFT = 4096
#: Length of the periodic Hann window, zero-padded on both sides to N_FFT (torch.stft's rule).
WIN_LENGTH = 3072
#: Samples between frames at 32 kHz; a centred STFT gives 1 + samples // HOP_LENGTH frames.
HOP_LENGTH = 500
#: Mel bands (HTK scale, no area normalisation) from F_MIN to SAMPLE_RATE / 2.
N_MELS = 256
F_MIN = 0.0
#: log(mel + LOG_OFFSET): the reference's floor (masked bins of FrequencyMasking become log(1e-5)).
LOG_OFFSET = 1e-5
#: torchaudio ``Resample``'s defaults: zero crossings of the sinc on each side, and the cut-off as a
#: fraction of the lower rate's Nyquist frequency.
LOWPASS_FILTER_WIDTH = 6
ROLLOFF = 0.99


def frames(samples: int) -> int:
    """Frames of a centred STFT of ``samples`` samples at 32 kHz: 1 + samples // 500 (65 for 1 s)."""
    return 1 + samples // HOP_LENGTH


@dataclass(frozen=True, eq=False)
class ResampleKernel:
    """torchaudio's windowed-sinc resampling kernel for ``orig`` → ``new`` (both reduced by their gcd).

    ``kernel`` (new, 2 * width + orig) float64 holds the values torchaudio computes before it stores
    them as float32 (``stored()``; ``Resample.kernel`` is ``stored()[:, None, :]``). Row ``p`` makes
    output sample ``j * new + p`` from input samples ``j * orig − width … j * orig + width + orig − 1``.
    """

    orig: int
    new: int
    width: int
    kernel: np.ndarray

    def stored(self) -> np.ndarray:
        """The kernel as torchaudio keeps and applies it: float32 (new, 2 * width + orig)."""
        return self.kernel.astype(np.float32)


def resample_kernel(
    orig_sr: int, new_sr: int = SAMPLE_RATE, lowpass_filter_width: int = LOWPASS_FILTER_WIDTH, rolloff: float = ROLLOFF
) -> ResampleKernel:
    """torchaudio's ``_get_sinc_resample_kernel`` (sinc_interp_hann), value for value (cached; read-only).

    For 44,100 → 32,000 Hz: orig 441, new 320, width 9, kernel (320, 459), of which about 17 taps
    per row are non-zero in float32 (the Hann window ends them at ±6 zero crossings).
    """
    return _resample_kernel(orig_sr, new_sr, lowpass_filter_width, float(rolloff))


@functools.lru_cache(maxsize=16)
def _resample_kernel(orig_sr: int, new_sr: int, lowpass_filter_width: int, rolloff: float) -> ResampleKernel:
    if orig_sr <= 0 or new_sr <= 0 or int(orig_sr) != orig_sr or int(new_sr) != new_sr:
        raise ValueError(f"sample rates must be positive integers, got {orig_sr} and {new_sr}")
    if lowpass_filter_width <= 0:
        raise ValueError(f"lowpass_filter_width must be positive, got {lowpass_filter_width}")
    gcd = math.gcd(int(orig_sr), int(new_sr))
    orig, new = int(orig_sr) // gcd, int(new_sr) // gcd
    cutoff = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / cutoff)
    taps = np.arange(-width, width + orig, dtype=np.float64) / orig
    # torchaudio divides the integer phase offsets 0, −1, … by `new` in torch's default dtype (float32)
    # before adding them to the float64 taps; the rounding moves kernel values by up to 7e-6, so it is kept.
    phases = (np.arange(0, -new, -1).astype(np.float32) / np.float32(new)).astype(np.float64)
    t = np.clip((phases[:, None] + taps[None, :]) * cutoff, -lowpass_filter_width, lowpass_filter_width)
    window = np.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t *= math.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        sinc = np.where(t == 0, 1.0, np.sin(t) / t)
    kernel = sinc * window * (cutoff / orig)
    kernel.setflags(write=False)
    return ResampleKernel(orig=orig, new=new, width=width, kernel=kernel)


#: Kernel rows (output phases) per block of the resampling product: each block multiplies only the input
#: samples its rows' non-zero taps reach. 32 of 320 for 44.1 → 32 kHz: 59 columns per row instead of
#: 459, and one matrix product per 32 phases (16 and 64 measured slower: benchmarks/inference.py --tau22).
RESAMPLE_BLOCK = 32


@functools.lru_cache(maxsize=16)
def _phase_blocks(orig_sr: int, new_sr: int) -> tuple[ResampleKernel, tuple[tuple[int, int, int, int, np.ndarray], ...]]:
    """The kernel cut into blocks of ``RESAMPLE_BLOCK`` rows: (kernel, blocks), each block (first row,
    last row + 1, first tap, last tap + 1, weights (taps, rows) float32) over the taps where any of its
    rows is non-zero (the zeros left in are exact zeros of the float32 kernel). Cached; read-only."""
    plan = resample_kernel(orig_sr, new_sr)
    stored = plan.stored()
    blocks = []
    for first in range(0, plan.new, RESAMPLE_BLOCK):
        rows = stored[first : first + RESAMPLE_BLOCK]
        used = np.flatnonzero(np.any(rows != 0, axis=0))
        lo, hi = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
        weights = np.ascontiguousarray(rows[:, lo:hi].T)
        weights.setflags(write=False)
        blocks.append((first, first + rows.shape[0], lo, hi, weights))
    return plan, tuple(blocks)


def resample(wave: np.ndarray, orig_sr: int, new_sr: int = SAMPLE_RATE) -> np.ndarray:
    """``wave`` (..., n) at ``orig_sr`` → float32 (..., ceil(new_sr * n / orig_sr)) at ``new_sr``, as
    torchaudio ``Resample(orig_sr, new_sr)`` computes it (float32 kernel, zero padding at both ends).
    Equal rates return the wave as float32.

    Hand-written (a polyphase FIR) because numpy has no strided convolution and the reference kernel
    is mostly zeros: torchaudio convolves 459 taps per output sample for 44.1 → 32 kHz, of which
    about 17 are non-zero. Here the input is viewed (no copy) as rows of ``orig`` hops, each
    ``2 * width + orig`` samples long, and the output's phases are made block by block
    (``RESAMPLE_BLOCK``): one matrix product of the rows' columns that the block's taps reach (a
    strided view, which BLAS reads in place) with those taps — about 60 instead of 459 multiply-adds
    per output sample, memory at the output's size for any batch, and for one 1 s clip about 5×
    faster than a gather per non-zero tap (benchmarks/inference.py --tau22).
    """
    wave = np.asarray(wave, dtype=np.float32)
    if orig_sr == new_sr:
        return wave
    plan, blocks = _phase_blocks(orig_sr, new_sr)
    orig, new, width = plan.orig, plan.new, plan.width
    length = wave.shape[-1]
    outputs = -(-new * length // orig)
    hops = -(-outputs // new)  # input hops of `orig` samples that produce them (≤ length // orig + 1)
    padded = np.pad(wave, [(0, 0)] * (wave.ndim - 1) + [(width, width + orig)])
    rows = np.lib.stride_tricks.sliding_window_view(padded, 2 * width + orig, axis=-1)[..., :: orig, :][..., :hops, :]
    out = np.empty(wave.shape[:-1] + (hops, new), dtype=np.float32)
    for first, last, lo, hi, weights in blocks:
        np.matmul(rows[..., lo:hi], weights, out=out[..., first:last])
    return out.reshape(wave.shape[:-1] + (hops * new,))[..., :outputs]


@functools.lru_cache(maxsize=1)
def window() -> np.ndarray:
    """The periodic Hann window (3072,) float32 (torch.hann_window(3072); read-only).

    Computed in float64 and rounded: it equals scipy's ``get_window('hann', 3072)``; torch's float32
    arithmetic differs from it by at most 1.8e-7, with no measurable effect on the mel.
    """
    n = np.arange(WIN_LENGTH)
    hann = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / WIN_LENGTH)).astype(np.float32)
    hann.setflags(write=False)
    return hann


@functools.lru_cache(maxsize=1)
def _stft_window() -> np.ndarray:
    """The window as torch.stft applies it: centred in N_FFT zeros (512 on each side)."""
    padded = np.zeros(N_FFT, dtype=np.float32)
    offset = (N_FFT - WIN_LENGTH) // 2
    padded[offset : offset + WIN_LENGTH] = window()
    padded.setflags(write=False)
    return padded


def _linspace_float32(start: float, stop: float, steps: int) -> np.ndarray:
    """``torch.linspace(start, stop, steps)`` in float32 as torch's CPU kernel computes it: a float32
    step, the first half counted up from ``start`` and the rest down from ``stop``, each value one fused
    multiply-add (rounded once: the float64 product of a float32 and a small integer is exact)."""
    start32, stop32 = np.float32(start), np.float32(stop)
    step = np.float64((stop32 - start32) / np.float32(steps - 1))
    index = np.arange(steps)
    half = steps // 2
    up = np.float64(start32) + step * index[:half]
    down = np.float64(stop32) - step * (steps - 1 - index[half:])
    return np.concatenate([up, down]).astype(np.float32)


@functools.lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """The HTK mel filter bank (2049, 256) float32, no norm: torchaudio ``melscale_fbanks`` (read-only).

    The triangle formula is librosa's (``filters.mel(sr=32000, n_fft=4096, n_mels=256, htk=True,
    norm=None)``, transposed), evaluated in float32 the way torchaudio does, which moves weights by up
    to 2e-5 from librosa's float64 ones (the float32 band edges near 16 kHz are 1e-3 Hz apart).
    """
    n_freqs = 1 + N_FFT // 2
    f_max = float(SAMPLE_RATE // 2)
    bin_freqs = _linspace_float32(0.0, f_max, n_freqs)
    mel_max = 2595.0 * math.log10(1.0 + f_max / 700.0)  # Python floats, as torchaudio's _hz_to_mel
    mel_min = 2595.0 * math.log10(1.0 + F_MIN / 700.0)
    mel_edges = _linspace_float32(mel_min, mel_max, N_MELS + 2)
    # 700 (10^(m / 2595) − 1) in float32; the power is numpy's float64 one rounded to float32 (see the module docstring).
    power = np.power(10.0, (mel_edges / np.float32(2595.0)).astype(np.float64)).astype(np.float32)
    edges = np.float32(700.0) * (power - np.float32(1.0))
    widths = edges[1:] - edges[:-1]
    slopes = edges[None, :] - bin_freqs[:, None]  # (n_freqs, n_mels + 2)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    bank = np.maximum(np.float32(0.0), np.minimum(down, up))
    bank.setflags(write=False)
    return bank


#: Mel filters per band group in the projection: each group multiplies only the FFT bins it covers.
MEL_GROUP = 8


def _band_groups(mel_fb: np.ndarray) -> list[tuple[int, int, int, int, np.ndarray]]:
    """(first filter, last filter + 1, first bin, last bin + 1, weights (bins, filters)) per group."""
    groups = []
    for first in range(0, mel_fb.shape[1], MEL_GROUP):
        columns = mel_fb[:, first : first + MEL_GROUP]
        used = np.flatnonzero(np.any(columns != 0, axis=1))
        lo, hi = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 1)
        groups.append((first, first + columns.shape[1], lo, hi, np.ascontiguousarray(columns[lo:hi])))
    return groups


@functools.lru_cache(maxsize=1)
def _default_groups() -> list[tuple[int, int, int, int, np.ndarray]]:
    return _band_groups(mel_filterbank())


#: Band groups of the read-only filter banks last passed as ``mel_fb``: id → (the bank, its groups).
#: Finding a bank's groups takes about 1.3 ms, twice the rest of one 1 s clip's log-mel
#: (benchmarks/inference.py --tau22), so a caller that passes the same read-only array each call
#: (a bundle's bank after ``setflags(write=False)``) pays it once. Writeable arrays, or views whose
#: data another array may change, are grouped anew on every call.
_GIVEN_GROUPS: dict[int, tuple[np.ndarray, list[tuple[int, int, int, int, np.ndarray]]]] = {}
_GIVEN_GROUPS_KEPT = 4


def _groups_of(mel_fb: np.ndarray | None) -> list[tuple[int, int, int, int, np.ndarray]]:
    """The band groups of ``mel_fb`` (None: asckit's bank), checked for shape; cached for read-only banks."""
    if mel_fb is None or mel_fb is mel_filterbank():
        return _default_groups()
    kept = _GIVEN_GROUPS.get(id(mel_fb))
    if kept is not None and kept[0] is mel_fb:
        return kept[1]
    bank = np.asarray(mel_fb, dtype=np.float32)
    if bank.shape != (1 + N_FFT // 2, N_MELS):
        raise ValueError(f"mel_fb has shape {bank.shape}, expected ({1 + N_FFT // 2}, {N_MELS})")
    groups = _band_groups(bank)
    if bank is mel_fb and not bank.flags.writeable and bank.base is None:
        while len(_GIVEN_GROUPS) >= _GIVEN_GROUPS_KEPT:
            del _GIVEN_GROUPS[next(iter(_GIVEN_GROUPS))]
        _GIVEN_GROUPS[id(bank)] = (bank, groups)
    return groups


def power_mel(wave32k: np.ndarray, mel_fb: np.ndarray | None = None) -> np.ndarray:
    """Power mel spectrogram float32 (..., 256, frames) of ``wave32k`` (..., n) at 32 kHz.

    torchaudio's ``MelSpectrogram`` of the reference, hand-written in numpy (no torch in the
    deployment runtime): reflect padding of 2048 on both sides, frames as a strided view (no copy)
    times the window zero-padded to 4096 as torch.stft pads it, one real FFT per frame (scipy's where
    installed, several times numpy's speed: ``fft.real_fft``), then the mel projection band group by
    band group (about a tenth of a dense product's work, the same sums).
    ``mel_fb`` (2049, 256) replaces the filter bank (e.g. a checkpoint's ``mel.1.mel_scale.fb``); pass
    the same read-only array on every call and its band groups are found once (``_GIVEN_GROUPS``).
    """
    wave = np.asarray(wave32k, dtype=np.float32)
    samples = wave.shape[-1]
    pad = N_FFT // 2
    if samples <= pad:
        raise AsckitError(
            f"{samples} samples are too few for the TAU22 frontend's reflect padding of {pad}; pass at least {pad + 1} (0.064 s at 32 kHz)"
        )
    groups = _groups_of(mel_fb)
    padded = np.pad(wave, [(0, 0)] * (wave.ndim - 1) + [(pad, pad)], mode="reflect")
    segments = np.lib.stride_tricks.sliding_window_view(padded, N_FFT, axis=-1)[..., ::HOP_LENGTH, :]
    spectrum = real_fft()(segments[..., : frames(samples), :] * _stft_window())
    power = np.square(spectrum.real)
    power += np.square(spectrum.imag)
    mel = np.empty(power.shape[:-1] + (N_MELS,), dtype=np.float32)
    for first, last, lo, hi, weights in groups:
        np.matmul(power[..., lo:hi], weights, out=mel[..., first:last])
    return np.ascontiguousarray(np.swapaxes(mel, -1, -2))


def log_mel(wave32k: np.ndarray, mel_fb: np.ndarray | None = None) -> np.ndarray:
    """The model input's log-mel float32 (..., 256, frames): log(power_mel + LOG_OFFSET)."""
    mel = power_mel(wave32k, mel_fb)
    mel += np.float32(LOG_OFFSET)
    return np.log(mel, out=mel)
