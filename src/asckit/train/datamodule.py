"""Training data from the feature store: which rows, in which batches, on which rank.

Its one job: turn a config's dataset split and feature store into batches of stored static
log-mel (float16, scaled to [0, 1] at extraction) with class indices, for Lightning. The
conversion to float32, the deltas and the augmentation happen later, on the batch (``asckit.train.module``), so they run on the GPU when there is one.

**Clips.** The training clips are the rows of ``data.train_split`` in the store: the ``original``
row of each listed file, plus, for every other kind in ``data.kinds`` (offline augmentations),
each row whose ``source`` is a listed file. Labels come from the split CSV
(``labels: superclass`` maps 1a scenes to the 3 super-classes). A validation split
(``data.validation.fraction``) holds out whole recording locations, scene by scene, from the
training split; its clips, and every augmented row made from them, leave training.

**Epochs and batches.** An epoch is one pass over the training rows (the reference's Keras
"epoch" took ``ceil(N/32)`` steps of 64 clips, about two passes, because each step drew a
second batch of mixup partners; asckit mixes within one batch, so an epoch of ``ceil(N/32)``
steps uses every clip about twice too: see ``asckit.train.batch_augment``). The epoch's order is
a permutation drawn from ``(seed, epoch)``; it is cut into ``steps × world_size`` nearly equal
chunks, with ``steps = ceil(N / (batch_size × world_size))``, and rank ``r`` takes chunks
``r, r + world_size, …``. So every clip is seen exactly once per epoch across all ranks, every
rank runs the same number of steps (DDP needs that), and an epoch redone after a resume is the
same epoch. Every batch holds ``N / (steps × world_size)`` clips rounded up or down, at most
``batch_size`` (13,965 clips on one device: 31 or 32), instead of full batches and one ragged
last one.

**Class balancing** (Task 1b, ``data.balance_classes``; docs/reference-code.md §3.1 item 5). Once per
run a balanced list with every class at the size of the largest is made, and each epoch then
draws N rows of it without replacement (N = the number of training rows). ``data.balance``
says how the list is made:

- ``reference``: what the reference's ``balance_class_data`` did: every class, the largest too,
  is drawn with replacement up to the largest class's size, so some clips are in the list several
  times and about 1/e (37 %) of the largest class's clips are in it not at all, for the whole run;
- ``keep_all`` (the default, a fix): every clip once, and each smaller class topped up to the
  largest by draws with replacement from its clips; no clip is left out. On the synthetic 1b set
  it scored +4.8 points over ``reference`` (95 % CI +3.0 to +6.5, 3 seeds of a narrow small-FCNN,
  configs/experiments/fidelity_1b.yaml), with seeds that disagree (README, "What asckit fixes").

**Teacher.** With ``distill.teacher`` each training row also carries the teacher's probabilities,
read once from the teacher's prediction TSV by store key (``teacher_targets``) and handed out
with the row's batch.

**Reading.** Rows are read with ``os.preadv`` from the store's data file (rows back to back, as
``asckit.features.store`` documents), in sorted order within a batch. Unlike reading through
the memory map, this leaves no file pages mapped in the process, so a training run's resident
memory does not grow with the size of the store (benchmarks/train.py measures it), and a
DataLoader worker opens its own file handle. With pinned memory and no workers, a batch is read
straight into page-locked memory (one host copy: page cache → pinned batch → device).

**Rows held in memory** (``data.store_in_memory``). ``device`` reads the rows of the run's clips
once (1.5 GB for the whole augmented 1a list) into one float16 tensor on the training device;
a loader batch then carries only row positions, and :meth:`StoreDataModule.on_after_batch_transfer`
gathers the batch on the device: no host copy and no host-to-device copy per step. ``host``
holds them in (pinned, without workers) host memory and gathers each batch there. ``auto`` picks
``device`` on CUDA when the rows take at most a quarter of the GPU's free memory, else ``host``
when they take at most half the available host memory, else ``off``; on a CPU it is ``off``
(the page cache serves the reads, and resident memory stays flat). Every placement yields the
same batches, so the same run trains the same weights with any of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from asckit import labels as label_defs
from asckit.core.errors import AsckitError
from asckit.data import tau
from asckit.features.store import MANIFEST, FeatureStore
from asckit.tasks import stored_to_input_shape, task_facts
from asckit.train.config import TrainConfig

ORIGINAL = "original"
VALIDATION_BATCH_FACTOR = 2  # no gradients at validation: larger batches are free


# --------------------------------------------------------------------- seeds
def seed_for(*parts: int) -> int:
    """A 63-bit seed from integer parts (seed, epoch, rank, purpose), independent per tuple."""
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)
    return int(state[0]) & ((1 << 63) - 1)  # torch.manual_seed takes at most 64 bits, signed-safe


# Purposes, so that each random stream of an epoch has its own seed.
SHUFFLE, AUGMENT, DROPOUT, BALANCE = 0, 1, 2, 3


# --------------------------------------------------------------------- clip tables
@dataclass(frozen=True)
class ClipTable:
    """Clips as rows of the feature store, with their class index and recording device."""

    keys: tuple[str, ...]  # store keys
    sources: tuple[str, ...]  # the dataset filename each row was made from (= key for originals)
    rows: np.ndarray  # int64 store row numbers
    labels: np.ndarray  # int64 class indices
    devices: np.ndarray  # int64 index into asckit.labels.ALL_DEVICES, -1 when unknown

    def __len__(self) -> int:
        return len(self.keys)


def refuse_a_missing_store(config: TrainConfig) -> None:
    """A config whose data.store holds no store: one line with the command that makes it from data.root."""
    import shlex

    root, store = config.data.root, config.data.store
    if (Path(store) / MANIFEST).is_file():
        return
    make = f"asckit features {shlex.quote(str(root))} --out {shlex.quote(str(store))}"
    if not Path(root).is_dir():
        raise AsckitError(
            f"data.store: {store} is not a feature store, and data.root {root} does not exist; fix data.root and "
            f"data.store, or make the dataset there, then the store with `{make}`"
        )
    raise AsckitError(f"data.store: {store} is not a feature store (no {MANIFEST}); make it with `{make}`")


def class_names(config: TrainConfig) -> tuple[str, ...]:
    """Class columns of the run's model, in output order."""
    return label_defs.SCENES_10 if config.num_classes == 10 else label_defs.SCENES_3


