import subprocess
import sys

import numpy as np
import pytest
import soundfile

from asckit.core.errors import AsckitError
from asckit.data import tau


def test_parse_filename():
    clip = tau.parse_filename("audio/street_traffic-lisbon-1000-40000-s11.wav")
    assert (clip.scene, clip.city, clip.location, clip.segment, clip.device) == (
        "street_traffic", "lisbon", "1000", "40000", "s11",
    )
    assert clip.identifier == "lisbon-1000"
    assert clip.segment_id == "street_traffic-lisbon-1000-40000"
    assert clip.clip is None
    assert tau.parse_filename("audio/17.wav") is None


def test_parse_tau22_filename_shares_the_segment_of_its_2020_clip():
    second = tau.parse_filename("audio/airport-lisbon-1000-40000-7-s2.wav")
    assert (second.scene, second.city, second.location, second.segment, second.clip, second.device) == (
        "airport", "lisbon", "1000", "40000", 7, "s2",
    )
    whole = tau.parse_filename("audio/airport-lisbon-1000-40000-a.wav")
    assert second.segment_id == whole.segment_id == "airport-lisbon-1000-40000"
    assert tau.parse_filename("audio/airport-lisbon-1000-40000-12-a.wav") is None  # k is one digit


def test_load_split_parses_names(tau_root):
    frame = tau.load_split(tau_root, "train")
    assert list(frame["filename"])[0] == "audio/airport-lisbon-1000-40000-a.wav"
    assert list(frame["device"]) == ["a", "b", "a", "a", "s1"]
    assert set(frame["identifier"]) == {"lisbon-1000", "lyon-1001", "paris-1002"}
    test = tau.load_split(tau_root, "test")
    assert "scene_label" not in test and len(test) == 3
    assert tau.detect_task(tau_root) == "1a"


def test_valid_root_has_no_problems(tau_root):
    report = tau.check_dataset(tau_root)
    assert report.ok, report.problems
    assert report.task == "1a"
    assert report.clip_seconds == 1.0
    devices, classes = report.summary_tables()
    assert devices.loc["a", "train"] == 3 and devices.loc["s4", "evaluate"] == 1
    assert classes.loc["total", "evaluate"] == 3


def test_check_reports_every_problem_with_file_and_line(tau_root):
    setup = tau_root / "evaluation_setup"
    train = setup / "fold1_train.csv"
    lines = train.read_text().splitlines()
    lines.append(lines[1])  # duplicate row → line 7
    lines.append("audio/beach-lisbon-1000-40009-a.wav\tbeach")  # unknown label, missing audio → line 8
    train.write_text("\n".join(lines) + "\n")
    # a truncated WAV: cut the data chunk
    victim = tau_root / "audio" / "bus-lyon-1001-40001-a.wav"
    victim.write_bytes(victim.read_bytes()[:5000])
    # wrong sample rate and channel count
    soundfile.write(tau_root / "audio" / "park-paris-1002-40002-a.wav", np.zeros((48000, 2)), 48000, subtype="PCM_16")
    # non-audio bytes
    (tau_root / "audio" / "tram-prague-2002-50002-c.wav").write_bytes(b"not audio at all")
    report = tau.check_dataset(tau_root)
    text = "\n".join(report.problems)
    assert not report.ok
    assert f"{train}:7: duplicate row for audio/airport-lisbon-1000-40000-a.wav (first at line 2)" in text
    assert f"{train}:8: unknown scene_label 'beach'" in text
    assert f"{train}:8: audio/beach-lisbon-1000-40009-a.wav is listed but" in text
    assert f"{victim}: truncated" in text
    assert "sample rate 48000 Hz, Task 1a expects 44100 Hz" in text
    assert "2 channel(s), Task 1a expects 1" in text
    assert "tram-prague-2002-50002-c.wav: unreadable audio" in text


def test_check_names_a_comma_separated_csv(tau_root):
    path = tau_root / "evaluation_setup" / "fold1_evaluate.csv"
    path.write_text(path.read_text().replace("\t", ","))
    report = tau.check_dataset(tau_root)
    assert any(p.startswith(f"{path}:1:") and "TAB-separated" in p for p in report.problems)


def test_check_finds_shared_locations_and_label_contradictions(tau_root):
    path = tau_root / "evaluation_setup" / "fold1_evaluate.csv"
    path.write_text(path.read_text().replace("tram-prague-2002-50002-c.wav\ttram", "tram-prague-2002-50002-c.wav\tbus"))
    meta = tau_root / "meta.csv"
    meta.write_text(meta.read_text().replace("vienna-2000\ta", "vienna-2000\tb"))
    report = tau.check_dataset(tau_root, audio=False)
    text = "\n".join(report.problems)
    assert "label 'bus' contradicts the scene 'tram'" in text
    assert "source_label 'b' should be 'a'" in text


def test_location_overlap_is_a_problem(tmp_path):
    from conftest import write_tau_root

    root = write_tau_root(tmp_path / "r", ["bus-lyon-1-1-a.wav"], ["bus-lyon-1-2-a.wav"], seconds=0.2)
    report = tau.check_dataset(root)
    assert any("location(s) in both fold1_train and fold1_evaluate" in p for p in report.problems)


def test_version_detection_by_split_sizes(tmp_path):
    setup = tmp_path / "evaluation_setup"
    setup.mkdir()
    (setup / "fold1_train.csv").write_text("filename\tscene_label\n" + "x\tbus\n" * 9185)
    (setup / "fold1_evaluate.csv").write_text("filename\tscene_label\n" + "x\tbus\n" * 4185)
    assert "3Class, development" in tau.describe_version(tmp_path)
    (setup / "fold1_evaluate.csv").write_text("filename\tscene_label\n" + "x\tbus\n" * 10)
    assert tau.describe_version(tmp_path).startswith("unknown development set (9185 train / 10 evaluate)")


def test_load_split_errors_are_one_line(tmp_path):
    with pytest.raises(AsckitError, match="not found"):
        tau.load_split(tmp_path, "train")
    with pytest.raises(AsckitError, match="unknown split"):
        tau.load_split(tmp_path, "dev")


@pytest.mark.slow
def test_cli_check_exit_status(tau_root):
    ok = subprocess.run([sys.executable, "-m", "asckit", "data", "check", str(tau_root)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "no problems found" in ok.stdout and "clips per split and device" in ok.stdout
    (tau_root / "audio" / "bus-lyon-1001-40001-a.wav").unlink()
    bad = subprocess.run([sys.executable, "-m", "asckit", "data", "check", str(tau_root)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "bus-lyon-1001-40001-a.wav is listed but" in bad.stdout
    assert "Traceback" not in bad.stderr
