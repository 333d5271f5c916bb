"""Augmented rows into the feature store: run offline augmentation kinds over a dataset's training clips.

For each kind (``KINDS``) the parent draws every row's parameters from (seed, kind, clip, copy),
so a row depends on nothing else (not on chunking, worker count or resumption), and records them
with the row. Worker processes (spawn, single-threaded) read the source clips with the
store's settings, apply ``asckit.audio.augment``, compute the scaled log-mel and hand it back;
the parent appends finished chunks, so a rerun only does what is missing. Source audio is only
ever read.

Keys are ``<original filename>#<kind>`` (``#<kind>-<n>`` for the n-th extra copy); each row's
``kind`` is the augmentation name, its ``source`` the original filename, its ``params`` the drawn
parameters. What decides a kind's rows beyond those (seed, options, the RIR bank, the spectrum
coefficients) is written to ``<store>/augment/<kind>.json``; a rerun with other options is refused
while rows of that kind exist, so a store never mixes two recipes under one kind.

Spectrum correction, as the paper describes it and not as the reference code did: per-bin mean
|STFT_x| / |STFT_a| over **all** paired training segments of every non-A device x (the reference
kept only 150 s3 pairs, its other 600 buffer slots stayed zero, so its coefficients were 0.2 × the
s3/a ratio), a floor on both magnitudes instead of dividing by zero, and the reference response as
the mean over the non-A devices with equal weight. The coefficients, per device and combined, are
saved in ``<store>/augment/spectrum-correction-coefficients.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asckit.errors import AsckitError
from asckit.features.logmel import LogMelSettings
from asckit.features.store import FeatureStore
from asckit.io_utils import atomic_write_text, read_json_object
from asckit.parallel import chunked, progress_bar, run_chunks

#: Augmentation kinds in the order ``--kind all`` runs them (cheap ones first).
KINDS: tuple[str, ...] = ("noise", "mix", "spectrum-correction", "reverb-drc", "speed", "pitch")
#: Kinds applied to device-A training clips only, as the reference.
DEVICE_A_KINDS: frozenset[str] = frozenset({"spectrum-correction", "reverb-drc"})
REFERENCE_DEVICE = "a"

#: Parameter distributions of the reference (reference/spec.md §3.2).
MIX_GAINS = (0.5, 1.0)
PITCH_STEPS = (-4.0, 4.0)
SPEED_RATES = (0.5, 2.0)

AUGMENT_FOLDER = "augment"
COEFFICIENTS_FILE = "spectrum-correction-coefficients.json"


@dataclass(frozen=True)
class AugmentOptions:
    """Everything besides the dataset and the store that decides the augmented rows."""

    seed: int = 0
    copies: int = 1  # rows per source clip and kind
    noise_snr_db: float | None = None  # None: the reference's fixed std 0.01
    rir_dir: str | None = None  # None: a simulated pyroomacoustics bank
    rir_count: int = 24  # size of the simulated bank
    rir_max_seconds: float | None = None  # cut measured RIRs (simulated ones are 1 s)
    drc_set: str = "mardy"  # compand curves: mardy, 2003 or reverb (the reference's sets)
    energy_normalise: bool = False  # the reference's `_en` reverberation variants


@dataclass
class KindSummary:
    kind: str
    clips: int  # source clips the kind applies to
    planned: int  # rows it should have (clips × copies, less the unplannable)
    already: int  # rows stored before this run
    added: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # sources that cannot take this kind, with why
    errors: list[str] = field(default_factory=list)

    @property
    def clips_per_second(self) -> float:
        return self.added / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        text = f"{self.kind:<20} {self.already + self.added}/{self.planned} rows, {self.added} new"
        if self.added:
            text += f" in {self.seconds:.1f} s ({self.clips_per_second:.2f} clips/s)"
        if self.skipped:
            text += f"; {len(self.skipped)} skipped ({self.skipped[0]}{', …' if len(self.skipped) > 1 else ''})"
        return text


# =========================================================================== planning


def row_key(source: str, kind: str, copy: int) -> str:
    """``<source>#<kind>`` for the first copy, ``<source>#<kind>-<n>`` for the n-th extra one."""
    return f"{source}#{kind}" if copy == 0 else f"{source}#{kind}-{copy}"