def class_indices(scene_labels: pd.Series, config: TrainConfig, source: str) -> np.ndarray:
    """Class index of every label; 1a ``labels: superclass`` maps scenes to super-classes."""
    names = class_names(config)
    if config.labels == "superclass":
        try:
            scene_labels = scene_labels.map(label_defs.to_superclass)
        except ValueError as exc:
            raise AsckitError(f"{source}: {exc}; is this a Task 1a dataset?") from None
    index = {name: k for k, name in enumerate(names)}
    unknown = sorted(set(scene_labels) - set(index))
    if unknown:
        other = "1b" if config.task == "1a" else "1a"
        if set(scene_labels) <= set(label_defs.classes(other)):  # every label is of the other task
            hint = f"the labels are those of task {other}: set `task: {other}` in the config"
        else:  # a typo in the CSV
            line = int(scene_labels.index[np.flatnonzero(scene_labels.to_numpy() == unknown[0])[0]]) + 2  # CSV order
            hint = f"first at line {line}; fix the CSV (`asckit data check` lists every such line)"
        raise AsckitError(
            f"{source}: label {unknown[0]!r} is not a class of task {config.task} ({', '.join(names)}); {hint}"
        )
    return scene_labels.map(index).to_numpy(dtype=np.int64)


def split_validation(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, validation): whole recording locations held out per scene, about ``fraction`` of
    each scene's clips (at least one location per scene with two or more), drawn from ``seed``."""
    if fraction <= 0:
        return frame, frame.iloc[:0]
    rng = np.random.default_rng(seed_for(seed, 0, 0, BALANCE + 1))
    held: list[str] = []
    for _scene, clips in frame.groupby("scene_label", sort=True):
        counts = clips.groupby("identifier", sort=True).size()
        if len(counts) < 2:
            continue  # a scene recorded at one location only stays in training
        order = rng.permutation(counts.index.to_numpy())
        target, taken = fraction * len(clips), 0
        for location in order[:-1]:  # never the scene's last location
            if taken and taken + counts[location] / 2 > target:
                break
            held.append(location)
            taken += counts[location]
    is_held = frame["identifier"].isin(held)
    return frame[~is_held], frame[is_held]


