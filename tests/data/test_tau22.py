"""The TAU22 layout (TAU 2022 Mobile: the DCASE 2024 and 2025 tasks) in asckit.data.tau and asckit.data.synth:
the reader (split files by percentage, fallbacks, the 2025 evaluation list with device ids), the split
checks, and the synthetic TAU22 set (layout, splits, determinism)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import soundfile

from asckit import labels
from asckit.core.errors import AsckitError
from asckit.data import synth, tau

HEADER = "filename\tscene_label\n"


def recording(segment: str, device: str) -> list[str]:
    """The ten 1 s files of one device's recording of a 10 s segment."""
    return [f"audio/{segment}-{k}-{device}.wav" for k in range(10)]


# A hand-made set: 20 A-only segments entering the splits at 5, 10, 25, 50 or 100 %, one paired
# segment (all six training devices) at 50 %, and a test list of three devices, s4 unseen.
TRAIN_SEGMENTS: dict[str, tuple[tuple[str, ...], int]] = {
    **{f"park-lisbon-1000-{40000 + i}": (("a",), p) for i, p in enumerate([5, 10, 25, 25, 25] + [50] * 5 + [100] * 10)},
    "bus-lyon-1001-41000": (labels.KNOWN_DEVICES_2025, 50),
}
TEST_SEGMENTS: dict[str, tuple[str, ...]] = {"tram-vienna-2000-50000": ("a", "s4"), "park-vienna-2001-50001": ("b",)}


def split_rows(percent: int) -> list[str]:
    return [f for seg, (devices, first) in TRAIN_SEGMENTS.items() if first <= percent for d in devices for f in recording(seg, d)]


def test_rows() -> list[str]:
    return [f for seg, devices in TEST_SEGMENTS.items() for d in devices for f in recording(seg, d)]


test_rows.__test__ = False  # a builder, not a test


def csv(rows: list[str]) -> str:
    return HEADER + "".join(f"{f}\t{Path(f).name.split('-')[0]}\n" for f in rows)


