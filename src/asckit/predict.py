"""Classify recordings with an exported model: audio files → scene probabilities → DCASE TSV.

This is the deployment path, so it imports only numpy, soundfile, soxr, onnxruntime and tqdm
(the ``asckit[infer]`` extra): no torch, no librosa, no pandas. A test runs it with those
modules blocked.

**Models.** ``load_model(path)`` accepts an export bundle (a folder written by ``asckit export``
holding ``bundle.json``, ``mel.npy`` and one ONNX file per ensemble member, optionally
``fusion_logistic.json``), the bundle's ``bundle.json``, or a single exported ``.onnx`` file,
which carries the same description in its ONNX metadata (its mel matrix is then recomputed in
numpy). ``precision`` picks the bundle's int8 (default) or fp32 member files.

**Front end.** The numpy log-mel mirrors ``asckit.features.extract``: centred STFT with reflect
padding, periodic Hann window, n_fft 2048, hop 1024, power 2, the stored mel matrix,
ln(mel + 1e-8), per-window min/max scaling over all channels, 5-point deltas. Audio of any sample
rate is resampled with soxr; mono is duplicated for 1b, stereo mixed down for 1a.

**Windows.** The models were trained on 10 s clips, so every recording is classified in windows
of the bundle's clip length (10 s):

- a recording of at most one window is one window; a shorter one is repeated to the full length
  (``asckit.audio.io.fit_length``, the rule used everywhere in asckit: zero padding would put
  digital silence into the per-clip min/max scaling);
- a longer one is cut into consecutive windows starting at 0, 10, 20 s, ...; a remainder of at
  least ``min_tail_seconds`` (1 s) gets one more window aligned to the end of the file (it
  overlaps the previous one), so every window holds real audio; a shorter remainder is dropped;
- the file's probabilities are the mean of its windows' probabilities; windows of digital
  silence (peak below −120 dBFS) are skipped, and a file with nothing else is an error.

Files that cannot be classified (missing, corrupt, empty, silent, not audio) each get one error
line; the other files are still classified.

Command: ``asckit predict MODEL PATH... [--out OUT.tsv] [--windows WINDOWS.tsv]``, or
``python -m asckit.predict ...`` with only ``asckit[infer]`` installed. Folders are walked
recursively for audio files (.wav, .flac, .ogg, .aiff, .mp3, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asckit.audio.io import as_channels_first, fit_length, match_channels, resample
from asckit.errors import AsckitError
from asckit.features.logmel import LogMel, LogMelSettings, add_deltas, finish_logmel, mel_filterbank
from asckit.io_utils import atomic_path

BUNDLE_FILE = "bundle.json"
BUNDLE_FORMAT = "asckit-bundle"
BUNDLE_VERSION = 1
MEL_FILE = "mel.npy"
#: Key of the JSON description in an exported ONNX file's metadata.
ONNX_METADATA_KEY = "asckit"
INPUT_NAME = "features"
OUTPUT_NAME = "probs"
PRECISIONS = ("int8", "fp32")

#: Suffixes taken when a folder is walked (files named explicitly are always tried).
AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".mp3", ".w64", ".rf64"})

#: A window whose peak is at or below this (−120 dBFS) is digital silence: its log-mel is flat.
SILENCE_PEAK = 1e-6

#: Windows run through a model at once; bounds memory on hour-long recordings.
WINDOW_BATCH = 16


# ----------------------------------------------------------------------------------------------
# Front end


class NumpyFrontEnd:
    """Waveform (channels, samples) at the model's rate → model input (3·channels, n_mels, T − 8).

    The feature extractor that filled the training store (``LogMel``, float32) with the bundle's
    mel matrix, so deployment computes exactly what the model was trained on.
    """

    def __init__(self, settings: LogMelSettings, mel: np.ndarray) -> None:
        self.settings = settings
        self.logmel = LogMel(settings, mel=mel)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        return add_deltas(finish_logmel(self.logmel(audio), self.settings)).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Windows


@dataclass(frozen=True)
class WindowRule:
    """How recordings are cut into model-sized windows (see the module docstring)."""

    seconds: float = 10.0
    min_tail_seconds: float = 1.0

    def to_dict(self) -> dict:
        return {"seconds": self.seconds, "min_tail_seconds": self.min_tail_seconds, "shorter": "repeat"}

    @classmethod
    def from_dict(cls, data: dict) -> WindowRule:
        return cls(seconds=float(data["seconds"]), min_tail_seconds=float(data.get("min_tail_seconds", 1.0)))

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
class Window:
    """One classified window: where it lies in the recording (seconds) and its probabilities."""

    start: float
    end: float
    probs: np.ndarray | None  # None for a window of digital silence, which is not classified

    @property
    def silent(self) -> bool:
        return self.probs is None


def read_windows(
    path: Path, rule: WindowRule, target_sr: int, channels: int
) -> Iterator[tuple[float, float, np.ndarray]]:
    """Yield (start s, end s, audio (channels, window samples) at ``target_sr``) for ``path``."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception as exc:  # LibsndfileError, RuntimeError, TypeError for non-audio input
        raise AsckitError(f"{path}: not a readable audio file ({_first_line(exc)}); convert it to WAV or FLAC") from None
    sr, total = int(info.samplerate), int(info.frames)
    if total <= 0:
        raise AsckitError(f"{path}: the audio file holds no samples")
    native_window = int(round(rule.seconds * sr))
    target_window = int(round(rule.seconds * target_sr))
    for start in rule.starts(total, native_window, sr):
        stop = min(start + native_window, total)
        try:
            data, _ = soundfile.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
        except Exception as exc:
            raise AsckitError(f"{path}: reading failed at {start / sr:.1f} s ({_first_line(exc)}); the file is damaged") from None
        if data.shape[0] == 0:
            raise AsckitError(f"{path}: the audio file holds no samples")
        audio = np.ascontiguousarray(data.T)
        if not np.isfinite(audio).all():
            raise AsckitError(f"{path}: holds NaN or infinite samples; re-encode the file")
        audio = match_channels(resample(audio, sr, target_sr), channels)
        # Resampling may be a sample off; a recording shorter than a window is repeated to length.
        yield start / sr, stop / sr, fit_length(audio, target_window)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


