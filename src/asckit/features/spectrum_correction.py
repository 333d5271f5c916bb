"""Spectrum correction: per-bin device-response coefficients from paired recordings, and the
log-mel of a clip's corrected spectrum.

One job, the whole of it in one place: the coefficients (per-bin mean |STFT_x| / |STFT_a| over
every paired training segment of each non-A device x, then the mean over the devices), saved in
the store, and the corrected features (|STFT| · coefficients → log-mel) that become augmented rows
(``asckit.features.augment_kinds.SpectrumCorrection``).

As the paper describes it and not as the reference code did: the reference kept only 150 s3
pairs, its other 600 buffer slots stayed zero, so its coefficients were 0.2 × the s3/a ratio;
here every pair counts, a floor on both magnitudes replaces dividing by zero, and the reference
response is the mean over the non-A devices with equal weight. Everything uses the feature
extractor's own STFT (``LogMel.spectrum``), so corrected rows are comparable with the originals.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from asckit.audio.io import as_channels_first
from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_write_text, read_json_object
from asckit.features.logmel import LogMel, LogMelSettings, cached_logmel, read_clip
from asckit.features.parallel import chunked, progress_bar, run_chunks

#: Added to both magnitudes of a spectrum ratio. About the magnitude of 24-bit quantisation noise
#: in a 2048-point Hann STFT bin (2^-24 · sqrt(Σw²) ≈ 2e-6), so a bin that is silent in both
#: clips gives a ratio of 1 instead of 0/0, and a silent device-A bin cannot give inf.
SPECTRUM_RATIO_FLOOR = 1e-5
REFERENCE_DEVICE = "a"
COEFFICIENTS_FILE = "spectrum-correction-coefficients.json"


# --------------------------------------------------------------------------- the maths


def stft_magnitude(audio: np.ndarray, settings: LogMelSettings) -> np.ndarray:
    """|STFT| (channels, 1 + n_fft//2, frames) float32 with the feature settings' STFT.

    The same window, hop, centring and padding as the stored log-mel (the feature extractor's
    own ``spectrum``), so a corrected magnitude turns into a row comparable with the originals.
    """
    extractor = cached_logmel(settings)
    return np.stack([np.abs(extractor.spectrum(channel)).T for channel in as_channels_first(audio)])


def magnitude_ratio_sum(
    magnitude_x: np.ndarray, magnitude_a: np.ndarray, floor: float = SPECTRUM_RATIO_FLOOR
) -> tuple[np.ndarray, int]:
    """Per-bin sum over frames (and channels) of (|X| + floor) / (|A| + floor), and the frame count.

    Summing, not averaging, lets a caller pool many pairs exactly: mean = Σ sums / Σ counts.
    """
    if magnitude_x.shape != magnitude_a.shape:
        raise ValueError(f"paired magnitudes differ in shape: {magnitude_x.shape} vs {magnitude_a.shape}")
    ratio = (magnitude_x.astype(np.float64) + floor) / (magnitude_a.astype(np.float64) + floor)
    bins = ratio.shape[-2]
    ratio = np.moveaxis(ratio, -2, 0).reshape(bins, -1)
    return ratio.sum(axis=1), ratio.shape[1]


def corrected_logmel(audio: np.ndarray, coefficients: np.ndarray, extractor: LogMel) -> np.ndarray:
    """Unscaled log-mel (channels, n_mels, frames) of |STFT|·coefficients (one value per bin).

    ``extractor`` is the feature extractor: its STFT, its mel matrix and log offset; the corrected
    magnitude is raised to the settings' power first, as the reference's ``melspectrogram(S=…)`` path.
    """
    bins = 1 + extractor.settings.n_fft // 2
    coefficients = np.asarray(coefficients, dtype=extractor.dtype)
    if coefficients.shape != (bins,):
        raise ValueError(f"need {bins} spectrum coefficients, got shape {coefficients.shape}")
    power = extractor.dtype.type(extractor.settings.power)
    return np.stack(
        [
            extractor.mel_of_power((np.abs(extractor.spectrum(channel)) * coefficients) ** power)
            for channel in as_channels_first(audio)
        ]
    )


# --------------------------------------------------------------------------- the coefficients


def paired_segments(root: Path) -> list[tuple[str, list[tuple[str, str]]]]:
    """Device-A training clips with their time-parallel twins: [(file_a, [(device, file_x), ...])], sorted."""
    from asckit.data import tau

    frame = tau.load_split(root, "train")
    segment_of = {name: parsed.segment_id for name in frame["filename"] if (parsed := tau.parse_filename(name))}
    device_a = {segment_of[n]: n for n, d in zip(frame["filename"], frame["device"]) if d == REFERENCE_DEVICE}
    groups: dict[str, list[tuple[str, str]]] = {}
    for name, device in zip(frame["filename"], frame["device"]):
        if device is not None and device != REFERENCE_DEVICE and segment_of.get(name) in device_a:
            groups.setdefault(device_a[segment_of[name]], []).append((device, name))
    if not groups:
        raise AsckitError(
            f"{root}/evaluation_setup/fold1_train.csv: no training segment is recorded by device a and another device; "
            "spectrum correction needs paired (time-parallel) recordings"
        )
    return sorted((a, sorted(partners)) for a, partners in groups.items())


def coefficients_digest(items: list[tuple[str, list[tuple[str, str]]]], settings: LogMelSettings) -> str:
    """What the coefficients depend on: the pair list, the feature settings and the ratio floor."""
    pair_list = [[a, device, x] for a, partners in items for device, x in partners]
    text = json.dumps({"pairs": pair_list, "settings": settings.digest(), "floor": SPECTRUM_RATIO_FLOOR})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_worker: dict = {}


def _init_worker(settings: LogMelSettings, root: str) -> None:
    _worker.update(settings=settings, root=Path(root))


def _ratio_chunk(groups: list[tuple[str, list[tuple[str, str]]]]):
    """Per-device (Σ ratio per bin, frames) over paired segments: [(file_a, [(device, file_x), ...])]."""
    settings, root = _worker["settings"], _worker["root"]
    sums: dict[str, list] = {}
    errors = []
    for file_a, partners in groups:
        try:
            magnitude_a = stft_magnitude(read_clip(root / file_a, settings), settings)
            for device, file_x in partners:
                total, count = magnitude_ratio_sum(stft_magnitude(read_clip(root / file_x, settings), settings), magnitude_a)
                entry = sums.setdefault(device, [np.zeros_like(total), 0, 0])
                entry[0] += total
                entry[1] += count
                entry[2] += 1
        except AsckitError as exc:
            errors.append(str(exc))
    return sums, errors, sum(len(p) for _, p in groups)


def spectrum_correction_coefficients(
    root: str | Path,
    settings: LogMelSettings,
    workers: int = 2,
    progress: bool = True,
    chunk_size: int = 8,
) -> dict:
    """Per-bin correction coefficients from every paired (device x, device A) training segment.

    Returns a JSON-able dict: ``coefficients`` (1 + n_fft/2 values: the mean over non-A devices of
    each device's mean ratio), ``devices`` (per device: pairs, frames, coefficients), ``digest``.
    """
    root = Path(root)
    items = paired_segments(root)
    sums: dict[str, list] = {}
    errors: list[str] = []
    bar = progress_bar(sum(len(p) for _, p in items), 0, progress, "spectrum-correction pairs")

    def handle(result) -> None:
        chunk_sums, chunk_errors, done = result
        for device, (total, count, pairs) in chunk_sums.items():
            entry = sums.setdefault(device, [np.zeros_like(total), 0, 0])
            entry[0] += total
            entry[1] += count
            entry[2] += pairs
        errors.extend(chunk_errors)
        bar.update(done)

    try:
        run_chunks(_ratio_chunk, chunked(items, chunk_size), workers, _init_worker, (settings, str(root)), handle)
    finally:
        bar.close()
    if errors:
        raise AsckitError(
            f"{len(errors)} paired clip(s) could not be read ({errors[0]}); run `asckit data check {root}`"
        )
    devices = {
        device: {"pairs": int(pairs), "frames": int(count), "coefficients": (total / count).tolist()}
        for device, (total, count, pairs) in sorted(sums.items())
    }
    combined = np.mean([np.asarray(d["coefficients"]) for d in devices.values()], axis=0)
    return {
        "what": "per-bin mean |STFT_x|/|STFT_a| over all paired training segments, averaged over the non-A devices",
        "floor": SPECTRUM_RATIO_FLOOR,
        "settings_digest": settings.digest(),
        "digest": coefficients_digest(items, settings),
        "pairs": sum(len(p) for _, p in items),
        "devices": devices,
        "coefficients": combined.tolist(),
    }


def load_or_compute_coefficients(
    path: Path, root: Path, settings: LogMelSettings, workers: int, progress: bool
) -> dict:
    """The coefficients saved at ``path`` when they were made from the same pairs and settings,
    else fresh ones (then saved there)."""
    if path.is_file():
        saved = read_json_object(path, "delete it and rerun `asckit augment`, which computes it again")
        # The pair list and settings decide the coefficients: checking them is cheap, recomputing is not.
        if saved.get("digest") == coefficients_digest(paired_segments(root), settings):
            return saved
    fresh = spectrum_correction_coefficients(root, settings, workers=workers, progress=progress)
    atomic_write_text(path, json.dumps(fresh, indent=1) + "\n")
    return fresh


__all__ = [
    "COEFFICIENTS_FILE",
    "SPECTRUM_RATIO_FLOOR",
    "coefficients_digest",
    "corrected_logmel",
    "load_or_compute_coefficients",
    "magnitude_ratio_sum",
    "paired_segments",
    "spectrum_correction_coefficients",
    "stft_magnitude",
]
