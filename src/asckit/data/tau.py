"""Read and validate a dataset root in the TAU Urban Acoustic Scenes layouts (DCASE).

Two layouts, told apart by ``detect_layout`` (the one place that decides):

* ``tau20``, TAU 2020 Mobile (Task 1a) and 3Class (1b), 10 s clips::

    ROOT/audio/<scene>-<city>-<location>-<segment>-<device>.wav   (evaluation sets: audio/<n>.wav)
    ROOT/meta.csv                                                  (development sets)
    ROOT/evaluation_setup/fold1_{train,evaluate,test}.csv          (evaluation sets: fold1_test.csv)

* ``tau22``, TAU 2022 Mobile (the DCASE 2024 and 2025 protocols), 1 s clips, k = 0..9 the second
  within its 10 s segment (reference/dcase2025/README.md §1, §2)::

    ROOT/audio/<scene>-<city>-<location>-<segment>-<k>-<device>.wav
    ROOT/meta.csv
    ROOT/split_setup/split{5,10,25,50,100}.csv, test.csv           (the 2024 splits; 100 = fold1 train)
    ROOT/evaluation_setup/fold1_{train,evaluate}.csv               (optional: split 100 and test.csv)
    evaluation sets: ROOT/audio/<n>.wav, ROOT/evaluation_setup/fold1_test.csv (2025: + device_id)

The same code reads the real development and evaluation sets and the synthetic sets written by
``asckit data synth``. All CSVs are TAB-separated with a header row. ``check_dataset`` reports every
problem it finds (never only the first), each naming the file and, for CSV problems, the line.
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

#: The two layouts ``detect_layout`` tells apart.
LAYOUT_TAU20, LAYOUT_TAU22 = "tau20", "tau22"

#: TAU22: the folder of the DCASE 2024 split files (beside audio/), the file of one training split
#: (by percent) and the development-test list; asckit calls that list the ``evaluate`` split.
TAU22_SPLIT_FOLDER = "split_setup"
TAU22_TEST_FILE = "test.csv"


def tau22_split_file(percent: int) -> str:
    """The name of the DCASE 2024 training split of ``percent`` %, e.g. ``split25.csv``."""
    return f"split{percent}.csv"


#: The task a TAU22 root is reported and checked as: 2024 and 2025 read the same data in the same
#: format, and labels cannot tell them apart (a caller that means 2025 says so).
TAU22_TASK = "2024"

#: The training splits of TAU22 in %, smallest first (each a subset of the next).
TAU22_PERCENTAGES: tuple[int, ...] = task_facts(TAU22_TASK).train_percentages

#: Rows of the official split files (reference/dcase2025/README.md §2); split 100 and the test list
#: are the development fold 1 of ``asckit.tasks``.
OFFICIAL_SPLIT_ROWS: dict[int, int] = {5: 6_980, 10: 13_960, 25: 34_900, 50: 69_800, 100: task_facts(TAU22_TASK).development_clips[0]}
OFFICIAL_TEST_ROWS: int = task_facts(TAU22_TASK).development_clips[1]

#: The seconds of a TAU22 segment: k = 0..9.
TAU22_CLIPS_PER_SEGMENT = 10


def splits_download_hint(root: str | os.PathLike) -> str:
    """The fix for a missing TAU22 split file (the command that fetches them into ``root``)."""
    return f"fetch the DCASE 2024 split files with `asckit data download dcase2024-splits --root {root}`"


#: Expected columns of each CSV (development sets; fold1_test.csv has `filename`, 2025's also `device_id`).
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "meta.csv": ("filename", "scene_label", "identifier", "source_label"),
    "fold1_train.csv": ("filename", "scene_label"),
    "fold1_evaluate.csv": ("filename", "scene_label"),
    "fold1_test.csv": ("filename",),
    TAU22_TEST_FILE: ("filename", "scene_label"),
    **{tau22_split_file(p): ("filename", "scene_label") for p in TAU22_PERCENTAGES},
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
    frame["clip"] = pd.array([p.clip if p else None for p in parsed], dtype="Int64")
    frame["segment_id"] = [p.segment_id if p else None for p in parsed]
    if "device_id" in frame:  # a 2025 evaluation set: the device comes with the list, not the name
        frame["device"] = [d or None for d in frame["device_id"]]
        frame = frame.drop(columns=["device_id"])
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


def _first_filename(path: Path) -> str | None:
    """The filename of the first data row of a TAB CSV (cheap: two lines read), None when unreadable."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            header, row = handle.readline().rstrip("\r\n").split("\t"), handle.readline().rstrip("\r\n").split("\t")
    except OSError:
        return None
    return row[header.index("filename")] if "filename" in header and len(row) == len(header) else None


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.readline().rstrip("\r\n").split("\t")
    except OSError:
        return []


