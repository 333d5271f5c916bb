"""Read and validate a dataset root in the TAU Urban Acoustic Scenes 2020 (DCASE) layout.

The same code reads the real Task 1a (Mobile) and 1b (3Class) development and evaluation sets and
the synthetic sets written by ``asckit data synth``::

    ROOT/audio/<scene>-<city>-<location>-<segment>-<device>.wav   (evaluation sets: audio/<n>.wav)
    ROOT/meta.csv                                                  (development sets)
    ROOT/evaluation_setup/fold1_{train,evaluate,test}.csv          (evaluation sets: fold1_test.csv)

All CSVs are TAB-separated with a header row. ``check_dataset`` reports every problem it finds
(never only the first), each naming the file and, for CSV problems, the line.
"""

from __future__ import annotations

import collections
import math
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from asckit import labels
from asckit.core.errors import AsckitError, first_line
from asckit.tasks import TASKS, task_facts

#: Split name → CSV file under evaluation_setup/.
SPLIT_FILES: dict[str, str] = {
    "train": "fold1_train.csv",
    "evaluate": "fold1_evaluate.csv",
    "test": "fold1_test.csv",
}

#: Expected columns of each CSV (development sets; fold1_test.csv always has `filename` only).
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "meta.csv": ("filename", "scene_label", "identifier", "source_label"),
    "fold1_train.csv": ("filename", "scene_label"),
    "fold1_evaluate.csv": ("filename", "scene_label"),
    "fold1_test.csv": ("filename",),
}

#: Known real dataset versions, told apart by their split sizes (reference/dataset.md §1.7).
KNOWN_VERSIONS: dict[tuple[int, int], str] = {
    t.development_clips: f"{t.dataset}, development, {t.development_version} "
    f"(fold1: {t.development_clips[0]:,} train / {t.development_clips[1]:,} evaluate)"
    for t in TASKS.values()
}
KNOWN_EVAL_SIZES: dict[int, str] = {
    t.evaluation_clips: f"{t.dataset}, evaluation ({t.evaluation_clips:,} clips)" for t in TASKS.values() if t.evaluation_clips
}

#: File written by `asckit data synth` at the root of a synthetic set.
SYNTH_MARKER = "asckit_synth.json"

#: 2020: <scene>-<city>-<location>-<segment>-<device>; TAU22 adds -<k>- (the second, 0-9, within the 10 s segment).
_DEV_NAME = re.compile(
    r"^(?P<scene>[a-z_]+)-(?P<city>[a-z]+)-(?P<location>\d+)-(?P<segment>\d+)(?:-(?P<clip>\d))?-(?P<device>[a-z]+\d*)$"
)
_EVAL_NAME = re.compile(r"^\d+$")


@dataclass(frozen=True)
class ClipName:
    """The parts of a development-set filename: ``airport-lisbon-1000-40000-a.wav`` (2020, 10 s) or
    ``airport-lisbon-1000-40000-3-a.wav`` (TAU22, 1 s; ``clip`` = 3, the second within the segment)."""

    scene: str
    city: str
    location: str
    segment: str
    device: str
    clip: int | None = None  # k = 0..9 for TAU22 names; None for 2020 names

    @property
    def identifier(self) -> str:
        """``city-location``, the recording-location id used for location-disjoint splits."""
        return f"{self.city}-{self.location}"

    @property
    def segment_id(self) -> str:
        """scene-city-location-segment: the 10 s segment, identical for a 2020 clip, its ten TAU22
        seconds and the time-parallel recordings of other devices."""
        return f"{self.scene}-{self.city}-{self.location}-{self.segment}"


def parse_filename(filename: str) -> ClipName | None:
    """Parse a TAU 2020 or TAU22 development filename (any folder prefix, any extension); None if it is not one."""
    stem = Path(filename).stem
    match = _DEV_NAME.match(stem)
    if match is None:
        return None
    parts = match.groupdict()
    clip = parts.pop("clip")
    return ClipName(**parts, clip=None if clip is None else int(clip))


