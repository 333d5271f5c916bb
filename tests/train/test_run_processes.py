"""Tests of asckit training that need separate processes: SIGKILL mid-epoch + --resume, Ctrl-C, and DDP.

Both launch ``python -m asckit train`` as a user would, on a tiny FCNN, with ``debug.record_batches``
on (each rank writes the clips it trained on per epoch, its steps, and a hash of its final weights
to RUN/debug/). About 10-20 s each on 2 cores, mostly process start-up and Lightning's import.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY, tiny_config_file, write_feature_dataset

from asckit.train.run import state_digest

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TIMEOUT_S = 240


def _train_command(config: Path, name: str, *overrides: str) -> list[str]:
    sets = [*TINY, f"name={name}", "debug.record_batches=true", *overrides]
    return [sys.executable, "-m", "asckit", "train", str(config)] + [a for s in sets for a in ("--set", s)]


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]


def _steps(run_dir: Path, rank: int = 0) -> list[tuple[int, int]]:
    path = run_dir / "debug" / f"steps-rank{rank}.txt"
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()
    return [tuple(map(int, line.split("\t"))) for line in lines if line.count("\t") == 1]


def _checkpoint(run_dir: Path, name: str = "last.ckpt") -> dict:
    return torch.load(run_dir / "checkpoints" / name, map_location="cpu", weights_only=True)


def test_a_run_killed_mid_epoch_resumes_to_exactly_the_uninterrupted_result(tmp_path: Path) -> None:
    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=3)
    config = tiny_config_file(tmp_path, root, store)
    runs = tmp_path / "runs"
    _run(_train_command(config, "straight"), tmp_path)

    # Slow steps so the kill lands inside epoch 1, after its checkpoint of epoch 0 exists.
    killed = subprocess.Popen(
        _train_command(config, "killed", "debug.step_delay=0.25"),
        cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not any(epoch == 1 and step >= 2 for epoch, step in _steps(runs / "killed")):
            assert killed.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run never reached epoch 1"
            time.sleep(0.02)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    assert killed.returncode == -signal.SIGKILL
    assert _checkpoint(runs / "killed")["epoch"] == 0  # killed mid-epoch 1: the last checkpoint is epoch 0's end
    assert not (runs / "killed" / "finished.json").exists()

    _run(_train_command(config, "killed") + ["--resume"], tmp_path)
    straight, resumed = _checkpoint(runs / "straight"), _checkpoint(runs / "killed")
    assert resumed["global_step"] == straight["global_step"]
    assert resumed["state_dict"].keys() == straight["state_dict"].keys()
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key  # bit for bit
    for key, value in straight["optimizer_states"][0]["state"].items():
        assert torch.equal(value["velocity"], resumed["optimizer_states"][0]["state"][key]["velocity"])  # KerasSGD
    assert resumed["lr_schedulers"] == straight["lr_schedulers"]
    # The redone epoch saw the same clips in the same order as the uninterrupted one.
    for epoch in range(3):
        name = f"seen-epoch{epoch:04d}-rank0.txt"
        assert (runs / "killed" / "debug" / name).read_text() == (runs / "straight" / "debug" / name).read_text()
    assert (runs / "killed" / "logs" / "version_1" / "metrics.csv").is_file()  # the resumed session's log


def test_ddp_on_two_cpu_processes_keeps_ranks_identical_and_splits_every_epoch(tmp_path: Path) -> None:
    """Lightning starts rank 1 by re-running the command; the gloo backend joins the two."""
    from asckit.data.tau import load_split

    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=3)
    config = tiny_config_file(tmp_path, root, store)
    epochs = 2
    _run(
        _train_command(config, "ddp", "trainer.devices=2", "trainer.strategy=ddp", f"optim.epochs={epochs}",
                       "data.validation.fraction=0.25"),
        tmp_path,
    )
    run = tmp_path / "runs" / "ddp"
    digests = [(run / "debug" / f"state-rank{r}.sha256").read_text().strip() for r in range(2)]
    assert digests[0] == digests[1]  # parameters and BatchNorm statistics
    weights = {k.removeprefix("model."): v for k, v in _checkpoint(run)["state_dict"].items()}
    assert state_digest(weights) == digests[0]

    from asckit.train.config import load_config
    from asckit.train.datamodule import StoreDataModule

    datamodule = StoreDataModule(load_config(run / "config.yaml"))
    datamodule.prepare()
    train_keys = sorted(datamodule.train_table.keys)
    assert 0 < len(train_keys) < len(load_split(root, "train"))  # the validation clips left training
    for epoch in range(epochs):
        per_rank = [(run / "debug" / f"seen-epoch{epoch:04d}-rank{r}.txt").read_text().split() for r in range(2)]
        assert sorted(per_rank[0] + per_rank[1]) == train_keys  # every clip exactly once across the ranks
    assert len(_steps(run, 0)) == len(_steps(run, 1))  # same number of steps on both ranks


def test_ddp_distillation_carries_teacher_targets_to_every_rank(tmp_path: Path) -> None:
    """A distilled run with Freq-MixStyle under DDP: the teacher targets come with each rank's batch."""
    import numpy as np

    from asckit.data.tau import load_split
    from asckit.predictions.reader import write_predictions

    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=2)
    config = tiny_config_file(tmp_path, root, store)
    train = load_split(root, "train")["filename"].tolist()
    teacher = tmp_path / "teacher.tsv"
    probs = np.random.default_rng(0).dirichlet(np.ones(10), size=len(train))
    write_predictions(teacher, train, probs, "1a")
    _run(
        _train_command(config, "kd", "trainer.devices=2", "trainer.strategy=ddp", "optim.epochs=1",
                       f"distill.teacher={teacher}", "batch_augment.freq_mixstyle={p: 0.5, alpha: 0.3}"),
        tmp_path,
    )
    run = tmp_path / "runs" / "kd"
    digests = [(run / "debug" / f"state-rank{r}.sha256").read_text().strip() for r in range(2)]
    assert digests[0] == digests[1] and (run / "finished.json").is_file()


