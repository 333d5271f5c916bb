"""Write the synthetic multi-device benchmark in the exact TAU layouts (``asckit data synth``).

One job: plan a dataset (cities, locations, segments, devices, splits), have every segment rendered
by ``asckit.data.synth_sounds`` in worker processes, and write ``audio/``, ``meta.csv``, the split
lists and a marker file, so that the real-data code (``asckit.data.tau``) reads the result unchanged:
``evaluation_setup/fold1_{train,evaluate,test}.csv`` for the 2020 tasks, and for the TAU22 tasks
(2024 and 2025 write the same set) ``split_setup/split{5,10,25,50,100}.csv`` + ``test.csv`` beside
``evaluation_setup/fold1_{train,evaluate}.csv`` (split 100 and the test list, as the real download has them).

The plan follows the real fold-1 splits (reference/dataset.md §1.7):

* 1a: train holds device A for every train segment and b, c, s1-s3 for a subset of them ("paired"
  segments; every non-A clip has its A twin in train), so A is about 13.6x as frequent as each other
  device; evaluate holds segments recorded by all nine devices, so s4-s6 are unseen in training.
* 1b: device A only, 48 kHz stereo, 3-class labels; Milan is recorded in evaluate only (an unseen
  city, as in the real 1b split).
* TAU22 (2024/2025): 10 s segments planned as in 1a, each recording cut into ten 1 s files named with
  k = 0..9 (``<scene>-<city>-<location>-<segment>-<k>-<device>.wav``). The training splits are nested
  prefixes of one order of the train segments, drawn per group (A-only, paired) with the scenes
  interleaved, so each split holds round(p % of each group) whole segments, all devices of a segment
  together, and keeps split 100's device proportions (A about 13.6x each other device). The test list
  has every device: segment i is recorded by ``evaluate_devices`` devices in turn (the real test list
  too has most segments recorded by few devices, reference/dcase2025/README.md §1). ``evaluation/``
  renames the test clips ``audio/<n>.wav`` with their ``device_id``, as the 2025 evaluation set.
* Splits are location-disjoint; each location is one (scene, city) place with consecutive segments.

Determinism: every random choice comes from a generator seeded by ``(seed, task, what it is for)``:
the plan from ``(seed, task)``, a city from ``(seed, task, city)``, a location from ``(seed, task,
location id)``, a clip from ``(seed, task, location id, segment id)``. The bytes therefore do not
depend on the number of worker processes or the order in which they finish. Device characteristics do
not depend on the seed at all (``synth_sounds.DEVICE_PROFILES``).

Atomicity: the whole dataset is written into a hidden temporary sibling of ROOT
(``.<name>.partial-*``) and renamed onto ROOT at the end; the marker is the last file written. A killed
run leaves at most that hidden folder (safe to delete), never a ROOT that looks complete.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import multiprocessing
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asckit import labels
from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_path, atomic_write_text, current_umask, read_json_object
from asckit.data import synth_sounds as sounds
from asckit.data.tau import (
    LAYOUT_TAU22,
    SYNTH_MARKER,
    TAU22_CLIPS_PER_SEGMENT,
    TAU22_PERCENTAGES,
    TAU22_SPLIT_FOLDER,
    TAU22_TASK,
    TAU22_TEST_FILE,
    tau22_split_file,
)
from asckit.tasks import TASKS, TASKS_TAU22, task_facts

#: The ten cities of the 1a/1b development sets, lower-case as in the filenames.
CITIES: tuple[str, ...] = (
    "barcelona", "helsinki", "lisbon", "london", "lyon", "milan", "paris", "prague", "stockholm", "vienna",
)
#: 1b's training split has no Milan recordings (reference/dataset.md §1.7).
UNSEEN_CITY_1B = "milan"
#: Devices of the 1a training split; evaluate has all of ``labels.DEVICES``.
TRAIN_DEVICES_1A: tuple[str, ...] = ("a", "b", "c", "s1", "s2", "s3")

#: Bumped whenever the generated sound changes, so that an old root is never taken for a new one.
GENERATOR_VERSION = 1

# Stream ids that keep the generators for different purposes apart (by dataset: 2024 and 2025 share one).
_TASK_CODE = {"1a": 1, "1b": 2, LAYOUT_TAU22: 3}
_PLAN, _CITY, _LOCATION, _CLIP, _SUBSETS = 0, 1, 2, 3, 4


def dataset_of(task: str) -> str:
    """The synthetic dataset a task reads: '1a', '1b', or 'tau22' for both 2024 and 2025."""
    return LAYOUT_TAU22 if task in TASKS_TAU22 else task


def _facts(dataset: str):
    """The audio format of a dataset key ('tau22': the TAU22 tasks' shared format)."""
    return task_facts(TAU22_TASK if dataset == LAYOUT_TAU22 else dataset)


@dataclass(frozen=True)
class TaskSizes:
    """How many segments and locations one task's splits have."""

    train_a_only: int  # train segments recorded by device A only
    train_paired: int  # train segments recorded by A and b, c, s1-s3 (1a; 0 for 1b)
    evaluate: int  # evaluate segments (1a: recorded by all nine devices)
    train_locations: int
    evaluate_locations: int

    def clip_counts(self, task: str) -> tuple[int, int]:
        """(train clips, evaluate clips)."""
        if task == "1b":
            return self.train_a_only + self.train_paired, self.evaluate
        return self.train_a_only + len(TRAIN_DEVICES_1A) * self.train_paired, len(labels.DEVICES) * self.evaluate


@dataclass(frozen=True)
class Tau22Sizes(TaskSizes):
    """TAU22 sizes: 1a's plan of 10 s segments, each recording cut into ten 1 s clips."""

    evaluate_devices: int = 9  # devices that record each test segment, in turn (9: all of them)

    def clip_counts(self, task: str = LAYOUT_TAU22) -> tuple[int, int]:
        """(split-100 clips, test clips)."""
        train = self.train_a_only + len(TRAIN_DEVICES_1A) * self.train_paired
        return TAU22_CLIPS_PER_SEGMENT * train, TAU22_CLIPS_PER_SEGMENT * self.evaluate_devices * self.evaluate


@dataclass(frozen=True)
class Preset:
    """Sizes and default clip duration of one synthetic dataset (TAU22: 1 s, not ``clip_seconds``)."""

    name: str
    clip_seconds: float
    task_1a: TaskSizes
    task_1b: TaskSizes
    purpose: str
    tau22: Tau22Sizes | None = None

    def sizes(self, task: str) -> TaskSizes:
        """The sizes of task '1a', '1b', or of the TAU22 set ('2024', '2025' or 'tau22')."""
        if dataset_of(task) == LAYOUT_TAU22:
            if self.tau22 is None:
                raise AsckitError(f"synth preset {self.name!r} has no TAU22 sizes; give it Tau22Sizes or use "
                                  f"{', '.join(p for p, v in PRESETS.items() if v.tau22)}")
            return self.tau22
        return self.task_1a if task == "1a" else self.task_1b


# In 1a, A is (a_only + paired) / paired = 13.6x as frequent as each other training device, as in
# the real 10,215 / 750.
PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny", 1.5,
        TaskSizes(train_a_only=126, train_paired=10, evaluate=20, train_locations=40, evaluate_locations=20),
        TaskSizes(train_a_only=200, train_paired=0, evaluate=100, train_locations=40, evaluate_locations=20),
        "tests: 366 clips (1a) / 300 (1b) of 1.5 s, a few seconds to generate; TAU22: 200 + 200 clips of 1 s",
        # TAU22: 20 segments of 10 s rendered; split 100 = 8 A-only + 2 paired segments (200 clips), test 10 x 2 devices.
        Tau22Sizes(train_a_only=8, train_paired=2, evaluate=10, train_locations=10, evaluate_locations=10, evaluate_devices=2),
    ),
    "demo": Preset(
        "demo", 4.0,
        TaskSizes(train_a_only=1010, train_paired=80, evaluate=70, train_locations=200, evaluate_locations=60),
        TaskSizes(train_a_only=800, train_paired=0, evaluate=360, train_locations=150, evaluate_locations=60),
        "make demo: 2,120 clips (1a) / 1,160 (1b) of 4 s, enough for a small CNN to learn; "
        "TAU22: 7,980 clips of 1 s in split 100 (A 5,830, b/c/s1-s3 430 each), 2,000 in test",
        # TAU22: A is (540 + 43) / 43 = 13.6x each other training device, as in the real split 100.
        Tau22Sizes(train_a_only=540, train_paired=43, evaluate=100, train_locations=100, evaluate_locations=40, evaluate_devices=2),
    ),
    "full": Preset(
        "full", 10.0,
        TaskSizes(train_a_only=9465, train_paired=750, evaluate=330, train_locations=365, evaluate_locations=146),
        TaskSizes(train_a_only=9185, train_paired=0, evaluate=4185, train_locations=325, evaluate_locations=149),
        "the real fold-1 sizes: 13,965 / 2,970 clips (1a), 9,185 / 4,185 (1b), 10 s; TAU22: 139,650 / 29,700 of 1 s",
        Tau22Sizes(train_a_only=9465, train_paired=750, evaluate=330, train_locations=365, evaluate_locations=146),
    ),
}


