"""Cut TAU Urban Acoustic Scenes 2020 Mobile (development) into the 1 s clips of TAU22.

One job: ``cut_tau20(tau20_root, tau22_meta, out)`` writes, for every clip TAU22's ``meta.csv``
lists, ``OUT/audio/<scene>-<city>-<location>-<segment>-<k>-<device>.wav``: second k (0–9) of the 2020
recording ``audio/<scene>-<city>-<location>-<segment>-<device>.wav``, samples k·44,100 to
(k+1)·44,100 exactly, in the recording's own sample format (TAU20 and TAU22 are both 24-bit PCM at
44.1 kHz, mono). TAU22 is the 2020 Mobile set cut this way "with very minor differences" (a CPJKU
maintainer, reference/dcase2025/README.md §1), which is unverified: so every clip is checked name by
name against TAU22's meta.csv, and both differences are reported, one line each (exit 1): clips
TAU22 lists that TAU20 cannot give (no such recording, too short, unreadable, another format), and
seconds of TAU20 recordings TAU22 does not list. ``OUT/meta.csv`` and, where the meta.csv's folder
holds ``evaluation_setup/``, its split CSVs are written with the rows of the clips OUT holds, so OUT
is a consistent dataset root even when some clips are missing.

Every clip is written atomically (``core.io_utils.atomic_path``); a rerun cuts only the clips OUT
lacks. Whether OUT's clips equal the distributed TAU22 files is not known here: compare a few with
the official audio archives before relying on it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from asckit.core.errors import AsckitError, ProblemsFound, first_line
from asckit.core.io_utils import atomic_path, atomic_write_text, refuse_output_over_input
from asckit.data.tau import CSV_COLUMNS, SPLIT_FILES, outside_root, parse_filename, require_root
from asckit.tasks import TASKS

#: The TAU22 clip: 1 s at 44.1 kHz (``asckit.tasks``); the 2020 recordings are 10 s, so ten clips each.
SAMPLE_RATE = TASKS["2024"].sample_rate
CLIP_FRAMES = round(TASKS["2024"].clip_seconds * SAMPLE_RATE)
CLIPS_PER_RECORDING = round(TASKS["1a"].clip_seconds / TASKS["2024"].clip_seconds)

_GET_META = "get it with `asckit data download tau2022-mobile-dev --meta-only --root DIR`"


@dataclass
class CutResult:
    """What ``cut_tau20`` did: clips written now, clips OUT already held, rows of the CSVs written."""

    out: Path
    written: int = 0
    reused: int = 0
    meta_rows: int = 0
    split_files: list[str] = field(default_factory=list)

    def summary(self) -> str:
        splits = f" and {', '.join(self.split_files)}" if self.split_files else ""
        return (f"cut {self.written} clip(s) into {self.out / 'audio'} ({self.reused} already there); "
                f"{self.out / 'meta.csv'}{splits} list the {self.meta_rows} clip(s) it holds")


@dataclass
class _Listing:
    """TAU22's meta.csv: its lines, and the clips it wants of each 2020 recording (stem → k → filename)."""

    header: str
    lines: list[tuple[str, str]]  # (line, filename)
    wanted: dict[str, dict[int, str]]
    problems: list[str]


