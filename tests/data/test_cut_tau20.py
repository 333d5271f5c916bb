"""Tests for asckit.data.cut_tau20 on a tiny TAU20 (four 10 s recordings) and a hand-made TAU22 meta.csv
that lists a subset of their seconds plus one clip TAU20 cannot give.

``asckit data synth`` is not used here: its presets have 1.5–4 s clips (a 10 s tiny set takes seconds to
generate); ``conftest.write_tau_root`` writes the four recordings in a fraction of that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import write_tau_root

from asckit.cli import main
from asckit.core.errors import AsckitError, ProblemsFound
from asckit.data.cut_tau20 import CLIP_FRAMES, cut_tau20
from asckit.data.tau import check_dataset

AIRPORT_A = "airport-lisbon-1000-40000-a"
AIRPORT_B = "airport-lisbon-1000-40000-b"
BUS_A = "bus-lyon-1001-40001-a"
PARK_A = "park-paris-1002-40002-a"
EXTRA = "audio/tram-prague-1003-40003-0-a.wav"  # listed by TAU22, absent from TAU20


def clip(stem: str, k: int) -> str:
    scene_city_location_segment, device = stem.rsplit("-", 1)
    return f"audio/{scene_city_location_segment}-{k}-{device}.wav"


def meta_row(filename: str) -> str:
    scene, city, location, _segment, _k, device = Path(filename).stem.split("-")
    return f"{filename}\t{scene}\t{city}-{location}\t{device}"


@pytest.fixture
def tau20(tmp_path) -> Path:
    root = write_tau_root(tmp_path / "tau20", [f"{AIRPORT_A}.wav", f"{AIRPORT_B}.wav", f"{BUS_A}.wav"], [f"{PARK_A}.wav"], seconds=10.0)
    # The bus recording in 16-bit PCM: its clips keep that bit depth.
    samples, rate = soundfile.read(root / "audio" / f"{BUS_A}.wav", dtype="float32")
    soundfile.write(root / "audio" / f"{BUS_A}.wav", samples, rate, subtype="PCM_16")
    return root


def write_meta(folder: Path, filenames: list[str], train: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.csv").write_text("\n".join(["filename\tscene_label\tidentifier\tsource_label", *map(meta_row, filenames)]) + "\n")
    if train is not None:
        (folder / "evaluation_setup").mkdir()
        rows = [f"{f}\t{Path(f).name.split('-')[0]}" for f in train]
        (folder / "evaluation_setup" / "fold1_train.csv").write_text("\n".join(["filename\tscene_label", *rows]) + "\n")
    return folder / "meta.csv"


def test_cut_writes_exact_seconds_checks_names_and_reports_both_differences(tau20, tmp_path):
    listed = ([clip(AIRPORT_A, k) for k in range(10)] + [clip(BUS_A, k) for k in range(10)]
              + [clip(AIRPORT_B, k) for k in range(5)] + [EXTRA])
    meta = write_meta(tmp_path / "tau22meta", listed, train=[clip(BUS_A, k) for k in range(10)] + [EXTRA])
    out = tmp_path / "tau22"

    with pytest.raises(ProblemsFound) as info:
        cut_tau20(tau20, meta, out, progress=False)

    problems = info.value.problems
    assert len(problems) == 3, problems
    assert any("tram-prague-1003-40003-a.wav" in p and "which TAU20 does not hold" in p for p in problems)
    assert any(p.startswith(str(tau20 / "audio" / f"{PARK_A}.wav")) and "lists none of its 10 seconds" in p for p in problems)
    assert any(AIRPORT_B in p and "lists 5 of its 10 seconds (not second 5, 6, 7, 8, 9)" in p for p in problems)
    assert "cut 25 clip(s)" in str(info.value)
    # Second k is samples k*44100 ... (k+1)*44100 of the recording, bit for bit, in its own format.
    source = soundfile.read(tau20 / "audio" / f"{AIRPORT_A}.wav", dtype="int32")[0]
    for k in (0, 3, 9):
        got, rate = soundfile.read(out / clip(AIRPORT_A, k), dtype="int32")
        assert rate == 44100 and np.array_equal(got, source[k * CLIP_FRAMES:(k + 1) * CLIP_FRAMES])
    assert soundfile.info(out / clip(AIRPORT_A, 0)).subtype == "PCM_24"
    assert soundfile.info(out / clip(BUS_A, 7)).subtype == "PCM_16"
    bus = soundfile.read(tau20 / "audio" / f"{BUS_A}.wav", dtype="int32")[0]
    assert np.array_equal(soundfile.read(out / clip(BUS_A, 7), dtype="int32")[0], bus[7 * CLIP_FRAMES:8 * CLIP_FRAMES])
    assert sorted(p.name for p in (out / "audio").iterdir()) == sorted(Path(f).name for f in listed if f != EXTRA)
    # The CSVs list what OUT holds: the clip TAU20 could not give is left out, the lines are copied as they are.
    meta_lines = (out / "meta.csv").read_text().splitlines()
    assert meta_lines == meta.read_text().splitlines()[:-1]
    train_lines = (out / "evaluation_setup" / "fold1_train.csv").read_text().splitlines()
    assert train_lines == ["filename\tscene_label", *[f"{clip(BUS_A, k)}\tbus" for k in range(10)]]
    report = check_dataset(out, audio=False)
    assert not any("meta.csv" in p for p in report.problems), report.problems


def test_a_rerun_cuts_only_what_is_missing(tau20, tmp_path):
    listed = [clip(s, k) for s in (AIRPORT_A, AIRPORT_B, BUS_A, PARK_A) for k in range(10)]
    meta = write_meta(tmp_path / "m", listed)
    out = tmp_path / "tau22"
    first = cut_tau20(tau20, meta, out, progress=False)
    assert (first.written, first.reused, first.meta_rows) == (40, 0, 40)
    (out / clip(PARK_A, 4)).unlink()
    kept = out / clip(BUS_A, 2)
    kept.write_bytes(b"left alone")  # not read again: a rerun only fills what is missing

    again = cut_tau20(tau20, meta, out, progress=False)

    assert (again.written, again.reused) == (1, 39)
    assert kept.read_bytes() == b"left alone"
    assert soundfile.info(out / clip(PARK_A, 4)).frames == CLIP_FRAMES


def test_short_or_foreign_recordings_give_no_clip(tau20, tmp_path):
    soundfile.write(tau20 / "audio" / f"{BUS_A}.wav", np.full(int(9.5 * 44100), 0.1), 44100, subtype="PCM_24")
    soundfile.write(tau20 / "audio" / f"{PARK_A}.wav", np.full(10 * 48000, 0.1), 48000, subtype="PCM_24")
    listed = [clip(s, k) for s in (AIRPORT_A, AIRPORT_B, BUS_A, PARK_A) for k in range(10)]
    out = tmp_path / "tau22"
    with pytest.raises(ProblemsFound) as info:
        cut_tau20(tau20, write_meta(tmp_path / "m", listed), out, progress=False)
    problems = info.value.problems
    assert len(problems) == 2, problems
    assert "9.50 s long, second 9 ends beyond it" in problems[0] and clip(BUS_A, 9) in problems[0]
    assert "48000 Hz, 1 channel(s), not TAU20's 44100 Hz mono; not cut" in problems[1]
    assert (out / clip(BUS_A, 8)).is_file() and not (out / clip(BUS_A, 9)).exists()
    assert not any((out / "audio").glob("park-*"))


def test_cli_cut_tau20(tau20, tmp_path, capsys):
    listed = [clip(s, k) for s in (AIRPORT_A, AIRPORT_B, BUS_A, PARK_A) for k in range(10)]
    meta = write_meta(tmp_path / "m", listed)
    out = tmp_path / "tau22"
    assert main(["data", "cut-tau20", str(tau20), "--meta", str(meta), "--out", str(out), "--quiet"]) == 0
    assert f"cut 40 clip(s) into {out / 'audio'} (0 already there)" in capsys.readouterr().out
    (tau20 / "audio" / f"{PARK_A}.wav").unlink()
    assert main(["data", "cut-tau20", str(tau20), "--meta", str(meta), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("asckit: problem: ") for line in err)
    assert "which TAU20 does not hold" in err[0] and "1 difference(s)" in err[1]


def test_a_meta_of_tau20_names_is_refused_before_anything_is_written(tau20, tmp_path):
    out = tmp_path / "tau22"
    with pytest.raises(AsckitError, match=r"lists no TAU22 clip .* is it TAU20's\? Give TAU22's meta.csv"):
        cut_tau20(tau20, tau20 / "meta.csv", out, progress=False)
    assert not out.exists()
