"""Augmented rows into the feature store: run offline augmentation kinds over a dataset's training clips.

Each kind is one class of ``asckit.features.augment_kinds`` (prepare, draw, apply). For each
kind the parent draws every row's parameters from (seed, kind, clip, copy), so a row depends on
nothing else (not on chunking, worker count or resumption), and records them with the row.
Worker processes (spawn, single-threaded) read the source clips with the store's settings, apply
the kind, scale the log-mel and hand it back; the parent appends finished chunks, so a rerun only
does what is missing. Source audio is only ever read.

Keys are ``<original filename>#<kind>`` (``#<kind>-<n>`` for the n-th extra copy); each row's
``kind`` is the augmentation name, its ``source`` the original filename, its ``params`` the drawn
parameters. What decides a kind's rows beyond those (seed, options, the RIR bank, the spectrum
coefficients) is written to ``<store>/augment/<kind>.json``; a rerun with other options is refused
while rows of that kind exist, so a store never mixes two recipes under one kind.

Spectrum correction's coefficients (``asckit.features.spectrum_correction``), per device and
combined, are saved in ``<store>/augment/spectrum-correction-coefficients.json``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError, ProblemsFound
from asckit.core.io_utils import atomic_write_text, read_json_object
from asckit.features.augment_kinds import (
    AUGMENT_FOLDER,
    DEVICE_A_KINDS,
    KINDS,
    REFERENCE_DEVICE,
    AugmentOptions,
    KindWorker,
    job_rng,
    kind_named,
    row_key,
)
from asckit.features.logmel import LogMelSettings
from asckit.features.parallel import chunked, progress_bar, run_chunks
from asckit.features.store import FeatureStore


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


def training_clips(root: Path, kind: str):
    """The training split's rows (``tau.load_split`` columns) that ``kind`` applies to, in CSV order."""
    from asckit.data import tau

    frame = tau.load_split(root, "train")
    if "scene_label" not in frame:
        raise AsckitError(f"{root}/evaluation_setup/fold1_train.csv: no scene_label column; augmentation needs labels")
    if kind_named(kind).device_a_only:
        frame = frame[frame["device"] == REFERENCE_DEVICE]
    return frame.reset_index(drop=True)


# =========================================================================== worker side

_worker: dict = {}


def _init_worker(settings: LogMelSettings, mel: np.ndarray, root: str, kind: str, context: dict) -> None:
    from asckit.features.logmel import LogMel

    _worker["kind"] = kind_named(kind)
    _worker["state"] = KindWorker(settings, Path(root), LogMel(settings, mel=mel), context)


def _augment_chunk(jobs: list[tuple[str, str, dict]]):
    """(keys, float16 rows, sources, params, errors) for one chunk of planned rows."""
    from asckit.features.logmel import finish_logmel

    kind, worker = _worker["kind"], _worker["state"]
    keys, sources, params_out, logmels, errors = [], [], [], [], []
    for key, source, params in jobs:
        try:
            logmel, extra = kind.apply(worker.load(source), params, worker)
        except AsckitError as exc:
            errors.append(str(exc))
            continue
        logmels.append(logmel)
        keys.append(key)
        sources.append(source)
        params_out.append({**params, **extra})
    if not keys:
        return keys, np.zeros((0,), dtype=np.float16), sources, params_out, errors
    rows = finish_logmel(np.stack(logmels), worker.settings).astype(np.float16)
    return keys, rows, sources, params_out, errors


# =========================================================================== parent side


def kind_record_path(store_path: str | Path, kind: str) -> Path:
    """Where a store keeps what decided its rows of ``kind`` (options, RIR bank, curves)."""
    return Path(store_path) / AUGMENT_FOLDER / f"{kind}.json"


def kind_record(store_path: str | Path, kind: str) -> dict | None:
    """The saved record of ``kind`` in a store, or None when it has none."""
    path = kind_record_path(store_path, kind)
    return read_json_object(path, "delete it and rerun `asckit augment`") if path.is_file() else None


def _check_record(store: FeatureStore, kind: str, record: dict) -> None:
    """Refuse to add rows of ``kind`` made another way than the rows already stored; else save the record."""
    path = kind_record_path(store.path, kind)
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
            kind_named(name)  # an unknown name is an AsckitError
            if name not in out:
                out.append(name)
    return out


def augment_dataset(
    root: str | Path,
    store_path: str | Path,
    kinds: Iterable[str],
    options: AugmentOptions | None = None,
    workers: int | None = None,
    chunk_size: int = 16,
    progress: bool = True,
) -> list[KindSummary]:
    """Add the augmented rows of ``kinds`` for the training clips of ``root`` to the store.

    The store must exist (``asckit features ROOT --out STORE``); rows use exactly its settings.
    Rows already stored are skipped. Returns one summary per kind, with its throughput.
    ``options`` None: the defaults of ``AugmentOptions``.
    """
    from asckit.features.logmel import mel_of

    options = options if options is not None else AugmentOptions()
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
        context, extra_record = kind_named(kind).prepare(root, store, options, workers, progress)
        record = {"kind": kind, "seed": options.seed, **extra_record}
        jobs, skipped = kind_named(kind).plan(frame, options, context)
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
            raise ProblemsFound(
                summary.errors, f"{kind}: {len(summary.errors)} clip(s) could not be read and were skipped; the other rows are stored "
                f"in {store.path}: fix or remove those clips (`asckit data check {root}`) and rerun to add them"
            )
    return summaries


__all__ = [
    "AugmentOptions",
    "DEVICE_A_KINDS",
    "KINDS",
    "KindSummary",
    "augment_dataset",
    "job_rng",
    "resolve_kinds",
    "row_key",
]