def job_rng(seed: int, kind: str, source: str, copy: int) -> np.random.Generator:
    """The random stream of one row: a function of (seed, kind, source filename, copy) only."""
    digest = hashlib.sha256(f"{kind}\0{source}\0{copy}".encode()).digest()
    return np.random.default_rng(np.random.SeedSequence([seed, int.from_bytes(digest[:16], "little")]))


def training_clips(root: Path, kind: str):
    """The training split's rows (``tau.load_split`` columns) that ``kind`` applies to, in CSV order."""
    from asckit.data import tau

    frame = tau.load_split(root, "train")
    if "scene_label" not in frame:
        raise AsckitError(f"{root}/evaluation_setup/fold1_train.csv: no scene_label column; augmentation needs labels")
    if kind in DEVICE_A_KINDS:
        frame = frame[frame["device"] == REFERENCE_DEVICE]
    return frame.reset_index(drop=True)


Job = tuple[str, str, dict]  # (row key, source filename, params)


def plan_rows(kind: str, frame, options: AugmentOptions, context: dict) -> tuple[list[Job], list[str]]:
    """(key, source, params) of every row of ``kind``, and the sources skipped with the reason."""
    jobs, skipped = [], []
    filenames = list(frame["filename"])
    by_class: dict[str, list[str]] = {}
    place_in_class: dict[str, int] = {}
    if kind == "mix":
        for name, label in zip(filenames, frame["scene_label"]):
            place_in_class[name] = len(by_class.setdefault(label, []))
            by_class[label].append(name)
    for position, (source, label) in enumerate(zip(filenames, frame["scene_label"])):
        for copy in range(options.copies):
            rng = job_rng(options.seed, kind, source, copy)
            if kind == "mix":
                same_class = by_class[label]
                if len(same_class) < 2:
                    if copy == 0:
                        skipped.append(f"{source}: no other training clip of class {label}")
                    continue
                # a uniform draw among the class's other clips: skip over the clip itself
                pick = int(rng.integers(len(same_class) - 1))
                pick += pick >= place_in_class[source]
                params = {
                    "partner": same_class[pick],
                    "gain": float(rng.uniform(*MIX_GAINS)),
                    "partner_gain": float(rng.uniform(*MIX_GAINS)),
                }
            elif kind == "noise":
                noise_seed = int(rng.integers(2**63))
                if options.noise_snr_db is None:
                    from asckit.audio.augment import NOISE_STD

                    params = {"std": NOISE_STD, "noise_seed": noise_seed}
                else:
                    params = {"snr_db": float(options.noise_snr_db), "noise_seed": noise_seed}
            elif kind == "pitch":
                params = {"n_steps": float(rng.uniform(*PITCH_STEPS))}
            elif kind == "speed":
                params = {"rate": float(rng.uniform(*SPEED_RATES))}
            elif kind == "spectrum-correction":
                params = {"coefficients": f"{AUGMENT_FOLDER}/{COEFFICIENTS_FILE}", "digest": context["digest"]}
            elif kind == "reverb-drc":
                # Round-robin over RIRs and compand curves per file, as the reference's scripts.
                turn = position * options.copies + copy
                rirs, curves = context["rir_names"], context["drc_names"]
                params = {
                    "rir": rirs[turn % len(rirs)],
                    "drc": curves[turn % len(curves)],
                    "energy_normalised": options.energy_normalise,
                }
            else:
                raise ValueError(f"unknown augmentation kind {kind!r}")
            jobs.append((row_key(source, kind, copy), source, params))
    return jobs, skipped


# =========================================================================== worker side

_worker: dict = {}


