"""The offline augmentation kinds, one class each: what a kind prepares, how it draws each row's
parameters, and how it turns a clip into the row's log-mel.

A kind (``AugmentKind``) has three parts:

- ``prepare``: shared read-only data for the workers (the RIR bank, the spectrum coefficients)
  and the record of what decides its rows beyond the per-row parameters (saved with the store,
  so a store never mixes two recipes under one kind);
- ``draw``: one row's parameters from its own random stream (``job_rng``: a function of seed,
  kind, source and copy only), recorded with the row; ``plan`` runs it over the training clips;
- ``apply``: in a worker, the source clip and the row's parameters → unscaled log-mel (and what
  the transform reports back, stored with the parameters).

Adding a kind is adding one subclass to ``KIND_CLASSES`` (and its name to the CLI's
``KIND_CHOICES``, which a test keeps in step). ``asckit.features.augmented`` runs the kinds over a
dataset into a store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from asckit.audio import augment
from asckit.audio.io import fit_length
from asckit.core.errors import AsckitError
from asckit.features import spectrum_correction as sc
from asckit.features.logmel import LogMel, LogMelSettings, read_clip

#: Folder of a store that holds the kinds' records (``<kind>.json``) and the spectrum coefficients.
AUGMENT_FOLDER = "augment"
REFERENCE_DEVICE = sc.REFERENCE_DEVICE

#: Parameter distributions of the reference (docs/reference-code.md §3.2).
MIX_GAINS = (0.5, 1.0)
PITCH_STEPS = (-4.0, 4.0)
SPEED_RATES = (0.5, 2.0)

Job = tuple[str, str, dict]  # (row key, source filename, params)


@dataclass(frozen=True)
class AugmentOptions:
    """Everything besides the dataset and the store that decides the augmented rows."""

    seed: int = 0
    copies: int = 1  # rows per source clip and kind
    noise_snr_db: float | None = None  # None: the reference's fixed std 0.01
    rir_set: str | None = None  # the reference's measured set (mardy, 2003, reverb) under rir_root
    rir_root: str | None = None  # the folder `asckit data download rirs --root` wrote (default data/rirs)
    rir_dir: str | None = None  # None (and no rir_set): a simulated pyroomacoustics bank
    rir_count: int = 24  # size of the simulated bank
    rir_max_seconds: float | None = None  # cut measured RIRs (simulated ones are 1 s)
    drc_set: str | None = None  # compand curves: mardy, 2003 or reverb; None: rir_set's, else mardy
    energy_normalise: bool = False  # the reference's `_en` reverberation variants


def row_key(source: str, kind: str, copy: int) -> str:
    """``<source>#<kind>`` for the first copy, ``<source>#<kind>-<n>`` for the n-th extra one."""
    return f"{source}#{kind}" if copy == 0 else f"{source}#{kind}-{copy}"


def row_source(key: str) -> str:
    """The dataset filename a row key (:func:`row_key`) was made from; an original clip's key is its filename."""
    return key.split("#", 1)[0]


def job_rng(seed: int, kind: str, source: str, copy: int) -> np.random.Generator:
    """The random stream of one row: a function of (seed, kind, source filename, copy) only."""
    digest = hashlib.sha256(f"{kind}\0{source}\0{copy}".encode()).digest()
    return np.random.default_rng(np.random.SeedSequence([seed, int.from_bytes(digest[:16], "little")]))


@dataclass
class Draw:
    """Where one row stands in the plan, for ``AugmentKind.draw``."""

    source: str
    label: str
    copy: int
    turn: int  # position of the row in the plan: clip index × copies + copy
    rng: np.random.Generator


class Skip(Exception):
    """Raised by ``draw`` when a source cannot take the kind; the message says why."""


@dataclass
class KindWorker:
    """What ``apply`` has in a worker process: the store's settings and extractor, the dataset
    root and the kind's prepared context."""

    settings: LogMelSettings
    root: Path
    extractor: LogMel
    context: dict = field(default_factory=dict)

    def load(self, source: str) -> np.ndarray:
        """A clip of the dataset as the store's features see it."""
        return read_clip(self.root / source, self.settings)


