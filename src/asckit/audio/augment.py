"""Offline waveform augmentations of the paper's Task 1a system, as pure functions on arrays.

Every function takes float audio shaped (channels, samples) (1-D is accepted where noted) and
returns float32 (channels, samples); none reads or writes files, none needs the features layer
(spectrum correction works on the features' STFT, so it is ``asckit.features.spectrum_correction``).
The procedures follow the reference code (docs/reference-code.md §3.2); where it had bugs they are
fixed, and the docstrings say what differs:

- ``mix``: y1·g1 + y2·g2 (gains drawn by the caller, U(0.5, 1) in the reference);
- ``add_noise``: x + 0.01·N(0, 1) on samples where x ≠ 0 (the reference), or noise scaled to an SNR;
- ``pitch_shift``: ``librosa.effects.pitch_shift`` (phase vocoder + soxr resampling, as the reference);
- ``change_speed``: ``librosa.effects.time_stretch`` (tempo change, pitch kept), tiled when shorter
  and cut to the original length (the reference's "speed change");
- ``convolve_rir``: room impulse response convolution aligned at the direct path (the RIR's
  peak), cut to the input length, peak-rescaled below full scale, optionally energy-normalised
  (the reference's ``_en`` MATLAB variants);
- ``compand``: a sox ``compand``-like dynamic range compressor (attack/decay envelope, transfer
  points in dB with a soft knee, make-up gain) and the reference's parameter sets as data
  (``COMPAND_SETS``, ``COMPAND_FALLBACK``), with ``compand_like_reference`` redoing a clipping
  result with the fallback set as the reference's ``drc.sh`` did.

Library choices: librosa for pitch and tempo (faster than pedalboard's Rubber Band on 10 s clips
when this was chosen; ``python benchmarks/augment.py`` times each transform), scipy.signal for
convolution. No maintained library implements sox's compander (pedalboard's ``Compressor`` is
threshold/ratio, not transfer points), so ``compand`` is written here; its sample-by-sample
envelope is compiled with numba (already a librosa dependency).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from asckit.audio.io import as_channels_first, fit_length

#: The reference's fixed noise standard deviation.
NOISE_STD = 0.01

#: Just below full scale: the largest 24-bit sample value (the reference wrote 24-bit WAVs).
FULL_SCALE = 1.0 - 2.0**-23

# --------------------------------------------------------------------------- mix and noise


def mix(first: np.ndarray, second: np.ndarray, first_gain: float, second_gain: float) -> np.ndarray:
    """first·first_gain + second·second_gain; both clips must have the same shape."""
    first, second = as_channels_first(first), as_channels_first(second)
    if first.shape != second.shape:
        raise ValueError(f"mix needs clips of one shape, got {first.shape} and {second.shape}")
    return (first * np.float32(first_gain) + second * np.float32(second_gain)).astype(np.float32)


def add_noise(
    audio: np.ndarray,
    rng: np.random.Generator,
    std: float = NOISE_STD,
    snr_db: float | None = None,
) -> np.ndarray:
    """Add Gaussian noise with standard deviation ``std``, or scaled to ``snr_db`` when given.

    With ``snr_db`` the noise power is the clip's mean power / 10^(snr/10). Samples that are exactly
    zero (digital silence, padding) stay zero in both modes, as in the reference.
    """
    audio = as_channels_first(audio)
    if snr_db is not None:
        power = float(np.mean(np.square(audio, dtype=np.float64)))
        std = math.sqrt(power / 10.0 ** (snr_db / 10.0))
    noise = rng.standard_normal(audio.shape, dtype=np.float32) * np.float32(std)
    return np.where(audio != 0, audio + noise, audio).astype(np.float32)


# --------------------------------------------------------------------------- pitch and speed


def pitch_shift(audio: np.ndarray, sample_rate: int, n_steps: float) -> np.ndarray:
    """Shift the pitch by ``n_steps`` semitones (fractional allowed), keeping the length."""
    import librosa

    audio = as_channels_first(audio)
    shifted = librosa.effects.pitch_shift(audio, sr=sample_rate, n_steps=float(n_steps), bins_per_octave=12)
    return np.asarray(shifted, dtype=np.float32)


def change_speed(audio: np.ndarray, rate: float) -> np.ndarray:
    """Play ``rate`` times faster without changing the pitch, then fit to the original length.

    A faster (shorter) result is repeated and a slower one cut, as the reference (which tiled once,
    enough for its rates up to 2).
    """
    import librosa

    audio = as_channels_first(audio)
    stretched = np.asarray(librosa.effects.time_stretch(audio, rate=float(rate)), dtype=np.float32)
    return fit_length(stretched, audio.shape[-1])


# --------------------------------------------------------------------------- reverberation


def convolve_rir(audio: np.ndarray, rir: np.ndarray, energy_normalise: bool = False) -> np.ndarray:
    """Convolve every channel with ``rir`` (1-D), aligned at its direct path and cut to length.

    The output starts at the RIR's largest-magnitude sample (the direct path) so reverberation
    adds no delay, as the reference. ``energy_normalise`` rescales to the input's energy (the
    reference's ``_en`` variants). A result reaching full scale is peak-rescaled just below it.
    """
    from scipy.signal import oaconvolve

    audio = as_channels_first(audio)
    rir = np.asarray(rir, dtype=np.float64).ravel()
    if rir.size == 0 or not np.any(rir):
        raise ValueError("the impulse response is empty or all zeros")
    onset = int(np.argmax(np.abs(rir)))
    samples = audio.shape[-1]
    wet = oaconvolve(audio.astype(np.float64), rir[None, :], axes=-1)[:, onset : onset + samples]
    if energy_normalise:
        wet_energy = float(np.sum(np.square(wet)))
        if wet_energy > 0:
            wet *= math.sqrt(float(np.sum(np.square(audio, dtype=np.float64))) / wet_energy)
    peak = float(np.max(np.abs(wet))) if wet.size else 0.0
    if peak >= 1.0:
        wet *= FULL_SCALE / peak
    return wet.astype(np.float32)


# --------------------------------------------------------------------------- dynamic range compression


@dataclass(frozen=True)
class CompandParams:
    """One sox ``compand`` setting: ``compand attack,decay knee:points gain initial``.

    ``points`` are (input dB, output dB) pairs relative to full scale, input strictly increasing;
    a (0, 0) point is appended when the last input is below 0 dB, as sox does. Below the first
    point the output level stays that of the first point, as sox's (``output_db``).
    """

    name: str
    points: tuple[tuple[float, float], ...]
    gain_db: float
    knee_db: float = 6.0
    attack: float = 0.2
    decay: float = 0.3
    initial_db: float = -90.0

    def __post_init__(self) -> None:
        xs = [p[0] for p in self.points]
        if not xs or any(b <= a for a, b in zip(xs, xs[1:])) or xs[-1] > 0:
            raise ValueError(f"{self.name}: transfer-point inputs must be strictly increasing and ≤ 0 dB, got {xs}")

    def _nodes(self) -> tuple[np.ndarray, np.ndarray]:
        points = list(self.points)
        if points[-1][0] < 0:
            points.append((0.0, 0.0))
        xs, ys = np.array(points, dtype=np.float64).T
        return xs, ys

    def output_db(self, input_db) -> np.ndarray:
        """The static transfer curve: output level (dB) for a steady input level (dB), gain included.

        sox's own curve, knees and tail-off included (``asckit.audio.compand_curve``).
        """
        from asckit.audio.compand_curve import transfer_db

        return transfer_db(self.points, self.gain_db, self.knee_db, input_db)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "points": [list(p) for p in self.points],
            "gain_db": self.gain_db,
            "knee_db": self.knee_db,
            "attack": self.attack,
            "decay": self.decay,
            "initial_db": self.initial_db,
        }


def _compand(name: str, flat_points: tuple[float, ...], gain_db: float) -> CompandParams:
    pairs = tuple(zip(flat_points[0::2], flat_points[1::2]))
    return CompandParams(name=name, points=pairs, gain_db=gain_db)


#: The reference's ``drc.sh`` parameter sets (docs/reference-code.md §3.2), cycled per file. Each set
#: is sox ``compand 0.2,0.3 6:<points> <gain> -90``. The reference cycled five slots, and only
#: mardy defines a fifth: for 2003 and reverb the empty fifth slot copied every fifth file
#: unchanged. That quirk is not copied: those sets cycle over their four defined curves.
COMPAND_SETS: dict[str, tuple[CompandParams, ...]] = {
    "mardy": (
        _compand("mardy-cpd1", (-90, -70, -60, -40, 0, 0), 2),
        _compand("mardy-cpd2", (-70, -60, -20, -10, 0, 0), 2),
        _compand("mardy-cpd3", (-90, -70, -35, -20, 0, 0), 5),
        _compand("mardy-cpd4", (-90, -60, -60, -20, 0, 0), 1),
        _compand("mardy-cpd5", (-80, -50, -50, -20, 0, 0), 1),
    ),
    "2003": (
        _compand("2003-cpd1", (-90, -60, -60, -20, 0, 0), 2),
        _compand("2003-cpd2", (-90, -60, -40, -20, 0, 0), 2),
        _compand("2003-cpd3", (-90, -70, -50, -20, 0, 0), 5),
        _compand("2003-cpd4", (-90, -60, -60, -20, 0, 0), 3),
    ),
    "reverb": (
        _compand("reverb-cpd1", (-90, -85, -70, -60, -30, -20, 0, 0), 2),
        _compand("reverb-cpd2", (-90, -75, -40, -25, 0, 0), 2),
        _compand("reverb-cpd3", (-90, -90, -60, -50, -20, -20, 0, 0), 4),
        _compand("reverb-cpd4", (-70, -60, -60, -40, -20, -10, 0, 0), 3),
    ),
}

#: The set ``drc.sh`` redid a file with when sox reported clipping (``cpddef``).
COMPAND_FALLBACK: dict[str, CompandParams] = {
    "mardy": _compand("mardy-def", (-90, -80, -30, -20, 0, 0), -3),
    "2003": _compand("2003-def", (-90, -60, -60, -20, 0, 0), -5),
    "reverb": _compand("reverb-def", (-90, -90, -70, -65, -30, -25, 0, 0), -6),
}


def smoothing_coefficient(seconds: float, sample_rate: int) -> float:
    """Per-sample step of a one-pole follower with time constant ``seconds`` (sox's definition).

    The follower covers 1 − 1/e of a step in ``seconds``; times shorter than a sample jump at once.
    """
    if seconds > 1.0 / sample_rate:
        return 1.0 - math.exp(-1.0 / (sample_rate * seconds))
    return 1.0


def envelope(rectified: np.ndarray, attack: float, decay: float, initial: float) -> np.ndarray:
    """Asymmetric one-pole level follower of a rectified signal (1-D), float64.

    v += (|x| − v)·attack when the level rises, ·decay when it falls; each output is the level
    after taking in that sample. ``attack``/``decay`` are per-sample steps (``smoothing_coefficient``).
    """
    rectified = np.ascontiguousarray(rectified, dtype=np.float64)
    return _envelope_kernel()(rectified, float(attack), float(decay), float(initial))


@functools.lru_cache(maxsize=1)
def _envelope_kernel():
    # The recursion is inherently sequential; numba compiles it once per process (benchmarks/augment.py
    # reports it in the fixed cost).
    import numba

    @numba.njit(cache=False, nogil=True)
    def kernel(rectified, attack, decay, initial):
        out = np.empty_like(rectified)
        level = initial
        for i in range(rectified.shape[0]):
            delta = rectified[i] - level
            level += delta * (attack if delta > 0.0 else decay)
            out[i] = level
        return out

    return kernel


def compand(audio: np.ndarray, sample_rate: int, params: CompandParams) -> np.ndarray:
    """Compress/expand dynamics like sox ``compand`` with one attack/decay pair; no clipping here.

    One envelope follows the largest magnitude over all channels (sox with a single attack/decay
    pair); each sample is multiplied by the static curve's gain at the current envelope level.
    """
    audio = as_channels_first(audio).astype(np.float64)
    rectified = np.abs(audio).max(axis=0)
    level = envelope(
        rectified,
        smoothing_coefficient(params.attack, sample_rate),
        smoothing_coefficient(params.decay, sample_rate),
        10.0 ** (params.initial_db / 20.0),
    )
    level_db = 20.0 * np.log10(np.maximum(level, 1e-30))
    gain = 10.0 ** ((params.output_db(level_db) - level_db) / 20.0)
    return (audio * gain).astype(np.float32)


def compand_like_reference(
    audio: np.ndarray, sample_rate: int, params: CompandParams, fallback: CompandParams | None
) -> tuple[np.ndarray, str, bool]:
    """``compand`` with the reference's clip handling: (output, set used, clipped).

    When the output exceeds full scale (sox warned about clipping) the input is redone with
    ``fallback``, as ``drc.sh`` did; what still exceeds full scale is clipped, as sox's integer
    output did.

    The fallback is the common case, not the exception, and faithfully so: the reference starts
    sox's level follower at −90 dB, so until it catches up (attack 0.2 s) the first milliseconds
    get the curve's low-level gain (+10 to +25 dB) and most clips clip. On the demo set 904 of
    1,090 reverb-drc rows used mardy's fallback curve and 187 still clipped after it (measured with
    the earlier knee shape, before ``asckit.audio.compand_curve``; counted
    from the rows' ``drc_used`` and ``clipped`` params).
    """
    out, used = compand(audio, sample_rate, params), params.name
    if fallback is not None and np.max(np.abs(out)) > 1.0:
        out, used = compand(audio, sample_rate, fallback), fallback.name
    clipped = bool(np.max(np.abs(out)) > 1.0)
    if clipped:
        out = np.clip(out, -1.0, 1.0)
    return out, used, clipped


__all__ = [
    "COMPAND_FALLBACK",
    "COMPAND_SETS",
    "CompandParams",
    "NOISE_STD",
    "add_noise",
    "change_speed",
    "compand",
    "compand_like_reference",
    "convolve_rir",
    "envelope",
    "mix",
    "pitch_shift",
    "smoothing_coefficient",
]
