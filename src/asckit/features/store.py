"""The feature store: scaled static log-mel of every clip, once, as float16 in one memory-mapped file.

Layout of a store folder::

    manifest.json   settings (and their digest), row shape, dtype, dataset root and version
    data.f16        rows of float16 (channels, n_mels, frames), back to back
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asckit.errors import AsckitError
from asckit.features.logmel import LogMelSettings
from asckit.io_utils import atomic_write_text

MANIFEST = "manifest.json"
DATA = "data.f16"
ROWS = "rows.tsv"
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
        self.shape: tuple[int, ...] = tuple(manifest["shape"])
        self.settings = LogMelSettings(**manifest["settings"])
        self.rows: dict[str, RowInfo] = {}
        self._load_rows()
        self._memmap: np.memmap | None = None

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(cls, path: str | Path, writable: bool = False) -> "FeatureStore":
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise AsckitError(f"{path}: not a feature store (no {MANIFEST}); create one with `asckit features ROOT --out {path}`")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise AsckitError(f"{manifest_path}: corrupt manifest ({exc}); delete the store and extract again") from None
        if manifest.get("format") != FORMAT_VERSION:
            raise AsckitError(f"{manifest_path}: store format {manifest.get('format')} is not {FORMAT_VERSION}; extract again")
        return cls(path, manifest, writable)

    @classmethod
    def create(
        cls,
        path: str | Path,
        settings: LogMelSettings,
        frames: int,
        dataset: dict | None = None,
    ) -> "FeatureStore":
        """Open ``path`` for writing, creating it if needed; refuse a store with other settings."""
        path = Path(path)
        shape = [settings.channels, settings.n_mels, frames]
        if (path / MANIFEST).is_file():
            store = cls.open(path, writable=True)
            old = store.manifest
            if old["settings_digest"] != settings.digest() or list(old["shape"]) != shape:
                changed = [
                    f"{k} {old['settings'].get(k)!r} → {v!r}"
                    for k, v in settings.to_dict().items()
                    if old["settings"].get(k) != v
                ]
                if list(old["shape"]) != shape:
                    changed.append(f"shape {old['shape']} → {shape}")
                raise AsckitError(
                    f"{path}: the store holds features made with other settings ({'; '.join(changed)}); "
                    "use a new --out folder or delete this one"
                )
            return store
        if path.exists() and any(path.iterdir()):
            raise AsckitError(f"{path}: folder exists and is not a feature store; choose an empty or new --out folder")
        path.mkdir(parents=True, exist_ok=True)
        manifest = {
            "format": FORMAT_VERSION,
            "settings": settings.to_dict(),
            "settings_digest": settings.digest(),
            "shape": shape,
            "dtype": "float16",
            "dataset": dataset or {},
        }
        (path / DATA).touch()
        (path / ROWS).write_text(ROWS_HEADER, encoding="utf-8")
        atomic_write_text(path / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        return cls(path, manifest, writable=True)

    # ----------------------------------------------------------------- rows
    def _load_rows(self) -> None:
        rows_path = self.path / ROWS
        if not rows_path.is_file():
            raise AsckitError(f"{rows_path}: missing; the store is damaged, extract again")
        text = rows_path.read_text(encoding="utf-8")
        lines = text.split("\n")
        # lines[-1] is "" after a final newline, or a line cut by a crash mid-append (not valid).
        for line in lines[1:-1]:
            if not line:
                continue
            row, key, kind, source, params = line.split("\t")
            self.rows[key] = RowInfo(int(row), key, kind, source, params)
        self._next_row = max((r.row for r in self.rows.values()), default=-1) + 1
        if not text.endswith("\n"):
            # Drop the cut line so that later appends start on a fresh line.
            if self.writable:
                keep = "\n".join(lines[:-1]) + "\n"
                atomic_write_text(rows_path, keep)

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
        return int(np.prod(self.shape)) * 2

    # ----------------------------------------------------------------- reading
    def _data(self) -> np.memmap:
        count = (self.path / DATA).stat().st_size // self.row_bytes
        if self._memmap is None or self._memmap.shape[0] != count:
            if count == 0:
                return np.zeros((0, *self.shape), dtype=np.float16)  # type: ignore[return-value]
            self._memmap = np.memmap(self.path / DATA, dtype=np.float16, mode="r", shape=(count, *self.shape))
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
        """float16 array (len(keys), channels, n_mels, frames) of the given keys."""
        return np.asarray(self._data()[self.row_indices(keys)])

    def get_rows(self, rows: np.ndarray) -> np.ndarray:
        """float16 rows by row number (for training loops that resolved keys once)."""
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
        clash = [k for k in keys if k in self.rows]
        if clash:
            raise AsckitError(f"{self.path}: key {clash[0]} is already stored")
        for key in keys:
            if "\t" in key or "\n" in key:
                raise AsckitError(f"{key!r}: keys may not hold tabs or newlines")
        start = self._next_row
        data_path = self.path / DATA
        with data_path.open("r+b") as handle:
            handle.seek(start * self.row_bytes)
            handle.write(np.ascontiguousarray(features, dtype=np.float16).tobytes())
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


def missing_keys(store: FeatureStore, keys: Iterable[str]) -> list[str]:
    """Keys not yet in ``store``, in the given order (what a resumed extraction still has to do)."""
    return [k for k in keys if k not in store]