class AugmentKind:
    """One offline augmentation kind (see the module docstring); subclasses set ``name``."""

    name: ClassVar[str]
    #: Applied to device-A training clips only, as the reference.
    device_a_only: ClassVar[bool] = False

    def prepare(self, root: Path, store, options: AugmentOptions, workers: int, progress: bool) -> tuple[dict, dict]:
        """(worker context, record entries beyond kind and seed)."""
        return {}, {}

    def plan_state(self, filenames: Sequence[str], labels: Sequence[str]) -> Any:
        """What ``draw`` needs to know about all the clips (e.g. the clips of each class)."""
        return None

    def draw(self, row: Draw, options: AugmentOptions, context: dict, state: Any) -> dict:
        raise NotImplementedError

    def plan(self, frame, options: AugmentOptions, context: dict) -> tuple[list[Job], list[str]]:
        """(key, source, params) of every row over the training clips ``frame``, and the sources
        skipped with the reason."""
        filenames, labels = list(frame["filename"]), list(frame["scene_label"])
        state = self.plan_state(filenames, labels)
        jobs, skipped = [], []
        for position, (source, label) in enumerate(zip(filenames, labels)):
            for copy in range(options.copies):
                rng = job_rng(options.seed, self.name, source, copy)
                try:
                    params = self.draw(Draw(source, label, copy, position * options.copies + copy, rng), options, context, state)
                except Skip as why:
                    if copy == 0:
                        skipped.append(f"{source}: {why}")
                    continue
                jobs.append((row_key(source, self.name, copy), source, params))
        return jobs, skipped

    def transform(self, audio: np.ndarray, params: dict, worker: KindWorker) -> tuple[np.ndarray, dict]:
        """The augmented waveform, and what the transform reports back."""
        raise NotImplementedError

    def apply(self, audio: np.ndarray, params: dict, worker: KindWorker) -> tuple[np.ndarray, dict]:
        """Unscaled log-mel of the augmented clip (fitted to the source's length), and the report."""
        augmented, extra = self.transform(audio, params, worker)
        return worker.extractor(fit_length(augmented, audio.shape[-1])), extra


class Noise(AugmentKind):
    name = "noise"

    def prepare(self, root, store, options, workers, progress):
        described = "fixed std 0.01" if options.noise_snr_db is None else f"snr {options.noise_snr_db:g} dB"
        return {}, {"noise": described}

    def draw(self, row, options, context, state):
        noise_seed = int(row.rng.integers(2**63))
        if options.noise_snr_db is None:
            return {"std": augment.NOISE_STD, "noise_seed": noise_seed}
        return {"snr_db": float(options.noise_snr_db), "noise_seed": noise_seed}

    def transform(self, audio, params, worker):
        rng = np.random.default_rng(params["noise_seed"])
        return augment.add_noise(audio, rng, std=params.get("std", augment.NOISE_STD), snr_db=params.get("snr_db")), {}


class Mix(AugmentKind):
    """The clip mixed with another training clip of its class."""

    name = "mix"

    def prepare(self, root, store, options, workers, progress):
        return {}, {"ranges": MIX_GAINS}

    def plan_state(self, filenames, labels):
        by_class: dict[str, list[str]] = {}
        place_in_class: dict[str, int] = {}
        for name, label in zip(filenames, labels):
            place_in_class[name] = len(by_class.setdefault(label, []))
            by_class[label].append(name)
        return by_class, place_in_class

    def draw(self, row, options, context, state):
        by_class, place_in_class = state
        same_class = by_class[row.label]
        if len(same_class) < 2:
            raise Skip(f"no other training clip of class {row.label}")
        # a uniform draw among the class's other clips: skip over the clip itself
        pick = int(row.rng.integers(len(same_class) - 1))
        pick += pick >= place_in_class[row.source]
        return {
            "partner": same_class[pick],
            "gain": float(row.rng.uniform(*MIX_GAINS)),
            "partner_gain": float(row.rng.uniform(*MIX_GAINS)),
        }

    def transform(self, audio, params, worker):
        return augment.mix(audio, worker.load(params["partner"]), params["gain"], params["partner_gain"]), {}


class SpectrumCorrection(AugmentKind):
    """Device-A clips with their spectrum moved towards the other devices' (``spectrum_correction``)."""

    name = "spectrum-correction"
    device_a_only = True

    def prepare(self, root, store, options, workers, progress):
        path = store.path / AUGMENT_FOLDER / sc.COEFFICIENTS_FILE
        coefficients = sc.load_or_compute_coefficients(path, root, store.settings, workers, progress)
        context = {"coefficients": np.asarray(coefficients["coefficients"], dtype=np.float32), "digest": coefficients["digest"]}
        return context, {"coefficients_digest": coefficients["digest"]}

    def draw(self, row, options, context, state):
        return {"coefficients": f"{AUGMENT_FOLDER}/{sc.COEFFICIENTS_FILE}", "digest": context["digest"]}

    def apply(self, audio, params, worker):
        return sc.corrected_logmel(audio, worker.context["coefficients"], worker.extractor), {}