def clip_table(store: FeatureStore, frame: pd.DataFrame, class_index: np.ndarray, kinds: list[str], source: str) -> ClipTable:
    """The store rows of the clips in ``frame``: originals, plus rows of the other ``kinds`` made from them."""
    filenames = frame["filename"].tolist()
    label_of = dict(zip(filenames, class_index.tolist(), strict=True))
    device_of = dict(zip(filenames, frame["device"].tolist(), strict=True))
    keys, sources = [], []
    if ORIGINAL in kinds:
        missing = [f for f in filenames if f not in store]
        if missing:
            raise AsckitError(
                f"{store.path}: {len(missing)} clip(s) of {source} are not in the feature store, e.g. {missing[0]}; "
                f"run `asckit features` on the dataset (or check data.store)"
            )
        keys += filenames
        sources += filenames
    extra_kinds = [k for k in kinds if k != ORIGINAL]
    if extra_kinds:
        found = {k: 0 for k in extra_kinds}
        rank = {k: i for i, k in enumerate(extra_kinds)}
        augmented = [r for r in store.rows.values() if r.kind in rank and r.source in label_of]
        # By kind, then key: not by store row, whose order a resumed or parallel extraction may change.
        for info in sorted(augmented, key=lambda r: (rank[r.kind], r.key)):
            keys.append(info.key)
            sources.append(info.source)
            found[info.kind] += 1
        empty = [k for k, n in found.items() if n == 0]
        if empty:
            present = sorted({r.kind for r in store.rows.values()})
            raise AsckitError(
                f"data.kinds: the store {store.path} has no {empty[0]!r} rows made from {source}; "
                f"kinds present: {', '.join(present)}"
            )
    device_index = {d: i for i, d in enumerate(label_defs.ALL_DEVICES)}
    return ClipTable(
        keys=tuple(keys),
        sources=tuple(sources),
        rows=store.row_indices(keys) if keys else np.zeros(0, dtype=np.int64),
        labels=np.fromiter((label_of[s] for s in sources), dtype=np.int64, count=len(sources)),
        devices=np.fromiter((device_index.get(device_of[s], -1) for s in sources), dtype=np.int64, count=len(sources)),
    )


def training_tables(config: TrainConfig, store: FeatureStore) -> tuple[ClipTable, ClipTable | None]:
    """(training rows, held-out validation rows or None) of a config, as training sees them."""
    c = config
    split_path = tau.split_path(c.data.root, c.data.train_split, percent=c.data.split)
    frame = tau.load_split(c.data.root, c.data.train_split, percent=c.data.split)
    if c.data.devices is not None:
        frame = frame[frame["device"].isin(c.data.devices)]
        if not len(frame):
            raise AsckitError(f"{split_path}: no clip of device(s) {', '.join(c.data.devices)}; check data.devices")
    if "scene_label" not in frame:
        raise AsckitError(f"{split_path}: has no scene_label column; data.train_split must be a labelled split")
    train, val = split_validation(frame, c.data.validation.fraction, c.seed)
    train_table = clip_table(store, train, class_indices(train["scene_label"], c, str(split_path)), c.data.kinds, str(split_path))
    if len(train_table) == 0:
        raise AsckitError(f"{split_path}: no training clips left; check data.kinds and data.validation.fraction")
    val_table = None
    if len(val):
        val_table = clip_table(
            store, val, class_indices(val["scene_label"], c, str(split_path)), [ORIGINAL], f"{split_path} (validation)"
        )
    return train_table, val_table


def teacher_targets(path: Path, table: ClipTable, classes: tuple[str, ...]) -> np.ndarray:
    """The teacher's probabilities (float32, one row per training row of ``table``) from its prediction TSV.

    Rows are found by feature-store key (``asckit predict-split --split train`` writes them so):
    the dataset filename for an original clip, ``<filename>#<kind>[-n]`` for an augmented copy. A
    training row the file lacks is refused: distilling some rows and not others would quietly
    change the recipe. Rows of the file that training does not use are ignored.
    """
    from asckit.predictions.reader import clip_key, read_predictions

    teacher = read_predictions(path)
    if teacher.classes != tuple(classes):
        raise AsckitError(
            f"distill.teacher: {path} has classes {' '.join(teacher.classes)} but the run trains {' '.join(classes)}; "
            "distil from a teacher of the same classes (fuse --two-stage gives 10 scenes)"
        )
    index = {clip_key(name): i for i, name in enumerate(teacher.filenames)}
    rows = np.fromiter((index.get(clip_key(k), -1) for k in table.keys), dtype=np.int64, count=len(table))
    missing = np.flatnonzero(rows < 0)
    if missing.size:
        raise AsckitError(
            f"distill.teacher: {path} has no row for training row {table.keys[missing[0]]} ({missing.size} of "
            f"{len(table)} missing); predict the teacher on the student's rows: asckit predict-split TEACHER_RUN "
            "--split train --kinds <the student's data.kinds>"
        )
    return teacher.probs[rows].astype(np.float32)


