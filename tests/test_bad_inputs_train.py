"""Bad-input corpus (issue 15), training: `asckit train` configs, --set values and trainer settings.

Each refused case creates nothing (no run directory), so the corrected command runs as if the
first had never been tried; a run whose loss turns NaN stops and is never marked finished.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from bad_input_corpus import Case, check_case, tiny_config, world, write

from asckit.cli import main


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    return world(tmp_path_factory)


def _config(extra: str = ""):
    def setup(c: Path, w: dict) -> None:
        tiny_config(c, w["root"], w["store"], extra=extra)

    return setup


def _set(case_id: str, needles: tuple[str, ...], *overrides: str, extra_args=()) -> Case:
    argv = ["train", "{c}/tiny.yaml", *[a for o in overrides for a in ("--set", o)], *extra_args]
    return Case(f"train {case_id}", argv, needles, 2, _config())


def _yaml(case_id: str, needles: tuple[str, ...], text: str | bytes) -> Case:
    return Case(f"train {case_id}", ["train", "{c}/bad.yaml"], needles, 2, write("bad.yaml", text))


GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")

def _root_with(change):
    """A setup: a copy of the shared root changed by ``change``, and a config that trains on it."""

    def setup(c: Path, w: dict) -> None:
        shutil.copytree(w["root"], c / "tau")
        change(c / "tau")
        tiny_config(c, c / "tau", w["store"])

    return setup


def _relabel(old: str, new: str):
    def change(root: Path) -> None:
        csv = root / "evaluation_setup" / "fold1_train.csv"
        csv.write_text(csv.read_text().replace(old, new))

    return change


TRAIN = [
    Case("train label typo in the CSV", ["train", "{c}/tiny.yaml"], ("label 'buss'", "line 4", "fix the CSV"), 2,
         _root_with(_relabel("\tbus", "\tbuss"))),
    Case("train labels of the other task", ["train", "{c}/tiny.yaml"], ("labels are those of task 1b", "task: 1b"), 2,
         _root_with(lambda r: [_relabel(f"\t{s}", f"\t{t}")(r) for s, t in
                               (("airport", "indoor"), ("bus", "transportation"), ("park", "outdoor"))])),
    Case("train missing config", ["train", "{c}/none.yaml"], ("config file not found", "check the path"), 2),
    _yaml("binary YAML", ("not a text file", "give the YAML config"), b"\x00\xff\xfe\x01\x02"),
    _yaml("YAML syntax", ("not valid YAML", "fix the syntax"), "name: [a\n"),
    _yaml("YAML list", ("the config must be a mapping of keys (name, task, data, model",), "- a\n- b\n"),
    _yaml("YAML scalar", ("the config must be a mapping of keys (name, task, data, model",), "hello\n"),
    _yaml("empty YAML", ("'name' is required", "add it to the config"), ""),
    _yaml("no data section", ("'data' is required", "add it to the config"), "name: x\n"),
    _set("unknown key", ("unknown key 'bogus'", "valid keys here: name, task"), "bogus=1"),
    _set("unknown nested key", ("unknown key 'optim.lr'", "valid keys here: optimizer, schedule"), "optim.lr=0.1"),
    _set("set without =", ("use --set key=value",), "optim.epochs"),
    _set("set into a value", ("is a value, not a section", "fix the key"), "task=1a", "task.x=1"),
    _set("name with a slash", ("name", "use letters, digits", "it names the run directory"), "name=a/b"),
    _set("task 1c", ("task", "should be '1a', '1b', '2024' or '2025' (got '1c')"), "task=1c"),
    _set("label typo", ("labels", "should be 'scene' or 'superclass'"), "labels=scenes"),
    _set("superclass for 1b", ("superclass is for task 1a", "use labels: scene"), "task=1b", "labels=superclass"),
    _set("lr_max inf", ("optim.lr_max", "should be a finite number"), "optim.lr_max=.inf"),
    _set("lr_max nan", ("optim.lr_max", "should be a finite number"), "optim.lr_max=.nan"),
    _set("lr_max 0", ("optim.lr_max", "should be greater than 0"), "optim.lr_max=0"),
    _set("lr_min above lr_max", ("lr_min (1.0) must not exceed lr_max (0.1)",), "optim.lr_min=1", "optim.lr_max=0.1"),
    _set("momentum 1", ("optim.momentum", "should be less than 1"), "optim.momentum=1"),
    _set("epochs true", ("epochs", "yes/no value", "give a number"), "optim.epochs=true"),
    _set("epochs text", ("optim.epochs", "should be a valid integer"), "optim.epochs=many"),
    _set("epochs 0", ("epochs must be ≥ 1",), "optim.epochs=0"),
    _set("epochs -1", ("epochs must be ≥ 1",), "optim.epochs=-1"),
    _set("batch_size 0", ("optim.batch_size", "should be greater than or equal to 1"), "optim.batch_size=0"),
    _set("batch_size 2.5", ("optim.batch_size", "should be a valid integer"), "optim.batch_size=2.5"),
    _set("snapshots 0", ("snapshots", "should be greater than or equal to 1"), "snapshots=0"),
    _set("snapshots yes", ("snapshots", "yes/no value", "give a number"), "snapshots=yes"),
    _set("seed inf", ("seed", "should be a finite number"), "seed=.inf"),
    _set("width 0", ("model.width", "should be greater than 0"), "model.width=0"),
    _set("width inf", ("model.width", "should be a finite number"), "model.width=.inf"),
    _set("unknown model", ("unknown model 'bogus'", "use one of: fcnn"), "model.name=bogus"),
    _set("mixup_alpha -1", ("batch_augment.mixup_alpha", "should be greater than or equal to 0"), "batch_augment.mixup_alpha=-1"),
    _set("mixup_alpha nan", ("batch_augment.mixup_alpha", "should be a finite number"), "batch_augment.mixup_alpha=.nan"),
    _set("validation fraction 1", ("data.validation.fraction", "should be less than 1"), "data.validation.fraction=1"),
    _set("num_workers -1", ("trainer.num_workers", "should be greater than or equal to 0"), "trainer.num_workers=-1"),
    _set("precision bogus", ("trainer.precision", "should be '32-true'"), "trainer.precision=64-bogus"),
    _set("log_every_n_steps 0", ("trainer.log_every_n_steps", "should be greater than or equal to 1"), "trainer.log_every_n_steps=0"),
    _set("step_delay -1", ("debug.step_delay", "should be greater than or equal to 0"), "debug.step_delay=-1"),
    _set("store missing", ("not a feature store", "make it with `asckit features"), "data.store=/nonexistent/store"),
    _set("root missing", ("the dataset root does not exist", "check the path"), "data.root=/nonexistent/root"),
    _set("init-from and resume", ("--init-from starts a new run and --resume continues one", "use one of them"),
         extra_args=("--resume", "--init-from", "{w_run}")),
    _set("init-from missing run", ("not a run directory", "train one with `asckit train"), extra_args=("--init-from", "{c}/nowhere")),
    Case("train accelerator gpu without one", ["train", "{c}/tiny.yaml", "--set", "trainer.accelerator=gpu"],
         ("trainer.accelerator 'gpu'", "cannot run here", "fix trainer.*"), 2, _config(), marks=(GPU,)),
    _set("accelerator bogus", ("trainer.accelerator 'bogus'", "cannot run here", "fix trainer.*"), "trainer.accelerator=bogus"),
    _set("devices 0", ("trainer.devices 0", "cannot run here", "fix trainer.*"), "trainer.devices=0"),
    _set("strategy bogus", ("invalid strategy name", "cannot run here", "fix trainer.*"), "trainer.strategy=bogus"),
    Case("train run exists", ["train", "{c}/tiny.yaml"], ("a run of this name exists", "--resume"), 2,
         lambda c, w: (tiny_config(c, w["root"], w["store"]), shutil.copytree(w["run"], c / "runs" / "tiny"))),
    Case("train resume with other values", ["train", "{c}/tiny.yaml", "--resume", "--set", "model.width=0.125"],
         ("other values of model.width", "resume with the same config"), 2,
         lambda c, w: (tiny_config(c, w["root"], w["store"]), shutil.copytree(w["run"], c / "runs" / "tiny"))),
    Case("train folder without a run", ["train", "{c}/tiny.yaml"], ("holds no run", "choose another name"), 2,
         lambda c, w: (tiny_config(c, w["root"], w["store"]), write("runs/tiny/mine.txt", "mine")(c, w))),
]


@pytest.mark.parametrize("case", [c.param() for c in TRAIN])
def test_train_refuses_bad_input_and_creates_nothing(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)


@pytest.mark.slow
def test_a_nan_store_stops_training_unfinished(tmp_path: Path, shared, capsys) -> None:
    store = tmp_path / "store"
    shutil.copytree(shared["store"], store)
    data = np.memmap(store / "data.f16", dtype=np.float16, mode="r+")
    data[:] = np.nan  # a store damaged by hand: features and augment never write such rows
    data.flush()
    del data
    config = tiny_config(tmp_path, shared["root"], store)
    capsys.readouterr()
    assert main(["train", str(config)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "training loss is nan" in errors[0] and "unfinished" in errors[0]
    run = tmp_path / "runs" / "tiny"
    assert not (run / "finished.json").exists() and not list((run / "checkpoints").glob("*.ckpt"))


@pytest.mark.slow
def test_a_start_that_failed_before_its_first_epoch_does_not_block_the_rerun(tmp_path: Path, shared, capsys) -> None:
    config = tiny_config(tmp_path, shared["root"], shared["store"])
    assert main(["train", str(config), "--set", "trainer.devices=0"]) == 2
    assert not (tmp_path / "runs").exists()
    # A start killed after config.yaml was written but before any checkpoint: the rerun starts afresh.
    (tmp_path / "runs" / "tiny" / "checkpoints").mkdir(parents=True)
    (tmp_path / "runs" / "tiny" / "config.yaml").write_text((shared["run"] / "config.yaml").read_text())
    assert main(["train", str(config)]) == 0
    assert (tmp_path / "runs" / "tiny" / "finished.json").is_file()


@pytest.mark.slow
def test_training_prints_one_line_per_epoch_and_lightning_only_with_verbose(tmp_path: Path, shared, capsys, caplog) -> None:
    config = tiny_config(tmp_path, shared["root"], shared["store"], extra="")
    capsys.readouterr()
    assert main(["train", str(config), "--set", "optim.epochs=2"]) == 0
    out, err = capsys.readouterr()
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/2", "2/2"] and all("loss" in line for line in epochs)
    assert "GPU available" not in out + err + caplog.text and "Trainer.fit" not in out + err + caplog.text
    assert main(["train", str(config), "--set", "name=loud", "--verbose"]) == 0
    assert "GPU available" in "".join(capsys.readouterr()) + caplog.text