def _init_worker(settings: LogMelSettings, mel: np.ndarray, root: str, kind: str, context: dict) -> None:
    from asckit.features.logmel import LogMel

    _worker.update(settings=settings, root=Path(root), kind=kind, context=context)
    _worker["extractor"] = LogMel(settings, mel=mel)


def _load(source: str) -> np.ndarray:
    from asckit.audio.io import load_clip

    s: LogMelSettings = _worker["settings"]
    return load_clip(_worker["root"] / source, None, s.sample_rate, s.channels, s.clip_seconds)


def _augmented_audio(kind: str, audio: np.ndarray, params: dict) -> tuple[np.ndarray, dict]:
    """The augmented waveform of one clip, and what the transform reports back (reverb-drc)."""
    from asckit.audio import augment

    sample_rate = _worker["settings"].sample_rate
    if kind == "mix":
        return augment.mix(audio, _load(params["partner"]), params["gain"], params["partner_gain"]), {}
    if kind == "noise":
        rng = np.random.default_rng(params["noise_seed"])
        return augment.add_noise(audio, rng, std=params.get("std", augment.NOISE_STD), snr_db=params.get("snr_db")), {}
    if kind == "pitch":
        return augment.pitch_shift(audio, sample_rate, params["n_steps"]), {}
    if kind == "speed":
        return augment.change_speed(audio, params["rate"]), {}
    if kind == "reverb-drc":
        context = _worker["context"]
        wet = augment.convolve_rir(audio, context["rirs"][params["rir"]], energy_normalise=params["energy_normalised"])
        curve = context["drc_curves"][params["drc"]]
        out, used, clipped = augment.compand_like_reference(wet, sample_rate, curve, context["drc_fallback"])
        return out, {"drc_used": used, "clipped": clipped}
    raise ValueError(f"unknown augmentation kind {kind!r}")


def _augment_chunk(jobs: list[Job]):
    """(keys, float16 rows, sources, params, errors) for one chunk of planned rows."""
    from asckit.audio import augment
    from asckit.audio.io import fit_length
    from asckit.features.logmel import finish_logmel

    kind, settings = _worker["kind"], _worker["settings"]
    keys, sources, params_out, logmels, errors = [], [], [], [], []
    for key, source, params in jobs:
        try:
            audio = _load(source)
            if kind == "spectrum-correction":
                logmels.append(augment.corrected_logmel(audio, _worker["context"]["coefficients"], _worker["extractor"]))
                extra = {}
            else:
                augmented, extra = _augmented_audio(kind, audio, params)
                logmels.append(_worker["extractor"](fit_length(augmented, audio.shape[-1])))
        except AsckitError as exc:
            errors.append(str(exc))
            continue
        keys.append(key)
        sources.append(source)
        params_out.append({**params, **extra})
    if not keys:
        return keys, np.zeros((0,), dtype=np.float16), sources, params_out, errors
    rows = finish_logmel(np.stack(logmels), settings).astype(np.float16)
    return keys, rows, sources, params_out, errors


def _ratio_chunk(groups: list[tuple[str, list[tuple[str, str]]]]):
    """Per-device (Σ ratio per bin, frames) over paired segments: [(file_a, [(device, file_x), ...])]."""
    from asckit.audio.augment import magnitude_ratio_sum, stft_magnitude

    settings = _worker["settings"]
    sums: dict[str, list] = {}
    errors = []
    for file_a, partners in groups:
        try:
            magnitude_a = stft_magnitude(_load(file_a), settings)
            for device, file_x in partners:
                total, count = magnitude_ratio_sum(stft_magnitude(_load(file_x), settings), magnitude_a)
                entry = sums.setdefault(device, [np.zeros_like(total), 0, 0])
                entry[0] += total
                entry[1] += count
                entry[2] += 1
        except AsckitError as exc:
            errors.append(str(exc))
    return sums, errors, sum(len(p) for _, p in groups)