# --------------------------------------------------------------------- reading rows
class RowReader:
    """Reads rows (float16 log-mel, float32 waves) of a store's data file by row number with ``os.preadv``.

    Opens the file on first use in each process, so it can be handed to DataLoader workers.
    """

    def __init__(self, store: FeatureStore):
        self.path = store.data_path
        self.dtype = store.dtype
        self.shape = tuple(store.shape)
        self.row_bytes = store.row_bytes
        self._fd: int | None = None
        self._pid: int | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None, "_pid": None}

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)

    def read(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Array (len(rows), *shape) of the store's dtype, written into ``out`` when given."""
        if self._fd is None or self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        if out is None:
            out = np.empty((len(rows), *self.shape), dtype=self.dtype)
        for i, row in enumerate(rows):
            got = os.preadv(self._fd, [memoryview(out[i]).cast("B")], int(row) * self.row_bytes)
            if got != self.row_bytes:
                raise AsckitError(f"{self.path}: row {row} is cut short; the store is damaged, extract again")
        return out


# --------------------------------------------------------------------- rows held in memory
#: ``store_in_memory: auto`` holds the rows on the GPU when they take at most this share of its
#: free memory (the rest is the model's), else in host memory up to this share of what is available.
DEVICE_SHARE, HOST_SHARE = 0.25, 0.5
#: Batch key of row positions into a device-resident tensor (replaced by "x" after the transfer).
RESIDENT_ROWS = "resident_rows"


def available_host_bytes() -> int:
    """Memory the system can still give (``MemAvailable`` of /proc/meminfo; free pages elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def resident_placement(mode: str, nbytes: int, device_type: str, free_device_bytes: int | None, host_bytes: int) -> str:
    """Where the run's rows live: ``device``, ``host`` or ``off`` (read from the store per batch).

    ``mode`` is ``data.store_in_memory``; ``nbytes`` the rows' size; ``free_device_bytes`` the
    training GPU's free memory (None on a CPU); ``host_bytes`` the available host memory.
    An explicit ``host`` or ``device`` that cannot fit is a one-line error.
    """
    if mode == "off":
        return "off"
    if mode == "auto":
        if device_type != "cuda":
            return "off"
        if free_device_bytes is not None and nbytes <= DEVICE_SHARE * free_device_bytes:
            return "device"
        return "host" if nbytes <= HOST_SHARE * host_bytes else "off"
    on_gpu = mode == "device" and device_type == "cuda"
    limit = free_device_bytes if on_gpu else host_bytes
    if limit is not None and nbytes > limit:
        where = "the GPU" if on_gpu else "host memory"
        raise AsckitError(
            f"data.store_in_memory: {mode} needs {nbytes / 2**30:.2f} GB for the run's rows but {where} has "
            f"{limit / 2**30:.2f} GB free; use auto or off"
        )
    return mode


class ResidentRows:
    """Store rows read once into one float16 tensor on ``device`` (pinned when ``pin`` on the host).

    ``gather_on_device``: batches carry row positions and are gathered after the transfer
    (placement ``device``); else the loader gathers them in host memory (placement ``host``).
    """

    def __init__(self, reader: RowReader, rows: np.ndarray, device: torch.device, pin: bool, gather_on_device: bool):
        self.rows = np.unique(rows)  # sorted store row numbers
        self.gather_on_device = gather_on_device
        on_host = device.type == "cpu"
        self.pinned = pin and on_host
        dtype = torch.from_numpy(np.zeros(0, dtype=reader.dtype)).dtype
        self.data = torch.empty((len(self.rows), *reader.shape), dtype=dtype, device=device, pin_memory=self.pinned)
        chunk = 256
        for start in range(0, len(self.rows), chunk):
            part = self.rows[start : start + chunk]
            if on_host:
                reader.read(part, out=self.data[start : start + len(part)].numpy())
            else:
                self.data[start : start + len(part)].copy_(torch.from_numpy(reader.read(part)))

    def __getstate__(self) -> dict:
        # A loader worker only maps rows to positions when the rows are gathered on the device.
        return {**self.__dict__, "data": None} if self.gather_on_device else self.__dict__

    def positions(self, store_rows: np.ndarray) -> np.ndarray:
        """Positions in ``data`` of store rows (all of which it holds)."""
        return np.searchsorted(self.rows, store_rows)

    def take(self, positions: np.ndarray) -> torch.Tensor:
        """The rows at ``positions``, gathered in host memory (pinned when ``data`` is)."""
        index = torch.from_numpy(positions)
        out = torch.empty((len(index), *self.data.shape[1:]), dtype=self.data.dtype, pin_memory=self.pinned and _in_main_process())
        return torch.index_select(self.data, 0, index, out=out)


def _in_main_process() -> bool:
    """Not in a DataLoader worker (which must not touch CUDA, and whose pinned pages would be copied anyway)."""
    return torch.utils.data.get_worker_info() is None


class StoreBatches(Dataset):
    """A map-style dataset indexed by a *list* of clip positions: returns one whole batch.

    ``dataset[positions]`` → ``{"x": float16 (B, ch, 128, T), "y": int64 (B,), "device": int64 (B,),
    "index": int64 (B,)}`` with positions sorted (sequential reads; order inside a batch does not
    matter to training). With ``resident`` rows the batch comes from memory; when they are on the
    device, ``"x"`` is replaced by ``RESIDENT_ROWS`` (positions the datamodule gathers after the
    transfer). ``pin``: read into page-locked memory (in the main process only). With ``teacher``
    (one probability row per clip) also ``"teacher": float32 (B, K)``, so the targets travel with
    the batch (to every DDP rank, with no extra step).
    """

    def __init__(
        self,
        store: FeatureStore,
        table: ClipTable,
        resident: ResidentRows | None = None,
        pin: bool = False,
        teacher: np.ndarray | None = None,
    ):
        self.reader = RowReader(store)
        self.table = table
        self.resident = resident
        self.pin = pin
        self.teacher = teacher

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, positions) -> dict[str, torch.Tensor]:
        index = np.sort(np.asarray(positions, dtype=np.int64))
        t = self.table
        rows = t.rows[index]
        batch = {
            "y": torch.from_numpy(t.labels[index]),
            "device": torch.from_numpy(t.devices[index]),
            "index": torch.from_numpy(index),
        }
        if self.resident is None:
            if self.pin and _in_main_process():
                x = torch.empty((len(rows), *self.reader.shape), dtype=torch.from_numpy(np.zeros(0, self.reader.dtype)).dtype, pin_memory=True)
                self.reader.read(rows, out=x.numpy())
            else:
                x = torch.from_numpy(self.reader.read(rows))
            batch["x"] = x
        elif self.resident.gather_on_device:
            batch[RESIDENT_ROWS] = torch.from_numpy(self.resident.positions(rows))
        else:
            batch["x"] = self.resident.take(self.resident.positions(rows))
        if self.teacher is not None:
            batch["teacher"] = torch.from_numpy(self.teacher[index])
        return batch


# --------------------------------------------------------------------- batches per epoch and rank
def steps_per_epoch(n_items: int, batch_size: int, world_size: int) -> int:
    return -(-n_items // (batch_size * world_size))


class EpochBatches(Sampler[list[int]]):
    """Yields this rank's batches (lists of clip positions) of the epoch set with ``set_epoch``.

    Lightning calls ``set_epoch`` before every epoch, also after a resume. See the module
    docstring for how an epoch is drawn and split across ranks.
    """

    def __init__(
        self,
        labels: np.ndarray,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        balance_classes: bool = False,
        balance: str = "keep_all",
    ):
        n = len(labels)
        if n < world_size:
            raise AsckitError(f"{n} clip(s) cannot be split across {world_size} processes; use fewer devices or more data")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size, self.shuffle = rank, world_size, shuffle
        self.epoch = 0
        self.balanced = balanced_pool(labels, seed, balance) if balance_classes else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return steps_per_epoch(self.n, self.batch_size, self.world_size)

    def epoch_order(self) -> np.ndarray:
        """All ranks' clip positions of this epoch, in order (the same on every rank)."""
        if not self.shuffle:
            return np.arange(self.n)
        rng = np.random.default_rng(seed_for(self.seed, self.epoch, 0, SHUFFLE))
        if self.balanced is not None:
            return rng.choice(self.balanced, size=self.n, replace=False)
        return rng.permutation(self.n)

    def __iter__(self):
        chunks = np.array_split(self.epoch_order(), len(self) * self.world_size)
        for step in range(len(self)):
            yield chunks[step * self.world_size + self.rank].tolist()


def balanced_pool(labels: np.ndarray, seed: int, how: str = "keep_all") -> np.ndarray:
    """Positions of the run's class-balanced list, every class at the size of the largest.

    ``how``: ``reference`` draws every class with replacement up to that size (the reference);
    ``keep_all`` keeps every position once and tops the smaller classes up by such draws.
    """
    if how not in ("reference", "keep_all"):
        raise ValueError(f"unknown balancing {how!r}: use reference or keep_all")
    rng = np.random.default_rng(seed_for(seed, 0, 0, BALANCE))
    classes, counts = np.unique(labels, return_counts=True)
    pool = [np.arange(len(labels))] if how == "keep_all" else []
    for cls, count in zip(classes, counts, strict=True):
        members = np.flatnonzero(labels == cls)
        extra = counts.max() - count if how == "keep_all" else counts.max()
        pool.append(rng.choice(members, size=extra, replace=True))
    return np.concatenate(pool)


# --------------------------------------------------------------------- Lightning
def _loader_worker_init(_worker_id: int) -> None:
    torch.set_num_threads(1)  # workers only read and copy; more threads would oversubscribe the CPU


class StoreDataModule(L.LightningDataModule):
    """Training (and optional validation) batches of one config, read from its feature store.

    ``prepare()`` reads the split and the store and checks them against the config (call it
    before building the model: it tells the input channels and frames); Lightning's ``setup``
    then makes the rank's samplers.
    """

    def __init__(self, config: TrainConfig):
        super().__init__()
        self.config = config
        self.store: FeatureStore | None = None
        self.train_table: ClipTable | None = None
        self.val_table: ClipTable | None = None
        self.train_sampler: EpochBatches | None = None
        self.resident: ResidentRows | None = None
        self.placement = "off"  # where the rows live once set up: off, host or device
        self.pin = False
        self.train_teacher: np.ndarray | None = None

    # ------------------------------------------------------------ config + store checks
    def prepare(self) -> None:
        c = self.config
        refuse_a_missing_store(c)
        self.store = store = FeatureStore.open(c.data.store)
        if store.holds_waves != c.is_tau22:
            holds = "32 kHz waves (a TAU22 waveform store)" if store.holds_waves else "log-mel (a 2020 feature store)"
            raise AsckitError(
                f"data.store: {store.path} holds {holds} but task {c.task} trains on "
                f"{'waves' if c.is_tau22 else 'log-mel'}; point data.store at a store made from a "
                f"{'TAU22' if c.is_tau22 else 'TAU 2020'} root (`asckit features ROOT --out STORE`) or fix `task`"
            )
        if store.holds_waves:
            self.train_table, self.val_table = training_tables(c, store)
            if c.distill.teacher is not None:
                # The protocol: a 2024/2025 student learns from the labels of its split only, so its teacher
                # must have been trained within that split too (asckit.train.protocol).
                from asckit.train.protocol import check_teacher_provenance

                split = tau.load_split(c.data.root, c.data.train_split, percent=c.data.split)["filename"]
                check_teacher_provenance(c.distill.teacher, set(split), split_name=f"split {c.data.split or 100} %")
                self.train_teacher = teacher_targets(c.distill.teacher, self.train_table, class_names(c))
            return
        channels = task_facts(c.task).channels
        if store.shape[0] != channels:
            raise AsckitError(
                f"data.store: {store.path} holds {store.shape[0]}-channel features but task {c.task} needs {channels}; "
                "fix `task` or point data.store at the right store"
            )
        frames = self.input_frames
        crop = c.batch_augment.crop_frames
        if crop is not None and crop > frames:
            raise AsckitError(
                f"batch_augment.crop_frames: {crop} is longer than the {frames} model-input frames of {store.path} "
                f"(clips of {store.settings.clip_seconds:g} s); set it to at most {frames}, or null"
            )
        if c.batch_augment.spec_augment and (c.batch_augment.time_mask_max >= frames or c.batch_augment.freq_mask_max >= store.shape[1]):
            raise AsckitError(
                f"batch_augment.time_mask_max: masks of up to {c.batch_augment.time_mask_max} frames do not fit the {frames} "
                f"model-input frames of {store.path}; set it below {frames} (or batch_augment.spec_augment: false)"
            )
        self.train_table, self.val_table = training_tables(c, store)
        if c.distill.teacher is not None:
            self.train_teacher = teacher_targets(c.distill.teacher, self.train_table, class_names(c))

    @property
    def in_channels(self) -> int:
        assert self.store is not None
        if self.store.holds_waves:
            return self.store.shape[0]  # one log-mel per audio channel, no deltas
        return stored_to_input_shape(self.store.shape)[0]

    @property
    def input_frames(self) -> int:
        """Frames of the model input at evaluation: the stored frames minus the 8 the deltas use (log-mel
        stores), or the frames of the TAU22 frontend on the stored waves."""
        assert self.store is not None
        if self.store.holds_waves:
            from asckit.features.tau22_frontend import frames

            return frames(self.store.shape[-1])
        return stored_to_input_shape(self.store.shape)[-1]

    # ------------------------------------------------------------ Lightning hooks
    def setup(self, stage: str) -> None:
        if self.train_table is None:
            self.prepare()
        rank, world = self.trainer.global_rank, self.trainer.world_size
        c = self.config
        self.train_sampler = EpochBatches(
            self.train_table.labels, c.optim.batch_size, c.seed, rank, world, True, bool(c.data.balance_classes),
            c.data.balance,
        )
        if self.val_table is not None:
            self.val_sampler = EpochBatches(
                self.val_table.labels, VALIDATION_BATCH_FACTOR * c.optim.batch_size, c.seed, rank, world, shuffle=False
            )
        device = self.trainer.strategy.root_device
        setting = c.trainer.pin_memory
        # Page-locked memory needs CUDA; it only speeds up copies to a CUDA device.
        self.pin = torch.cuda.is_available() and (device.type == "cuda" if setting == "auto" else bool(setting))
        if self.resident is None:
            self._hold_rows(device)

    def _hold_rows(self, device: torch.device) -> None:
        """Read the run's rows into memory where ``data.store_in_memory`` (resolved) says."""
        tables = [t for t in (self.train_table, self.val_table) if t is not None]
        rows = np.unique(np.concatenate([t.rows for t in tables]))
        free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else None
        self.placement = resident_placement(
            self.config.data.store_in_memory, len(rows) * self.store.row_bytes, device.type, free, available_host_bytes()
        )
        if self.placement != "off":
            on_device = self.placement == "device"
            # Host rows are pinned only without workers: forked workers would not share page-locked pages.
            pin = self.pin and self.config.trainer.num_workers == 0
            self.resident = ResidentRows(
                RowReader(self.store), rows, device if on_device else torch.device("cpu"), pin, on_device
            )

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Gather a batch of device-resident rows on the device (placement ``device``)."""
        if RESIDENT_ROWS in batch:
            batch = dict(batch)
            batch["x"] = self.resident.data.index_select(0, batch.pop(RESIDENT_ROWS))
        return batch

    def steps_per_epoch(self, world_size: int) -> int:
        return steps_per_epoch(len(self.train_table), self.config.optim.batch_size, world_size)

    def _loader(self, table: ClipTable, sampler: EpochBatches, teacher: np.ndarray | None = None) -> DataLoader:
        t = self.config.trainer
        workers = t.num_workers
        # batch_size=None: the sampler yields whole batches and the dataset reads each in one go.
        return DataLoader(
            StoreBatches(self.store, table, self.resident, self.pin, teacher),
            batch_size=None,
            sampler=sampler,
            num_workers=workers,
            persistent_workers=t.persistent_workers and workers > 0,
            prefetch_factor=t.prefetch_factor if workers else None,
            worker_init_fn=_loader_worker_init if workers else None,
            pin_memory=self.pin,  # a batch read into pinned memory already is not copied again
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_table, self.train_sampler, self.train_teacher)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_table is None:
            return []
        return self._loader(self.val_table, self.val_sampler)


__all__ = [
    "ClipTable",
    "EpochBatches",
    "ResidentRows",
    "RowReader",
    "StoreBatches",
    "StoreDataModule",
    "balanced_pool",
    "class_indices",
    "class_names",
    "clip_table",
    "resident_placement",
    "seed_for",
    "split_validation",
    "steps_per_epoch",
    "teacher_targets",
    "training_tables",
]
