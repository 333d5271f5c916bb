"""The export bundle: the folder ``asckit export`` writes and ``asckit predict`` reads.

Its one job is the bundle's format, in one place: ``bundle.json`` (the model description, the
members and their files, the fusion, the complexity figures), the member files' names, the
window rule, and the ONNX metadata key an exported ``.onnx`` carries the same description under.
numpy only, so the torch-free runtime can use it.

A bundle folder holds::

    bundle.json            Bundle.to_dict(): format, version, ModelInfo, members, fusion or
                           device routing, complexity
    mel.npy                the mel matrix of the feature settings (float32; 2020 log-mel bundles only)
    <member>.fp32.onnx     one graph per member (its snapshots averaged in the graph)
    <member>.fp16.onnx     TAU22 bundles: the same graph with its weights stored as float16 (computed in float32)
    <member>.int8.onnx     with int8 export; the bundle's ``precision`` says which are deployed
    fusion_logistic.json   only for a logistic fusion (asckit.fusion.logistic, without clip hashes)
    export_report.json     sizes, budget, complexity limits and parity (asckit.deploy.export)

Two front ends (``ModelInfo.frontend``): ``logmel``, the 2020 tasks' log-mel + deltas of the stored
``LogMelSettings`` (its mel matrix in ``mel.npy``), and ``tau22``, the CPJKU frontend of the TAU22
protocols (DCASE 2024/2025), whose facts live in ``asckit.features.tau22_frontend``; the bundle
records them (``tau22_facts``) and a reader refuses a bundle whose facts differ from its own.

**Device routing** (``DeviceRouting``, TAU22 bundles): the members are not fused; each recording is
classified by one of them, chosen by its device id: the device's own model, or the general model
for a device without one and for a recording without an id (DCASE 2025's rule). A 2024 bundle has
the general model alone (every id goes to it).

Format versions: 1 (asckit's 2020 bundles: log-mel front end, int8/fp32 members, fusion), 2 (adds
the ``tau22`` front end, fp16 member files and device routing). A bundle is written as version 1
when it uses none of version 2's additions, so older asckit releases keep reading 2020 bundles.
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
BUNDLE_VERSION = 2
#: The version a bundle without version 2's additions (tau22 front end, fp16 files, routing) is written as.
BASIC_BUNDLE_VERSION = 1
MEL_FILE = "mel.npy"
REPORT_FILE = "export_report.json"
LOGISTIC_FILE = "fusion_logistic.json"
#: Key of the JSON description in an exported ONNX file's metadata.
ONNX_METADATA_KEY = "asckit"
INPUT_NAME = "features"
OUTPUT_NAME = "probs"
PRECISIONS = ("int8", "fp16", "fp32")
FUSION_METHODS = ("average", "logistic")
#: The front ends a bundle may name (see the module docstring).
FRONTENDS = ("logmel", "tau22")
#: TAU22 windows: a remainder of at least this much (half a 1 s window) gets one more window,
#: aligned to the end of the recording; a shorter one is dropped (``WindowRule.starts``).
TAU22_MIN_TAIL_SECONDS = 0.5
#: The member that classifies recordings of devices without a model of their own (TAU22 bundles).
GENERAL_MEMBER = "general"


def tau22_facts() -> dict:
    """The TAU22 frontend as a bundle records it: the facts of ``asckit.features.tau22_frontend`` and
    the resampler named by the waveform store (``asckit.features.waves.RESAMPLER``)."""
    from asckit.features import tau22_frontend as fe
    from asckit.features.waves import RESAMPLER

    return {
        "sample_rate": fe.SAMPLE_RATE, "channels": 1, "n_fft": fe.N_FFT, "win_length": fe.WIN_LENGTH,
        "hop_length": fe.HOP_LENGTH, "n_mels": fe.N_MELS, "fmin": fe.F_MIN, "log_offset": fe.LOG_OFFSET,
        "resampler": RESAMPLER,
    }


def device_member_name(device: str) -> str:
    """The member of a device's own model in a TAU22 bundle: ``device-<id>`` (files ``device-a.int8.onnx``, ...)."""
    return f"device-{device}"


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
    """What a bundle or an exported ONNX file says about itself.

    ``settings`` are the 2020 log-mel settings (``frontend`` 'logmel'); a TAU22 model has none
    (``frontend`` 'tau22': the facts are ``asckit.features.tau22_frontend``'s, ``tau22_facts``).
    """

    task: str
    classes: tuple[str, ...]
    settings: LogMelSettings | None
    window: WindowRule
    frames: int
    frontend: str = "logmel"

    @classmethod
    def for_features(
        cls, task: str, classes: Sequence[str], settings: LogMelSettings, window: WindowRule | None = None
    ) -> ModelInfo:
        """The description of a model trained on ``settings``' features, for windows of ``window``."""
        window = window or WindowRule.for_settings(settings)
        _, _, frames = model_input_shape(settings, int(round(window.seconds * settings.sample_rate)))
        return cls(task=task, classes=tuple(classes), settings=settings, window=window, frames=frames)

    @classmethod
    def for_tau22(cls, task: str, classes: Sequence[str]) -> ModelInfo:
        """The description of a model of a TAU22 protocol (2024, 2025): 1 s windows of the CPJKU frontend."""
        from asckit.features import tau22_frontend
        from asckit.tasks import task_facts

        seconds = task_facts(task).clip_seconds
        window = WindowRule(seconds=seconds, min_tail_seconds=TAU22_MIN_TAIL_SECONDS)
        frames = tau22_frontend.frames(int(round(seconds * tau22_frontend.SAMPLE_RATE)))
        return cls(task=task, classes=tuple(classes), settings=None, window=window, frames=frames, frontend="tau22")

    @property
    def sample_rate(self) -> int:
        """The rate the front end works at (Hz)."""
        return int(tau22_facts()["sample_rate"]) if self.settings is None else self.settings.sample_rate

    @property
    def channels(self) -> int:
        """Audio channels the front end takes (others are mixed down or duplicated)."""
        return 1 if self.settings is None else self.settings.channels

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """One window's model input: (3·channels, n_mels, frames) for log-mel + deltas, (1, 256, frames) for TAU22."""
        if self.settings is None:
            return (1, int(tau22_facts()["n_mels"]), self.frames)
        return (3 * self.settings.channels, self.settings.n_mels, self.frames)

    @classmethod
    def from_dict(cls, data: dict, source: str) -> ModelInfo:
        frontend = data.get("frontend", "logmel")
        if frontend not in FRONTENDS:
            raise AsckitError(f"{source}: unknown front end {frontend!r} (this asckit knows {', '.join(FRONTENDS)}); upgrade asckit")
        try:
            settings = LogMelSettings(**data["features"]) if frontend == "logmel" else None
            info = cls(
                task=str(data["task"]),
                classes=tuple(data["classes"]),
                settings=settings,
                window=WindowRule.from_dict(data["window"]),
                frames=int(data["input"]["frames"]),
                frontend=frontend,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AsckitError(f"{source}: incomplete model description ({exc}); re-export it with `asckit export`") from None
        if frontend == "tau22" and data["features"] != tau22_facts():
            raise AsckitError(
                f"{source}: made with another TAU22 frontend ({data['features']}) than this asckit computes ({tau22_facts()}); "
                "predict with the asckit release that exported it, or re-export the run"
            )
        s, w = info.settings, info.window
        positive = {"window.seconds": w.seconds, "input.frames": info.frames}
        if s is not None:
            positive |= {"features.sample_rate": s.sample_rate, "features.n_fft": s.n_fft, "features.hop_length": s.hop_length,
                         "features.n_mels": s.n_mels}
        bad = [f"{k} {v!r}" for k, v in positive.items() if not (np.isfinite(v) and v > 0)]
        if info.channels not in (1, 2) or not info.classes or not (np.isfinite(w.min_tail_seconds) and w.min_tail_seconds >= 0):
            bad.append(f"channels {info.channels!r}, classes {list(info.classes)!r} or window.min_tail_seconds {w.min_tail_seconds!r}")
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
        features = tau22_facts() if self.settings is None else self.settings.to_dict()
        frontend = {} if self.frontend == "logmel" else {"frontend": self.frontend}  # version-1 readers know only log-mel
        return {
            "task": self.task,
            "classes": list(self.classes),
            **frontend,
            "features": features,
            "window": self.window.to_dict(),
            "input": {"name": INPUT_NAME, "channels": channels, "mel_bins": mel_bins, "frames": frames},
            "output": OUTPUT_NAME,
        }


@dataclass(frozen=True)
class DeviceRouting:
    """Which member classifies a recording of each device (TAU22 bundles; module docstring).

    ``devices`` maps a device id to the member of its own model; every other id, and a recording
    without one, goes to ``general``. Ids are matched exactly, as the organizers' template does.
    """

    general: str = GENERAL_MEMBER
    devices: dict[str, str] = field(default_factory=dict)

    def member_for(self, device_id: str | None) -> str:
        """The member that classifies a recording of ``device_id`` (None: no id)."""
        return self.devices.get(device_id, self.general) if device_id is not None else self.general

    def to_dict(self) -> dict:
        return {"general": self.general, "devices": dict(self.devices)}

    @classmethod
    def from_dict(cls, data: object, source: str) -> DeviceRouting:
        if (
            not isinstance(data, dict) or not isinstance(data.get("general"), str) or not isinstance(data.get("devices", {}), dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.get("devices", {}).items())
        ):
            raise AsckitError(
                f"{source}: damaged device routing (routing must name a general member and map device ids to members); re-export the model"
            )
        return cls(general=data["general"], devices=dict(data.get("devices", {})))


def member_file_name(member: str, precision: str) -> str:
    """The file of one member at one precision: ``<member>.fp32.onnx``, ``.fp16.onnx`` or ``.int8.onnx``."""
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
    mel: str | None = MEL_FILE  # None for the TAU22 front end, whose mel bank is a fact of the code
    report: str | None = REPORT_FILE
    folder: Path | None = None
    routing: DeviceRouting | None = None  # TAU22: each recording to one member by its device id, no fusion

    @property
    def fusion_method(self) -> str:
        return str(self.fusion.get("method", "average"))

    @property
    def weights(self) -> list[float]:
        return [m.weight for m in self.members]

    @property
    def source(self) -> str:
        return str(self.folder / BUNDLE_FILE) if self.folder is not None else BUNDLE_FILE

    @property
    def version(self) -> int:
        """The format version this bundle needs: 2 when it uses version 2's additions, else 1."""
        fp16 = self.precision == "fp16" or any("fp16" in m.files for m in self.members)
        return BUNDLE_VERSION if self.info.frontend != "logmel" or self.routing is not None or fp16 else BASIC_BUNDLE_VERSION

    def to_dict(self) -> dict:
        routing = {} if self.routing is None else {"routing": self.routing.to_dict()}
        return {
            "format": BUNDLE_FORMAT,
            "version": self.version,
            **self.info.to_dict(),
            "mel": self.mel,
            "precision": self.precision,
            "int8_mode": self.int8_mode,
            "members": [m.to_dict() for m in self.members],
            "fusion": dict(self.fusion),
            **routing,
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
        info = ModelInfo.from_dict(data, source)
        members = tuple(BundleMember.from_dict(m, source) for m in data.get("members") or [])
        routing = DeviceRouting.from_dict(data["routing"], source) if data.get("routing") is not None else None
        if routing is not None:
            names = {m.name for m in members}
            unknown = sorted({routing.general, *routing.devices.values()} - names)
            if unknown or fusion.get("method") != "average":
                raise AsckitError(
                    f"{path}: damaged device routing (it names {', '.join(unknown) or 'a fusion'} beside the members "
                    f"{', '.join(sorted(names)) or 'none'}); re-export the model"
                )
        mel = data.get("mel", MEL_FILE)
        if info.frontend == "logmel" and mel is None:
            raise AsckitError(f"{path}: a log-mel bundle without its mel matrix (mel: null); re-export the model")
        return cls(
            info=info,
            members=members,
            precision=str(data.get("precision", "int8")),
            int8_mode=data.get("int8_mode"),
            fusion=fusion,
            complexity=data.get("complexity") or {},
            mel=None if mel is None else str(mel),
            report=data.get("report"),
            folder=path.parent,
            routing=routing,
        )

    def member_paths(self, precision: str | None = None) -> list[Path]:
        """The members' graph files at ``precision`` (default: the bundle's), checked to exist."""
        precision = precision or self.precision
        if precision not in PRECISIONS:
            raise AsckitError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        if not self.members:
            raise AsckitError(f"{self.source}: the bundle lists no member models; re-export it")
        return [self.member_path(member, precision) for member in self.members]

    def member_path(self, member: BundleMember, precision: str) -> Path:
        """One member's graph file at ``precision``, checked to be a plain name that exists."""
        name = member.files.get(precision)
        if name is None:
            raise AsckitError(f"{self.source}: member {member.name!r} has no {precision} file; export with that precision "
                              f"or predict with --precision {' or '.join(p for p in PRECISIONS if p in member.files) or 'fp32'}")
        if Path(name).name != name:
            raise AsckitError(f"{self.source}: member file {name!r} must be a plain name inside the bundle; re-export the model")
        file = self._folder / name
        if not file.is_file():
            raise AsckitError(f"{file}: member model file missing from the bundle; re-export it")
        return file

    def load_mel(self) -> np.ndarray | None:
        """The stored mel matrix of a log-mel bundle; None for the TAU22 front end (its bank is computed)."""
        if self.mel is None:
            return None
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
    "DeviceRouting",
    "FRONTENDS",
    "GENERAL_MEMBER",
    "INPUT_NAME",
    "LOGISTIC_FILE",
    "MEL_FILE",
    "ModelInfo",
    "ONNX_METADATA_KEY",
    "OUTPUT_NAME",
    "PRECISIONS",
    "REPORT_FILE",
    "TAU22_MIN_TAIL_SECONDS",
    "WindowRule",
    "device_member_name",
    "member_file_name",
    "tau22_facts",
]