@dataclass(frozen=True)
class Segment:
    """One recorded segment: a place and a time, and the devices that recorded it."""

    split: str  # "train" or "evaluate"
    scene: str
    city: str
    location: int
    segment: int
    devices: tuple[str, ...]
    clips: int = 1  # files per recording: 1 (2020, the whole segment) or 10 (TAU22, one per second k)
    subset: int | None = None  # TAU22 train segments: the smallest training split (%) that holds it

    def filename(self, device: str, k: int | None = None) -> str:
        """The name as written in the CSVs, e.g. ``audio/airport-lisbon-1000-40000-a.wav`` (2020) or
        ``audio/airport-lisbon-1000-40000-3-a.wav`` (TAU22, second ``k``)."""
        second = "" if k is None else f"-{k}"
        return f"audio/{self.scene}-{self.city}-{self.location}-{self.segment}{second}-{device}.wav"

    def filenames(self, device: str) -> list[str]:
        """The files of one device's recording: the segment itself, or its ten seconds."""
        return [self.filename(device)] if self.clips == 1 else [self.filename(device, k) for k in range(self.clips)]


# --------------------------------------------------------------------------- planning


def _spread(total: int, parts: int, rng: np.random.Generator) -> list[int]:
    """``total`` split into ``parts`` near-equal counts; the remainder goes to randomly chosen parts."""
    counts = [total // parts] * parts
    for index in rng.permutation(parts)[: total % parts]:
        counts[index] += 1
    return counts


def plan_dataset(task: str, sizes: TaskSizes, seed: int) -> list[Segment]:
    """Every segment of the dataset, with its split and devices (deterministic in ``seed``); ``task``
    is '1a', '1b', or '2024'/'2025'/'tau22' for the TAU22 set (then with the training subsets)."""
    task = dataset_of(task)
    tau22 = task == LAYOUT_TAU22
    rng = np.random.default_rng([seed, _TASK_CODE[task], _PLAN])
    evaluate_devices = getattr(sizes, "evaluate_devices", len(labels.DEVICES))
    evaluated = 0
    scenes = labels.SCENES_10
    n_locations = sizes.train_locations + sizes.evaluate_locations
    # Unique ids in the ranges of the 2019/2020 recordings (location >= 1000, segment >= 40000).
    location_ids = iter(1000 + rng.choice(4 * n_locations, n_locations, replace=False))
    next_segment = 40000
    segments: list[Segment] = []
    for split, n_segments, n_locs in (
        ("train", sizes.train_a_only + sizes.train_paired, sizes.train_locations),
        ("evaluate", sizes.evaluate, sizes.evaluate_locations),
    ):
        cities = [c for c in CITIES if not (task == "1b" and split == "train" and c == UNSEEN_CITY_1B)]
        paired = _spread(sizes.train_paired, len(scenes), rng) if split == "train" else [0] * len(scenes)
        for scene, scene_segments, scene_locations, scene_paired in zip(
            scenes, _spread(n_segments, len(scenes), rng), _spread(n_locs, len(scenes), rng), paired
        ):
            scene_locations = max(1, min(scene_locations, scene_segments))
            first_city = int(rng.integers(len(cities)))
            is_paired = np.zeros(scene_segments, bool)
            is_paired[rng.choice(scene_segments, min(scene_paired, scene_segments), replace=False)] = True
            done = 0
            for k, per_location in enumerate(_spread(scene_segments, scene_locations, rng)):
                city = cities[(first_city + k) % len(cities)]
                location = int(next(location_ids))
                next_segment += int(rng.integers(1, 50))  # recordings are not numbered back to back
                for _ in range(per_location):
                    if task == "1b":
                        devices: tuple[str, ...] = ("a",)
                    elif split == "evaluate":
                        devices = _in_turn(evaluated, evaluate_devices)
                        evaluated += 1
                    else:
                        devices = TRAIN_DEVICES_1A if is_paired[done] else ("a",)
                    clips = TAU22_CLIPS_PER_SEGMENT if tau22 else 1
                    segments.append(Segment(split, scene, city, location, next_segment, devices, clips))
                    next_segment += 1
                    done += 1
    return _assign_subsets(segments, seed) if tau22 else segments


def _in_turn(index: int, count: int) -> tuple[str, ...]:
    """The devices of the ``index``-th evaluate segment: ``count`` of the nine, taken in turn so that
    every device records about as many segments (all nine when ``count`` is 9)."""
    chosen = {labels.DEVICES[(index * count + j) % len(labels.DEVICES)] for j in range(count)}
    return tuple(d for d in labels.DEVICES if d in chosen)


def _assign_subsets(segments: list[Segment], seed: int) -> list[Segment]:
    """Give every TAU22 train segment the smallest training split (%) that holds it.

    The train segments of each group (A-only, paired) are put in one order: per scene a random
    permutation placed at evenly spaced positions (i + u) / n, the scenes merged by position, so any
    prefix is near-balanced in scenes. The p % split is the first round(p % x group size) segments of
    each group (at least one segment in all), so the splits are nested, hold whole segments with all
    their devices, and keep split 100's device proportions.
    """
    rng = np.random.default_rng([seed, _TASK_CODE[LAYOUT_TAU22], _SUBSETS])
    train = [i for i, seg in enumerate(segments) if seg.split == "train"]
    groups = [[i for i in train if len(segments[i].devices) == 1], [i for i in train if len(segments[i].devices) > 1]]
    orders: list[list[int]] = []
    for group in groups:
        placed: list[tuple[float, int]] = []
        for scene in labels.SCENES_10:
            members = [i for i in group if segments[i].scene == scene]
            offset = rng.random()
            placed += [((rank + offset) / len(members), i) for rank, i in zip(range(len(members)), rng.permutation(members))]
        orders.append([int(i) for _, i in sorted(placed)])
    taken = [0] * len(groups)
    subset: dict[int, int] = {}
    for percent in TAU22_PERCENTAGES:
        counts = [max(t, math.floor(percent / 100 * len(order) + 0.5)) for t, order in zip(taken, orders)]
        if not sum(counts):  # a tiny set: the smallest split still gets one segment, of the larger group
            largest = max(range(len(orders)), key=lambda g: len(orders[g]))
            counts[largest] = 1
        for order, start, stop in zip(orders, taken, counts):
            for i in order[start:stop]:
                subset[i] = percent
        taken = counts
    return [dataclasses.replace(seg, subset=subset.get(i)) for i, seg in enumerate(segments)]


# --------------------------------------------------------------------------- rendering


@functools.lru_cache(maxsize=4096)
def _location_character(seed: int, task: str, scene: str, city: str, location: int) -> sounds.Character:
    city_rng = np.random.default_rng([seed, _TASK_CODE[task], _CITY, CITIES.index(city)])
    in_city = sounds.vary(sounds.recipe_character(scene), city_rng, sounds.CITY_SPREAD)
    location_rng = np.random.default_rng([seed, _TASK_CODE[task], _LOCATION, location])
    return sounds.vary(in_city, location_rng, sounds.LOCATION_SPREAD)


@dataclass(frozen=True)
class _Job:
    """What a worker needs to render and write one segment (small, so cheap to send)."""

    segment: Segment
    task: str
    seed: int
    n_samples: int
    out_dir: str


def _render_segment(job: _Job) -> int:
    """Render one segment at device A, derive its other devices, write the WAVs; returns the file count."""
    import soundfile  # imported here: the parent process never needs it

    seg, task = job.segment, job.task
    sr, channels = _facts(task).sample_rate, _facts(task).channels
    clip_key = [job.seed, _TASK_CODE[task], _CLIP, seg.location, seg.segment]
    clip_rng = np.random.default_rng(clip_key)
    character = sounds.vary(
        _location_character(job.seed, task, seg.scene, seg.city, seg.location), clip_rng, sounds.CLIP_SPREAD
    )
    clean = sounds.render_scene(character, clip_rng, job.n_samples, sr, channels)
    for device in seg.devices:
        if device == "a":
            audio = clean.T if channels == 2 else clean[0]
        else:
            device_rng = np.random.default_rng(clip_key + [1 + labels.DEVICES.index(device)])
            audio = sounds.record_with_device(clean[0], sr, device, device_rng)
        names = seg.filenames(device)
        # TAU22: the recording of the whole segment, cut into its seconds (k = 0..9).
        size = len(audio) // len(names)
        for k, name in enumerate(names):
            soundfile.write(os.path.join(job.out_dir, name), audio[k * size : (k + 1) * size], sr, subtype="PCM_24")
    return len(seg.devices) * seg.clips


def _run_jobs(jobs: list[_Job], workers: int) -> Iterator[int]:
    if workers <= 1:
        yield from map(_render_segment, jobs)
        return
    # Workers start from a clean server process, not a fork of this one: a fork would copy whatever
    # threads the caller runs (torch's pools, tqdm's monitor) in an undefined state.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
    try:
        # Chunks amortise the inter-process traffic; results come back in order, bytes are the same.
        yield from pool.map(_render_segment, jobs, chunksize=8)
    finally:
        # On an error or Ctrl-C, drop the queued segments instead of rendering them all first.
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- writing


def _csv(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    return "".join("\t".join(row) + "\n" for row in [header, *rows])


def _write_csvs(out: Path, task: str, segments: list[Segment]) -> None:
    label_of = (lambda scene: scene) if task == "1a" else labels.to_superclass
    clips = sorted(
        (seg.filename(device), label_of(seg.scene), f"{seg.city}-{seg.location}", device, seg.split)
        for seg in segments
        for device in seg.devices
    )
    setup = out / "evaluation_setup"
    meta_columns = ("filename", "scene_label", "identifier", "source_label")
    atomic_write_text(out / "meta.csv", _csv(meta_columns, [c[:4] for c in clips]))
    for split, name in (("train", "fold1_train.csv"), ("evaluate", "fold1_evaluate.csv")):
        atomic_write_text(setup / name, _csv(("filename", "scene_label"), [c[:2] for c in clips if c[4] == split]))
    atomic_write_text(setup / "fold1_test.csv", _csv(("filename",), [c[:1] for c in clips if c[4] == "evaluate"]))


def _write_tau22_csvs(out: Path, segments: list[Segment]) -> None:
    """meta.csv, split_setup/split{p}.csv + test.csv, and evaluation_setup/fold1_{train,evaluate}.csv
    (split 100 and the test list again, as the real TAU22 download has them)."""
    clips = sorted(
        (name, seg.scene, f"{seg.city}-{seg.location}", device, seg.split, seg.subset or 0)
        for seg in segments
        for device in seg.devices
        for name in seg.filenames(device)
    )
    atomic_write_text(out / "meta.csv", _csv(("filename", "scene_label", "identifier", "source_label"), [c[:4] for c in clips]))
    header = ("filename", "scene_label")
    test = [c[:2] for c in clips if c[4] == "evaluate"]
    for percent in TAU22_PERCENTAGES:
        rows = [c[:2] for c in clips if c[4] == "train" and c[5] <= percent]
        atomic_write_text(out / TAU22_SPLIT_FOLDER / tau22_split_file(percent), _csv(header, rows))
    atomic_write_text(out / TAU22_SPLIT_FOLDER / TAU22_TEST_FILE, _csv(header, test))
    atomic_write_text(out / "evaluation_setup" / "fold1_train.csv", _csv(header, [c[:2] for c in clips if c[4] == "train"]))
    atomic_write_text(out / "evaluation_setup" / "fold1_evaluate.csv", _csv(header, test))


def _counts(segments: list[Segment]) -> dict[str, dict[str, int]]:
    if any(seg.subset for seg in segments):  # TAU22: clips per training split and device, and the test list's
        lists = {f"split{p}": [s for s in segments if s.split == "train" and s.subset <= p] for p in TAU22_PERCENTAGES}
        lists["evaluate"] = [s for s in segments if s.split == "evaluate"]
        return {
            name: {d: c[d] for d in labels.DEVICES if c[d]}
            for name, members in lists.items()
            for c in [Counter(d for s in members for d in s.devices for _ in range(s.clips))]
        }
    counts: dict[str, Counter[str]] = {"train": Counter(), "evaluate": Counter()}
    for seg in segments:
        counts[seg.split].update(seg.devices)
    return {split: {d: c[d] for d in labels.DEVICES if c[d]} for split, c in counts.items()}


def _resolve_preset(preset: str | Preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    if preset not in PRESETS:
        raise AsckitError(f"unknown synth preset {preset!r}: use one of {', '.join(PRESETS)}")
    return PRESETS[preset]


def _validate(task: str, sizes: TaskSizes, clip_seconds: float, seed: int) -> None:
    n_scenes = len(labels.SCENES_10)
    if not clip_seconds > 0:
        raise AsckitError(f"clip duration {clip_seconds!r} s: use a positive number of seconds")
    if seed < 0:
        raise AsckitError(f"seed {seed}: use a non-negative integer")
    if sizes.evaluate < n_scenes or sizes.train_a_only + sizes.train_paired < n_scenes:
        raise AsckitError(f"preset sizes {sizes}: each split needs at least {n_scenes} segments (one per scene)")
    if sizes.train_locations < n_scenes or sizes.evaluate_locations < n_scenes:
        raise AsckitError(f"preset sizes {sizes}: each split needs at least {n_scenes} locations (one per scene)")
    if task in ("1a", LAYOUT_TAU22) and sizes.train_paired < 1:
        raise AsckitError(f"preset sizes {sizes}: Task {task} needs train_paired >= 1 (devices b, c, s1-s3 in train)")
    if task == LAYOUT_TAU22 and not 1 <= sizes.evaluate_devices <= len(labels.DEVICES):
        raise AsckitError(f"preset sizes {sizes}: evaluate_devices must be 1 to {len(labels.DEVICES)} (devices per test segment)")


def _reuse_or_refuse(root: Path, parameters: dict, overwrite: bool) -> dict | None:
    """The summary of an identical previous run at ``root``, or None when ``root`` may be (re)written."""
    if not root.exists():
        return None
    if not root.is_dir():
        raise AsckitError(f"{root}: is a file; choose a folder name for the synthetic dataset")
    if not any(root.iterdir()):
        return None
    marker = root / SYNTH_MARKER
    if not marker.is_file():
        raise AsckitError(f"{root}: not empty and not an asckit synthetic dataset; choose a new or empty folder")
    previous = read_json_object(marker, f"delete {root} and generate again")
    if overwrite:
        return None
    found = previous.get("parameters") or {}
    if found == parameters:
        return previous["summary"] | {"root": str(root), "reused": True}
    differences = ", ".join(f"{key} {found.get(key)!r} there, {value!r} asked" for key, value in parameters.items()
                            if found.get(key) != value)
    raise AsckitError(
        f"{root}: holds a synthetic dataset made with other parameters ({differences}); "
        "choose another folder or delete it (synthesize(..., overwrite=True) replaces it)"
    )


def _move_into_place(partial: Path, root: Path) -> None:
    """Rename the finished ``partial`` folder onto ``root`` (replacing an old synthetic set there)."""
    if not root.exists():
        partial.rename(root)
        return
    if not any(root.iterdir()):
        root.rmdir()
        partial.rename(root)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
    old.rmdir()
    root.rename(old)
    partial.rename(root)
    shutil.rmtree(old, ignore_errors=True)


#: Sub-folder of a synthetic root laid out as an evaluation set (for trying `asckit submission`).
EVALUATION_FOLDER = "evaluation"


def write_evaluation_layout(root: Path, seed: int, target: Path | None = None) -> Path:
    """``root/evaluation``: the evaluate split as the real evaluation set is laid out, unlabelled
    ``audio/<n>.wav`` in a seeded random order and ``evaluation_setup/fold1_test.csv``, so that
    ``asckit submission`` can be tried end to end. The audio files are hard links to the evaluate
    clips (copies where the file system has no links); ``--rows`` of ``submission`` is their count.
    A TAU22 set's list also has the 2025 evaluation set's ``device_id`` column (its test list has
    every device, s4-s6 unseen in training)."""
    from asckit.data.tau import detect_layout, load_split

    tau22 = detect_layout(root) == LAYOUT_TAU22
    frame = load_split(root, "evaluate")
    filenames, devices = frame["filename"].tolist(), frame["device"].tolist()
    order = np.random.default_rng([seed, 2022 if tau22 else 2020]).permutation(len(filenames))
    target = target or root / EVALUATION_FOLDER
    (target / "audio").mkdir(parents=True, exist_ok=True)
    (target / "evaluation_setup").mkdir(exist_ok=True)
    rows = []
    for n, index in enumerate(order):
        name = f"audio/{n}.wav"
        try:
            os.link(root / filenames[index], target / name)
        except OSError:
            shutil.copyfile(root / filenames[index], target / name)
        rows.append((name, devices[index]) if tau22 else (name,))
    header = ("filename", "device_id") if tau22 else ("filename",)
    (target / "evaluation_setup" / "fold1_test.csv").write_text(_csv(header, rows), encoding="utf-8")
    return target


def synthesize(
    root: str | os.PathLike,
    task: str = "1a",
    preset: str | Preset = "demo",
    seed: int = 0,
    clip_seconds: float | None = None,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Write a synthetic dataset in the TAU layout at ``root``; return a summary dict.

    ``task`` '2024' and '2025' write the same TAU22 set (1 s clips cut from 10 s segments, the 2024
    split files; the marker records the dataset as 'tau22', so either task reuses it).
    ``preset`` is a name in ``PRESETS`` or a ``Preset`` (custom sizes). ``clip_seconds`` overrides the
    preset's clip duration (2020 tasks only: TAU22 clips are 1 s). ``workers`` processes render in parallel (default: 2, at most the CPU
    count); the files are byte-identical for any number of workers. A non-empty ``root`` is refused
    unless it holds a synthetic set with the same parameters (then nothing is generated and its
    summary is returned with ``reused=True``) or ``overwrite`` is set and it holds a synthetic set.

    The summary has ``task, preset, seed, clip_seconds, sample_rate, channels`` and ``counts``
    (split -> device -> clips), ``files``, ``segments``, ``seconds`` (wall time) and ``reused``.
    """
    if task not in TASKS:
        raise AsckitError(f"unknown task {task!r}: use {', '.join(repr(t) for t in TASKS)}")
    dataset = dataset_of(task)
    chosen = _resolve_preset(preset)
    sizes = chosen.sizes(task)
    if dataset == LAYOUT_TAU22:
        if clip_seconds is not None and clip_seconds != 1.0:
            raise AsckitError(f"clip duration {clip_seconds:g} s for task {task}: TAU22 clips are 1 s, cut from "
                              "10 s segments; drop --clip-seconds")
        clip_seconds = 1.0
    clip_seconds = float(chosen.clip_seconds if clip_seconds is None else clip_seconds)
    _validate(dataset, sizes, clip_seconds, seed)
    root = Path(root)
    parameters = {
        "generator_version": GENERATOR_VERSION,
        "task": dataset,
        "preset": chosen.name,
        "sizes": dataclasses.asdict(sizes),
        "seed": seed,
        "clip_seconds": clip_seconds,
    }
    blocking = next((p for p in Path(root).parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise AsckitError(f"{blocking}: is a file, not a folder; give the synthetic dataset a path inside a folder")
    reused = _reuse_or_refuse(root, parameters, overwrite)
    if reused is not None:
        if not (root / EVALUATION_FOLDER).is_dir():  # a set written before the evaluation layout existed
            staging = Path(tempfile.mkdtemp(prefix=f".{EVALUATION_FOLDER}.partial-", dir=root))
            try:
                write_evaluation_layout(root, seed, staging)
                staging.rename(root / EVALUATION_FOLDER)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return reused

    started = time.perf_counter()
    segments = plan_dataset(dataset, sizes, seed)
    sr = _facts(dataset).sample_rate
    # TAU22 renders whole 10 s segments and cuts them into their seconds.
    n_samples = int(round(clip_seconds * sr)) * segments[0].clips
    workers = max(1, min(2, os.cpu_count() or 1) if workers is None else workers)
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    os.chmod(partial, 0o777 & ~current_umask())  # the dataset gets the user's permissions, not 0700
    try:
        (partial / "audio").mkdir()
        jobs = [_Job(seg, dataset, seed, n_samples, str(partial)) for seg in segments]
        from tqdm import tqdm

        n_files = sum(len(seg.devices) * seg.clips for seg in segments)
        with tqdm(total=n_files, unit="clip", desc=f"synth {task} {chosen.name}", disable=not progress) as bar:
            for written in _run_jobs(jobs, workers):
                bar.update(written)
        if dataset == LAYOUT_TAU22:
            _write_tau22_csvs(partial, segments)
        else:
            _write_csvs(partial, task, segments)
        write_evaluation_layout(partial, seed)
        summary = {
            "task": dataset,
            "preset": chosen.name,
            "seed": seed,
            "clip_seconds": clip_seconds,
            "sample_rate": sr,
            "channels": _facts(dataset).channels,
            "counts": _counts(segments),
            "files": n_files,
            "segments": len(segments),
            "seconds": round(time.perf_counter() - started, 2),
        }
        # `parameters` decides reuse here and is what asckit.data.tau.describe_version shows.
        marker = json.dumps({"generator": "asckit.data.synth", "parameters": parameters, "summary": summary}, indent=1)
        with atomic_path(partial / SYNTH_MARKER) as tmp:
            tmp.write_text(marker + "\n", encoding="utf-8")
        _move_into_place(partial, root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return summary | {"root": str(root), "reused": False}