def detect_layout(root: str | Path) -> str:
    """``"tau22"`` (1 s clips, TAU 2022 Mobile: DCASE 2024/2025) or ``"tau20"`` (TAU 2020) for a dataset root.

    TAU22 when the root has ``split_setup/``, or its ``fold1_test.csv`` has a ``device_id`` column
    (2025 evaluation sets), or the first clip of its ``meta.csv`` / ``fold1_train.csv`` /
    ``fold1_evaluate.csv`` carries the second k in its name; anything else (a 2020 root, a root
    with no CSVs) is TAU20. A 2024 evaluation set (``audio/<n>.wav``, ``filename`` only) reads the
    same in both layouts; ``check_dataset`` tells it from its 1 s audio.
    """
    root = Path(root)
    if (root / TAU22_SPLIT_FOLDER).is_dir():
        return LAYOUT_TAU22
    setup = root / "evaluation_setup"
    if "device_id" in _csv_header(setup / SPLIT_FILES["test"]):
        return LAYOUT_TAU22
    for path in (root / "meta.csv", setup / SPLIT_FILES["train"], setup / SPLIT_FILES["evaluate"]):
        first = _first_filename(path) if path.is_file() else None
        parsed = parse_filename(first) if first else None
        if parsed is not None:
            return LAYOUT_TAU22 if parsed.clip is not None else LAYOUT_TAU20
    return LAYOUT_TAU20


def _check_percent(root: Path, split: str, percent: int | None, layout: str) -> None:
    if percent is None:
        return
    if split != "train":
        raise AsckitError(f"a training percentage ({percent} %) was given for the {split} split; "
                          "it selects a training split only: drop it or ask for the train split")
    if percent not in TAU22_PERCENTAGES:
        choices = ", ".join(str(p) for p in TAU22_PERCENTAGES)
        raise AsckitError(f"{root / TAU22_SPLIT_FOLDER / tau22_split_file(percent)}: {percent} % is not a DCASE 2024 "
                          f"training split; use one of {choices}")
    if layout == LAYOUT_TAU20 and percent != 100:
        raise AsckitError(f"{root}: a TAU 2020 root has one training split (evaluation_setup/fold1_train.csv), "
                          f"not {percent} %; the percentages are the DCASE 2024 splits of TAU 2022 roots (split_setup/)")


def split_path(root: str | Path, split: str, percent: int | None = None) -> Path:
    """The CSV that ``load_split(root, split, percent)`` reads: the one place that maps a split to its file.

    TAU20: ``evaluation_setup/fold1_{split}.csv``. TAU22: ``train`` is ``split_setup/split{percent}.csv``
    (``percent`` None = 100; with no ``split_setup/`` folder, split 100 falls back to
    ``evaluation_setup/fold1_train.csv``), ``evaluate`` (the development-test list) is
    ``split_setup/test.csv``, else ``evaluation_setup/fold1_evaluate.csv`` where only that exists,
    ``test`` is the evaluation set's ``evaluation_setup/fold1_test.csv``. The path is returned even when
    the file is absent (``load_split`` says so). A percentage not in ``task_facts('2024').train_percentages``,
    or given for another split or a TAU20 root (other than 100), is an ``AsckitError``.
    """
    if split not in SPLIT_FILES:
        raise AsckitError(f"unknown split {split!r}: use one of {', '.join(SPLIT_FILES)}")
    root = Path(root)
    layout = detect_layout(root)
    _check_percent(root, split, percent, layout)
    setup = root / "evaluation_setup"
    if layout == LAYOUT_TAU20 or split == "test":
        return setup / SPLIT_FILES[split]
    splits = root / TAU22_SPLIT_FOLDER
    if split == "train":
        percent = 100 if percent is None else percent
        if not splits.is_dir() and percent == 100 and (setup / SPLIT_FILES["train"]).is_file():
            return setup / SPLIT_FILES["train"]
        return splits / tau22_split_file(percent)
    if not (splits / TAU22_TEST_FILE).is_file() and (setup / SPLIT_FILES["evaluate"]).is_file():
        return setup / SPLIT_FILES["evaluate"]
    return splits / TAU22_TEST_FILE