# ----------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class FileResult:
    """Probabilities of one recording, and of each of its windows."""

    path: str
    probs: np.ndarray
    label: str
    duration: float
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class FileError:
    path: str
    message: str


@dataclass
class PredictionResult:
    """What ``SceneClassifier.predict`` returns: per-file results in input order, and the failures."""

    classes: tuple[str, ...]
    task: str  # the model's task ('1a' audio format even when it predicts the 3 super-classes)
    files: list[FileResult] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)

    @property
    def filenames(self) -> list[str]:
        return [f.path for f in self.files]

    @property
    def probs(self) -> np.ndarray:
        """(files, classes) float64: one row per classified file."""
        return np.array([f.probs for f in self.files], dtype=np.float64).reshape(len(self.files), len(self.classes))

    @property
    def labels(self) -> list[str]:
        return [f.label for f in self.files]

    def write_tsv(self, path: str | os.PathLike) -> Path:
        """Write the whole-file results as a DCASE prediction TSV (atomically)."""
        header = ["filename", "scene_label", *self.classes]
        rows = [[f.path, f.label, *map(_fmt, f.probs)] for f in self.files]
        return _write_tsv(path, header, rows)

    def write_windows_tsv(self, path: str | os.PathLike) -> Path:
        """Per-window results: filename, start, end (seconds), scene_label, one column per class."""
        header = ["filename", "start", "end", "scene_label", *self.classes]
        rows = []
        for f in self.files:
            for w in f.windows:
                if w.silent:
                    rows.append([f.path, f"{w.start:.3f}", f"{w.end:.3f}", "silence", *([""] * len(self.classes))])
                else:
                    label = self.classes[int(np.argmax(w.probs))]
                    rows.append([f.path, f"{w.start:.3f}", f"{w.end:.3f}", label, *map(_fmt, w.probs)])
        return _write_tsv(path, header, rows)

    def table(self) -> str:
        """A readable table: file, scene, its probability, duration, windows."""
        if not self.files:
            return "(no files classified)"
        width = min(max(len(f.path) for f in self.files), 60)
        lines = [f"{'file':<{width}}  {'scene':<17}  {'prob':>5}  {'seconds':>8}  windows"]
        for f in self.files:
            name = f.path if len(f.path) <= width else "..." + f.path[-(width - 3):]
            prob = float(np.max(f.probs))
            lines.append(f"{name:<{width}}  {f.label:<17}  {prob:5.2f}  {f.duration:8.1f}  {len(f.windows)}")
        return "\n".join(lines)