def cut_tau20(tau20_root: str | os.PathLike, tau22_meta: str | os.PathLike, out: str | os.PathLike, progress: bool = True) -> CutResult:
    """Cut the TAU20 recordings under ``tau20_root/audio`` into the clips ``tau22_meta`` lists, in ``out``.

    Everything is validated before anything is written. Raises ``ProblemsFound`` (after writing what
    it could) when a listed clip cannot be cut or a TAU20 recording holds seconds TAU22 does not list.
    """
    tau20_root, meta, out = require_root(tau20_root), Path(tau22_meta), Path(out)
    refuse_output_over_input(out, [tau20_root, meta], folder=True)
    if out.exists() and not out.is_dir():
        raise AsckitError(f"--out {out}: is a file, not a folder; give a folder for the TAU22 dataset")
    recordings = _tau20_recordings(tau20_root)
    listing = _read_meta(meta)
    problems = list(listing.problems)
    result = CutResult(out)
    splits = _read_splits(meta)
    from tqdm.auto import tqdm  # imported here: `asckit --help` stays fast

    for stem in tqdm(sorted(listing.wanted), desc="cut TAU20", unit="recording", disable=not progress, leave=False, file=sys.stderr):
        clips = listing.wanted[stem]
        if stem not in recordings:
            first = clips[min(clips)]
            problems.append(f"{meta}: lists {len(clips)} clip(s) of audio/{stem}.wav (e.g. {first}), which TAU20 does not hold "
                            f"({tau20_root / 'audio' / (stem + '.wav')}); they are left out of {out}")
            continue
        todo = {k: name for k, name in clips.items() if not (out / name).is_file()}
        result.reused += len(clips) - len(todo)
        if todo:
            result.written += _cut_one(recordings[stem], todo, out, problems)
    for stem, path in sorted(recordings.items()):
        listed = listing.wanted.get(stem, {})
        if not listed:
            problems.append(f"{path}: TAU22's meta.csv lists none of its {CLIPS_PER_RECORDING} seconds; not cut")
        elif len(listed) < CLIPS_PER_RECORDING:
            absent = ", ".join(str(k) for k in range(CLIPS_PER_RECORDING) if k not in listed)
            problems.append(f"{path}: TAU22's meta.csv lists {len(listed)} of its {CLIPS_PER_RECORDING} seconds (not second {absent}); "
                            "only those were cut")
    _write_csvs(listing, splits, out, result)
    if problems:
        raise ProblemsFound(problems, f"{len(problems)} difference(s) between TAU22's meta.csv and TAU20; {result.summary()}; "
                                      "clips that could not be cut are left out of the CSVs")
    return result


def _tau20_recordings(root: Path) -> dict[str, Path]:
    """The 2020 development recordings under ``root/audio`` (names without a second k), by stem."""
    audio = root / "audio"
    if not audio.is_dir():
        raise AsckitError(f"{audio}: missing; give the TAU 2020 Mobile development root (the folder that holds audio/)")
    found = {}
    for path in audio.iterdir():
        name = parse_filename(path.name) if path.suffix.lower() == ".wav" else None
        if name is not None and name.clip is None:
            found[path.stem] = path
    if not found:
        raise AsckitError(f"{audio}: holds no TAU 2020 recording (<scene>-<city>-<location>-<segment>-<device>.wav); "
                          "give the TAU 2020 Mobile development root (`asckit data download tau2020-mobile-dev`)")
    return found