# =========================================================================== parent side


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
    from asckit.audio.augment import SPECTRUM_RATIO_FLOOR

    pair_list = [[a, device, x] for a, partners in items for device, x in partners]
    text = json.dumps({"pairs": pair_list, "settings": settings.digest(), "floor": SPECTRUM_RATIO_FLOOR})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    from asckit.audio.augment import SPECTRUM_RATIO_FLOOR
    from asckit.features.logmel import mel_of

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
        initargs = (settings, mel_of(settings), str(root), "pairs", {})
        run_chunks(_ratio_chunk, chunked(items, chunk_size), workers, _init_worker, initargs, handle)
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


def _kind_context(
    kind: str, root: Path, store: FeatureStore, options: AugmentOptions, workers: int, progress: bool
) -> tuple[dict, dict]:
    """(worker context, run record) of a kind: shared read-only data and what decided the rows."""
    record = {"kind": kind, "seed": options.seed}
    if kind == "noise":
        record["noise"] = "fixed std 0.01" if options.noise_snr_db is None else f"snr {options.noise_snr_db:g} dB"
    elif kind in ("mix", "pitch", "speed"):
        record["ranges"] = {"mix": MIX_GAINS, "pitch": PITCH_STEPS, "speed": SPEED_RATES}[kind]
    if kind == "spectrum-correction":
        coefficients = _load_or_compute_coefficients(root, store, workers, progress)
        record["coefficients_digest"] = coefficients["digest"]
        context = {"coefficients": np.asarray(coefficients["coefficients"], dtype=np.float32), "digest": coefficients["digest"]}
        return context, record
    if kind == "reverb-drc":
        from asckit.audio.augment import COMPAND_FALLBACK, COMPAND_SETS
        from asckit.audio.rir import load_rir_folder, simulate_rir_bank

        if options.drc_set not in COMPAND_SETS:
            raise AsckitError(f"unknown compand set {options.drc_set!r}: use one of {', '.join(COMPAND_SETS)}")
        sample_rate = store.settings.sample_rate
        if options.rir_dir is None:
            bank = simulate_rir_bank(options.rir_count, sample_rate, seed=options.seed)
        else:
            bank = load_rir_folder(options.rir_dir, sample_rate, max_seconds=options.rir_max_seconds)
        curves = COMPAND_SETS[options.drc_set]
        record.update(
            rirs=[r.describe() for r in bank],
            rir_dir=None if options.rir_dir is None else str(Path(options.rir_dir).resolve()),
            drc_set=options.drc_set,
            drc_curves=[c.to_dict() for c in curves],
            drc_fallback=COMPAND_FALLBACK[options.drc_set].to_dict(),
            energy_normalise=options.energy_normalise,
        )
        context = {
            "rirs": {r.name: r.samples for r in bank},
            "rir_names": [r.name for r in bank],
            "drc_curves": {c.name: c for c in curves},
            "drc_names": [c.name for c in curves],
            "drc_fallback": COMPAND_FALLBACK[options.drc_set],
        }
        return context, record
    return {}, record


def _load_or_compute_coefficients(root: Path, store: FeatureStore, workers: int, progress: bool) -> dict:
    """The saved coefficients when they were made from the same pairs and settings, else fresh ones."""
    path = store.path / AUGMENT_FOLDER / COEFFICIENTS_FILE
    if path.is_file():
        saved = read_json_object(path, "delete it and rerun `asckit augment`, which computes it again")
        # The pair list and settings decide the coefficients: checking them is cheap, recomputing is not.
        if saved.get("digest") == coefficients_digest(paired_segments(root), store.settings):
            return saved
    fresh = spectrum_correction_coefficients(root, store.settings, workers=workers, progress=progress)
    atomic_write_text(path, json.dumps(fresh, indent=1) + "\n")
    return fresh


