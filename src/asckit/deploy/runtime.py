"""Classify recordings with an exported model: audio files → scene probabilities → DCASE TSV.

This is the deployment path, so it imports only numpy, soundfile, soxr, onnxruntime and tqdm
(the base install, ``pip install asckit``): no torch, no librosa, no pandas. A test runs it with those
modules blocked.

**Models.** ``load_exported_model(path)`` (also ``asckit.load_exported_model``) accepts an export bundle (a folder written by ``asckit export``
described in ``asckit.deploy.bundle``), the bundle's ``bundle.json``, or a single exported ``.onnx`` file,
which carries the same description in its ONNX metadata (its mel matrix is then recomputed in
numpy). ``precision`` picks the bundle's int8 (default), fp16 (TAU22 bundles) or fp32 member files.

**Front end.** Two, as the bundle says (``ModelInfo.frontend``):

- ``logmel`` (2020 tasks, ``NumpyFrontEnd``): mirrors ``asckit.features.extract``: centred STFT with
  reflect padding, periodic Hann window, n_fft 2048, hop 1024, power 2, the stored mel matrix,
  ln(mel + 1e-8), per-window min/max scaling over all channels, 5-point deltas. Audio of any sample
  rate is resampled with soxr; mono is duplicated for 1b, stereo mixed down for 1a.
- ``tau22`` (DCASE 2024/2025, ``Tau22FrontEnd``): the training log-mel of the CPJKU frontend
  (``asckit.features.tau22_frontend.log_mel``: 32 kHz, n_fft 4096, window 3072, hop 500, 256 HTK
  bands, log(x + 1e-5)), input (1, 256, 65) per 1 s window. Each window is prepared as the
  waveform store prepared the training clips (``asckit.features.tau22_wave.fit_wave``): channels
  averaged, then any input rate resampled straight to 32 kHz with torchaudio's windowed-sinc
  formula (gcd-reduced), as the organizers' inference template resamples.

**Windows.** The models were trained on clips of one length (10 s for 2020, 1 s for TAU22), so every
recording is classified in windows of the bundle's clip length:

- a recording of at most one window is one window; a shorter one is repeated to the full length
  (``asckit.audio.io.fit_length``, the rule used everywhere in asckit: zero padding would put
  digital silence into the per-clip min/max scaling);
- a longer one is cut into consecutive windows starting at 0, 10, 20 s, ... (TAU22: 0, 1, 2 s, ...);
  a remainder of at least ``min_tail_seconds`` (1 s; TAU22 0.5 s) gets one more window aligned to
  the end of the file (it overlaps the previous one), so every window holds real audio; a shorter
  remainder is dropped;
- the file's probabilities are the mean of its windows' probabilities; windows of digital
  silence (peak below −120 dBFS) are skipped, and a file with nothing else is an error.

Files that cannot be classified (missing, corrupt, empty, silent, not audio) each get one error
line; the other files are still classified.

**Device models** (TAU22 bundles with ``DeviceRouting``): ``predict(paths, device_ids=...)`` takes
one device id for every file, one per path given, or a function of the file's path
(``asckit.deploy.device_list``); each file is classified by its device's own model, or by the
general model when it has no id or an id without a model of its own. ``FileResult.model`` says
which member answered. A 2020 bundle has no device models and refuses device ids.

The command ``asckit predict`` (``asckit.deploy.commands``; ``python -m asckit.deploy`` with
only the base install) walks folders recursively for audio files. It reads WAV and FLAC
(``asckit.audio.io.READABLE_FORMATS``); a folder's .mp3, .ogg, .aiff, ... files are listed too, so
that each gets its one error line ("MP3 audio is not supported ...") instead of being skipped unseen.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asckit.audio.io import as_channels_first, audio_info, cut_windows, read_span
from asckit.core.errors import AsckitError, first_line
from asckit.deploy.bundle import INPUT_NAME, ONNX_METADATA_KEY, OUTPUT_NAME, Bundle, DeviceRouting, ModelInfo, WindowRule
from asckit.features.logmel import LogMel, LogMelSettings, add_deltas, finish_logmel, mel_of
from asckit.fusion.core import apply_logistic, normalised_weights, weighted_average
from asckit.predictions.file_format import format_probability, write_prediction_file, write_table

#: Suffixes taken when a folder is walked (files named explicitly are always tried); only WAV and
#: FLAC are read, the others are named in an error line each.
AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".mp3", ".w64", ".rf64"})

#: A window whose peak is at or below this (−120 dBFS) is digital silence: its log-mel is flat.
SILENCE_PEAK = 1e-6

#: Windows run through a model at once; bounds memory on hour-long recordings.
WINDOW_BATCH = 16


# ----------------------------------------------------------------------------------------------
# Front end


#: A reader of one recording's samples: ``read(start, stop)`` → float32 (channels, stop − start).
Reader = Callable[[int, int], np.ndarray]


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

    def batch(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """Model inputs (n, 3·channels, n_mels, T − 8) of several windows."""
        return np.stack([self(audio) for audio in windows])

    def windows(self, read: Reader, total: int, sr: int, rule: WindowRule) -> Iterator[tuple[float, float, np.ndarray]]:
        """(start s, end s, window audio at the model's rate) of a recording of ``total`` samples at ``sr``."""
        s = self.settings
        return cut_windows(read, total, sr, rule.starts, rule.seconds, s.sample_rate, s.channels)


class Tau22FrontEnd:
    """A 1 s window (1, 32,000) at 32 kHz → the TAU22 model input (1, 256, 65): the training log-mel.

    ``windows`` prepares each window of a recording as the waveform store prepared the training
    clips (``asckit.features.tau22_wave.fit_wave``: channels averaged, fitted to the window at the
    file's rate, resampled with torchaudio's windowed-sinc formula from any rate); the log-mel is
    ``asckit.features.tau22_frontend.log_mel``, one call per batch of windows.
    """

    def __init__(self, window: WindowRule) -> None:
        from asckit.features.waves import WaveformSettings

        self.settings = WaveformSettings(clip_seconds=window.seconds)

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        return self.batch([wave])[0]

    def batch(self, windows: Sequence[np.ndarray]) -> np.ndarray:
        """Model inputs (n, 1, 256, frames) of several windows (each (1, samples) at 32 kHz)."""
        from asckit.features.tau22_frontend import log_mel

        return log_mel(np.stack(windows))

    def windows(self, read: Reader, total: int, sr: int, rule: WindowRule) -> Iterator[tuple[float, float, np.ndarray]]:
        """(start s, end s, window wave (1, samples) at 32 kHz) of a recording of ``total`` samples at ``sr``."""
        from asckit.features.tau22_wave import fit_wave

        s = self.settings
        native = int(round(rule.seconds * sr))
        for start in rule.starts(total, native, sr):
            stop = min(start + native, total)
            yield start / sr, stop / sr, fit_wave(read(start, stop), sr, s.clip_seconds, s.sample_rate, s.channels)


FrontEnd = NumpyFrontEnd | Tau22FrontEnd


def front_end_for(info: ModelInfo, mel: np.ndarray | None = None) -> FrontEnd:
    """The front end a model described by ``info`` was trained with (``mel``: a log-mel bundle's matrix,
    default: computed from its settings)."""
    if info.frontend == "tau22":
        return Tau22FrontEnd(info.window)
    return NumpyFrontEnd(info.settings, mel if mel is not None else mel_of(info.settings))


# ----------------------------------------------------------------------------------------------
# Windows


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
    """Yield (start s, end s, audio (channels, window samples) at ``target_sr``) for ``path`` (soxr
    resampling: the 2020 log-mel front end's; ``file_windows`` takes any front end's)."""
    read, total, sr = _file_reader(path)
    return cut_windows(read, total, sr, rule.starts, rule.seconds, target_sr, channels)


def file_windows(path: Path, rule: WindowRule, front_end: FrontEnd) -> Iterator[tuple[float, float, np.ndarray]]:
    """Yield (start s, end s, window audio) for ``path``, prepared by ``front_end`` (``windows``)."""
    read, total, sr = _file_reader(path)
    return front_end.windows(read, total, sr, rule)


def _file_reader(path: Path) -> tuple[Reader, int, int]:
    """A reader of ``path``'s samples, its length in samples and its rate."""
    sr, total = audio_info(path)

    def read(start: int, stop: int) -> np.ndarray:
        audio = read_span(path, start, stop, sr)
        if not np.isfinite(audio).all():
            raise AsckitError(f"{path}: holds NaN or infinite samples; re-encode the file")
        return audio

    return read, total, sr


def first_windows(paths: Sequence[str | os.PathLike], info: ModelInfo, mel: np.ndarray | None = None) -> np.ndarray:
    """Model inputs (n, *info.input_shape) of the first window of each file (the whole clip for a clip
    of the model's length), exactly as ``predict`` computes it: what calibration and parity see."""
    front_end = front_end_for(info, mel)
    return front_end.batch([next(file_windows(Path(path), info.window, front_end))[2] for path in paths])


# ----------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class FileResult:
    """Probabilities of one recording, and of each of its windows; for a bundle with device models,
    the device id it was given (None: none) and the member that classified it (``model``)."""

    path: str
    probs: np.ndarray
    label: str
    duration: float
    windows: tuple[Window, ...]
    device_id: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class FileError:
    path: str
    message: str


@dataclass
class PredictionResult:
    """What ``ExportedClassifier.predict`` returns: per-file results in input order, and the failures."""

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
        return write_prediction_file(path, self.filenames, self.probs, self.classes)

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
                    rows.append([f.path, f"{w.start:.3f}", f"{w.end:.3f}", label, *map(format_probability, w.probs)])
        return write_table(path, header, rows)

    def models_used(self) -> Counter:
        """Files per member that classified them (bundles with device models; empty otherwise)."""
        return Counter(f.model for f in self.files if f.model is not None)

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


# ----------------------------------------------------------------------------------------------
# The model


#: What ``ExportedClassifier.predict`` takes as device ids (module docstring, "Device models").
DeviceIds = str | Sequence[str | None] | Callable[[Path], str | None] | None


class ExportedClassifier:
    """An exported model (one ONNX graph, an ensemble, or a general model with device models) with
    its front end and fusion or device routing.

    Build it with ``load_exported_model``. ``predict(paths)`` classifies files and folders;
    ``predict_audio(audio, sr)`` one array; ``predict_features(x)`` model inputs.
    """

    def __init__(
        self,
        info: ModelInfo,
        mel: np.ndarray | None,
        member_files: Sequence[Path],
        weights: Sequence[float] | None = None,
        logistic: dict | None = None,
        threads: int | None = None,
        source: str = "model",
        member_names: Sequence[str] | None = None,
        routing: DeviceRouting | None = None,
    ) -> None:
        import onnxruntime as ort

        self.info = info
        self.source = source
        self.front_end = front_end_for(info, mel)
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
                raise AsckitError(f"{path}: ONNX Runtime cannot load it ({first_line(exc)}); re-export the model") from None
            _check_graph(path, session, info.input_shape, len(info.classes))
            self.sessions.append(session)
        self.member_files = [Path(p) for p in member_files]
        self.member_names = list(member_names) if member_names is not None else [p.name.split(".")[0] for p in self.member_files]
        if len(self.member_names) != len(self.sessions):
            raise ValueError(f"{len(self.member_names)} member names for {len(self.sessions)} member files")
        self.weights = normalised_weights(weights, len(self.sessions), f"{source}: member weights (re-export the model)")
        self.logistic = logistic
        self.routing = routing
        if routing is not None:
            missing = sorted({routing.general, *routing.devices.values()} - set(self.member_names))
            if missing or logistic is not None:
                raise AsckitError(f"{source}: the device routing names {', '.join(missing) or 'a fusion'}, not members; re-export the model")

    @property
    def task(self) -> str:
        return self.info.task

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    @property
    def devices(self) -> tuple[str, ...]:
        """The device ids with a model of their own (none without device routing)."""
        return tuple(self.routing.devices) if self.routing is not None else ()

    def model_for(self, device_id: str | None) -> str | None:
        """The member that classifies a recording of ``device_id``; None for a bundle without device routing."""
        return None if self.routing is None else self.routing.member_for(device_id)

    def member_outputs(self, features: np.ndarray) -> list[np.ndarray]:
        """Each member's probabilities (n, classes) float64 for model inputs (n, channels, n_mels, frames)."""
        features = self._checked(features)
        return [self._run(index, features) for index in range(len(self.sessions))]

    def _checked(self, features: np.ndarray) -> np.ndarray:
        features = np.ascontiguousarray(features, dtype=np.float32)
        expected = self.info.input_shape
        if features.ndim != 4 or features.shape[1:] != expected:
            raise AsckitError(f"{self.source}: model input must be (n, {', '.join(map(str, expected))}), got {features.shape}")
        return features

    def _run(self, index: int, features: np.ndarray) -> np.ndarray:
        """Member ``index``'s probabilities of checked model inputs."""
        path, session = self.member_files[index], self.sessions[index]
        try:
            out = session.run([OUTPUT_NAME], {INPUT_NAME: features})[0].astype(np.float64)
        except Exception as exc:  # onnxruntime's own error types: a member graph this bundle's input does not fit
            raise AsckitError(
                f"{path}: does not run on this bundle's input ({first_line(exc)}); it is not this bundle's model: re-export"
            ) from None
        if out.ndim != 2 or out.shape[1] != len(self.classes):
            raise AsckitError(f"{path}: gives {out.shape[-1]} scores per clip, the bundle names {len(self.classes)} classes; re-export")
        if not np.isfinite(out).all():
            raise AsckitError(f"{path}: gives NaN or infinite scores; the model is damaged: re-export it from a finished run")
        return out

    def fuse(self, member_probs: Sequence[np.ndarray]) -> np.ndarray:
        """The bundle's fusion of member probabilities: logistic regression, or the weighted mean."""
        if self.logistic is not None:
            return apply_logistic(self.logistic, member_probs)
        return weighted_average(member_probs, self.weights)

    def predict_features(self, features: np.ndarray, devices: str | Sequence[str | None] | None = None) -> np.ndarray:
        """Model inputs (n, channels, n_mels, frames) → probabilities (n, classes) float64: the fused
        members', or, with device routing, each row's device model's (``devices``: one id for all
        rows or one per row; None: the general model)."""
        if self.routing is None:
            if devices is not None:
                raise AsckitError(self._no_routing())
            return self.fuse(self.member_outputs(features))
        features = self._checked(features)
        ids = [devices] * len(features) if devices is None or isinstance(devices, str) else list(devices)
        if len(ids) != len(features):
            raise AsckitError(f"{len(ids)} device ids for {len(features)} model inputs; give one device id per input")
        names = [self.routing.member_for(d) for d in ids]
        probs = np.empty((len(features), len(self.classes)), dtype=np.float64)
        for name in dict.fromkeys(names):
            rows = np.array([i for i, n in enumerate(names) if n == name])
            probs[rows] = self._run(self.member_names.index(name), features[rows])
        return probs

    def _no_routing(self) -> str:
        return (f"{self.source}: a task {self.task} bundle has no device models, so device ids do not apply; "
                "leave out --device-id/--devices (they are for TAU22 bundles of DCASE 2024/2025 runs)")

    def predict_audio(self, audio: np.ndarray, sr: int, name: str = "<array>", device_id: str | None = None) -> FileResult:
        """Classify one waveform, (samples,) or (channels, samples) at ``sr`` Hz (``device_id``: see ``predict``)."""
        if device_id is not None and self.routing is None:
            raise AsckitError(self._no_routing())
        audio = as_channels_first(audio)
        windows = self.front_end.windows(lambda a, b: audio[:, a:b], audio.shape[1], sr, self.info.window)
        return self._classify(name, windows, audio.shape[1] / sr, device_id)

    def predict(
        self, paths: Iterable[str | os.PathLike] | str | os.PathLike, progress: bool = False, device_ids: DeviceIds = None
    ) -> PredictionResult:
        """Classify files and folders (walked recursively for audio files).

        ``device_ids`` (bundles with device models only): one id for every file, a sequence of one
        id per path given (a folder's id applies to each of its files), or a function of a file's
        path; None or an id without a model of its own: the general model. A file that fails is
        recorded in ``errors`` with a one-line message; the rest still runs.
        """
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        paths = list(paths)
        if device_ids is not None and self.routing is None:
            raise AsckitError(self._no_routing())
        if device_ids is not None and not isinstance(device_ids, str) and not callable(device_ids) and len(device_ids) != len(paths):
            raise AsckitError(f"{len(device_ids)} device ids for {len(paths)} paths; give one device id per path")
        todo: list[tuple[Path, str | None]] = []
        errors: list[FileError] = []
        for index, raw in enumerate(paths):
            files, found_errors = collect_audio_files([raw])
            errors += found_errors
            for path in files:
                if device_ids is None or isinstance(device_ids, str):
                    todo.append((path, device_ids))
                else:
                    todo.append((path, device_ids(path) if callable(device_ids) else device_ids[index]))
        result = PredictionResult(self.classes, self.task, errors=errors)
        iterator: Iterable[tuple[Path, str | None]] = todo
        if progress:
            from tqdm import tqdm

            iterator = tqdm(todo, desc="classifying", unit="file", file=sys.stderr, disable=None)  # off when not a terminal
        for path, device_id in iterator:
            try:
                windows = file_windows(path, self.info.window, self.front_end)
                result.files.append(self._classify(str(path), windows, _duration(path), device_id))
            except AsckitError as exc:
                result.errors.append(FileError(str(path), str(exc)))
        return result

    def _classify(
        self, name: str, windows: Iterable[tuple[float, float, np.ndarray]], duration: float, device_id: str | None = None
    ) -> FileResult:
        done: list[Window] = []
        batch: list[tuple[float, float, np.ndarray]] = []
        model = self.model_for(device_id)

        def flush() -> None:
            if batch:
                features = self.front_end.batch([a for _, _, a in batch])
                probs = self.predict_features(features, device_id)  # device_id is None without device routing
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
            raise AsckitError(f"{name}: the recording is digital silence (peak below −120 dBFS); "
                              "nothing to classify: give a recording with sound in it")
        probs = np.mean(heard, axis=0)
        probs = probs / probs.sum()
        return FileResult(name, probs, self.classes[int(np.argmax(probs))], duration, tuple(done), device_id, model)


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
            errors.append(FileError(str(path), f"{path}: no such file or folder; check the path"))
    bad = [p for p in files if any(ch in str(p) for ch in "\t\r\n")]
    for p in bad:
        errors.append(FileError(str(p), f"{p!s:.80}: the file name holds a tab or newline; rename it"))
    return [p for p in files if p not in bad], errors


# ----------------------------------------------------------------------------------------------
# Loading


def load_exported_model(path: str | os.PathLike, precision: str | None = None, threads: int | None = None) -> ExportedClassifier:
    """Load an export bundle (folder or its bundle.json) or a single exported ``.onnx`` file.

    ``precision`` 'int8', 'fp16' (TAU22 bundles) or 'fp32' picks a bundle's member files (default:
    the bundle's own choice, int8 when quantized). ``threads`` caps ONNX Runtime's threads (default: all cores).
    """
    path = Path(path)
    if path.suffix == ".onnx" and path.is_file():
        return _load_onnx_file(path, threads)
    if not path.exists():
        raise AsckitError(f"{path}: no such model; give an export folder or an .onnx file")
    bundle = Bundle.read(path)
    files = bundle.member_paths(precision)
    return ExportedClassifier(
        bundle.info, bundle.load_mel(), files, bundle.weights, bundle.load_logistic(), threads, source=bundle.source,
        member_names=[m.name for m in bundle.members], routing=bundle.routing,
    )


def _load_onnx_file(path: Path, threads: int | None) -> ExportedClassifier:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise AsckitError(f"{path}: ONNX Runtime cannot load it ({first_line(exc)}); give a model written by `asckit export`") from None
    text = session.get_modelmeta().custom_metadata_map.get(ONNX_METADATA_KEY)
    if text is None:
        raise AsckitError(f"{path}: carries no asckit description; export it with `asckit export` (or give the bundle folder)")
    info = ModelInfo.from_onnx_metadata(text, str(path))
    del session
    return ExportedClassifier(info, None, [path], None, None, threads, source=str(path))


__all__ = [
    "DeviceIds",
    "ExportedClassifier",
    "FileError",
    "FileResult",
    "NumpyFrontEnd",
    "PredictionResult",
    "Tau22FrontEnd",
    "Window",
    "collect_audio_files",
    "file_windows",
    "first_windows",
    "front_end_for",
    "load_exported_model",
    "read_windows",
]