def _fmt(value: float) -> str:
    return repr(float(value))  # shortest exact repr: lossless round trip


def _write_tsv(path: str | os.PathLike, header: list[str], rows: list[list[str]]) -> Path:
    path = Path(path)
    lines = ["\t".join(header)] + ["\t".join(row) for row in rows]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class ModelInfo:
    """What a bundle or an exported ONNX file says about itself."""

    task: str
    classes: tuple[str, ...]
    settings: LogMelSettings
    window: WindowRule
    frames: int

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

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "classes": list(self.classes),
            "features": self.settings.to_dict(),
            "window": self.window.to_dict(),
            "input": {
                "name": INPUT_NAME,
                "channels": 3 * self.settings.channels,
                "mel_bins": self.settings.n_mels,
                "frames": self.frames,
            },
            "output": OUTPUT_NAME,
        }


class SceneClassifier:
    """An exported model (one ONNX graph or an ensemble) with its front end and fusion.

    Build it with ``load_model``. ``predict(paths)`` classifies files and folders;
    ``predict_audio(audio, sr)`` one array; ``predict_features(x)`` model inputs.
    """

    def __init__(
        self,
        info: ModelInfo,
        mel: np.ndarray,
        member_files: Sequence[Path],
        weights: Sequence[float] | None = None,
        logistic: dict | None = None,
        threads: int | None = None,
        source: str = "model",
    ) -> None:
        import onnxruntime as ort

        self.info = info
        self.source = source
        self.front_end = NumpyFrontEnd(info.settings, mel)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # ORT's warnings are for developers, not for users
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.sessions = []
        for path in member_files:
            try:
                session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:
                raise AsckitError(f"{path}: ONNX Runtime cannot load it ({_first_line(exc)}); re-export the model") from None
            _check_graph(path, session, (3 * info.settings.channels, info.settings.n_mels, info.frames), len(info.classes))
            self.sessions.append(session)
        self.member_files = [Path(p) for p in member_files]
        count = len(self.sessions)
        weights = [1.0] * count if weights is None else [float(w) for w in weights]
        if len(weights) != count or min(weights) < 0 or sum(weights) <= 0:
            raise AsckitError(f"{source}: member weights {weights} do not fit {count} member(s); re-export the model")
        self.weights = np.asarray(weights) / sum(weights)
        self.logistic = logistic

    @property
    def task(self) -> str:
        return self.info.task

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    def member_outputs(self, features: np.ndarray) -> list[np.ndarray]:
        """Each member's probabilities (n, classes) float64 for model inputs (n, channels, n_mels, frames)."""
        features = np.ascontiguousarray(features, dtype=np.float32)
        expected = (3 * self.info.settings.channels, self.info.settings.n_mels, self.info.frames)
        if features.ndim != 4 or features.shape[1:] != expected:
            raise AsckitError(f"{self.source}: model input must be (n, {', '.join(map(str, expected))}), got {features.shape}")
        outputs = []
        for path, session in zip(self.member_files, self.sessions):
            try:
                out = session.run([OUTPUT_NAME], {INPUT_NAME: features})[0].astype(np.float64)
            except Exception as exc:  # onnxruntime's own error types: a member graph this bundle's input does not fit
                raise AsckitError(
                    f"{path}: does not run on this bundle's input ({_first_line(exc)}); it is not this bundle's model: re-export"
                ) from None
            if out.ndim != 2 or out.shape[1] != len(self.classes):
                raise AsckitError(f"{path}: gives {out.shape[-1]} scores per clip, the bundle names {len(self.classes)} classes; re-export")
            if not np.isfinite(out).all():
                raise AsckitError(f"{path}: gives NaN or infinite scores; the model is damaged: re-export it from a finished run")
            outputs.append(out)
        return outputs

    def fuse(self, member_probs: Sequence[np.ndarray]) -> np.ndarray:
        """The bundle's fusion of member probabilities: logistic regression, or the weighted mean."""
        if self.logistic is not None:
            return apply_logistic(self.logistic, member_probs)
        fused = sum(w * p for w, p in zip(self.weights, member_probs))
        return fused / fused.sum(axis=1, keepdims=True)

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Model inputs (n, channels, n_mels, frames) → fused probabilities (n, classes) float64."""
        return self.fuse(self.member_outputs(features))

    def predict_audio(self, audio: np.ndarray, sr: int, name: str = "<array>") -> FileResult:
        """Classify one waveform, (samples,) or (channels, samples) at ``sr`` Hz."""
        audio = as_channels_first(audio)
        s = self.info.settings
        native = int(round(self.info.window.seconds * sr))
        target = int(round(self.info.window.seconds * s.sample_rate))

        def windows():
            for start in self.info.window.starts(audio.shape[1], native, sr):
                stop = min(start + native, audio.shape[1])
                chunk = match_channels(resample(audio[:, start:stop], sr, s.sample_rate), s.channels)
                yield start / sr, stop / sr, fit_length(chunk, target)

        return self._classify(name, windows(), audio.shape[1] / sr)

    def predict(
        self, paths: Iterable[str | os.PathLike] | str | os.PathLike, progress: bool = False
    ) -> PredictionResult:
        """Classify files and folders (walked recursively for audio files).

        A file that fails is recorded in ``errors`` with a one-line message; the rest still runs.
        """
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        files, errors = collect_audio_files(paths)
        result = PredictionResult(self.classes, self.task, errors=errors)
        iterator: Iterable[Path] = files
        if progress:
            from tqdm import tqdm

            iterator = tqdm(files, desc="classifying", unit="file", file=sys.stderr, disable=None)  # off when not a terminal
        s = self.info.settings
        for path in iterator:
            try:
                windows = read_windows(path, self.info.window, s.sample_rate, s.channels)
                result.files.append(self._classify(str(path), windows, _duration(path)))
            except AsckitError as exc:
                result.errors.append(FileError(str(path), str(exc)))
        return result

    def _classify(self, name: str, windows: Iterable[tuple[float, float, np.ndarray]], duration: float) -> FileResult:
        done: list[Window] = []
        batch: list[tuple[float, float, np.ndarray]] = []

        def flush() -> None:
            if batch:
                probs = self.predict_features(np.stack([self.front_end(a) for _, _, a in batch]))
                done.extend(Window(start, end, p) for (start, end, _), p in zip(batch, probs))
                batch.clear()

        for start, end, audio in windows:
            if np.max(np.abs(audio)) <= SILENCE_PEAK:
                flush()
                done.append(Window(start, end, None))
                continue
            batch.append((start, end, audio))
            if len(batch) == WINDOW_BATCH:
                flush()
        flush()
        heard = [w.probs for w in done if not w.silent]
        if not heard:
            raise AsckitError(f"{name}: the recording is digital silence (peak below −120 dBFS); nothing to classify")
        probs = np.mean(heard, axis=0)
        probs = probs / probs.sum()
        return FileResult(name, probs, self.classes[int(np.argmax(probs))], duration, tuple(done))


def _check_graph(path: Path, session, input_shape: tuple[int, ...], classes: int) -> None:
    """A member graph must take the bundle's input and give one score per class (else: another model's file)."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    given = tuple(inputs[0].shape[1:]) if inputs else ()
    width = outputs[0].shape[-1] if outputs and outputs[0].shape else None
    if len(given) != len(input_shape) or any(isinstance(g, int) and g != e for g, e in zip(given, input_shape)):
        raise AsckitError(f"{path}: takes input {given}, the bundle describes {input_shape}; it is not this bundle's model: re-export")
    if isinstance(width, int) and width != classes:
        raise AsckitError(f"{path}: gives {width} scores per clip, the bundle names {classes} classes; re-export")