def _read_csv(path: Path, problems: list[str] | None = None) -> pd.DataFrame | None:
    """Read one TAB-separated CSV with all values as strings; report a wrong separator or header."""
    name = path.name
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        message = f"{path}: the file is empty; a TAU CSV starts with a header row ({' '.join(CSV_COLUMNS.get(name, ('filename',)))})"
        if problems is None:
            raise AsckitError(message) from None
        problems.append(message)
        return None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        message = f"{path}: cannot be read as a TAB-separated CSV ({str(exc).splitlines()[0]}); re-save it as UTF-8 text with TABs between columns"
        if problems is None:
            raise AsckitError(message) from None
        problems.append(message)
        return None
    expected = CSV_COLUMNS.get(name)
    header = list(frame.columns)
    if expected is not None and not set(expected) <= set(header):
        if len(header) == 1 and ("," in header[0] or ";" in header[0]):
            sep = "," if "," in header[0] else ";"
            message = (
                f"{path}:1: header {header[0]!r} is {sep!r}-separated; TAU CSVs are TAB-separated "
                f"with columns {' '.join(expected)}: re-save it with tabs"
            )
        else:
            message = (
                f"{path}:1: columns {' '.join(header)} do not include the expected "
                f"{' '.join(expected)}: fix the header row"
            )
        if problems is None:
            raise AsckitError(message)
        problems.append(message)
        return None
    return frame


def _add_name_columns(frame: pd.DataFrame) -> pd.DataFrame:
    parsed = [parse_filename(f) for f in frame["filename"]]
    frame = frame.copy()
    for column in ("scene", "city", "location", "segment", "device"):
        frame[column] = [getattr(p, column) if p else None for p in parsed]
    frame = frame.drop(columns=["scene"])
    frame["identifier"] = [p.identifier if p else None for p in parsed]
    return frame


def outside_root(filename: str) -> str | None:
    """Why a CSV filename would be read from outside the dataset root, or None when it stays inside.

    Every reader takes filenames through ``load_split``, so this one check keeps them all in the root.
    The check is on the name (no absolute path, no ``..``), not on the resolved path: a root whose
    ``audio/`` is a symbolic link to another disk is still a valid root.
    """
    if not filename:
        return "is empty"
    pure = PurePosixPath(filename.replace("\\", "/"))
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", filename):
        return "is an absolute path"
    if ".." in pure.parts:
        return "leads out of the dataset root ('..')"
    return None


def require_root(root: str | os.PathLike) -> Path:
    """``root`` as a Path when it is an existing folder; else the one-line error every command gives
    for a dataset root that does not exist (a typo) or is a file."""
    root = Path(root)
    if not root.exists():
        raise AsckitError(f"{root}: the dataset root does not exist; check the path (the folder that holds audio/, meta.csv "
                          "and evaluation_setup/)")
    if not root.is_dir():
        raise AsckitError(f"{root}: is a file, not a dataset root; give the folder that holds audio/, meta.csv and evaluation_setup/")
    return root


def load_split(root: str | Path, split: str) -> pd.DataFrame:
    """One split of a dataset as a DataFrame.

    Columns: ``filename`` as written in the CSV (e.g. ``audio/airport-lisbon-1000-40000-a.wav``),
    ``scene_label`` (not for ``test``), and ``city``, ``location``, ``segment``, ``device``,
    ``identifier`` parsed from the filename (None for evaluation-set names ``audio/<n>.wav``).
    """
    if split not in SPLIT_FILES:
        raise AsckitError(f"unknown split {split!r}: use one of {', '.join(SPLIT_FILES)}")
    path = require_root(root) / "evaluation_setup" / SPLIT_FILES[split]
    if not path.is_file():
        raise AsckitError(f"{path}: not found; is {root} a TAU dataset root? (`asckit data check {root}`)")
    frame = _read_csv(path)
    for line, filename in enumerate(frame["filename"], start=2):
        outside = outside_root(filename)
        if outside:
            raise AsckitError(f"{path}:{line}: {filename!r} {outside}; list files under the dataset root, e.g. audio/NAME.wav")
    if frame["filename"].duplicated().any():
        dup = frame.loc[frame["filename"].duplicated(), "filename"].iloc[0]
        raise AsckitError(f"{path}: filename {dup} is listed more than once; run `asckit data check {root}`")
    return _add_name_columns(frame)


