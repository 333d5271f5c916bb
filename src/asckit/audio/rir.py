"""Room impulse responses for the reverberation augmentation: the reference's measured sets, a
simulated bank, or a folder of WAVs.

``load_reference_rirs`` reads one of the reference's three measured sets (``REFERENCE_RIR_SETS``:
``mardy``, its default, ``2003`` and ``reverb``; reference/rirs/README.md) from the folder
``asckit data download rirs`` fills: exactly the responses its MATLAB scripts use, in their
round-robin order (the 2003 list names ch04 twice, and so does this one), each read by the
reference's rule: first channel, resampled to the clip's rate, first 1 s. The REVERB folder also
holds 12 raw ``.pcm`` files (the same 8-channel 16 kHz responses without a header); the reference
reads the WAVs, so they are downloaded only with ``--set all`` and never read.

``simulate_rir_bank`` builds a reproducible bank with pyroomacoustics (image-source method in
shoebox rooms whose size, reverberation time and source/microphone positions are drawn from a
seed); RIR ``i`` depends only on (seed, i), so a bank of 24 is the first 24 of a bank of 48. It is
the default where the measured files are not at hand (demo scale, tests).
``load_rir_folder`` reads every WAV of a user's folder, sorted, by the same read rule.
Each response carries a JSON-able description, so an augmented row can name the one it used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError

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

#: The reference's measured RIRs, as the MATLAB scripts use them: paths relative to its
#: ``task1a/data_augmentation/reverb_drc/`` folder (the layout ``asckit data download rirs``
#: writes), in round-robin order (reference/rirs/README.md).
_REVERB_ROOMS = ("SmallRoom1", "MediumRoom1", "LargeRoom1", "SmallRoom2", "MediumRoom2", "LargeRoom2")
REFERENCE_RIR_SETS: dict[str, tuple[str, ...]] = {
    # Generate_mcTrainDataMardy_dcase.m: position 1 of each of the three mics, C/L/R.
    "mardy": tuple(f"MARDY/ir_{mic}_{side}_1.wav" for side in "CLR" for mic in (1, 2, 3)),
    # Generate_mcTrainData2003_estimated_ir_dcase.m: 12 entries, ch04_orth_4X twice (kept, as the reference).
    "2003": tuple(
        f"2003_estimated_ir/2003_estimated_ir_{name}.wav"
        for name in (
            "ch24_single_mic", "ch04_orth_4X", "ch04_orth_4X", "ch06_orth_6X", "ch13_orth_5Y", "ch14_orth_6Y",
            "ch15_orth_7Y", "ch01_orth_1X", "ch21_orth_5Z", "ch22_orth_6Z", "ch23_orth_7Z", "ch20_orth_4Z",
        )
    ),
    # Generate_mcTrainData_dcase.m: the 24 REVERB-challenge WAVs (the 25th+ lines are commented out).
    "reverb": tuple(
        f"TrainRIR/RIR_{room}_{where}_Angl{angle}.wav"
        for room in _REVERB_ROOMS
        for where, angle in (("near", "A"), ("near", "B"), ("far", "A"), ("far", "B"))
    ),
}
#: The reference's read rule keeps each response's first second.
REFERENCE_RIR_SECONDS = 1.0
#: Where ``asckit data download rirs`` is told to put them in the docs, and where they are looked for.
DEFAULT_RIR_ROOT = "data/rirs"


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


def _read_first_channel(path: Path, sample_rate: int, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """The read rule: first channel, resampled to ``sample_rate``, cut to its first ``max_seconds``."""
    from asckit.audio.io import read_audio, resample

    audio, rate = read_audio(path)
    first = resample(audio[:1], rate, sample_rate)[0]
    if max_seconds is not None:
        first = first[: int(round(max_seconds * sample_rate))]
    if not np.any(first):
        raise AsckitError(f"{path}: the impulse response is silent; replace the file")
    return np.ascontiguousarray(first, dtype=np.float32), int(rate)


def missing_reference_rirs(rir_set: str, root: str | Path) -> list[str]:
    """The files of a reference set (paths relative to ``root``) that are not under ``root``."""
    return sorted({name for name in _set_files(rir_set) if not (Path(root) / name).is_file()})


def _set_files(rir_set: str) -> tuple[str, ...]:
    if rir_set not in REFERENCE_RIR_SETS:
        raise AsckitError(f"unknown RIR set {rir_set!r}: use one of {', '.join(REFERENCE_RIR_SETS)}")
    return REFERENCE_RIR_SETS[rir_set]


def download_hint(rir_set: str, root: str | Path) -> str:
    return f"download them with `asckit data download rirs --set {rir_set} --root {root}`"


def load_reference_rirs(rir_set: str, root: str | Path, sample_rate: int) -> list[ImpulseResponse]:
    """The reference's list for ``rir_set``, in its round-robin order, read from ``root``.

    ``root`` is the folder ``asckit data download rirs --root ROOT`` wrote (the reference's
    ``reverb_drc/`` layout). Each response: first channel, resampled to ``sample_rate`` (soxr; the
    reference used MATLAB's ``resample``), its first ``REFERENCE_RIR_SECONDS``. A file listed
    twice (2003: ch04) is in the bank twice, so the round-robin matches the reference's.

    One difference from the reference: for the 16 kHz REVERB-challenge responses it resampled the
    *audio* to 16 kHz, convolved and resampled back, which also removed everything above 8 kHz;
    here the response is resampled to the clip's rate, so the clip keeps its full band.
    """
    files = _set_files(rir_set)
    missing = missing_reference_rirs(rir_set, root)
    if missing:
        raise AsckitError(
            f"{Path(root) / missing[0]}: {len(missing)} of the reference's {rir_set} RIRs are missing; "
            + download_hint(rir_set, root)
        )
    read: dict[str, tuple[np.ndarray, int]] = {}
    bank = []
    for position, name in enumerate(files):
        if name not in read:
            read[name] = _read_first_channel(Path(root) / name, sample_rate, REFERENCE_RIR_SECONDS)
        samples, rate = read[name]
        info = {"source": "measured", "set": rir_set, "position": position, "file": name, "file_sample_rate": rate}
        bank.append(ImpulseResponse(name, samples, sample_rate, info))
    return bank


def describe_bank(record: dict) -> str:
    """One line on the RIR bank of a reverb-drc run record (``<store>/augment/reverb-drc.json``)."""
    rirs = record.get("rirs", [])
    if record.get("rir_set"):
        return f"the reference's measured {record['rir_set']} RIRs ({len(rirs)} in its round-robin list)"
    if record.get("rir_dir"):
        return f"{len(rirs)} RIRs from the folder {record['rir_dir']}"
    return f"a simulated pyroomacoustics bank ({len(rirs)} RIRs, seed {record.get('seed', 0)}), not the reference's measured RIRs"


def load_rir_folder(folder: str | Path, sample_rate: int, max_seconds: float | None = None) -> list[ImpulseResponse]:
    """Every ``*.wav`` under ``folder`` (sorted by path), first channel, resampled to ``sample_rate``.

    ``max_seconds`` cuts each response to its start (``load_reference_rirs`` is the reference's
    selection and cut). Names are paths relative to ``folder``. Responses keep their recorded level.
    """
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
        first, rate = _read_first_channel(path, sample_rate, max_seconds)
        name = str(path.relative_to(folder))
        info = {"source": "file", "file": name, "file_sample_rate": rate}
        bank.append(ImpulseResponse(name, first, sample_rate, info))
    return bank


def rt60_of(rir: ImpulseResponse) -> float:
    """Reverberation time (s) estimated from the response by Schroeder backward integration.

    Fits the −5 to −25 dB range of the energy decay curve and extrapolates to −60 dB (T20); used
    by tests and reports to check a bank, not by the augmentation itself.
    """
    import pyroomacoustics as pra

    return float(pra.experimental.measure_rt60(rir.samples.astype(np.float64), fs=rir.sample_rate, decay_db=20))


__all__ = [
    "DEFAULT_RIR_ROOT",
    "REFERENCE_RIR_SECONDS",
    "REFERENCE_RIR_SETS",
    "ImpulseResponse",
    "describe_bank",
    "download_hint",
    "load_reference_rirs",
    "load_rir_folder",
    "missing_reference_rirs",
    "rt60_of",
    "simulate_rir",
    "simulate_rir_bank",
]

