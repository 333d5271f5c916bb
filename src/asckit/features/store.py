"""The feature store: every clip once, in one memory-mapped file of fixed-size rows keyed by filename.

Two kinds of store share this one format, told apart by their settings:

- a **log-mel store** (2020 tasks): scaled static log-mel as float16 rows (channels, n_mels, frames),
  settings :class:`asckit.features.logmel.LogMelSettings`, data file ``data.f16``;
- a **waveform store** (the TAU22 protocols of 2024/2025): waves resampled once to 32 kHz as float32
  rows (channels, samples), settings :class:`asckit.features.waves.WaveformSettings`, data file
  ``data.f32``; the log-mel is computed from them in the training step (``asckit.train.module``).

Layout of a store folder::

    manifest.json   settings (and their digest), row shape, dtype, dataset root and version
    data.f16        rows of float16 (channels, n_mels, frames), back to back   (data.f32: float32 waves)
    rows.tsv        row  key  kind  source  params   (one line per stored row; append-only)

A row's data is written and flushed *before* its line is appended to ``rows.tsv``, so a killed
extraction leaves only complete rows behind and a rerun resumes where it stopped. A store refuses
to take rows computed with other settings. ``kind`` is ``original`` for dataset clips; offline
augmentations add rows with their own kind, the source filename and their parameters (JSON).
Deltas are not stored: ``asckit.features.add_deltas`` computes them when a batch is read.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_write_text, read_json_object
from asckit.core.locking import acquire_writer
from asckit.features.logmel import LogMelSettings
from asckit.features.waves import WaveformSettings

MANIFEST = "manifest.json"
DATA = "data.f16"
ROWS = "rows.tsv"
#: The data file and row dtype of each store kind (log-mel float16, waveform float32).
DATA_FILES: dict[str, str] = {"float16": DATA, "float32": "data.f32"}

StoreSettings = LogMelSettings | WaveformSettings


def settings_from_dict(values: dict) -> StoreSettings:
    """The settings a manifest records: a waveform store's carry ``kind: waveform``."""
    if values.get("kind") == WaveformSettings.kind:
        return WaveformSettings.from_dict(values)
    return LogMelSettings(**values)


def store_dtype(settings: StoreSettings) -> str:
    """The row dtype of a store of ``settings``."""
    return "float32" if isinstance(settings, WaveformSettings) else "float16"
ROWS_HEADER = "row\tkey\tkind\tsource\tparams\n"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RowInfo:
    row: int
    key: str
    kind: str
    source: str
    params: str


