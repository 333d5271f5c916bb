"""Bad-input corpus for ``asckit package`` (the DCASE 2025 inference package): labels, runs a 2025
package cannot hold, output folders it must not write into, a second submission with another
dev-test list, options.

The shared project is small and made without training: a TAU22 dev-test list (and a second, different
one), an imported device-specific run of random weights, config-only runs of other kinds, and package
folders. Each case asserts the exit status, the one error line and that nothing was written or changed
(``bad_input_corpus.check_case``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from bad_input_corpus import Case, check_case
from conftest import random_devices

from asckit.cli import main

LABEL = "Smith_TUW_task1_1"


def _config_only_run(path: Path, raw: dict) -> Path:
    """A finished run folder with only a config (what the refusals read first)."""
    from asckit.train.config import config_from_dict
    from asckit.train.run_dir import RunDir

    run = RunDir(path)
    path.mkdir(parents=True)
    run.write_config(config_from_dict({"name": path.name, **raw}, source=str(run.config_file)))
    run.mark_finished(1, 1)
    return path


@pytest.fixture(scope="session")
def shared(tmp_path_factory) -> dict[str, Path]:
    from asckit.pretrained.cpjku_checkpoint import import_cpjku_checkpoint

    base = tmp_path_factory.mktemp("package2025_world")
    rows = [f"audio/airport-lisbon-2000-50000-{k}-{d}.wav\tairport" for d in ("a", "s4") for k in range(3)]
    for name, listed in (("dev", rows), ("other", rows[:-1])):
        (base / name / "split_setup").mkdir(parents=True)
        (base / name / "split_setup" / "test.csv").write_text("filename\tscene_label\n" + "\n".join(listed) + "\n")
    torch.save(random_devices(("a",)).state_dict(), base / "devices.pt")
    devices = import_cpjku_checkpoint(base / "devices.pt", base / "runs" / "devices", root=base / "dev").run_dir
    unfinished = base / "runs" / "unfinished"
    shutil.copytree(devices, unfinished)
    (unfinished / "finished.json").unlink()
    tau22 = {"data": {"root": str(base / "dev"), "store": str(base / "store"), "split": 25}, "batch_augment": {"time_mask_max": 0}}
    world = {
        "base": base,
        "dev": base / "dev",
        "other": base / "other",
        "devices": Path(devices),
        "unfinished": unfinished,
        "r2020": _config_only_run(
            base / "runs" / "r2020", {"task": "1a", "data": {"root": str(base), "store": str(base)}, "model": {"name": "fcnn"}}
        ),
        "mobnet": _config_only_run(base / "runs" / "mobnet", {"task": "2025", **tau22, "model": {"name": "mobnet"}}),
        "split50": _config_only_run(
            base / "runs" / "split50", {"task": "2024", **tau22, "data": {**tau22["data"], "split": 50}, "model": {"name": "cp_mobile"}}
        ),
        "pkg": base / "pkg",
        "jones": base / "jones",
        "project": base / "project",
    }
    assert main(["package", str(devices), "--label", LABEL, "--out", str(world["pkg"])]) == 0
    assert main(["package", str(devices), "--label", "Jones_ABC_task1_1", "--out", str(world["jones"])]) == 0
    (world["project"]).mkdir()
    (world["project"] / "setup.py").write_text("from setuptools import setup\nsetup(name='theirs')\n")
    return world


def _package(case_id: str, needles: tuple[str, ...], *extra: str, run: str = "{w_devices}", label: str = LABEL, setup=None) -> Case:
    return Case(f"package {case_id}", ["package", run, "--label", label, *extra], needles, 2, setup=setup)


def _a_file(c: Path, w: dict) -> None:
    (c / "out").write_text("not a folder")


CASES = [
    _package("label of task 1a", ("names task1a, but this is a task1 submission", "use <Lastname>_<Institute>_task1_<1-4>"),
             "--out", "{c}/repo", label="Smith_TUW_task1a_1"),
    _package("label index 5", ("must be <Lastname>_<Institute>_task1_<1-4>",), "--out", "{c}/repo", label="Smith_TUW_task1_5"),
    _package("label not a module name", ("must be a Python module name", "ASCII letters and digits"), "--out", "{c}/repo",
             label="Sm-ith_TUW_task1_1"),
    _package("run missing", ("no such run folder", "check the path"), "--out", "{c}/repo", run="{c}/none"),
    _package("a 2020 run", ("a task 1a run (the 2020 log-mel frontend)", "give such a run"), "--out", "{c}/repo", run="{w_r2020}"),
    _package("a mobnet run", ("a mobnet run", "give a cp_mobile run"), "--out", "{c}/repo", run="{w_mobnet}"),
    _package("a split 50 run", ("trained on split 50", "train on split 25 only"), "--out", "{c}/repo", run="{w_split50}"),
    _package("an unfinished run", ("has not finished training", "finish it first"), "--out", "{c}/repo", run="{w_unfinished}"),
    _package("out is a file", ("is a file", "give the folder of the package's repository"), "--out", "{c}/out", setup=_a_file),
    _package("out holds another package", ("holds the package Jones_ABC_task1", "a repository holds one package"), "--out", "{w_jones}"),
    _package("out holds another project", ("holds another project (setup.py)", "give an empty or new folder"), "--out", "{w_project}"),
    _package("out is the run", ("is also an input of this command", "give another output path"), "--out", "{w_devices}"),
    _package("a second submission with another dev-test list", ("differs from", "a package has one test.csv", "give --root"),
             "--out", "{w_pkg}", "--root", "{w_other}", label="Smith_TUW_task1_2"),
    _package("precision int4", ("--precision int4", "use one of fp16, int8"), "--out", "{c}/repo", "--precision", "int4"),
    _package("root not a TAU22 set", ("not a TAU22 development set with a dev-test list", "give its root with --root"),
             "--out", "{c}/repo", "--root", "{c}"),
    _package("root missing", ("the dataset root does not exist", "check the path"), "--out", "{c}/repo", "--root", "{c}/none"),
    Case("package without --out", ["package", "{w_devices}", "--label", LABEL], ("the following arguments are required: --out",), 2),
]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_package_refuses_bad_input_and_creates_nothing(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)
