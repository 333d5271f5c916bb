"""Bad-input corpus, the TAU22 training path: `asckit train` on the 2024/2025 configs, `asckit features` on a
TAU22 root. Every refused case creates nothing (no run directory, no store)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_input_corpus import Case, check_case, world
from conftest import REPO, TINY_TAU22, write_tau22_root

from asckit.cli import main

GENERAL = str(REPO / "configs/dcase2025/general.yaml")
DEVICES = str(REPO / "configs/dcase2025/device_specific.yaml")
SPLITS = str(REPO / "configs/dcase2024/cp_mobile.yaml")


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """The corpus's shared 2020 project, plus a TAU22 root, its waveform store and a finished general run."""
    w = world(tmp_path_factory)
    if "t22" not in w:
        base = w["base"]
        root = write_tau22_root(base / "t22")
        assert main(["features", str(root), "--out", str(base / "t22store"), "--quiet", "--workers", "1"]) == 0
        args = [f"data.root={root}", f"data.store={base / 't22store'}", f"runs_dir={base / 't22runs'}", *TINY_TAU22]
        assert main(["train", GENERAL, *[a for o in args for a in ("--set", o)]]) == 0
        w.update(t22=root, t22store=base / "t22store", t22general=base / "t22runs" / "cp_mobile_2025_general")
    return w


def _train(case_id: str, needles: tuple[str, ...], config: str, *overrides: str, store: str = "{w_t22store}") -> Case:
    sets = ["data.root={w_t22}", f"data.store={store}", "runs_dir={c}/runs", *TINY_TAU22, *overrides]
    return Case(f"train tau22 {case_id}", ["train", config, *[a for o in sets for a in ("--set", o)]], needles, 2)


CASES = [
    _train("split on a 2020 task", ("data.split", "TAU22's (task 2024 or 2025)", "remove it"), GENERAL, "task=1a"),
    _train("split 30", ("data.split", "30 is not a task 2025 training split", "use one of 25"), GENERAL, "data.split=30"),
    _train("split 7 of 2024", ("data.split", "not a task 2024 training split", "5, 10, 25, 50, 100"), SPLITS, "data.split=7"),
    _train("log-mel store", ("holds log-mel", "trains on waves", "made from a TAU22 root"), GENERAL, store="{w_store}"),
    _train("roll on 1a", ("batch_augment.roll_seconds is for the TAU22 tasks", "remove it"), GENERAL, "task=1a", "data.split=null"),
    _train("device s4", ("model.devices", "'s4' has no training clips", "use some of a, b, c"), DEVICES, "model.devices=[s4]"),
    _train("device models in 2024", ("device-specific models are DCASE 2025's", "task: 2025"), DEVICES, "task=2024"),
    _train("time masking", ("time_mask_max", "masks frequencies only", "set it to 0"), GENERAL, "batch_augment.time_mask_max=10"),
    _train("snapshots 3", ("cosine schedule has no cycle ends", "set snapshots: 1"), GENERAL, "snapshots=3"),
    _train("warm-up without cosine", ("belong to optim.schedule: cosine",), GENERAL, "optim.schedule=warm_restarts"),
    _train("warm-up longer than the run", ("warm-up steps exceed the run's", "lower optim.warmup_steps"), GENERAL,
           "optim.warmup_fraction=null", "optim.warmup_steps=100000"),
    _train("mixstyle form", ("freq_mixstyle.form", "'sample' or 'batch'"), GENERAL, "batch_augment.freq_mixstyle.form=both"),
    _train("devices without a general run", ("start from a general run", "set init_from"), DEVICES, "init_from=null"),
    _train("devices from no run", ("is not a run directory", "train the general run there first"), DEVICES, "init_from={c}/none"),
    _train("devices from an unknown split device", ("no clip of device(s) c", "check data.devices"), DEVICES,
           "init_from={w_t22general}", "model.devices=[c]"),
    Case("features tau22 with log-mel settings", ["features", "{w_t22}", "--out", "{c}/s", "--set", "n_mels=64"],
         ("TAU22 root", "log-mel options do not apply", "drop them"), 2),
    Case("features tau22 as task 1a", ["features", "{w_t22}", "--out", "{c}/s", "--task", "1a"],
         ("is a Task 2024 dataset", "drop --task or give --task 2024"), 2),
]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_the_tau22_path_refuses_bad_input_and_creates_nothing(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)