def write_split_dir(folder: Path, **replace: list[str]) -> Path:
    """split_setup/ of the hand-made set; ``replace`` swaps the rows of a file (``split25=[...]``, ``test=[...]``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for percent in tau.TAU22_PERCENTAGES:
        (folder / f"split{percent}.csv").write_text(csv(replace.get(f"split{percent}", split_rows(percent))))
    (folder / "test.csv").write_text(csv(replace.get("test", test_rows())))
    return folder


def write_tau22_root(root: Path, split_setup: bool = True, fold1: bool = False) -> Path:
    """A hand-made TAU22 root (CSVs only, no audio): meta.csv, split_setup/ and/or evaluation_setup/."""
    everything = split_rows(100) + test_rows()
    root.mkdir(parents=True)
    (root / "meta.csv").write_text("filename\tscene_label\tidentifier\tsource_label\n" + "".join(
        f"{f}\t{p.scene}\t{p.identifier}\t{p.device}\n" for f in everything for p in [tau.parse_filename(f)]))
    if split_setup:
        write_split_dir(root / "split_setup")
    if fold1:
        (root / "evaluation_setup").mkdir()
        (root / "evaluation_setup" / "fold1_train.csv").write_text(csv(split_rows(100)))
        (root / "evaluation_setup" / "fold1_evaluate.csv").write_text(csv(test_rows()))
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth22") / "tiny"
    return root, synth.synthesize(root, task="2024", preset="tiny", seed=0, workers=1, progress=False)


# --------------------------------------------------------------------------- reader


def test_train_reads_the_split_file_of_the_percentage(tmp_path):
    root = write_tau22_root(tmp_path / "r")
    assert tau.detect_layout(root) == "tau22"
    for percent in (5, 25, 100):
        assert tau.load_split(root, "train", percent)["filename"].tolist() == split_rows(percent)
    frame = tau.load_split(root, "train")  # None: split 100
    assert len(frame) == len(split_rows(100))
    row = frame[frame["filename"] == "audio/bus-lyon-1001-41000-7-s2.wav"].iloc[0]
    assert (row["clip"], row["segment_id"], row["device"], row["identifier"]) == (7, "bus-lyon-1001-41000", "s2", "lyon-1001")
    assert tau.load_split(root, "evaluate")["filename"].tolist() == test_rows()


def test_a_percentage_outside_the_2024_splits_names_the_file_and_the_choices(tmp_path):
    root = write_tau22_root(tmp_path / "r")
    with pytest.raises(AsckitError, match=r"split20\.csv: 20 % is not a DCASE 2024 training split; use one of 5, 10, 25, 50, 100"):
        tau.load_split(root, "train", 20)
    with pytest.raises(AsckitError, match="selects a training split only"):
        tau.load_split(root, "evaluate", 25)


def test_a_missing_split_file_names_the_download_command(tmp_path):
    root = write_tau22_root(tmp_path / "r")
    (root / "split_setup" / "split10.csv").unlink()
    with pytest.raises(AsckitError, match=r"split10\.csv: not found; .*`asckit data download dcase2024-splits --root "):
        tau.load_split(root, "train", 10)


def test_without_split_setup_split_100_and_the_test_list_come_from_evaluation_setup(tmp_path):
    root = write_tau22_root(tmp_path / "r", split_setup=False, fold1=True)
    assert tau.detect_layout(root) == "tau22"  # told by the k in the names
    assert tau.load_split(root, "train")["filename"].tolist() == split_rows(100)
    assert tau.load_split(root, "train", 100)["filename"].tolist() == split_rows(100)
    assert tau.load_split(root, "evaluate")["filename"].tolist() == test_rows()
    with pytest.raises(AsckitError, match=r"split_setup/split25\.csv: not found; .*dcase2024-splits"):
        tau.load_split(root, "train", 25)


def test_split_setup_wins_over_evaluation_setup_where_both_exist(tmp_path):
    root = write_tau22_root(tmp_path / "r", fold1=True)
    (root / "evaluation_setup" / "fold1_evaluate.csv").write_text(csv(test_rows()[:10]))
    assert tau.split_path(root, "evaluate") == root / "split_setup" / "test.csv"
    assert len(tau.load_split(root, "evaluate")) == len(test_rows())
    (root / "split_setup" / "test.csv").unlink()
    assert len(tau.load_split(root, "evaluate")) == 10  # only fold1_evaluate.csv is left


def test_the_2025_evaluation_list_gives_each_clip_its_device(tmp_path):
    root = tmp_path / "eval"
    (root / "evaluation_setup").mkdir(parents=True)
    (root / "evaluation_setup" / "fold1_test.csv").write_text("filename\tdevice_id\naudio/0.wav\ta\naudio/1.wav\ts9\n")
    assert tau.detect_layout(root) == "tau22"
    frame = tau.load_split(root, "test")
    assert frame["device"].tolist() == ["a", "s9"]
    assert "scene_label" not in frame and "device_id" not in frame
    assert frame["segment_id"].isna().all() and frame["clip"].isna().all()


def test_2020_roots_read_as_before_and_take_no_percentage(tau_root):
    assert tau.detect_layout(tau_root) == "tau20"
    frame = tau.load_split(tau_root, "train", 100)
    assert frame["clip"].isna().all()
    assert frame["segment_id"].tolist()[0] == "airport-lisbon-1000-40000"
    assert tau.detect_task(tau_root) == "1a"
    with pytest.raises(AsckitError, match="a TAU 2020 root has one training split"):
        tau.load_split(tau_root, "train", 25)


# --------------------------------------------------------------------------- split checks


def test_the_hand_made_splits_pass_and_the_real_counts_are_checked_only_when_claimed(tmp_path):
    folder = write_split_dir(tmp_path / "split_setup")
    assert tau.check_split_files(folder, real=False) == []
    real = tau.check_split_files(folder, real=True)
    assert any("split5.csv: 10 rows, the official file has 6,980" in p for p in real)
    assert any("test.csv: 30 rows, the official list has 29,680" in p for p in real)


@pytest.mark.parametrize(
    "change, words",
    [
        # split5's recording is missing from split10: not nested
        ({"split10": split_rows(10)[10:]}, "split5.csv: 10 clip(s), e.g. audio/park-lisbon-1000-40000-0-a.wav (line 2) not in split10.csv"),
        # one second of a recording left out of split25
        ({"split25": split_rows(25)[:-1]}, "recording(s) not whole, e.g. park-lisbon-1000-40004 of device a with 9 of its 10"),
        ({"split100": split_rows(100) + recording("metro-paris-1002-42000", "s4")}, "of a device outside the training devices (a, b, c, s1, s2, s3)"),
        ({"split100": split_rows(100) + recording("park-vienna-2001-50001", "b")}, "of the test list test.csv"),
        ({"split50": split_rows(100)}, "the 50 % split should hold about 130"),
        ({"split5": split_rows(5) + split_rows(5)[:1]}, "listed twice"),
        ({"split5": split_rows(5) + ["audio/park-lisbon-1000-40000-a.wav"]}, "without a TAU22 name"),
    ],
    ids=["nesting", "cut-segment", "s4-in-split", "test-clip-in-split", "proportion", "duplicate", "2020-name"],
)
def test_each_split_violation_is_reported(tmp_path, change, words):
    folder = write_split_dir(tmp_path / "split_setup", **change)
    problems = tau.check_split_files(folder, real=False)
    assert any(words in p for p in problems), problems


def test_a_missing_split_file_is_a_problem_with_the_fix(tmp_path):
    folder = write_split_dir(tmp_path / "split_setup")
    (folder / "split50.csv").unlink()
    problems = tau.check_split_files(folder, real=False)
    assert problems == [f"{folder / 'split50.csv'}: missing; fetch the DCASE 2024 split files with "
                        f"`asckit data download dcase2024-splits --root {tmp_path}`"]


def test_check_dataset_reports_test_lists_that_differ(tmp_path):
    root = write_tau22_root(tmp_path / "r", fold1=True)
    (root / "asckit_synth.json").write_text(json.dumps({"parameters": {"task": "tau22", "preset": "hand", "seed": 0}}))
    assert tau.check_dataset(root, audio=False).problems == []
    (root / "evaluation_setup" / "fold1_evaluate.csv").write_text(csv(test_rows()[:-10]))
    problems = tau.check_dataset(root, audio=False).problems
    assert len(problems) == 1 and "fold1_evaluate.csv: differs from" in problems[0] and "0 clip(s) only here, 10 only there" in problems[0]


# --------------------------------------------------------------------------- the synthetic TAU22 set


def test_the_tiny_set_is_a_valid_tau22_root(tiny):
    root, summary = tiny
    report = tau.check_dataset(root)
    assert report.ok, report.problems
    assert (report.layout, report.task, report.clip_seconds) == ("tau22", "2024", 1.0)
    info = soundfile.info(str(root / tau.load_split(root, "train", 5)["filename"].iloc[0]))
    assert (info.samplerate, info.channels, info.frames) == (44100, 1, 44100)
    assert summary["files"] == len(list((root / "audio").iterdir())) == 400
    meta = (root / "meta.csv").read_text().splitlines()[0]
    assert meta == "filename\tscene_label\tidentifier\tsource_label"
    assert tau.describe_version(root).startswith("asckit synthetic set (TAU22 layout of tasks 2024 and 2025")


def test_the_tiny_splits_are_nested_by_whole_segments_of_the_training_devices(tiny):
    root, _ = tiny
    splits = {p: tau.load_split(root, "train", p) for p in tau.TAU22_PERCENTAGES}
    test = tau.load_split(root, "evaluate")
    for smaller, larger in zip(tau.TAU22_PERCENTAGES, tau.TAU22_PERCENTAGES[1:]):
        assert set(splits[smaller]["filename"]) <= set(splits[larger]["filename"])  # tiny: split5 = split10
    for frame in splits.values():
        assert len(frame) and set(frame["device"]) <= set(labels.KNOWN_DEVICES_2025)
        # a segment comes with every device that recorded it, and with all ten seconds of each
        full = splits[100][splits[100]["segment_id"].isin(set(frame["segment_id"]))]
        assert set(full["filename"]) == set(frame["filename"])
        assert (frame.groupby(["segment_id", "device"])["clip"].nunique() == 10).all()
    assert set(test["device"]) == set(labels.DEVICES)
    assert not set(test["filename"]) & set(splits[100]["filename"])
    assert tau.load_split(root, "train")["filename"].tolist() == splits[100]["filename"].tolist()


def test_the_evaluation_set_lists_device_ids_of_the_test_clips(tiny):
    root, _ = tiny
    evaluation = root / synth.EVALUATION_FOLDER
    assert (evaluation / "evaluation_setup" / "fold1_test.csv").read_text().startswith("filename\tdevice_id\n")
    frame = tau.load_split(evaluation, "test")
    test = tau.load_split(root, "evaluate")
    assert sorted(frame["device"]) == sorted(test["device"])  # s4-s6, unseen in training, included
    assert frame["filename"].tolist() == [f"audio/{n}.wav" for n in range(len(test))]
    report = tau.check_dataset(evaluation)
    assert report.ok and report.layout == "tau22", report.problems
    assert tau.check_dataset(evaluation, task="2025").ok  # the same format, 1 s clips


def test_2024_and_2025_share_one_set(tiny):
    root, summary = tiny
    again = synth.synthesize(root, task="2025", preset="tiny", seed=0, workers=1, progress=False)
    assert again["reused"] and again["counts"] == summary["counts"]
    with pytest.raises(AsckitError, match="TAU22 clips are 1 s, cut from 10 s segments; drop --clip-seconds"):
        synth.synthesize(root, task="2025", preset="tiny", clip_seconds=2.0)


def test_the_tau22_plan_is_deterministic_and_renders_the_same_bytes(tiny, tmp_path):
    root, _ = tiny
    sizes = synth.PRESETS["tiny"].tau22
    plan = synth.plan_dataset("2024", sizes, seed=0)
    assert plan == synth.plan_dataset("2025", sizes, seed=0)
    assert plan != synth.plan_dataset("2024", sizes, seed=1)
    paired = next(seg for seg in plan if len(seg.devices) > 1 and seg.split == "train")
    (tmp_path / "audio").mkdir()
    synth._render_segment(synth._Job(paired, "tau22", 0, 10 * 44100, str(tmp_path)))
    names = [n for d in paired.devices for n in paired.filenames(d)]
    assert len(names) == 60
    for name in names:
        assert hashlib.sha256((tmp_path / name).read_bytes()).digest() == hashlib.sha256((root / name).read_bytes()).digest()


def test_the_demo_plan_has_the_stated_sizes_and_real_device_proportions():
    sizes = synth.PRESETS["demo"].tau22
    assert sizes.clip_counts() == (7980, 2000)
    plan = synth.plan_dataset("2024", sizes, seed=0)
    counts = synth._counts(plan)
    assert sum(counts["split100"].values()) == 7980 and sum(counts["evaluate"].values()) == 2000
    for device in ("b", "c", "s1", "s2", "s3"):
        assert counts["split100"]["a"] / counts["split100"][device] == pytest.approx(13.56, abs=0.01)
    for percent in tau.TAU22_PERCENTAGES:
        rows = sum(counts[f"split{percent}"].values())
        assert rows == pytest.approx(percent / 100 * 7980, rel=0.1)
        assert {seg.scene for seg in plan if seg.subset and seg.subset <= percent} == set(labels.SCENES_10)
    assert set(counts["evaluate"]) == set(labels.DEVICES)


def test_the_2020_presets_keep_their_marker_parameters():
    # adding TAU22 sizes must not change what a 1a/1b root was made with (its marker decides reuse)
    assert "evaluate_devices" not in synth.dataclasses.asdict(synth.PRESETS["demo"].task_1a)
