"""Tests for asckit.core.locking: one writer at a time per store / run directory / bundle (issue 15 §1).

Two `asckit features` processes on one store, started together, give the same rows as one writer;
a writer waits (with one line saying so) while another process holds the lock, and goes on when
that process dies without releasing it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import write_tau_root

from asckit.cli import main
from asckit.core.locking import acquire_writer, lock_path
from asckit.features.store import FeatureStore

SRC = str(Path(__file__).resolve().parents[2] / "src")
TRAIN = [f"{scene}-lisbon-{100 + i}-{i}-a.wav" for i, scene in enumerate(["airport", "bus", "park", "tram"] * 6)]
EVALUATE = [f"{scene}-vienna-{900 + i}-{i}-a.wav" for i, scene in enumerate(["airport", "bus", "park", "tram"] * 6)]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}


def _features(root: Path, store: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "asckit", "features", str(root), "--out", str(store), "--quiet", "--workers", "1", *args],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return write_tau_root(tmp_path_factory.mktemp("lock") / "tau", TRAIN, EVALUATE)


def test_the_lock_file_lies_beside_the_folder_and_is_reentrant_in_one_process(tmp_path: Path) -> None:
    assert lock_path(tmp_path / "store") == tmp_path / ".store.lock"
    first = acquire_writer(tmp_path / "store", "feature store")
    second = acquire_writer(tmp_path / "store", "feature store")  # the same process does not wait for itself
    assert first is second and first.is_locked
    second.release()
    assert first.is_locked
    first.release()
    assert not first.is_locked
    assert not (tmp_path / "store").exists()  # taking the lock creates nothing in the folder


@pytest.mark.slow
def test_two_writers_in_parallel_give_the_rows_of_one_writer(root: Path, tmp_path: Path) -> None:
    """The issue's leak: `--splits train` and `--splits evaluate` at once on one store."""
    single = tmp_path / "single"
    assert main(["features", str(root), "--out", str(single), "--quiet", "--workers", "1", "--splits", "train", "evaluate"]) == 0
    shared = tmp_path / "shared"
    writers = [_features(root, shared, "--splits", "train"), _features(root, shared, "--splits", "evaluate")]
    results = [w.communicate(timeout=240) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], results
    assert "Traceback" not in "".join(err for _, err in results)
    one, two = FeatureStore.open(single), FeatureStore.open(shared)
    assert sorted(two.keys()) == sorted(one.keys()) and len(two) == len(TRAIN) + len(EVALUATE)
    rows = sorted(r.row for r in two.rows.values())
    assert rows == list(range(len(rows)))  # no row shared by two keys, none skipped
    for key in one.keys():
        np.testing.assert_array_equal(two.get([key]), one.get([key]), err_msg=key)
    assert (shared / "data.f16").stat().st_size == len(rows) * two.row_bytes


@pytest.mark.slow
def test_a_writer_waits_for_the_holder_and_goes_on_when_it_dies(root: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from asckit.core.locking import acquire_writer; "
         f"lock = acquire_writer({str(store)!r}, 'feature store'); print('held', flush=True); time.sleep(600)"],
        env=_env(), stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        writer = _features(root, store)
        deadline = time.monotonic() + 10  # far longer than the writer needs to start and extract
        while time.monotonic() < deadline and writer.poll() is None and not store.exists():
            time.sleep(0.2)
        assert writer.poll() is None and not store.exists(), "the second writer did not wait"
    finally:
        holder.kill()  # a crash: the operating system drops the lock
        holder.wait()
    out, err = writer.communicate(timeout=240)
    assert writer.returncode == 0, err
    waiting = [line for line in err.splitlines() if "another process is writing" in line]
    assert len(waiting) == 1 and str(store) in waiting[0] and "waiting" in waiting[0]
    assert len(FeatureStore.open(store)) == len(TRAIN) + len(EVALUATE)
