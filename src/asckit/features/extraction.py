"""Extract every clip of a dataset into a feature store: parallel, resumable, with a progress bar.

Worker processes (``asckit.features.parallel``) read WAVs with soundfile and compute the log-mel with
numpy/scipy (``LogMel``: no torch import, so workers start fast; ``python benchmarks/features.py``
separates that fixed cost from the per-clip rate); the parent writes
finished chunks into the store, so an interrupted run keeps every completed chunk and a rerun
does only what is missing.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError, ProblemsFound
from asckit.features.logmel import (
    LogMel,
    LogMelSettings,
    check_front_end,
    finish_logmel,
    mel_of,
    parse_front_end,
    read_clip,
    settings_for,
)
from asckit.features.parallel import chunked, progress_bar, run_chunks
from asckit.features.store import FeatureStore, missing_keys

_worker_state: dict = {}


def _init_worker(settings: LogMelSettings, mel: np.ndarray, root: str) -> None:
    _worker_state["extractor"] = LogMel(settings, mel=mel)
    _worker_state["settings"] = settings
    _worker_state["root"] = Path(root)


def _extract_chunk(keys: list[str]) -> tuple[list[str], np.ndarray, list[str]]:
    """(done keys, float16 rows, error lines) for one chunk of filenames."""
    settings: LogMelSettings = _worker_state["settings"]
    extractor: LogMel = _worker_state["extractor"]
    root: Path = _worker_state["root"]
    done, rows, errors = [], [], []
    for key in keys:
        try:
            clip = read_clip(root / key, settings)
        except AsckitError as exc:
            errors.append(str(exc))
            continue
        rows.append(finish_logmel(extractor(clip), settings).astype(np.float16))
        done.append(key)
    if not rows:
        return done, np.zeros((0,), dtype=np.float16), errors
    return done, np.stack(rows), errors


def nominal_clip_seconds(root: Path, keys: list[str], sample: int = 200) -> float:
    """The most common clip duration among (a sample of) the dataset's files, to 0.01 s."""
    import soundfile

    step = max(1, len(keys) // sample)
    durations = collections.Counter()
    for key in keys[::step]:
        try:
            info = soundfile.info(str(root / key))
        except Exception:  # bad files are reported by the extraction itself
            continue
        durations[round(info.frames / info.samplerate, 2)] += 1
    if not durations:
        raise AsckitError(f"{root}: none of the listed audio files could be read; run `asckit data check {root}`")
    return durations.most_common(1)[0][0]


def listed_filenames(root: Path, splits: tuple[str, ...] | None = None) -> list[str]:
    """Filenames listed in the dataset's split CSVs (every present split by default), deduplicated."""
    from asckit.data import tau

    setup = tau.require_root(root) / "evaluation_setup"
    wanted = splits or tuple(s for s in tau.SPLIT_FILES if tau.split_path(root, s).is_file())
    if not wanted:
        raise AsckitError(f"{setup}: no fold1_*.csv found; is {root} a TAU dataset root?")
    keys: dict[str, None] = {}
    for split in wanted:
        for key in tau.load_split(root, split)["filename"]:  # TAU22: split 100 (every training clip) and the test list
            keys.setdefault(key, None)
    return list(keys)


def extract_dataset(
    root: str | Path,
    out: str | Path,
    task: str | None = None,
    splits: tuple[str, ...] | None = None,
    clip_seconds: float | None = None,
    workers: int | None = None,
    chunk_size: int = 32,
    progress: bool = True,
    scale: bool = True,
    front_end: dict | None = None,
) -> FeatureStore:
    """Extract the scaled static log-mel of every listed clip of ``root`` into the store ``out``.

    ``task`` defaults to what the labels say (1a / 1b); ``clip_seconds`` to the most common clip
    duration (10 s for TAU); longer clips are cut and shorter ones repeated to it. ``scale=False``
    stores unscaled log-mel (natural-log units) for the paper's Table 1 row 1. ``front_end``
    changes other log-mel settings for an ablation (``logmel.parse_front_end``: e.g.
    ``{"n_mels": 256}``); the store records them, and training, export and ``asckit predict``
    follow the store.
    """
    from asckit.data import tau  # here, not at the top: workers import this module and need no pandas
    from asckit.tasks import TASKS_TAU22

    root = Path(root)
    keys = listed_filenames(root, splits)
    if task in TASKS_TAU22 or (task is None and tau.detect_layout(root) == tau.LAYOUT_TAU22):
        return _extract_waves(root, out, keys, task, clip_seconds, workers, progress, scale, front_end)
    task = dataset_task(root, keys, task)
    if clip_seconds is None:
        clip_seconds = nominal_clip_seconds(root, keys)
    elif not (np.isfinite(clip_seconds) and clip_seconds > 0):
        raise AsckitError(f"--clip-seconds {clip_seconds}: give a clip length above 0 seconds (TAU clips: 10)")
    settings = settings_for(task, clip_seconds=clip_seconds, scale=scale, **parse_front_end(front_end))
    check_front_end(settings)
    frames = settings.frames()
    store = FeatureStore.create(
        out, settings, frames, dataset={"root": str(root.resolve()), "version": tau.describe_version(root), "task": task}
    )
    todo = missing_keys(store, keys)
    workers = workers or min(2, os.cpu_count() or 1)
    errors: list[str] = []
    bar = progress_bar(len(keys), len(keys) - len(todo), progress, f"features {root.name}")
    chunks = chunked(todo, chunk_size)
    mel = mel_of(settings)
    try:
        run_chunks(
            _extract_chunk, chunks, workers, _init_worker, (settings, mel, str(root)),
            lambda result: _store_chunk(store, result, errors, bar),
        )
    finally:
        bar.close()
    if errors:
        raise ProblemsFound(errors, f"{len(errors)} clip(s) could not be read and were skipped; the other {len(store)} are stored "
                            f"in {out}: fix or remove those clips (`asckit data check {root}`) and rerun to add them")
    return store


def _extract_waves(root: Path, out, keys: list[str], task: str | None, clip_seconds, workers, progress, scale, front_end):
    """A TAU22 root (or ``--task 2024/2025``): the waveform store (``asckit.features.waves``), whose
    log-mel the training step computes; log-mel options do not apply to it."""
    from asckit.data import tau
    from asckit.features.waves import store_waves

    if front_end or not scale:
        option = "--set" if front_end else "--no-scale"
        raise AsckitError(
            f"{option}: {root} is a TAU22 root, stored as 32 kHz waves whose log-mel (the CPJKU frontend) is computed "
            "in training; log-mel options do not apply: drop them"
        )
    if clip_seconds is None:
        clip_seconds = nominal_clip_seconds(root, keys)
    elif not (np.isfinite(clip_seconds) and clip_seconds > 0):
        raise AsckitError(f"--clip-seconds {clip_seconds}: give a clip length above 0 seconds (TAU22 clips: 1)")
    dataset = {"root": str(root.resolve()), "version": tau.describe_version(root), "task": task or "2025"}
    store, errors = store_waves(root, out, keys, dataset, clip_seconds=clip_seconds, workers=workers, progress=progress)
    if errors:
        raise ProblemsFound(errors, f"{len(errors)} clip(s) could not be read and were skipped; the other {len(store)} are stored "
                            f"in {out}: fix or remove those clips (`asckit data check {root}`) and rerun to add them")
    return store


def dataset_task(root: Path, keys: list[str], task: str | None = None) -> str:
    """The task of the dataset at ``root``: told from its training labels, else from the channels of its
    first clip (evaluation sets); a given ``task`` that contradicts it is refused (its audio format,
    48 kHz stereo for 1b, would be silently wrong)."""
    from asckit.data import tau

    try:
        found, evidence = tau.detect_task(root), "its training labels"
    except AsckitError:
        found, evidence = _task_of_audio(root / keys[0]), f"the channels of {keys[0]}"
    if task is not None and found is not None and task != found:
        raise AsckitError(f"--task {task}: {root} is a Task {found} dataset (told from {evidence}); drop --task or give --task {found}")
    if task is None and found is None:
        raise AsckitError(f"{root}: cannot tell Task 1a from 1b (no labelled fold1_train.csv, {keys[0]} unreadable); pass --task")
    return task or found


def _task_of_audio(path: Path) -> str | None:
    """'1b' for a stereo clip (Task 1b's binaural audio), '1a' for mono; None when it cannot be read."""
    import soundfile

    try:
        return "1b" if soundfile.info(str(path)).channels == 2 else "1a"
    except Exception:  # unreadable clips are reported by the extraction itself
        return None


def _store_chunk(store: FeatureStore, result, errors: list[str], bar) -> None:
    done, rows, chunk_errors = result
    if done:
        store.append(done, rows)
    errors.extend(chunk_errors)
    bar.update(len(done) + len(chunk_errors))


def describe_store(store: FeatureStore) -> str:
    """A few lines about a store: size, settings, kinds of rows."""
    kinds = collections.Counter(r.kind for r in store.rows.values())
    size = store.data_path.stat().st_size
    s = store.settings
    if store.holds_waves:
        return "\n".join(
            [
                f"store:    {store.path} (waveform store: the log-mel is computed in training)",
                f"dataset:  {store.manifest['dataset'].get('version', '?')}",
                f"rows:     {len(store)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})",
                f"shape:    {tuple(store.shape)} float32, {store.row_bytes / 1024:.1f} KiB per clip, {size / 2**20:.1f} MiB in all",
                f"settings: {s.sample_rate} Hz, {s.channels} ch, clip {s.clip_seconds:g} s, resampled {s.resampler}, "
                f"digest {store.manifest['settings_digest']}",
            ]
        )
    return "\n".join(
        [
            f"store:    {store.path}",
            f"dataset:  {store.manifest['dataset'].get('version', '?')}",
            f"rows:     {len(store)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})",
            f"shape:    {tuple(store.shape)} float16, {store.row_bytes / 1024:.1f} KiB per clip, {size / 2**20:.1f} MiB in all",
            f"settings: {s.sample_rate} Hz, {s.channels} ch, n_fft {s.n_fft}, hop {s.hop_length}, "
            f"{s.n_mels} mels, clip {s.clip_seconds:g} s, digest {store.manifest['settings_digest']}",
        ]
    )


__all__ = ["extract_dataset", "describe_store", "listed_filenames", "nominal_clip_seconds"]
