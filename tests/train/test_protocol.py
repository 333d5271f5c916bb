"""Tests for asckit.train.protocol: training rows must lie in the configured split, and a teacher's
runs (found through the provenance sidecars) must have trained within the student's split."""

from __future__ import annotations

from pathlib import Path

import pytest

from asckit.core.errors import AsckitError
from asckit.predictions.file_format import provenance_path, write_provenance
from asckit.train.config import config_from_dict
from asckit.train.protocol import check_teacher_provenance, check_training_rows_in_split, teacher_runs
from asckit.train.run_dir import RunDir

# TAU22-style 1 s clips: split "25" holds the first three, the training split ("100") all six.
CLIPS = [f"audio/{scene}-lisbon-100{i}-4000{i}-{k}-a.wav" for i, scene in enumerate(("airport", "bus", "park")) for k in (0, 1)]
SPLIT_25 = CLIPS[:3]


def _root(path: Path, train: list[str]) -> Path:
    """A dataset root with only the CSVs the split readers need (no audio)."""
    (path / "evaluation_setup").mkdir(parents=True)
    rows = "".join(f"{name}\t{Path(name).name.split('-')[0]}\n" for name in train)
    (path / "evaluation_setup" / "fold1_train.csv").write_text("filename\tscene_label\n" + rows)
    return path


def _run(tmp_path: Path, name: str, root: Path) -> Path:
    config = config_from_dict({"name": name, "runs_dir": str(tmp_path / "runs"), "data": {"root": str(root), "store": str(tmp_path / "s")}})
    RunDir(config.run_dir).write_config(config)
    return config.run_dir


def _teacher(path: Path, record: dict | None) -> Path:
    path.write_text("filename\tscene_label\n")  # the rows do not matter here, only the sidecar
    if record is not None:
        write_provenance(path, record)
    return path


def test_training_rows_outside_the_split_are_refused_in_one_line() -> None:
    # Dataset filenames, bare names and augmented rows (<filename>#<kind>) of split clips are inside.
    check_training_rows_in_split([SPLIT_25[0], Path(SPLIT_25[1]).name, SPLIT_25[2] + "#pitch-1"], SPLIT_25, "split25.csv")
    with pytest.raises(AsckitError) as error:
        check_training_rows_in_split([SPLIT_25[0], CLIPS[4] + "#noise", CLIPS[5]], SPLIT_25, "split25.csv")
    message = str(error.value)
    assert "\n" not in message and message.startswith("split25.csv: 2 of the 3 training rows")
    assert CLIPS[4] in message and "trains on its split's labels only" in message


def test_a_teacher_trained_within_the_split_passes_and_one_trained_on_more_is_refused(tmp_path: Path) -> None:
    within = _run(tmp_path, "t25", _root(tmp_path / "d25", SPLIT_25))
    everything = _run(tmp_path, "t100", _root(tmp_path / "d100", CLIPS))  # e.g. TAU20's training split = split 100
    good = _teacher(tmp_path / "good.tsv", {"made_by": "asckit predict-split", "run": str(within), "split": "train"})
    check_teacher_provenance(good, set(SPLIT_25))
    check_teacher_provenance(good, "train", student_root=tmp_path / "d25")  # the split by name, of the student's root
    assert teacher_runs(good) == [within]

    bad = _teacher(tmp_path / "bad.tsv", {"made_by": "asckit predict-split", "run": str(everything), "split": "train"})
    with pytest.raises(AsckitError) as error:
        check_teacher_provenance(bad, set(SPLIT_25), split_name="split 25")
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"distill.teacher: {bad}: teacher run {everything}")
    assert "3 of whose 6 clips are outside split 25" in message and "leak" in message
    assert "use a teacher trained within split 25" in message

    # A fusion is checked member by member, through each member's own record (asckit fuse) or
    # through the members' sidecars (asckit reproduce).
    fused = _teacher(tmp_path / "fused.tsv", {"made_by": "asckit fuse (average)", "inputs": [
        {"file": str(good), "source": {"run": str(within)}}, {"file": str(bad), "source": {"run": str(everything)}}]})
    assert teacher_runs(fused) == [within, everything]
    with pytest.raises(AsckitError, match="outside the student's split"):
        check_teacher_provenance(fused, set(SPLIT_25))
    reproduced = _teacher(tmp_path / "row.tsv", {"made_by": "asckit reproduce x", "inputs": [str(good), str(good)]})
    check_teacher_provenance(reproduced, set(SPLIT_25))


def test_a_teacher_without_provenance_is_refused_with_how_to_make_one(tmp_path: Path) -> None:
    bare = _teacher(tmp_path / "bare.tsv", None)
    with pytest.raises(AsckitError) as error:
        check_teacher_provenance(bare, set(SPLIT_25))
    message = str(error.value)
    assert "\n" not in message and f"{bare}: no provenance sidecar ({provenance_path(bare).name})" in message
    assert "asckit predict-split RUN --split train" in message
    # A fused member without its record cannot be checked either.
    fused = _teacher(tmp_path / "fused.tsv", {"made_by": "asckit fuse (average)", "inputs": [{"file": str(bare), "source": None}]})
    with pytest.raises(AsckitError, match=rf"fused\.tsv \(fused from {bare}\): no provenance sidecar"):
        check_teacher_provenance(fused, set(SPLIT_25))
    # A record naming a run that is gone.
    gone = _teacher(tmp_path / "gone.tsv", {"run": str(tmp_path / "runs" / "deleted")})
    with pytest.raises(AsckitError, match="teacher run named by the provenance is not there"):
        check_teacher_provenance(gone, set(SPLIT_25))