class ReverbDrc(AugmentKind):
    """Device-A clips convolved with a room impulse response, then dynamic range compressed."""

    name = "reverb-drc"
    device_a_only = True

    def prepare(self, root, store, options, workers, progress):
        from asckit.audio.rir import DEFAULT_RIR_ROOT, load_reference_rirs, load_rir_folder, simulate_rir_bank

        drc_set = options.drc_set or options.rir_set or "mardy"
        if drc_set not in augment.COMPAND_SETS:
            raise AsckitError(f"unknown compand set {drc_set!r}: use one of {', '.join(augment.COMPAND_SETS)}")
        sample_rate = store.settings.sample_rate
        if options.rir_set is not None:
            if options.rir_dir is not None:
                raise AsckitError("--rir-set and --rir-dir both name the RIRs: give one of them")
            bank = load_reference_rirs(options.rir_set, options.rir_root or DEFAULT_RIR_ROOT, sample_rate)
        elif options.rir_dir is None:
            bank = simulate_rir_bank(options.rir_count, sample_rate, seed=options.seed)
        else:
            bank = load_rir_folder(options.rir_dir, sample_rate, max_seconds=options.rir_max_seconds)
        curves = augment.COMPAND_SETS[drc_set]
        fallback = augment.COMPAND_FALLBACK[drc_set]
        record = {
            **({"rir_set": options.rir_set} if options.rir_set is not None else {}),  # records of other banks as before
            "rirs": [r.describe() for r in bank],
            "rir_dir": None if options.rir_dir is None else str(Path(options.rir_dir).resolve()),
            "drc_set": drc_set,
            "drc_curves": [c.to_dict() for c in curves],
            "drc_fallback": fallback.to_dict(),
            "energy_normalise": options.energy_normalise,
        }
        context = {
            "rirs": {r.name: r.samples for r in bank},
            "rir_names": [r.name for r in bank],
            "drc_curves": {c.name: c for c in curves},
            "drc_names": [c.name for c in curves],
            "drc_fallback": fallback,
        }
        return context, record

    def draw(self, row, options, context, state):
        # Round-robin over RIRs and compand curves per file, as the reference's scripts.
        rirs, curves = context["rir_names"], context["drc_names"]
        return {
            "rir": rirs[row.turn % len(rirs)],
            "drc": curves[row.turn % len(curves)],
            "energy_normalised": options.energy_normalise,
        }

    def transform(self, audio, params, worker):
        context, sample_rate = worker.context, worker.settings.sample_rate
        wet = augment.convolve_rir(audio, context["rirs"][params["rir"]], energy_normalise=params["energy_normalised"])
        curve = context["drc_curves"][params["drc"]]
        out, used, clipped = augment.compand_like_reference(wet, sample_rate, curve, context["drc_fallback"])
        return out, {"drc_used": used, "clipped": clipped}


class Speed(AugmentKind):
    name = "speed"

    def prepare(self, root, store, options, workers, progress):
        return {}, {"ranges": SPEED_RATES}

    def draw(self, row, options, context, state):
        return {"rate": float(row.rng.uniform(*SPEED_RATES))}

    def transform(self, audio, params, worker):
        return augment.change_speed(audio, params["rate"]), {}


class Pitch(AugmentKind):
    name = "pitch"

    def prepare(self, root, store, options, workers, progress):
        return {}, {"ranges": PITCH_STEPS}

    def draw(self, row, options, context, state):
        return {"n_steps": float(row.rng.uniform(*PITCH_STEPS))}

    def transform(self, audio, params, worker):
        return augment.pitch_shift(audio, worker.settings.sample_rate, params["n_steps"]), {}


#: Every kind, in the order ``--kind all`` runs them (cheap ones first).
KIND_CLASSES: tuple[type[AugmentKind], ...] = (Noise, Mix, SpectrumCorrection, ReverbDrc, Speed, Pitch)
KINDS_BY_NAME: dict[str, AugmentKind] = {cls.name: cls() for cls in KIND_CLASSES}
KINDS: tuple[str, ...] = tuple(KINDS_BY_NAME)
#: Kinds applied to device-A training clips only, as the reference.
DEVICE_A_KINDS: frozenset[str] = frozenset(k.name for k in KINDS_BY_NAME.values() if k.device_a_only)


def kind_named(name: str) -> AugmentKind:
    if name not in KINDS_BY_NAME:
        raise AsckitError(f"unknown augmentation kind {name!r}: use one of {', '.join(KINDS)} or all")
    return KINDS_BY_NAME[name]


__all__ = [
    "AUGMENT_FOLDER",
    "AugmentKind",
    "AugmentOptions",
    "DEVICE_A_KINDS",
    "KINDS",
    "KIND_CLASSES",
    "KindWorker",
    "Skip",
    "job_rng",
    "kind_named",
    "row_key",
    "row_source",
]