class FeatureStore:
    """Open with ``FeatureStore.open(path)`` (read) or ``FeatureStore.create(path, settings, ...)``."""

    def __init__(self, path: Path, manifest: dict, writable: bool):
        self.path = path
        self.manifest = manifest
        self.writable = writable
        self._lock = None
        self.shape: tuple[int, ...] = tuple(manifest["shape"])
        self.settings: StoreSettings = settings_from_dict(manifest["settings"])
        self.dtype = np.dtype(manifest.get("dtype", "float16"))
        self.data_path = path / DATA_FILES[self.dtype.name]
        self.rows: dict[str, RowInfo] = {}
        self._load_rows()
        self._memmap: np.memmap | None = None

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(cls, path: str | Path, writable: bool = False) -> "FeatureStore":
        """Open a store; ``writable`` first takes its writer lock (``asckit.core.locking``), so that one
        process at a time writes it and a second one waits."""
        path = Path(path)
        lock = acquire_writer(path, "feature store") if writable else None
        try:
            manifest = read_manifest(path)
            store = cls(path, manifest, writable)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        store._lock = lock
        return store

    @classmethod
    def create(
        cls,
        path: str | Path,
        settings: StoreSettings,
        frames: int | None = None,
        dataset: dict | None = None,
    ) -> "FeatureStore":
        """Open ``path`` for writing, creating it if needed; refuse a store with other settings.

        ``frames``: the log-mel frames of a row (a waveform store's row shape is its settings').
        The writer lock is taken before the folder is looked at, so a second writer waits and then
        sees the first one's rows.
        """
        path = Path(path)
        if isinstance(settings, WaveformSettings):
            shape = list(settings.row_shape)
        else:
            if frames is None:
                raise ValueError("a log-mel store needs frames")
            shape = [settings.channels, settings.n_mels, frames]
        if path.exists() and not path.is_dir():
            raise AsckitError(f"{path}: is a file; --out names the feature store folder (new or empty)")
        lock = acquire_writer(path, "feature store")
        try:
            return cls._create_locked(path, settings, shape, dataset, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _create_locked(cls, path: Path, settings: StoreSettings, shape: list[int], dataset, lock) -> "FeatureStore":
        if (path / MANIFEST).is_file():
            store = cls.open(path, writable=True)  # re-entrant: this process holds the lock
            lock.release()  # the store holds its own count of it
            if len(store) or _same_settings(store.manifest, settings, shape):
                _refuse_other_settings(store, settings, shape)
                return store
            # An empty store (a failed first start) takes the settings of the corrected rerun.
            store.close()
            lock = acquire_writer(path, "feature store")
            for name in (MANIFEST, *DATA_FILES.values(), ROWS):
                (path / name).unlink(missing_ok=True)
        if path.exists() and any(path.iterdir()):
            raise AsckitError(f"{path}: folder exists and is not a feature store; choose an empty or new --out folder")
        path.mkdir(parents=True, exist_ok=True)
        manifest = {
            "format": FORMAT_VERSION,
            "settings": settings.to_dict(),
            "settings_digest": settings.digest(),
            "shape": shape,
            "dtype": store_dtype(settings),
            "dataset": dataset or {},
        }
        (path / DATA_FILES[store_dtype(settings)]).touch()
        (path / ROWS).write_text(ROWS_HEADER, encoding="utf-8")
        atomic_write_text(path / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        store = cls(path, manifest, writable=True)
        store._lock = lock
        return store

    def close(self) -> None:
        """Release the writer lock (a no-op for a read-only store); the process ending does the same."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # ----------------------------------------------------------------- rows
    def _load_rows(self) -> None:
        rows_path = self.path / ROWS
        if not rows_path.is_file():
            raise AsckitError(f"{rows_path}: missing; the store is damaged: delete {self.path} and run `asckit features` again")
        try:
            text = rows_path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise AsckitError(f"{rows_path}: not UTF-8 text; the store is damaged: delete {self.path} and extract again") from None
        lines = text.split("\n")
        # lines[-1] is "" after a final newline, or a line cut by a crash mid-append (not valid).
        for number, line in enumerate(lines[1:-1], start=2):
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 5 or not fields[0].isdigit():
                raise AsckitError(
                    f"{rows_path}:{number}: damaged line (not 'row TAB key TAB kind TAB source TAB params'); "
                    f"delete {self.path} and run `asckit features` again"
                )
            row, key, kind, source, params = fields
            self.rows[key] = RowInfo(int(row), key, kind, source, params)
        cut = not text.endswith("\n")
        data_path = self.data_path
        complete = data_path.stat().st_size // self.row_bytes if data_path.is_file() else 0
        damaged = {k: r for k, r in self.rows.items() if r.row >= complete}
        if damaged:
            if not self.writable:
                example = next(iter(damaged))
                raise AsckitError(
                    f"{data_path}: {'missing' if not data_path.is_file() else f'holds {complete} complete row(s)'} but "
                    f"{ROWS} lists {len(self.rows)} (e.g. {example} is cut); the store is damaged: rerun "
                    "`asckit features ROOT --out STORE` (and `asckit augment`), which re-extract the missing rows"
                )
            # Repair (a writer holds the lock): forget the cut rows; the extraction computes them again.
            print(f"asckit: {self.path}: {len(damaged)} row(s) cut or missing in {self.data_path.name}; they are extracted again", file=sys.stderr)
            for key in damaged:
                del self.rows[key]
            data_path.touch()
            cut = True
        self._next_row = max((r.row for r in self.rows.values()), default=-1) + 1
        if cut and self.writable:
            # Rewrite the index without the cut lines so that later appends start on a fresh line.
            kept = sorted(self.rows.values(), key=lambda r: r.row)
            atomic_write_text(
                rows_path, ROWS_HEADER + "".join(f"{r.row}\t{r.key}\t{r.kind}\t{r.source}\t{r.params}\n" for r in kept)
            )

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def keys(self, kind: str | None = None) -> list[str]:
        """Keys in row order, optionally only those of one ``kind``."""
        items = sorted(self.rows.values(), key=lambda r: r.row)
        return [r.key for r in items if kind is None or r.kind == kind]

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    @property
    def holds_waves(self) -> bool:
        """Whether the rows are waveforms (a TAU22 waveform store) rather than log-mel."""
        return isinstance(self.settings, WaveformSettings)

    # ----------------------------------------------------------------- reading
    def _data(self) -> np.memmap:
        count = self.data_path.stat().st_size // self.row_bytes
        if self._memmap is None or self._memmap.shape[0] != count:
            if count == 0:
                return np.zeros((0, *self.shape), dtype=self.dtype)  # type: ignore[return-value]
            self._memmap = np.memmap(self.data_path, dtype=self.dtype, mode="r", shape=(count, *self.shape))
        return self._memmap

    def row_indices(self, keys: Sequence[str]) -> np.ndarray:
        """Row numbers of ``keys``; a clear error lists keys the store does not hold."""
        missing = [k for k in keys if k not in self.rows]
        if missing:
            raise AsckitError(
                f"{self.path}: {len(missing)} clip(s) not in the feature store, e.g. {missing[0]}; "
                "run `asckit features` on the dataset first"
            )
        return np.fromiter((self.rows[k].row for k in keys), dtype=np.int64, count=len(keys))

    def get(self, keys: Sequence[str]) -> np.ndarray:
        """Rows of the given keys: float16 (len(keys), channels, n_mels, frames), or float32 waves (len(keys), channels, samples)."""
        return np.asarray(self._data()[self.row_indices(keys)])

    def get_rows(self, rows: np.ndarray) -> np.ndarray:
        """Rows by row number (for training loops that resolved keys once)."""
        return np.asarray(self._data()[rows])

    # ----------------------------------------------------------------- writing
    def append(
        self,
        keys: Sequence[str],
        features: np.ndarray,
        kind: str = "original",
        sources: Sequence[str] | None = None,
        params: Sequence[dict] | None = None,
    ) -> None:
        """Add rows: data first (flushed), then their index lines, so a crash loses no valid row."""
        if not self.writable:
            raise AsckitError(f"{self.path}: store opened read-only")
        features = np.asarray(features)
        if features.shape[1:] != self.shape or len(features) != len(keys):
            raise ValueError(f"expected {len(keys)} rows of shape {self.shape}, got {features.shape}")
        finite = np.isfinite(features.reshape(len(features), -1)).all(axis=1)
        if not finite.all():  # the one door into a store: no stage can store a NaN or infinite row
            bad = [k for k, ok in zip(keys, finite) if not ok]
            raise AsckitError(
                f"{self.path}: the features of {len(bad)} clip(s) hold NaN or infinite values (e.g. {bad[0]}); nothing "
                "of them is stored. Check that clip's audio and the settings that made it"
            )
        clash = [k for k in keys if k in self.rows]
        if clash:
            raise AsckitError(f"{self.path}: key {clash[0]} is already stored")
        for key in keys:
            if "\t" in key or "\n" in key:
                raise AsckitError(f"{key!r}: keys may not hold tabs or newlines")
        start = self._next_row
        with self.data_path.open("r+b") as handle:
            handle.seek(start * self.row_bytes)
            handle.write(np.ascontiguousarray(features, dtype=self.dtype).tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        lines = []
        for i, key in enumerate(keys):
            source = sources[i] if sources is not None else key
            param = json.dumps(params[i], sort_keys=True) if params is not None else "{}"
            info = RowInfo(start + i, key, kind, source, param)
            lines.append(f"{info.row}\t{key}\t{kind}\t{source}\t{param}\n")
            self.rows[key] = info
        with (self.path / ROWS).open("a", encoding="utf-8") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
        self._next_row = start + len(keys)
        self._memmap = None


def _same_settings(manifest: dict, settings: StoreSettings, shape: list[int]) -> bool:
    return manifest["settings_digest"] == settings.digest() and list(manifest["shape"]) == shape


def read_manifest(path: Path) -> dict:
    """The manifest of the store ``path``, checked field by field (a damaged one is a one-line error)."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise AsckitError(f"{path}: not a feature store (no {MANIFEST}); create one with `asckit features ROOT --out {path}`")
    damaged = f"{manifest_path}: damaged"
    fix = "delete the store folder and run `asckit features` again"
    manifest = read_json_object(manifest_path, fix)
    if manifest.get("format") != FORMAT_VERSION:
        raise AsckitError(f"{manifest_path}: store format {manifest.get('format')!r} is not {FORMAT_VERSION}; {fix}")
    if not isinstance(manifest.get("settings"), dict) or not isinstance(manifest.get("settings_digest"), str):
        raise AsckitError(f"{damaged} (settings or settings_digest missing or of the wrong type); {fix}")
    if not isinstance(manifest.get("dataset", {}), dict):
        raise AsckitError(f"{damaged} (dataset is not an object); {fix}")
    try:
        settings = settings_from_dict(manifest["settings"])
    except (TypeError, ValueError) as exc:
        raise AsckitError(f"{damaged} (settings: {exc}); {fix}") from None
    dims = 2 if isinstance(settings, WaveformSettings) else 3
    shape = manifest.get("shape")
    if not (isinstance(shape, list) and len(shape) == dims and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)):
        raise AsckitError(f"{damaged} (shape {shape!r} is not {dims} positive whole numbers); {fix}")
    if manifest.get("dtype", "float16") != store_dtype(settings):
        raise AsckitError(f"{damaged} (dtype {manifest.get('dtype')!r} is not {store_dtype(settings)}); {fix}")
    return manifest


def _refuse_other_settings(store: FeatureStore, settings: StoreSettings, shape: list[int]) -> None:
    """A store takes only rows made with its own settings and shape."""
    path = store.path
    old = store.manifest
    if not _same_settings(old, settings, shape):
        changed = [
            f"{k} {old['settings'].get(k)!r} → {v!r}"
            for k, v in settings.to_dict().items()
            if old["settings"].get(k) != v
        ]
        if list(old["shape"]) != shape:
            changed.append(f"shape {old['shape']} → {shape}")
        store.close()
        raise AsckitError(
            f"{path}: the store holds features made with other settings ({'; '.join(changed)}); "
            "use a new --out folder or delete this one"
        )


def missing_keys(store: FeatureStore, keys: Iterable[str]) -> list[str]:
    """Keys not yet in ``store``, in the given order (what a resumed extraction still has to do)."""
    return [k for k in keys if k not in store]
