"""Bad-input corpus (issue 15), the TAU22 layout: `asckit data synth --task 2024|2025` and `asckit data check`
on TAU22 roots (split_setup/, 1 s clips).

Each case asserts the exit status, the one error line (or the reported problem) and that nothing
was written or changed (``bad_input_corpus.check_case``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bad_input_corpus import Case, check_case, world, write

#: A small valid TAU22 root: three A-only segments entering the splits at 5, 25 and 100 %, one test
#: segment recorded by a and s4. Its marker makes it a synthetic set (split proportions, not the official counts).
TRAIN = {"park-lisbon-1000-40000": 5, "park-lisbon-1000-40001": 25, "bus-lyon-1001-41000": 100}
TEST = {"tram-vienna-2000-50000": ("a", "s4")}
MARKER = {"generator": "asckit.data.synth", "parameters": {"task": "tau22", "preset": "hand", "seed": 0}, "summary": {}}


def _files(segment: str, device: str) -> list[str]:
    return [f"audio/{segment}-{k}-{device}.wav" for k in range(10)]


def _csv(rows: list[str]) -> str:
    return "filename\tscene_label\n" + "".join(f"{f}\t{Path(f).name.split('-')[0]}\n" for f in rows)


def tau22_root(change=None, audio: bool = False, seconds: float = 1.0):
    """A setup writing the small TAU22 root to ``c/t22`` (with 1 s WAVs when ``audio``), then ``change(root)``."""

    def setup(c: Path, w: dict) -> None:
        root = c / "t22"
        (root / "split_setup").mkdir(parents=True)
        (root / "audio").mkdir()
        test = [f for seg, devices in TEST.items() for d in devices for f in _files(seg, d)]
        everything = [f for seg in TRAIN for f in _files(seg, "a")] + test
        for percent in (5, 10, 25, 50, 100):
            rows = [f for seg, first in TRAIN.items() if first <= percent for f in _files(seg, "a")]
            (root / "split_setup" / f"split{percent}.csv").write_text(_csv(rows))
        (root / "split_setup" / "test.csv").write_text(_csv(test))
        (root / "meta.csv").write_text("filename\tscene_label\tidentifier\tsource_label\n" + "".join(
            f"{f}\t{parts[0]}\t{parts[1]}-{parts[2]}\t{parts[-1]}\n" for f in everything for parts in [Path(f).stem.split("-")]))
        (root / "asckit_synth.json").write_text(json.dumps(MARKER))
        if audio:
            import soundfile

            noise = 0.1 * np.random.default_rng(0).standard_normal(int(seconds * 44100)).astype(np.float32)
            for name in everything:
                soundfile.write(root / name, noise, 44100, subtype="PCM_16")
        if change is not None:
            change(root)

    return setup


def _rewrite(rel: str, edit):
    """A change that rewrites the rows (header kept) of ``rel`` with ``edit(rows)``."""

    def change(root: Path) -> None:
        header, *rows = (root / rel).read_text().splitlines()
        (root / rel).write_text("\n".join([header, *edit(rows)]) + "\n")

    return change


def _check(diagnosis: str, fix: str, change=None, audio: bool = False, seconds: float = 1.0) -> Case:
    """A `data check` case on a changed TAU22 root: the problem reported (its diagnosis and fix), exit 1."""
    argv = ["data", "check", "{c}/t22"] + ([] if audio else ["--no-audio"])
    return Case(f"check tau22 {diagnosis}", argv, (diagnosis, fix), 1, tau22_root(change, audio, seconds), stdout=True)


S4_ROW = "audio/metro-paris-1002-42000-{k}-s4.wav\tmetro"

DATA_CHECK_TAU22 = [
    _check("split10.csv: missing", "asckit data download dcase2024-splits --root",
           change=lambda r: (r / "split_setup" / "split10.csv").unlink()),
    _check("not in split10.csv", "each split is a subset of the next larger one",
           change=_rewrite("split_setup/split10.csv", lambda rows: [])),
    _check("recording(s) not whole", "list all ten seconds (k = 0-9) or none",
           change=_rewrite("split_setup/split25.csv", lambda rows: rows[:-1])),
    _check("of a device outside the training devices", "remove them",
           change=_rewrite("split_setup/split100.csv", lambda rows: rows + [S4_ROW.format(k=k) for k in range(10)])),
    _check("of the test list test.csv", "a clip is for training or for testing",
           change=_rewrite("split_setup/split100.csv", lambda rows: rows + [
               f"audio/tram-vienna-2000-50000-{k}-a.wav\ttram" for k in range(10)])),
    _check("fold1_evaluate.csv: differs from", "restore fold1_evaluate.csv",
           change=lambda r: ((r / "evaluation_setup").mkdir(), (r / "evaluation_setup" / "fold1_evaluate.csv").write_text(
               _csv([f"audio/tram-vienna-2000-50000-{k}-a.wav" for k in range(10)])))),
    _check("TAU22 clips are 1 s", "cut it to one second", audio=True, seconds=2.0),
    _check("not a TAU22 filename", "<k>", change=_rewrite("split_setup/test.csv", lambda rows: rows + [
        "audio/tram-vienna-2000-50009-a.wav\ttram"])),
]

SYNTH = ["data", "synth", "{c}/s"]

DATA_SYNTH_TAU22 = [
    Case("data synth tau22 clip-seconds", [*SYNTH, "--task", "2025", "--clip-seconds", "2"],
         ("TAU22 clips are 1 s, cut from 10 s segments", "drop --clip-seconds"), 2),
    Case("data synth task bogus", [*SYNTH, "--task", "2026"], ("--task", "invalid choice", "'2024', '2025'"), 2),
    Case("data synth tau22 over a 1a set", [*SYNTH, "--task", "2024", "--preset", "tiny"],
         ("holds a synthetic dataset made with other parameters", "task '1a' there, 'tau22' asked", "choose another folder"), 2,
         write("s/asckit_synth.json", json.dumps({"parameters": {"task": "1a", "preset": "tiny", "seed": 0}, "summary": {}}))),
    Case("data check task bogus", ["data", "check", "{c}/t22", "--task", "2023"], ("--task", "invalid choice", "'2025'"), 2,
         tau22_root()),
]


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    return world(tmp_path_factory)


@pytest.mark.parametrize("case", [c.param() for c in [*DATA_CHECK_TAU22, *DATA_SYNTH_TAU22]])
def test_tau22_data_commands_refuse_bad_input(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)


def test_the_small_tau22_root_itself_passes(tmp_path: Path, capfd) -> None:
    """The cases' root is valid before each change, so each case's problem comes from its change alone."""
    from asckit.cli import main

    tau22_root(audio=True)(tmp_path, {})
    assert main(["data", "check", str(tmp_path / "t22")]) == 0, capfd.readouterr().out