def load_split(root: str | Path, split: str, percent: int | None = None) -> pd.DataFrame:
    """One split of a dataset as a DataFrame (the file: ``split_path``).

    ``split`` is ``train``, ``evaluate`` (the development test) or ``test`` (an evaluation set);
    ``percent`` picks a DCASE 2024 training split of a TAU22 root (5, 10, 25, 50, 100; None = 100).

    Columns: ``filename`` as written in the CSV (e.g. ``audio/airport-lisbon-1000-40000-a.wav``),
    ``scene_label`` (not for ``test``), and ``city``, ``location``, ``segment``, ``device``,
    ``identifier``, ``clip`` (k, the second within the 10 s segment: nullable Int64, <NA> for 2020
    names) and ``segment_id`` (scene-city-location-segment) parsed from the filename (None for
    evaluation-set names ``audio/<n>.wav``; there ``device`` comes from a ``device_id`` column when
    the list has one, as 2025's does).
    """
    path = split_path(require_root(root), split, percent)
    if not path.is_file():
        if path.parent.name == TAU22_SPLIT_FOLDER:
            raise AsckitError(f"{path}: not found; {splits_download_hint(root)}")
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
    """'1a' or '1b' for a TAU20 development set, from the labels of its training split; '2024' for a
    TAU22 root (the 2025 protocol reads the same data: a caller that means 2025 says so)."""
    root = Path(root)
    if detect_layout(root) == LAYOUT_TAU22:
        return TAU22_TASK
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
    train, evaluate, test = (split_path(root, s) for s in ("train", "evaluate", "test"))
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
        if params["task"] == LAYOUT_TAU22:
            return (f"asckit synthetic set (TAU22 layout of tasks 2024 and 2025, preset {params['preset']}, "
                    f"seed {params['seed']}, 1 s clips cut from 10 s segments)")
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
    layout: str = LAYOUT_TAU20
    #: What the user should know that is not wrong (e.g. a TAU22 root without the 2024 split files).
    notes: list[str] = field(default_factory=list)

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
        if self.layout == LAYOUT_TAU22:
            lines.append("layout:  TAU22 (TAU 2022 Mobile: 1 s clips, the DCASE 2024 and 2025 tasks)")
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
        lines += [f"note: {n}" for n in self.notes]
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
    expected audio format; by default it is told from the labels and the layout (evaluation sets:
    from the audio). TAU22 roots also get the split checks of ``check_split_files``, with the
    official row counts unless the root is an asckit synthetic set.
    """
    root = require_root(root)  # no root to check: a usage error, not a report
    report = CheckReport(root=root, layout=detect_layout(root))
    if report.layout == LAYOUT_TAU22:
        present = _collect_tau22_splits(root, report)
    else:
        present = _collect_tau20_splits(root, report)
    if present is None:
        return report
    is_eval_set = set(present) == {"test"}
    meta_path = root / "meta.csv"
    meta = None
    if not is_eval_set:
        if meta_path.is_file():
            meta = _read_csv(meta_path, report.problems)
            if meta is not None:
                _check_rows(meta_path, meta, report.problems, set(), report.layout)
                _check_meta_columns(meta_path, meta, report.problems)
        else:
            report.problems.append(f"{meta_path}: missing; development sets carry a meta.csv")
    train_key = next((k for k in ("split100", "train") if k in report.splits), None)
    _check_split_consistency(report, present, train_key, meta)
    if report.layout == LAYOUT_TAU22 and report.task is not None:
        report.task = TAU22_TASK
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


def _read_listed(present: dict[str, Path], report: CheckReport, duplicates: bool = True) -> None:
    """Read each split CSV of ``present`` into ``report.splits`` and check its rows (labels, names)."""
    label_sets: set[str] = set()
    for split, path in present.items():
        frame = _read_csv(path, report.problems)
        if frame is None:
            continue
        _check_rows(path, frame, report.problems, label_sets, report.layout, duplicates)
        if not len(frame):
            report.problems.append(f"{path}: lists no clips (a header and no rows); add the clips of the {split} split")
        if "device_id" in frame and (frame["device_id"] == "").any():
            line = int((frame["device_id"] == "").to_numpy().argmax()) + 2
            report.problems.append(f"{path}:{line}: empty device_id; write the recording device of every clip (a, b, ..., or unknown)")
        report.splits[split] = _add_name_columns(frame)
    if label_sets:
        if label_sets <= set(labels.SCENES_10):
            report.task = "1a"
        elif label_sets <= set(labels.SCENES_3):
            report.task = "1b"


def _collect_tau20_splits(root: Path, report: CheckReport) -> dict[str, Path] | None:
    """The CSVs of a TAU20 root (read into ``report.splits``); None when there are none to check."""
    setup = root / "evaluation_setup"
    if not setup.is_dir():
        report.problems.append(f"{setup}: missing; a TAU dataset root holds evaluation_setup/fold1_*.csv")
        return None
    present = {s: setup / f for s, f in SPLIT_FILES.items() if (setup / f).is_file()}
    if not present:
        report.problems.append(f"{setup}: no fold1_train/evaluate/test.csv found")
        return None
    if set(present) != {"test"}:
        for split in ("train", "evaluate"):
            if split not in present:
                report.problems.append(f"{setup / SPLIT_FILES[split]}: missing")
    _read_listed(present, report)
    return present


def _collect_tau22_splits(root: Path, report: CheckReport) -> dict[str, Path] | None:
    """The lists of a TAU22 root, read into ``report.splits`` (``split5`` … ``split100``, ``evaluate``
    for test.csv; ``train``/``evaluate`` from evaluation_setup/ when split_setup/ is absent; ``test``
    for an evaluation set), with the split checks; None when there is nothing to check."""
    setup, split_dir = root / "evaluation_setup", root / TAU22_SPLIT_FOLDER
    fold1 = {s: setup / f for s, f in SPLIT_FILES.items() if (setup / f).is_file()}
    real = not (root / SYNTH_MARKER).is_file()
    if not split_dir.is_dir():
        if not fold1:
            report.problems.append(f"{split_dir}: missing, and no evaluation_setup/fold1_*.csv; {splits_download_hint(root)}")
            return None
        if set(fold1) == {"test"}:  # an evaluation set
            _read_listed(fold1, report)
            return fold1
        for split in ("train", "evaluate"):
            if split not in fold1:
                report.problems.append(f"{setup / SPLIT_FILES[split]}: missing; {splits_download_hint(root)}")
        present = {s: p for s, p in fold1.items() if s != "test"}
        report.notes.append(f"{split_dir}: absent, so only split 100 (evaluation_setup/fold1_train.csv) can be trained; "
                            f"for the 5-50 % splits {splits_download_hint(root)}")
        _read_listed(present, report, duplicates=False)
        train, test = report.splits.get("train"), report.splits.get("evaluate")
        report.problems += _split_structure_problems(
            {100: (present["train"], train)} if train is not None else {},
            (present["evaluate"], test) if test is not None else None, real,
        )
        return present
    present = {f"split{p}": split_dir / tau22_split_file(p) for p in TAU22_PERCENTAGES}
    present["evaluate"] = split_dir / TAU22_TEST_FILE
    for key, path in list(present.items()):
        if not path.is_file():
            report.problems.append(f"{path}: missing; {splits_download_hint(root)}")
            del present[key]
    _read_listed(present, report, duplicates=False)
    frames = {p: (present[f"split{p}"], report.splits[f"split{p}"]) for p in TAU22_PERCENTAGES if f"split{p}" in report.splits}
    test = (present["evaluate"], report.splits["evaluate"]) if "evaluate" in report.splits else None
    report.problems += _split_structure_problems(frames, test, real)
    # evaluation_setup/ beside split_setup/ (the real download has both) must hold the same lists.
    for split, key in (("train", "split100"), ("evaluate", "evaluate")):
        if split in fold1 and key in report.splits:
            other = _read_csv(fold1[split], report.problems)
            if other is not None:
                report.problems += _list_difference(present[key], report.splits[key], fold1[split], other, root)
    return present


def check_split_files(split_dir: Path, real: bool) -> list[str]:
    """Every problem of the DCASE 2024 split files in ``split_dir`` (a TAU22 root's ``split_setup/``):
    a missing or unreadable file, a name that is not a TAU22 name, a duplicate row, a smaller split
    that is not a subset of the next larger one, a 10 s recording cut (not all its ten seconds in a
    split), a device other than a, b, c, s1-s3 in a split, a test clip in a split; with ``real``, row
    counts other than the official 6,980 / 13,960 / 34,900 / 69,800 / 139,620 and 29,680 (test),
    else split sizes far from their percentage of split 100. Each problem one line naming the file."""
    split_dir = Path(split_dir)
    problems: list[str] = []
    frames: dict[int, tuple[Path, pd.DataFrame]] = {}
    files = [(p, split_dir / tau22_split_file(p)) for p in TAU22_PERCENTAGES] + [(None, split_dir / TAU22_TEST_FILE)]
    test = None
    for percent, path in files:
        if not path.is_file():
            problems.append(f"{path}: missing; {splits_download_hint(split_dir.parent)}")
            continue
        frame = _read_csv(path, problems)
        if frame is None:
            continue
        if percent is None:
            test = (path, frame)
        else:
            frames[percent] = (path, frame)
    return problems + _split_structure_problems(frames, test, real)


def _examples(frame: pd.DataFrame, mask) -> str:
    """'N clip(s), e.g. NAME (line L)' for the rows of ``frame`` where ``mask`` holds."""
    import numpy as np

    mask = np.asarray(mask, dtype=bool)
    first = int(mask.argmax())
    return f"{int(mask.sum()):,} clip(s), e.g. {frame['filename'].iloc[first]} (line {first + 2})"


def _split_structure_problems(
    frames: dict[int, tuple[Path, pd.DataFrame]], test: tuple[Path, pd.DataFrame] | None, real: bool,
) -> list[str]:
    """The split checks of ``check_split_files`` on lists already read: ``frames`` maps a percentage to
    its (file, rows), ``test`` is the development-test list. Nesting is checked between the splits present
    (a missing file is reported where it is read, with the fix)."""
    problems: list[str] = []
    known = ", ".join(labels.KNOWN_DEVICES_2025)
    filenames: dict[int, set[str]] = {}
    for percent, (path, frame) in sorted(frames.items()):
        parsed = [parse_filename(f) for f in frame["filename"]]
        not_tau22 = [p is None or p.clip is None for p in parsed]
        if any(not_tau22):
            problems.append(f"{path}: {_examples(frame, not_tau22)} without a TAU22 name; list 1 s clips as "
                            "audio/<scene>-<city>-<location>-<segment>-<k>-<device>.wav")
        duplicated = frame["filename"].duplicated().to_numpy()
        if duplicated.any():
            problems.append(f"{path}: {_examples(frame, duplicated)} listed twice; delete the repeated rows")
        foreign = [p is not None and p.device not in labels.KNOWN_DEVICES_2025 for p in parsed]
        if any(foreign):
            problems.append(f"{path}: {_examples(frame, foreign)} of a device outside the training devices ({known}); "
                            "remove them: the DCASE 2024 splits train on these devices only")
        seconds: dict[tuple[str, str], set[int]] = collections.defaultdict(set)
        for p in parsed:
            if p is not None and p.clip is not None:
                seconds[(p.segment_id, p.device)].add(p.clip)
        cut = sorted(key for key, ks in seconds.items() if len(ks) != TAU22_CLIPS_PER_SEGMENT)
        if cut:
            segment, device = cut[0]
            problems.append(
                f"{path}: {len(cut):,} recording(s) not whole, e.g. {segment} of device {device} with "
                f"{len(seconds[cut[0]])} of its {TAU22_CLIPS_PER_SEGMENT} seconds; a 10 s segment is in a split "
                "or out of it as a whole: list all ten seconds (k = 0-9) or none"
            )
        filenames[percent] = set(frame["filename"])
        if test is not None:
            in_test = frame["filename"].isin(set(test[1]["filename"])).to_numpy()
            if in_test.any():
                problems.append(f"{path}: {_examples(frame, in_test)} of the test list {test[0].name}; "
                                "a clip is for training or for testing: remove them from the split")
    present = sorted(filenames)
    for smaller, larger in zip(present, present[1:]):
        path, frame = frames[smaller]
        outside = ~frame["filename"].isin(filenames[larger]).to_numpy()
        if outside.any():
            problems.append(f"{path}: {_examples(frame, outside)} not in {frames[larger][0].name}; each split is a "
                            "subset of the next larger one: add them there or remove them here")
    if real:
        for percent, (path, frame) in sorted(frames.items()):
            if len(frame) != OFFICIAL_SPLIT_ROWS[percent]:
                problems.append(f"{path}: {len(frame):,} rows, the official file has {OFFICIAL_SPLIT_ROWS[percent]:,}; "
                                f"{splits_download_hint(path.parent.parent)} again")
        if test is not None and len(test[1]) != OFFICIAL_TEST_ROWS:
            problems.append(f"{test[0]}: {len(test[1]):,} rows, the official list has {OFFICIAL_TEST_ROWS:,}; "
                            f"{splits_download_hint(test[0].parent.parent)} again")
    elif 100 in frames:
        whole = len(frames[100][1])
        # Splits hold whole segments: allow a fifth of the size plus one segment of all six training devices.
        slack = TAU22_CLIPS_PER_SEGMENT * len(labels.KNOWN_DEVICES_2025)
        for percent, (path, frame) in sorted(frames.items()):
            expected = percent / 100 * whole
            if abs(len(frame) - expected) > 0.2 * expected + slack:
                problems.append(f"{path}: {len(frame):,} rows, {100 * len(frame) / max(whole, 1):.1f} % of the "
                                f"{whole:,} of {frames[100][0].name}; the {percent} % split should hold about "
                                f"{round(expected):,}: write the splits again")
    if test is not None and not len(test[1]):
        problems.append(f"{test[0]}: lists no clips; the development test list holds the clips of every device")
    return problems


def _list_difference(path: Path, frame: pd.DataFrame, other_path: Path, other: pd.DataFrame, root: Path) -> list[str]:
    """A problem when two lists of one split (split_setup/ and evaluation_setup/) differ in clips or labels."""
    mine = dict(zip(frame["filename"], frame.get("scene_label", [""] * len(frame))))
    theirs = dict(zip(other["filename"], other.get("scene_label", [""] * len(other))))
    only_mine = sorted(set(mine) - set(theirs))
    only_theirs = sorted(set(theirs) - set(mine))
    relabelled = sorted(f for f in set(mine) & set(theirs) if mine[f] != theirs[f])
    if not (only_mine or only_theirs or relabelled):
        return []
    example = (only_theirs or only_mine or relabelled)[0]
    return [
        f"{other_path}: differs from {path} ({len(only_theirs):,} clip(s) only here, {len(only_mine):,} only there, "
        f"{len(relabelled):,} labelled differently; e.g. {example}); the two must list the same clips: "
        f"{splits_download_hint(root)} again, or restore {other_path.name}"
    ]


def _check_rows(
    path: Path, frame: pd.DataFrame, problems: list[str], label_sets: set[str], layout: str = LAYOUT_TAU20,
    duplicates: bool = True,
) -> None:
    """Empty or malformed filenames, unknown labels, duplicate rows (unless ``duplicates`` is False: the
    TAU22 split checks count them); line numbers are 1-based."""
    tau22 = layout == LAYOUT_TAU22
    known = set(labels.SCENES_10) if tau22 else set(labels.SCENES_10) | set(labels.SCENES_3)
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
        if filename in first_line and duplicates:
            problems.append(f"{path}:{line}: duplicate row for {filename} (first at line {first_line[filename]}); delete one of the two")
        else:
            first_line[filename] = line
        stem = Path(filename).stem
        parsed = parse_filename(filename)
        if (parsed is None or (tau22 and parsed.clip is None)) and not _EVAL_NAME.match(stem):
            pattern = "<scene>-<city>-<location>-<segment>-<k>-<device>.wav" if tau22 else "<scene>-<city>-<location>-<segment>-<device>.wav"
            problems.append(
                f"{path}:{line}: {filename} is not a {'TAU22' if tau22 else 'TAU'} filename; rename it "
                f"{pattern} (evaluation sets: <n>.wav)"
            )
    if "scene_label" in frame:
        file_labels: set[str] = set()
        for index, (filename, label) in enumerate(zip(frame["filename"], frame["scene_label"])):
            line = index + 2
            if label not in known:
                expected = (f"{', '.join(labels.SCENES_10)} (TAU22 has the ten scenes)" if tau22 else
                            f"{', '.join(labels.SCENES_10)} (1a) or {', '.join(labels.SCENES_3)} (1b)")
                problems.append(f"{path}:{line}: unknown scene_label {label!r}; expected one of {expected}")
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


def _check_split_consistency(report: CheckReport, present: dict[str, Path], train_key: str | None, meta: pd.DataFrame | None) -> None:
    """Training and development-test lists share no file and no location; listed files are in meta.csv."""
    splits = report.splits
    if train_key is not None and "evaluate" in splits:
        train, evaluate = splits[train_key], splits["evaluate"]
        train_path, evaluate_path = present[train_key], present["evaluate"]
        folder = train_path.parent if train_path.parent == evaluate_path.parent else report.root
        pair = f"{train_path.stem} and {evaluate_path.stem}"
        shared = sorted(set(train["filename"]) & set(evaluate["filename"]))
        if shared:
            report.problems.append(f"{folder}: {len(shared)} file(s) in both {pair}, e.g. {shared[0]}; list each clip in one split only")
        shared_locations = sorted(set(train["identifier"].dropna()) & set(evaluate["identifier"].dropna()))
        if shared_locations:
            report.problems.append(
                f"{folder}: {len(shared_locations)} location(s) in both {pair}, e.g. {shared_locations[0]}; TAU splits are location-disjoint"
            )
    if meta is not None:
        known = set(meta["filename"])
        for split, frame in splits.items():
            absent = [f for f in frame["filename"] if f not in known]
            if absent:
                report.problems.append(
                    f"{present[split]}: {len(absent)} file(s) not in meta.csv, e.g. {absent[0]}; add their rows to meta.csv"
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
    if report.task is None:  # evaluation set: tell the task from the layout and the audio format
        channels = collections.Counter(i.channels for i in good.values()).most_common(1)[0][0]
        report.task = TAU22_TASK if report.layout == LAYOUT_TAU22 else "1b" if channels == 2 else "1a"
    sample_rate, channels = task_facts(report.task).sample_rate, task_facts(report.task).channels
    durations = collections.Counter(round(i.frames / i.samplerate, 3) for i in good.values())
    nominal = durations.most_common(1)[0][0]
    report.clip_seconds = nominal
    # TAU22: every clip is one second, whatever --task says about the format.
    fixed = task_facts(TAU22_TASK).clip_seconds if report.layout == LAYOUT_TAU22 else None
    for filename, info in good.items():
        where = root / filename
        if info.content:
            report.problems.append(f"{where}: {info.content}")
        if info.samplerate != sample_rate:
            report.problems.append(f"{where}: sample rate {info.samplerate} Hz, Task {report.task} expects {sample_rate} Hz; resample it")
        if info.channels != channels:
            report.problems.append(f"{where}: {info.channels} channel(s), Task {report.task} expects {channels}; convert it")
        seconds = info.frames / info.samplerate
        if fixed is not None:
            if abs(seconds - fixed) > 0.05:
                report.problems.append(f"{where}: {seconds:.2f} s long, TAU22 clips are {fixed:g} s; "
                                       "cut it to one second or remove its rows")
        elif seconds < nominal - 0.05:
            report.problems.append(
                f"{where}: {seconds:.2f} s long, shorter than the {nominal:g} s of the other clips; replace it or remove its rows"
            )
        elif seconds > 2 * nominal + 1:
            report.problems.append(
                f"{where}: {seconds:.2f} s long, far longer than the {nominal:g} s of the other clips "
                f"(only the first {nominal:g} s are used); cut it or check that it is the right file"
            )