def detect_task(root: str | Path) -> str:
    """'1a' or '1b' for a development set, from the labels of its training split."""
    root = Path(root)
    frame = load_split(root, "train") if (root / "evaluation_setup" / SPLIT_FILES["train"]).is_file() else None
    if frame is not None and "scene_label" in frame:
        found = set(frame["scene_label"])
        if found and found <= set(labels.SCENES_3):
            return "1b"
        if found and found <= set(labels.SCENES_10):
            return "1a"
    raise AsckitError(f"{root}: cannot tell Task 1a from 1b (no labelled fold1_train.csv); pass --task")


def describe_version(root: str | Path) -> str:
    """A one-line name of the dataset version, told from its split sizes or the synth marker."""
    root = Path(root)
    if (root / SYNTH_MARKER).is_file():
        return _describe_synth(root / SYNTH_MARKER)
    setup = root / "evaluation_setup"
    train, evaluate, test = (setup / SPLIT_FILES[s] for s in ("train", "evaluate", "test"))
    if train.is_file() and evaluate.is_file():
        sizes = (_count_rows(train), _count_rows(evaluate))
        return KNOWN_VERSIONS.get(sizes, f"unknown development set ({sizes[0]} train / {sizes[1]} evaluate)")
    if test.is_file():
        n = _count_rows(test)
        return KNOWN_EVAL_SIZES.get(n, f"unknown evaluation set ({n} clips)")
    return "unknown"


def _describe_synth(marker: Path) -> str:
    import json

    try:
        params = json.loads(marker.read_text(encoding="utf-8"))["parameters"]
        return (
            f"asckit synthetic set (task {params['task']}, preset {params['preset']}, seed {params['seed']}, "
            f"{params['clip_seconds']:g} s clips)"
        )
    except (ValueError, KeyError, TypeError):
        return f"asckit synthetic set ({marker.name} unreadable)"


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return max(sum(1 for line in handle if line.strip()) - 1, 0)


# --------------------------------------------------------------------------- validation


@dataclass
class AudioInfo:
    samplerate: int
    channels: int
    frames: int
    content: str | None = None  # what is wrong with the samples (silence), reported beside the format checks


