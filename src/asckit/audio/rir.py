"""Room impulse responses for the reverberation augmentation: a simulated bank or a folder of WAVs.

``simulate_rir_bank`` builds a reproducible bank with pyroomacoustics (image-source method in
shoebox rooms whose size, reverberation time and source/microphone positions are drawn from a
seed); RIR ``i`` depends only on (seed, i), so a bank of 24 is the first 24 of a bank of 48.
``load_rir_folder`` reads measured responses (MARDY, the REVERB challenge, ...) from a folder,
keeps the first channel (as the reference's MATLAB scripts) and resamples them to the target rate.
Each response carries a JSON-able description, so an augmented row can name the one it used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asckit.errors import AsckitError

#: Shoebox dimensions drawn uniformly, metres: length, width, height.
ROOM_LENGTH_M = (4.0, 12.0)
ROOM_WIDTH_M = (3.0, 9.0)
ROOM_HEIGHT_M = (2.5, 4.0)
#: Reverberation time (Sabine) drawn uniformly, seconds: the span of the REVERB challenge rooms
#: (0.25–0.7 s) and MARDY's chamber (about 0.45 s), a little wider on both sides.
RT60_S = (0.2, 0.8)
#: Source and microphone stay this far from the walls, and this far from each other.
WALL_MARGIN_M = 0.5
MIN_DISTANCE_M = 1.0
#: Image-source order cap: beyond it the tail is below -60 dB in the rooms above, and the worst
#: small, live room stays near 1 s of compute.
MAX_IMAGE_ORDER = 80


@dataclass(frozen=True)
class ImpulseResponse:
    """One room impulse response: a name, float32 samples at ``sample_rate``, and how it was made."""

    name: str
    samples: np.ndarray = field(repr=False)
    sample_rate: int
    info: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {"name": self.name, "samples": int(self.samples.size), **self.info}


def simulate_rir(index: int, seed: int, sample_rate: int, max_seconds: float | None = 1.0) -> ImpulseResponse:
    """RIR number ``index`` of the bank of ``seed``: a shoebox room by the image-source method.

    The response is cut to its first ``max_seconds`` (the reference cut its 2003 set to 1 s) and
    scaled to a peak of 1, so the direct path keeps the dry level and the tail adds to it.
    """
    import pyroomacoustics as pra

    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    dims = np.array([rng.uniform(*ROOM_LENGTH_M), rng.uniform(*ROOM_WIDTH_M), rng.uniform(*ROOM_HEIGHT_M)])
    rt60 = float(rng.uniform(*RT60_S))
    source, microphone = _positions(rng, dims)
    try:
        absorption, max_order = pra.inverse_sabine(rt60, dims)
    except ValueError as exc:  # a reverberation time the room cannot have (absorption > 1)
        raise ValueError(f"room {dims} cannot have RT60 {rt60:.2f} s: {exc}") from None
    room = pra.ShoeBox(
        dims.tolist(),
        fs=sample_rate,
        materials=pra.Material(float(absorption)),
        max_order=int(min(max_order, MAX_IMAGE_ORDER)),
    )
    room.add_source(source.tolist())
    room.add_microphone(microphone.tolist())
    room.compute_rir()
    samples = np.asarray(room.rir[0][0], dtype=np.float64)
    if max_seconds is not None:
        samples = samples[: int(round(max_seconds * sample_rate))]
    samples = (samples / np.max(np.abs(samples))).astype(np.float32)
    info = {
        "source": "pyroomacoustics",
        "seed": int(seed),
        "index": int(index),
        "room_m": [round(float(d), 3) for d in dims],
        "rt60_s": round(rt60, 3),
        "source_m": [round(float(p), 3) for p in source],
        "microphone_m": [round(float(p), 3) for p in microphone],
        "distance_m": round(float(np.linalg.norm(source - microphone)), 3),
    }
    return ImpulseResponse(f"sim-{seed}-{index:03d}", samples, sample_rate, info)


def _positions(rng: np.random.Generator, dims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = np.array([WALL_MARGIN_M, WALL_MARGIN_M, 1.0])
    high = np.array([dims[0] - WALL_MARGIN_M, dims[1] - WALL_MARGIN_M, min(2.0, dims[2] - WALL_MARGIN_M)])
    while True:  # the smallest room (4 × 3 m) still leaves > 2 m of diagonal, so this ends fast
        source, microphone = rng.uniform(low, high), rng.uniform(low, high)
        if np.linalg.norm(source - microphone) >= MIN_DISTANCE_M:
            return source, microphone


def simulate_rir_bank(
    count: int = 24, sample_rate: int = 44100, seed: int = 0, max_seconds: float | None = 1.0
) -> list[ImpulseResponse]:
    """``count`` simulated RIRs (see ``simulate_rir``); the same arguments give the same bank."""
    if count < 1:
        raise ValueError("an RIR bank needs at least one response")
    return [simulate_rir(i, seed, sample_rate, max_seconds) for i in range(count)]


def load_rir_folder(folder: str | Path, sample_rate: int, max_seconds: float | None = None) -> list[ImpulseResponse]:
    """Every ``*.wav`` under ``folder`` (sorted by path), first channel, resampled to ``sample_rate``.

    ``max_seconds`` cuts each response to its start (the reference cut the 2003 set to 1 s and kept
    MARDY whole). Names are paths relative to ``folder``. Responses keep their recorded level.

    One difference from the reference: for the 16 kHz REVERB-challenge responses it resampled the
    *audio* to 16 kHz, convolved and resampled back, which also removed everything above 8 kHz;
    here the response is resampled to the clip's rate, so the clip keeps its full band.
    """
    from asckit.audio.io import read_audio, resample

    folder = Path(folder)
    if not folder.is_dir():
        raise AsckitError(f"{folder}: no such folder; pass --rir-dir a folder of impulse-response WAVs")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".wav")
    if not paths:
        raise AsckitError(
            f"{folder}: no .wav files found; pass --rir-dir a folder of impulse-response WAVs (e.g. MARDY)"
        )
    bank = []
    for path in paths:
        audio, rate = read_audio(path)
        first = resample(audio[:1], rate, sample_rate)[0]
        if max_seconds is not None:
            first = first[: int(round(max_seconds * sample_rate))]
        if not np.any(first):
            raise AsckitError(f"{path}: the impulse response is silent; remove it from {folder}")
        name = str(path.relative_to(folder))
        info = {"source": "file", "file": name, "file_sample_rate": int(rate)}
        bank.append(ImpulseResponse(name, np.ascontiguousarray(first, dtype=np.float32), sample_rate, info))
    return bank


def rt60_of(rir: ImpulseResponse) -> float:
    """Reverberation time (s) estimated from the response by Schroeder backward integration.

    Fits the −5 to −25 dB range of the energy decay curve and extrapolates to −60 dB (T20); used
    by tests and reports to check a bank, not by the augmentation itself.
    """
    import pyroomacoustics as pra

    return float(pra.experimental.measure_rt60(rir.samples.astype(np.float64), fs=rir.sample_rate, decay_db=20))


__all__ = ["ImpulseResponse", "load_rir_folder", "rt60_of", "simulate_rir", "simulate_rir_bank"]

