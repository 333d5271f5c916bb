"""The export bundle: the folder ``asckit export`` writes and ``asckit predict`` reads.

Its one job is the bundle's format, in one place: ``bundle.json`` (the model description, the
members and their files, the fusion, the complexity figures), the member files' names, the
window rule, and the ONNX metadata key an exported ``.onnx`` carries the same description under.
numpy only, so the torch-free runtime can use it.

A bundle folder holds::

    bundle.json            Bundle.to_dict(): format, version, ModelInfo, members, fusion, complexity
    mel.npy                the mel matrix of the feature settings (float32)
    <member>.fp32.onnx     one graph per member (its snapshots averaged in the graph)
    <member>.int8.onnx     with int8 export; the bundle's ``precision`` says which are deployed
    fusion_logistic.json   only for a logistic fusion (asckit.fusion.logistic, without clip hashes)
    export_report.json     sizes, budget and parity (asckit.deploy.export)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError, first_line
from asckit.core.io_utils import atomic_write_text, read_json_object
from asckit.features.logmel import LogMelSettings
from asckit.tasks import model_input_shape

BUNDLE_FILE = "bundle.json"
BUNDLE_FORMAT = "asckit-bundle"
BUNDLE_VERSION = 1
MEL_FILE = "mel.npy"
REPORT_FILE = "export_report.json"
LOGISTIC_FILE = "fusion_logistic.json"
#: Key of the JSON description in an exported ONNX file's metadata.
ONNX_METADATA_KEY = "asckit"
INPUT_NAME = "features"
OUTPUT_NAME = "probs"
PRECISIONS = ("int8", "fp32")
FUSION_METHODS = ("average", "logistic")


@dataclass(frozen=True)
class WindowRule:
    """How recordings are cut into model-sized windows (see ``asckit.deploy.runtime``)."""

    seconds: float = 10.0
    min_tail_seconds: float = 1.0

    def to_dict(self) -> dict:
        return {"seconds": self.seconds, "min_tail_seconds": self.min_tail_seconds, "shorter": "repeat"}

    @classmethod
    def from_dict(cls, data: dict) -> WindowRule:
        return cls(seconds=float(data["seconds"]), min_tail_seconds=float(data.get("min_tail_seconds", 1.0)))

    @classmethod
    def for_settings(cls, settings: LogMelSettings) -> WindowRule:
        """The window of a model trained on ``settings``' clips (10 s when they have no fixed length)."""
        return cls(seconds=settings.clip_seconds or 10.0)

    def starts(self, total: int, window: int, sample_rate: int) -> list[int]:
        """Window start offsets (in samples) for a recording of ``total`` samples."""
        if total <= window:
            return [0]
        starts = list(range(0, total - window + 1, window))
        tail = total - (starts[-1] + window)
        if tail >= self.min_tail_seconds * sample_rate:
            starts.append(total - window)
        return starts