@dataclass
class CheckReport:
    """Outcome of ``check_dataset``: every problem found, and the summary tables."""

    root: Path
    problems: list[str] = field(default_factory=list)
    task: str | None = None
    version: str = "unknown"
    splits: dict[str, pd.DataFrame] = field(default_factory=dict)
    clip_seconds: float | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Clips per split × device, and per split × class (labelled splits only)."""
        by_device, by_class = {}, {}
        for split, frame in self.splits.items():
            if "device" in frame and frame["device"].notna().any():
                by_device[split] = frame["device"].value_counts()
            if "scene_label" in frame:
                by_class[split] = frame["scene_label"].value_counts()
        device_table = pd.DataFrame(by_device).fillna(0).astype(int)
        order = [d for d in labels.ALL_DEVICES if d in device_table.index]
        device_table = device_table.reindex(order + sorted(set(device_table.index) - set(order)))
        class_table = pd.DataFrame(by_class).fillna(0).astype(int)
        class_order = [c for c in labels.SCENES_10 + labels.SCENES_3 if c in class_table.index]
        class_table = class_table.reindex(class_order + sorted(set(class_table.index) - set(class_order)))
        for table in (device_table, class_table):
            if len(table):
                table.loc["total"] = table.sum()
        return device_table, class_table

    def format(self) -> str:
        lines = [f"dataset: {self.root}", f"version: {self.version}"]
        if self.task:
            lines.append(f"task:    {self.task}")
        if self.clip_seconds:
            lines.append(f"clips:   {self.clip_seconds:g} s")
        device_table, class_table = self.summary_tables()
        if len(device_table):
            lines += ["", "clips per split and device:", device_table.to_string()]
        if len(class_table):
            lines += ["", "clips per split and class:", class_table.to_string()]
        lines.append("")
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s):")
            lines += [f"  {p}" for p in self.problems]
        else:
            lines.append("no problems found")
        return "\n".join(lines)


def wav_truncation(path: Path) -> str | None:
    """For a RIFF/WAVE file, say how it is truncated (header data size > bytes present), else None."""
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size = path.stat().st_size
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if chunk_id == b"data":
                    present = size - handle.tell()
                    if chunk_size > present and chunk_size != 0xFFFFFFFF:
                        return f"truncated: header promises {chunk_size} audio bytes, file holds {present}; copy or download it again"
                    return None
                handle.seek(chunk_size + (chunk_size & 1), 1)
    except OSError:
        return None


def _audio_info(path: Path) -> AudioInfo | str:
    import soundfile

    truncated = wav_truncation(path)
    if truncated:
        return truncated
    try:
        info = soundfile.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError for bad files
        return _unreadable(exc)
    if info.frames <= 0:
        return "empty audio (0 samples); replace it or remove it from the split CSVs"
    peak = _sample_peak(path)
    if isinstance(peak, str):
        return peak  # NaN or unreadable samples: nothing else about the file is worth checking
    silence = None
    if peak < SILENCE_PEAK:
        level = "every sample is 0" if peak == 0 else f"peak {20 * math.log10(peak):.0f} dBFS"
        silence = f"silent ({level}); a dead recording: remove it from the split CSVs or replace it"
    return AudioInfo(info.samplerate, info.channels, info.frames, silence)


#: A clip whose loudest sample stays below this (-80 dBFS, under 4 steps of 16-bit PCM) is flagged as silent.
SILENCE_PEAK = 1e-4


def _unreadable(exc: Exception) -> str:
    return f"unreadable audio ({first_line(exc, 120)}); replace it with a WAV or FLAC file"


def _sample_peak(path: Path) -> float | str:
    """The largest |sample| of the file, or what is wrong with its samples: NaN/inf (float files can
    hold them) or unreadable data. Read in blocks, so an hour-long file costs no memory."""
    import numpy as np
    import soundfile

    from asckit.audio.io import non_finite_problem

    peak = 0.0
    bad = 0
    try:
        for block in soundfile.blocks(str(path), blocksize=1 << 16, dtype="float32", always_2d=True):
            finite = np.isfinite(block)
            if not finite.all():
                bad += int(block.size - np.count_nonzero(finite))
                block = np.where(finite, block, 0.0)
            peak = max(peak, float(np.max(np.abs(block), initial=0.0)))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError for damaged data
        return _unreadable(exc)
    return non_finite_problem(bad) if bad else peak


def check_dataset(root: str | Path, audio: bool = True, task: str | None = None) -> CheckReport:
    """Validate a dataset root and collect every problem (missing files, bad CSVs, bad audio).

    ``audio=False`` checks only the CSVs (for ``data download --meta-only``). ``task`` forces the
    expected audio format; by default it is told from the labels (evaluation sets: from the audio).
    """
    root = require_root(root)  # no root to check: a usage error, not a report
    report = CheckReport(root=root)
    setup = root / "evaluation_setup"
    if not setup.is_dir():
        report.problems.append(f"{setup}: missing; a TAU dataset root holds evaluation_setup/fold1_*.csv")
        return report
    present = {s: setup / f for s, f in SPLIT_FILES.items() if (setup / f).is_file()}
    is_eval_set = set(present) == {"test"}
    if not present:
        report.problems.append(f"{setup}: no fold1_train/evaluate/test.csv found")
        return report
    if not is_eval_set:
        for split in ("train", "evaluate"):
            if split not in present:
                report.problems.append(f"{setup / SPLIT_FILES[split]}: missing")

    # --- CSVs: columns, labels, duplicates, filenames.
    label_sets: set[str] = set()
    for split, path in present.items():
        frame = _read_csv(path, report.problems)
        if frame is None:
            continue
        _check_rows(path, frame, report.problems, label_sets)
        if not len(frame):
            report.problems.append(f"{path}: lists no clips (a header and no rows); add the clips of the {split} split")
        report.splits[split] = _add_name_columns(frame)
    if label_sets:
        if label_sets <= set(labels.SCENES_10):
            report.task = "1a"
        elif label_sets <= set(labels.SCENES_3):
            report.task = "1b"
    meta_path = root / "meta.csv"
    meta = None
    if not is_eval_set:
        if meta_path.is_file():
            meta = _read_csv(meta_path, report.problems)
            if meta is not None:
                _check_rows(meta_path, meta, report.problems, set())
                _check_meta_columns(meta_path, meta, report.problems)
        else:
            report.problems.append(f"{meta_path}: missing; development sets carry a meta.csv")
    _check_split_consistency(root, report, meta)
    report.task = task or report.task
    report.version = describe_version(root)

    # --- Audio: every listed file exists, is readable, complete and in the expected format.
    listed: dict[str, str] = {}
    for split, frame in report.splits.items():
        for line, filename in enumerate(frame["filename"], start=2):
            if filename and not outside_root(filename):  # flagged above; never opened
                listed.setdefault(filename, f"{present[split]}:{line}")
    if audio:
        missing = [(f, where) for f, where in listed.items() if not (root / f).is_file()]
        for filename, where in missing:
            report.problems.append(f"{where}: {filename} is listed but {root / filename} does not exist; restore the file or remove its rows")
        _check_audio(root, [f for f in listed if (root / f).is_file()], report)
    return report


def _check_rows(path: Path, frame: pd.DataFrame, problems: list[str], label_sets: set[str]) -> None:
    """Empty or malformed filenames, unknown labels, duplicate rows; line numbers are 1-based."""
    known = set(labels.SCENES_10) | set(labels.SCENES_3)
    first_line: dict[str, int] = {}
    for index, filename in enumerate(frame["filename"]):
        line = index + 2
        if not filename:
            problems.append(f"{path}:{line}: empty filename; write the clip's path (audio/NAME.wav) or delete the row")
            continue
        outside = outside_root(filename)
        if outside:
            problems.append(f"{path}:{line}: {filename!r} {outside}; list files under the dataset root")
            continue
        if filename in first_line:
            problems.append(f"{path}:{line}: duplicate row for {filename} (first at line {first_line[filename]}); delete one of the two")
        else:
            first_line[filename] = line
        stem = Path(filename).stem
        if parse_filename(filename) is None and not _EVAL_NAME.match(stem):
            problems.append(
                f"{path}:{line}: {filename} is not a TAU filename; rename it "
                "<scene>-<city>-<location>-<segment>-<device>.wav (evaluation sets: <n>.wav)"
            )
    if "scene_label" in frame:
        file_labels: set[str] = set()
        for index, (filename, label) in enumerate(zip(frame["filename"], frame["scene_label"])):
            line = index + 2
            if label not in known:
                problems.append(
                    f"{path}:{line}: unknown scene_label {label!r}; expected one of "
                    f"{', '.join(labels.SCENES_10)} (1a) or {', '.join(labels.SCENES_3)} (1b)"
                )
                continue
            file_labels.add(label)
            parsed = parse_filename(filename)
            # A 10-class label must equal the scene in the name; a 3-class label its super-class.
            expected = None
            if parsed and parsed.scene in labels.SUPERCLASS:
                expected = parsed.scene if label in labels.SCENES_10 else labels.SUPERCLASS[parsed.scene]
            if expected is not None and label != expected:
                problems.append(f"{path}:{line}: label {label!r} contradicts the scene {parsed.scene!r} in {filename}; fix the label or the filename")
        if file_labels & set(labels.SCENES_10) and file_labels & set(labels.SCENES_3):
            problems.append(f"{path}: mixes 10-class and 3-class labels; a dataset is either Task 1a or 1b: use the labels of one task")
        label_sets |= file_labels


def _check_meta_columns(path: Path, meta: pd.DataFrame, problems: list[str]) -> None:
    """identifier must be city-location and source_label the device of the filename."""
    for index, row in enumerate(meta.itertuples(index=False)):
        parsed = parse_filename(row.filename)
        if parsed is None:
            continue
        line = index + 2
        if row.identifier != parsed.identifier:
            problems.append(f"{path}:{line}: identifier {row.identifier!r} should be {parsed.identifier!r} for {row.filename}")
        if row.source_label != parsed.device:
            problems.append(f"{path}:{line}: source_label {row.source_label!r} should be {parsed.device!r} for {row.filename}")


def _check_split_consistency(root: Path, report: CheckReport, meta: pd.DataFrame | None) -> None:
    """Train/evaluate share no file and no location; split files are in meta.csv."""
    splits = report.splits
    if "train" in splits and "evaluate" in splits:
        train, evaluate = splits["train"], splits["evaluate"]
        shared = sorted(set(train["filename"]) & set(evaluate["filename"]))
        if shared:
            report.problems.append(
                f"{root / 'evaluation_setup'}: {len(shared)} file(s) in both fold1_train and fold1_evaluate, e.g. {shared[0]}; "
                "list each clip in one split only"
            )
        shared_locations = sorted(set(train["identifier"].dropna()) & set(evaluate["identifier"].dropna()))
        if shared_locations:
            report.problems.append(
                f"{root / 'evaluation_setup'}: {len(shared_locations)} location(s) in both fold1_train and "
                f"fold1_evaluate, e.g. {shared_locations[0]}; TAU splits are location-disjoint"
            )
    if meta is not None:
        known = set(meta["filename"])
        for split, frame in splits.items():
            absent = [f for f in frame["filename"] if f not in known]
            if absent:
                report.problems.append(
                    f"{root / 'evaluation_setup' / SPLIT_FILES[split]}: {len(absent)} file(s) not in meta.csv, e.g. {absent[0]}; "
                    "add their rows to meta.csv"
                )


def _check_audio(root: Path, filenames: list[str], report: CheckReport) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # Header reads are I/O-bound: threads overlap them without extra processes.
    with ThreadPoolExecutor(max_workers=4) as pool:
        infos = list(pool.map(lambda f: _audio_info(root / f), filenames))
    good = {f: i for f, i in zip(filenames, infos) if isinstance(i, AudioInfo)}
    for filename, info in zip(filenames, infos):
        if isinstance(info, str):
            report.problems.append(f"{root / filename}: {info}")
    if not good:
        return
    if report.task is None:  # evaluation set: tell the task from the audio format
        channels = collections.Counter(i.channels for i in good.values()).most_common(1)[0][0]
        report.task = "1b" if channels == 2 else "1a"
    sample_rate, channels = task_facts(report.task).sample_rate, task_facts(report.task).channels
    durations = collections.Counter(round(i.frames / i.samplerate, 3) for i in good.values())
    nominal = durations.most_common(1)[0][0]
    report.clip_seconds = nominal
    for filename, info in good.items():
        where = root / filename
        if info.content:
            report.problems.append(f"{where}: {info.content}")
        if info.samplerate != sample_rate:
            report.problems.append(f"{where}: sample rate {info.samplerate} Hz, Task {report.task} expects {sample_rate} Hz; resample it")
        if info.channels != channels:
            report.problems.append(f"{where}: {info.channels} channel(s), Task {report.task} expects {channels}; convert it")
        seconds = info.frames / info.samplerate
        if seconds < nominal - 0.05:
            report.problems.append(
                f"{where}: {seconds:.2f} s long, shorter than the {nominal:g} s of the other clips; replace it or remove its rows"
            )
        elif seconds > 2 * nominal + 1:
            report.problems.append(
                f"{where}: {seconds:.2f} s long, far longer than the {nominal:g} s of the other clips "
                f"(only the first {nominal:g} s are used); cut it or check that it is the right file"
            )