def _read_meta(meta: Path) -> _Listing:
    """TAU22's meta.csv, read line by line (the lines are copied as they are into OUT's CSVs)."""
    if not meta.is_file():
        raise AsckitError(f"--meta {meta}: no such file; TAU22's meta.csv is in its meta archive: {_GET_META}")
    try:
        text = meta.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AsckitError(f"--meta {meta}: cannot be read as UTF-8 text ({first_line(exc)}); give TAU22's meta.csv: {_GET_META}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    columns = lines[0].split("\t") if lines else []
    expected = CSV_COLUMNS["meta.csv"]
    if not set(expected) <= set(columns):
        raise AsckitError(f"--meta {meta}: header {lines[0] if lines else '(empty file)'!r} lacks the TAB-separated columns "
                          f"{' '.join(expected)}; give TAU22's meta.csv: {_GET_META}")
    index = columns.index("filename")
    listing = _Listing(lines[0], [], {}, [])
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        filename = fields[index] if len(fields) > index else ""
        name = parse_filename(filename)
        outside = outside_root(filename)
        if outside or name is None or name.clip is None:
            why = (f"{filename!r} {outside}" if outside else
                   f"{filename or '(empty)'} is not a TAU22 clip name (<scene>-<city>-<location>-<segment>-<k>-<device>.wav)")
            listing.problems.append(f"{meta}:{number}: {why}; not cut")
            continue
        listing.lines.append((line, filename))
        listing.wanted.setdefault(f"{name.segment_id}-{name.device}", {})[name.clip] = filename
    if not listing.wanted:
        raise AsckitError(f"--meta {meta}: lists no TAU22 clip (names <scene>-<city>-<location>-<segment>-<k>-<device>.wav); "
                          f"is it TAU20's? Give TAU22's meta.csv: {_GET_META}")
    return listing


def _cut_one(path: Path, todo: dict[int, str], out: Path, problems: list[str]) -> int:
    """Write the seconds ``todo`` (k → filename under ``out``) of the recording at ``path``; the clips written.

    Read with soundfile in the file's own sample format (int32 for PCM: exact for 16 and 24 bit, and
    written back to the same subtype bit for bit), not through ``audio.io.read_audio``, which returns
    float32 at a chosen rate: a cut must not change a sample.
    """
    import numpy as np
    import soundfile

    clips = ", ".join(todo[k] for k in sorted(todo))
    try:
        info = soundfile.info(str(path))
        if info.samplerate != SAMPLE_RATE or info.channels != 1:
            problems.append(f"{path}: {info.samplerate} Hz, {info.channels} channel(s), not TAU20's {SAMPLE_RATE} Hz mono; "
                            f"not cut ({clips})")
            return 0
        dtype = "float64" if info.subtype in ("FLOAT", "DOUBLE") else "int32"
        samples, _ = soundfile.read(str(path), dtype=dtype)
    except (OSError, RuntimeError, ValueError) as exc:  # soundfile raises LibsndfileError (a RuntimeError) for bad files
        problems.append(f"{path}: unreadable ({first_line(exc, 120)}); not cut ({clips}): restore the file and rerun")
        return 0
    if dtype == "float64" and not np.isfinite(samples).all():
        problems.append(f"{path}: holds NaN or infinite samples; not cut ({clips}): restore the file and rerun")
        return 0
    written = 0
    for k, filename in sorted(todo.items()):
        start = k * CLIP_FRAMES
        if len(samples) < start + CLIP_FRAMES:
            problems.append(f"{path}: {len(samples) / SAMPLE_RATE:.2f} s long, second {k} ends beyond it; {filename} not cut")
            continue
        target = out / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            soundfile.write(str(tmp), samples[start : start + CLIP_FRAMES], SAMPLE_RATE, subtype=info.subtype, format="WAV")
        written += 1
    return written


def _read_splits(meta: Path) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """The split CSVs beside TAU22's meta.csv (``evaluation_setup/``), where there: name → (header, [(line, filename)])."""
    splits = {}
    for split_file in SPLIT_FILES.values():
        source = meta.parent / "evaluation_setup" / split_file
        if not source.is_file():
            continue
        try:
            lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise AsckitError(f"{source}: cannot be read as UTF-8 text ({first_line(exc)}); restore it from TAU22's meta archive") from None
        columns = lines[0].split("\t") if lines else []
        if "filename" not in columns:
            raise AsckitError(f"{source}: the header lacks a TAB-separated filename column; restore it from TAU22's meta archive")
        index = columns.index("filename")
        splits[split_file] = (lines[0], [(line, (line.split("\t") + [""] * index)[index]) for line in lines[1:]])
    return splits


def _write_csvs(listing: _Listing, splits: dict[str, tuple[str, list[tuple[str, str]]]], out: Path, result: CutResult) -> None:
    """OUT/meta.csv and OUT/evaluation_setup/*.csv: the rows of the source CSVs whose clip OUT holds."""
    held = {filename for _line, filename in listing.lines if (out / filename).is_file()}
    rows = [line for line, filename in listing.lines if filename in held]
    atomic_write_text(out / "meta.csv", "\n".join([listing.header, *rows]) + "\n")
    result.meta_rows = len(rows)
    for split_file, (header, lines) in splits.items():
        kept = [line for line, filename in lines if filename in held]
        atomic_write_text(out / "evaluation_setup" / split_file, "\n".join([header, *kept]) + "\n")
        result.split_files.append(f"evaluation_setup/{split_file}")


__all__ = ["CLIPS_PER_RECORDING", "CLIP_FRAMES", "CutResult", "cut_tau20"]