def _duration(path: Path) -> float:
    import soundfile

    try:
        info = soundfile.info(str(path))
        return info.frames / info.samplerate
    except Exception:
        return float("nan")


def apply_logistic(model: dict, member_probs: Sequence[np.ndarray]) -> np.ndarray:
    """Logistic-regression fusion in numpy: softmax([p_1 … p_M] · Wᵀ + b).

    ``model`` is the content of ``fusion_logistic.json`` (see ``asckit.fusion_logistic``);
    members are concatenated in the order it lists them.
    """
    coef = np.asarray(model["coef"], dtype=np.float64)
    intercept = np.asarray(model["intercept"], dtype=np.float64)
    x = np.concatenate([np.asarray(p, dtype=np.float64) for p in member_probs], axis=1)
    if x.shape[1] != coef.shape[1]:
        raise AsckitError(
            f"logistic fusion expects {coef.shape[1]} inputs ({len(model.get('members', []))} members), got {x.shape[1]}; "
            "fit it on the same members"
        )
    z = x @ coef.T + intercept
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def collect_audio_files(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[FileError]]:
    """Expand folders (recursively, audio suffixes only, sorted); keep files as given.

    Missing paths become errors; a folder without audio files is an error too.
    """
    files: list[Path] = []
    errors: list[FileError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                errors.append(FileError(str(path), f"{path}: no audio files (.wav, .flac, ...) in this folder"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            errors.append(FileError(str(path), f"{path}: no such file or folder"))
    bad = [p for p in files if any(ch in str(p) for ch in "\t\r\n")]
    for p in bad:
        errors.append(FileError(str(p), f"{p!s:.80}: the file name holds a tab or newline; rename it"))
    return [p for p in files if p not in bad], errors


# ----------------------------------------------------------------------------------------------
# Loading


def load_model(path: str | os.PathLike, precision: str | None = None, threads: int | None = None) -> SceneClassifier:
    """Load an export bundle (folder or its bundle.json) or a single exported ``.onnx`` file.

    ``precision`` 'int8' or 'fp32' picks a bundle's member files (default: the bundle's own
    choice, int8 when quantized). ``threads`` caps ONNX Runtime's threads (default: all cores).
    """
    path = Path(path)
    if path.is_dir():
        path = path / BUNDLE_FILE
        if not path.is_file():
            raise AsckitError(f"{path.parent}: no {BUNDLE_FILE}; give an export folder written by `asckit export` or an .onnx file")
    if not path.is_file():
        raise AsckitError(f"{path}: no such model; give an export folder or an .onnx file")
    if path.suffix == ".onnx":
        return _load_onnx_file(path, precision, threads)
    return _load_bundle(path, precision, threads)


def read_bundle(bundle_json: str | os.PathLike) -> dict:
    """The parsed ``bundle.json``, checked for format and version."""
    bundle_json = Path(bundle_json)
    try:
        data = json.loads(bundle_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AsckitError(f"{bundle_json}: not a readable bundle description ({_first_line(exc)}); re-export the model") from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise AsckitError(f"{bundle_json}: not an asckit export bundle; give a folder written by `asckit export`")
    if not isinstance(data.get("version"), int) or not isinstance(data.get("members", []), list):
        raise AsckitError(f"{bundle_json}: damaged bundle description (version or members of the wrong type); re-export the model")
    if not all(isinstance(m, dict) and isinstance(m.get("files", {}), dict) for m in data.get("members", [])):
        raise AsckitError(f"{bundle_json}: damaged bundle description (a member that is not an object); re-export the model")
    if data["version"] > BUNDLE_VERSION:
        raise AsckitError(f"{bundle_json}: bundle version {data['version']} is newer than this asckit reads; upgrade asckit")
    return data


def _load_bundle(bundle_json: Path, precision: str | None, threads: int | None) -> SceneClassifier:
    data = read_bundle(bundle_json)
    folder = bundle_json.parent
    info = ModelInfo.from_dict(data, str(bundle_json))
    precision = precision or data.get("precision", "int8")
    if precision not in PRECISIONS:
        raise AsckitError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    members = data.get("members") or []
    files = []
    for member in members:
        name = member.get("files", {}).get(precision)
        if name is None:
            raise AsckitError(f"{bundle_json}: member {member.get('name')!r} has no {precision} file; export with that precision")
        if Path(name).name != name:
            raise AsckitError(f"{bundle_json}: member file {name!r} must be a plain name inside the bundle")
        file = folder / name
        if not file.is_file():
            raise AsckitError(f"{file}: member model file missing from the bundle; re-export it")
        files.append(file)
    if not files:
        raise AsckitError(f"{bundle_json}: the bundle lists no member models; re-export it")
    mel_path = folder / data.get("mel", MEL_FILE)
    try:
        mel = np.load(mel_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise AsckitError(f"{mel_path}: cannot read the mel matrix ({_first_line(exc)}); re-export the model") from None
    fusion = data.get("fusion") or {"method": "average"}
    logistic = None
    if fusion.get("method") == "logistic":
        fusion_path = folder / fusion["file"]
        try:
            logistic = json.loads(fusion_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AsckitError(f"{fusion_path}: cannot read the fusion model ({_first_line(exc)}); re-export the bundle") from None
    elif fusion.get("method") != "average":
        raise AsckitError(f"{bundle_json}: unknown fusion {fusion.get('method')!r}; use 'average' or 'logistic'")
    weights = [float(m.get("weight", 1.0)) for m in members]
    return SceneClassifier(info, mel, files, weights, logistic, threads, source=str(bundle_json))


def _load_onnx_file(path: Path, precision: str | None, threads: int | None) -> SceneClassifier:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise AsckitError(f"{path}: ONNX Runtime cannot load it ({_first_line(exc)}); give a model written by `asckit export`") from None
    text = session.get_modelmeta().custom_metadata_map.get(ONNX_METADATA_KEY)
    if text is None:
        raise AsckitError(f"{path}: carries no asckit description; export it with `asckit export` (or give the bundle folder)")
    try:
        info = ModelInfo.from_dict(json.loads(text), str(path))
    except ValueError as exc:
        raise AsckitError(f"{path}: unreadable asckit description ({_first_line(exc)}); re-export it") from None
    del session
    return SceneClassifier(info, mel_filterbank(info.settings), [path], None, None, threads, source=str(path))


# ----------------------------------------------------------------------------------------------
# Command


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``asckit predict``."""
    parser = subparsers.add_parser(
        "predict",
        help="classify audio files with an exported model (DCASE TSV + table)",
        description=(
            "Classify WAV/FLAC recordings of any sample rate, channel count and length with an exported "
            "model. Recordings longer than the clip length are classified in 10 s windows and averaged; "
            "shorter ones are repeated to length. Folders are walked recursively."
        ),
    )
    _add_arguments(parser)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="MODEL", help="export folder (bundle.json) or an exported .onnx file")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="audio files or folders")
    parser.add_argument("--out", type=Path, metavar="OUT.tsv", help="write whole-file probabilities (DCASE format)")
    parser.add_argument("--windows", type=Path, metavar="WINDOWS.tsv", help="write per-window probabilities")
    parser.add_argument("--precision", choices=PRECISIONS, help="bundle member files to use (default: the bundle's)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    """Handler of ``asckit predict``: exit 0 when every file was classified, 1 when some failed."""
    model = load_model(args.model, args.precision, args.threads)
    result = model.predict(args.paths, progress=not args.no_progress)
    if not result.files and len(result.errors) == 1:
        raise AsckitError(result.errors[0].message)  # one file, one line
    for error in result.errors:
        print(f"asckit: error: {error.message}", file=sys.stderr)
    if not result.files:
        raise AsckitError(f"none of the {len(result.errors)} file(s) could be classified; see the errors above")
    shortest = model.info.window.seconds / 2
    for short in (f for f in result.files if f.duration < shortest):  # repeated to length: a guess, not a hearing
        print(
            f"asckit: warning: {short.path}: only {short.duration:.3f} s long, repeated to the model's "
            f"{model.info.window.seconds:g} s; its scene is a guess",
            file=sys.stderr,
        )
    print(result.table())
    if args.out is not None:
        result.write_tsv(args.out)
        print(f"wrote {args.out}: {len(result.files)} file(s)")
    if args.windows is not None:
        result.write_windows_tsv(args.windows)
        print(f"wrote {args.windows}: {sum(len(f.windows) for f in result.files)} window(s)")
    if result.errors:
        print(f"{len(result.errors)} file(s) failed", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m asckit.predict MODEL PATH...``: the predict command on its own.

    For an ``asckit[infer]`` install: the full ``asckit`` command also loads the training and
    evaluation commands, whose modules need pandas and torch.
    """
    parser = argparse.ArgumentParser(prog="python -m asckit.predict", description="Classify audio files with an exported asckit model.")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_predict(args)
    except AsckitError as exc:
        print(f"asckit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
