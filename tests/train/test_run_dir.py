"""Tests for asckit.train.run_dir: the run directory's layout, which snapshots are used, and the
finished marker."""

from __future__ import annotations

import json

import pytest

from asckit.core.errors import AsckitError
from asckit.train.run_dir import RunDir


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_snapshots_are_the_last_k_cycle_ends_in_epoch_order(tmp_path):
    run = RunDir(tmp_path / "run")
    for epoch in (14, 0, 2, 6):  # written in any order; 0014 sorts after 0006 thanks to the padding
        _touch(run.cycle_checkpoint(epoch))
    _touch(run.last_checkpoint)
    assert [p.name for p in run.snapshot_checkpoints(2)] == ["cycle-0006.ckpt", "cycle-0014.ckpt"]
    with pytest.raises(AsckitError, match=r"--snapshots 10: .* holds 4 snapshot\(s\); use at most 4"):
        run.snapshot_checkpoints(10)  # asked for explicitly: never quietly fewer
    everything = ["cycle-0000.ckpt", "cycle-0002.ckpt", "cycle-0006.ckpt", "cycle-0014.ckpt"]
    assert [p.name for p in run.snapshot_checkpoints(10, explicit=False)] == everything  # the config's K: what there is


def test_a_run_without_cycle_ends_uses_last_and_one_without_checkpoints_is_an_error(tmp_path):
    run = RunDir(tmp_path / "run")
    with pytest.raises(AsckitError, match="no checkpoints; train the run first"):
        run.snapshot_checkpoints(1)
    _touch(run.last_checkpoint)
    assert run.snapshot_checkpoints(3) == [run.last_checkpoint]
    with pytest.raises(AsckitError, match="use 1 or more"):
        run.snapshot_checkpoints(0)


def test_the_finished_marker_lists_the_snapshots(tmp_path):
    run = RunDir(tmp_path / "run")
    assert not run.is_finished()
    _touch(run.cycle_checkpoint(0))
    _touch(run.cycle_checkpoint(2))
    run.mark_finished(epochs=3, global_step=42)
    assert run.is_finished()
    assert json.loads(run.finished_file.read_text()) == {
        "epochs": 3, "global_step": 42, "snapshots": ["cycle-0000.ckpt", "cycle-0002.ckpt"]
    }


def test_later_stages_find_their_files(tmp_path):
    run = RunDir(tmp_path / "run")
    assert run.predictions("evaluate") == tmp_path / "run" / "predictions" / "evaluate.tsv"
    assert run.exported_bundle() is None
    _touch(run.export_dir / "bundle.json")
    assert run.exported_bundle() == run.export_dir
    with pytest.raises(AsckitError, match="not a run directory"):
        run.load_config()