def _check_record(store: FeatureStore, kind: str, record: dict) -> None:
    """Refuse to add rows of ``kind`` made another way than the rows already stored; else save the record."""
    path = store.path / AUGMENT_FOLDER / f"{kind}.json"
    record = json.loads(json.dumps(record))  # tuples → lists, as read back
    if path.is_file() and store.keys(kind):
        saved = read_json_object(path, f"the record of the store's {kind} rows is lost: write to a new --out store")
        if saved != record:
            changed = sorted(k for k in set(saved) | set(record) if saved.get(k) != record.get(k))
            raise AsckitError(
                f"{path}: the store's {kind} rows were made with other options ({', '.join(changed)} differ); "
                "rerun with the same options, or write to another --out store"
            )
        return
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def resolve_kinds(kinds: Iterable[str]) -> list[str]:
    """Validated kinds in the given order, ``all`` expanding to every kind, duplicates dropped."""
    out: list[str] = []
    for kind in kinds:
        for name in KINDS if kind == "all" else (kind,):
            if name not in KINDS:
                raise AsckitError(f"unknown augmentation kind {name!r}: use one of {', '.join(KINDS)} or all")
            if name not in out:
                out.append(name)
    return out


def augment_dataset(
    root: str | Path,
    store_path: str | Path,
    kinds: Iterable[str],
    options: AugmentOptions = AugmentOptions(),
    workers: int | None = None,
    chunk_size: int = 16,
    progress: bool = True,
) -> list[KindSummary]:
    """Add the augmented rows of ``kinds`` for the training clips of ``root`` to the store.

    The store must exist (``asckit features ROOT --out STORE``); rows use exactly its settings.
    Rows already stored are skipped. Returns one summary per kind, with its throughput.
    """
    from asckit.features.logmel import mel_of

    root = Path(root)
    kinds = resolve_kinds(kinds)
    if options.copies < 1:
        raise AsckitError("--copies must be at least 1")
    store = FeatureStore.open(store_path, writable=True)
    if store.settings.clip_seconds is None:
        raise AsckitError(
            f"{store.path}: the store keeps clip lengths as they are; augmentation needs a store of fixed --clip-seconds"
        )
    workers = workers or min(2, os.cpu_count() or 1)
    summaries = []
    for kind in kinds:
        frame = training_clips(root, kind)
        if not frame["filename"].isin(list(store.rows)).any():
            raise AsckitError(
                f"{store.path}: holds none of the training clips of {root}; "
                f"run `asckit features {root} --out {store.path}` first"
            )
        start = time.perf_counter()  # throughput counts the kind's preparation (RIR bank, coefficients) too
        context, record = _kind_context(kind, root, store, options, workers, progress)
        jobs, skipped = plan_rows(kind, frame, options, context)
        _check_record(store, kind, record)
        todo = [job for job in jobs if job[0] not in store]
        summary = KindSummary(kind, clips=len(frame), planned=len(jobs), already=len(jobs) - len(todo), skipped=skipped)
        bar = progress_bar(len(jobs), summary.already, progress, f"augment {kind}")

        def handle(result, summary=summary, bar=bar) -> None:
            keys, rows, sources, params, errors = result
            if keys:
                store.append(keys, rows, kind=summary.kind, sources=sources, params=params)
            summary.added += len(keys)
            summary.errors.extend(errors)
            bar.update(len(keys) + len(errors))

        try:
            initargs = (store.settings, mel_of(store.settings), str(root), kind, context)
            run_chunks(_augment_chunk, chunked(todo, chunk_size), workers, _init_worker, initargs, handle)
        finally:
            bar.close()
        summary.seconds = time.perf_counter() - start
        summaries.append(summary)
        if summary.errors:
            shown = "; ".join(summary.errors[:3])
            raise AsckitError(
                f"{kind}: {len(summary.errors)} clip(s) could not be read and were skipped ({shown}); "
                f"the other rows are stored in {store.path}. Run `asckit data check {root}`"
            )
    return summaries


__all__ = [
    "AugmentOptions",
    "DEVICE_A_KINDS",
    "KINDS",
    "KindSummary",
    "augment_dataset",
    "job_rng",
    "plan_rows",
    "resolve_kinds",
    "row_key",
    "spectrum_correction_coefficients",
]