@dataclass(frozen=True)
class ModelInfo:
    """What a bundle or an exported ONNX file says about itself."""

    task: str
    classes: tuple[str, ...]
    settings: LogMelSettings
    window: WindowRule
    frames: int

    @classmethod
    def for_features(
        cls, task: str, classes: Sequence[str], settings: LogMelSettings, window: WindowRule | None = None
    ) -> ModelInfo:
        """The description of a model trained on ``settings``' features, for windows of ``window``."""
        window = window or WindowRule.for_settings(settings)
        _, _, frames = model_input_shape(settings, int(round(window.seconds * settings.sample_rate)))
        return cls(task=task, classes=tuple(classes), settings=settings, window=window, frames=frames)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """One window's model input (3·channels, n_mels, frames)."""
        return (3 * self.settings.channels, self.settings.n_mels, self.frames)

    @classmethod
    def from_dict(cls, data: dict, source: str) -> ModelInfo:
        try:
            settings = LogMelSettings(**data["features"])
            info = cls(
                task=str(data["task"]),
                classes=tuple(data["classes"]),
                settings=settings,
                window=WindowRule.from_dict(data["window"]),
                frames=int(data["input"]["frames"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AsckitError(f"{source}: incomplete model description ({exc}); re-export it with `asckit export`") from None
        s, w = info.settings, info.window
        positive = {"features.sample_rate": s.sample_rate, "features.n_fft": s.n_fft, "features.hop_length": s.hop_length,
                    "features.n_mels": s.n_mels, "window.seconds": w.seconds, "input.frames": info.frames}
        bad = [f"{k} {v!r}" for k, v in positive.items() if not (np.isfinite(v) and v > 0)]
        if s.channels not in (1, 2) or not info.classes or not (np.isfinite(w.min_tail_seconds) and w.min_tail_seconds >= 0):
            bad.append(f"channels {s.channels!r}, classes {list(info.classes)!r} or window.min_tail_seconds {w.min_tail_seconds!r}")
        if bad:
            raise AsckitError(f"{source}: invalid model description ({'; '.join(bad)}); re-export it with `asckit export`")
        return info

    @classmethod
    def from_onnx_metadata(cls, text: str, source: str) -> ModelInfo:
        """The description stored under ``ONNX_METADATA_KEY`` in an exported ``.onnx`` file."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AsckitError(f"{source}: unreadable asckit description ({first_line(exc)}); re-export it") from None
        return cls.from_dict(data, source)

    def to_dict(self) -> dict:
        channels, mel_bins, frames = self.input_shape
        return {
            "task": self.task,
            "classes": list(self.classes),
            "features": self.settings.to_dict(),
            "window": self.window.to_dict(),
            "input": {"name": INPUT_NAME, "channels": channels, "mel_bins": mel_bins, "frames": frames},
            "output": OUTPUT_NAME,
        }


def member_file_name(member: str, precision: str) -> str:
    """The file of one member at one precision: ``<member>.fp32.onnx`` or ``<member>.int8.onnx``."""
    return f"{member}.{precision}.onnx"


@dataclass(frozen=True)
class BundleMember:
    """One ensemble member: its graph files by precision, its fusion weight, its snapshot count."""

    name: str
    files: dict[str, str]
    weight: float = 1.0
    snapshots: int = 1

    def to_dict(self) -> dict:
        return {"name": self.name, "files": dict(self.files), "weight": float(self.weight), "snapshots": int(self.snapshots)}

    @classmethod
    def from_dict(cls, data: dict, source: str) -> BundleMember:
        if not isinstance(data, dict) or "name" not in data:
            raise AsckitError(f"{source}: a member entry has no name; re-export the bundle")
        return cls(
            name=str(data["name"]),
            files={str(k): str(v) for k, v in (data.get("files") or {}).items()},
            weight=float(data.get("weight", 1.0)),
            snapshots=int(data.get("snapshots", 1)),
        )


@dataclass(frozen=True)
class Bundle:
    """The content of ``bundle.json``; ``folder`` is where it was read from (None before writing)."""

    info: ModelInfo
    members: tuple[BundleMember, ...]
    precision: str = "int8"
    int8_mode: str | None = None
    fusion: dict = field(default_factory=lambda: {"method": "average"})
    complexity: dict = field(default_factory=dict)
    mel: str = MEL_FILE
    report: str | None = REPORT_FILE
    folder: Path | None = None

    @property
    def fusion_method(self) -> str:
        return str(self.fusion.get("method", "average"))

    @property
    def weights(self) -> list[float]:
        return [m.weight for m in self.members]

    @property
    def source(self) -> str:
        return str(self.folder / BUNDLE_FILE) if self.folder is not None else BUNDLE_FILE

    def to_dict(self) -> dict:
        return {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            **self.info.to_dict(),
            "mel": self.mel,
            "precision": self.precision,
            "int8_mode": self.int8_mode,
            "members": [m.to_dict() for m in self.members],
            "fusion": dict(self.fusion),
            "complexity": dict(self.complexity),
            "report": self.report,
        }

    def write(self, folder: str | os.PathLike) -> Path:
        """Write ``bundle.json`` into ``folder`` (atomically); returns its path."""
        path = Path(folder) / BUNDLE_FILE
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def read(cls, path: str | os.PathLike) -> Bundle:
        """Read a bundle folder (or its ``bundle.json``), checked for format and version."""
        path = Path(path)
        if path.is_dir():
            path = path / BUNDLE_FILE
            if not path.is_file():
                raise AsckitError(f"{path.parent}: no {BUNDLE_FILE}; give an export folder written by `asckit export` or an .onnx file")
        data = read_json_object(path, "not a readable bundle description: re-export the model")
        if data.get("format") != BUNDLE_FORMAT:
            raise AsckitError(f"{path}: not an asckit export bundle; give a folder written by `asckit export`")
        if not isinstance(data.get("version"), int) or not isinstance(data.get("members", []), list):
            raise AsckitError(f"{path}: damaged bundle description (version or members of the wrong type); re-export the model")
        if not all(isinstance(m, dict) and isinstance(m.get("files", {}), dict) for m in data.get("members", [])):
            raise AsckitError(f"{path}: damaged bundle description (a member that is not an object); re-export the model")
        if data["version"] > BUNDLE_VERSION:
            raise AsckitError(f"{path}: bundle version {data['version']} is newer than this asckit reads; upgrade asckit")
        source = str(path)
        fusion = data.get("fusion") or {"method": "average"}
        if fusion.get("method") not in FUSION_METHODS:
            raise AsckitError(f"{path}: unknown fusion {fusion.get('method')!r}; use 'average' or 'logistic'")
        return cls(
            info=ModelInfo.from_dict(data, source),
            members=tuple(BundleMember.from_dict(m, source) for m in data.get("members") or []),
            precision=str(data.get("precision", "int8")),
            int8_mode=data.get("int8_mode"),
            fusion=fusion,
            complexity=data.get("complexity") or {},
            mel=str(data.get("mel", MEL_FILE)),
            report=data.get("report"),
            folder=path.parent,
        )

    def member_paths(self, precision: str | None = None) -> list[Path]:
        """The members' graph files at ``precision`` (default: the bundle's), checked to exist."""
        precision = precision or self.precision
        if precision not in PRECISIONS:
            raise AsckitError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        if not self.members:
            raise AsckitError(f"{self.source}: the bundle lists no member models; re-export it")
        files = []
        for member in self.members:
            name = member.files.get(precision)
            if name is None:
                raise AsckitError(f"{self.source}: member {member.name!r} has no {precision} file; export with that precision")
            if Path(name).name != name:
                raise AsckitError(f"{self.source}: member file {name!r} must be a plain name inside the bundle; re-export the model")
            file = self._folder / name
            if not file.is_file():
                raise AsckitError(f"{file}: member model file missing from the bundle; re-export it")
            files.append(file)
        return files

    def load_mel(self) -> np.ndarray:
        path = self._folder / self.mel
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise AsckitError(f"{path}: cannot read the mel matrix ({first_line(exc)}); re-export the model") from None

    def load_logistic(self) -> dict | None:
        """The logistic fusion's model (``fusion_logistic.json``), or None for the weighted average."""
        if self.fusion_method != "logistic":
            return None
        return read_json_object(self._folder / self.fusion["file"], "cannot read the fusion model: re-export the bundle")

    @property
    def _folder(self) -> Path:
        if self.folder is None:
            raise ValueError("this Bundle was not read from a folder")
        return self.folder


__all__ = [
    "BUNDLE_FILE",
    "Bundle",
    "BundleMember",
    "INPUT_NAME",
    "LOGISTIC_FILE",
    "MEL_FILE",
    "ModelInfo",
    "ONNX_METADATA_KEY",
    "OUTPUT_NAME",
    "PRECISIONS",
    "REPORT_FILE",
    "WindowRule",
    "member_file_name",
]