pytestmark = [pytest.mark.timeout(2 * TIMEOUT_S), pytest.mark.slow]  # SIGKILL and DDP: subprocesses


def test_ctrl_c_during_training_exits_130_with_one_line_and_the_run_resumes(tmp_path: Path, capsys) -> None:
    """Lightning catches KeyboardInterrupt and exits 1; asckit says `asckit: interrupted`, status 130."""
    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=3)
    config = tiny_config_file(tmp_path, root, store)
    run = tmp_path / "runs" / "ctrl-c"
    command = _train_command(config, "ctrl-c", "debug.step_delay=0.25")
    # SIGINT as a terminal leaves it: a suite started in the background of a script (`pytest &`) ignores
    # SIGINT, the child would inherit that, and Python keeps an inherited SIG_IGN (no KeyboardInterrupt).
    interrupted = subprocess.Popen(command, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not any(epoch == 1 and step >= 2 for epoch, step in _steps(run)):
            assert interrupted.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "the run never reached epoch 1"
            time.sleep(0.02)
        interrupted.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal sends
        out, err = interrupted.communicate(timeout=TIMEOUT_S)
    finally:
        if interrupted.poll() is None:
            interrupted.kill()
    assert interrupted.returncode == 130, err[-3000:]
    assert err == "asckit: interrupted\n"
    assert re.fullmatch(r"epoch 1/3  loss \d+\.\d{4}\n", out)  # one line per finished epoch, no progress bar
    assert _checkpoint(run)["epoch"] == 0 and not (run / "finished.json").exists()

    from asckit.cli import main

    resume = _train_command(config, "ctrl-c")[3:] + ["--resume"]  # in this process, at full speed (step_delay may change)
    assert main(resume) == 0
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")] == ["2/3", "3/3"]
    assert (run / "finished.json").is_file()
