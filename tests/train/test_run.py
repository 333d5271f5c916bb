"""Tests for asckit.train.run / module / predict / commands, in-process: a tiny run end to end
(CLI → run directory → snapshot-averaged predictions), the lr schedule as it ran, the L2 mapping,
guards on run directories, and the bf16 / channels_last opt-in.

Processes that must be separate (SIGKILL + resume, DDP) are in test_run_processes.py.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, tiny_config_file, write_feature_dataset

from asckit.cli import main
from asckit.core.errors import AsckitError
from asckit.data.tau import load_split
from asckit.labels import SCENES_10
from asckit.predictions.reader import read_predictions
from asckit.train.config import load_config
from asckit.train.schedule import lr_at

torch.set_num_threads(1)

@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """One tiny FCNN run through the CLI (15 epochs, validation split), predicted on evaluate."""
    base = tmp_path_factory.mktemp("train")
    root, store = write_feature_dataset(base)
    config_path = tiny_config_file(base, root, store)
    overrides = [*TINY, "optim.epochs=15", "data.validation.fraction=0.3"]
    argv = ["train", str(config_path)] + [arg for item in overrides for arg in ("--set", item)]
    assert main(argv) == 0
    run_dir = base / "runs" / "tiny"
    assert main(["predict-split", str(run_dir), "--split", "evaluate", "--quiet"]) == 0
    return {"base": base, "root": root, "store": store, "config": config_path, "overrides": overrides, "run": run_dir}


@pytest.mark.slow
def test_a_run_directory_holds_config_cycle_checkpoints_and_logs(trained, capsys) -> None:
    run = trained["run"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "cycle-0000.ckpt", "cycle-0002.ckpt", "cycle-0006.ckpt", "cycle-0014.ckpt", "last.ckpt"
    ]
    saved = load_config(run / "config.yaml")
    assert saved.model.width == 0.0625 and saved.optim.keras_decay == 1e-6  # resolved, as it ran
    assert (run / "finished.json").is_file()
    ckpt = torch.load(run / "checkpoints" / "cycle-0000.ckpt", weights_only=True)
    assert ckpt["epoch"] == 0
    rows = list(csv.DictReader((run / "logs" / "version_0" / "metrics.csv").open()))
    logged = set(rows[0])
    assert {"train/loss", "lr", "train/loss_epoch", "val/acc", "val/loss", "val/acc/A", "val/acc/B&C",
            "val/acc/device_a", "val/acc/device_b"} <= logged


@pytest.mark.slow
def test_the_lr_of_every_step_follows_the_warm_restart_schedule(trained) -> None:
    rows = list(csv.DictReader((trained["run"] / "logs" / "version_0" / "metrics.csv").open()))
    config = load_config(trained["run"] / "config.yaml")
    lrs = {int(r["step"]): float(r["lr"]) for r in rows if r["lr"]}
    steps = max(lrs) + 1
    assert steps % config.optim.epochs == 0  # epochs of equal length
    per_epoch = steps // config.optim.epochs
    o = config.optim
    for step, lr in lrs.items():
        expected = lr_at(step / per_epoch, o.lr_max, o.lr_min, o.first_cycle, o.cycle_mult) / (1 + o.keras_decay * step)
        assert lr == pytest.approx(expected, rel=1e-6), step
    assert lrs[per_epoch] == pytest.approx(0.1, rel=1e-4)  # restart after the first 1-epoch cycle


@pytest.mark.slow
def test_predictions_are_the_mean_softmax_of_the_last_k_cycle_checkpoints(trained) -> None:
    from asckit.train.predict import load_checkpoint_model

    run, root = trained["run"], trained["root"]
    preds = read_predictions(run / "predictions" / "evaluate.tsv")
    truth = load_split(root, "evaluate")
    assert list(preds.filenames) == truth["filename"].tolist()
    np.testing.assert_allclose(preds.probs.sum(axis=1), 1.0, atol=1e-9)

    config = load_config(run / "config.yaml")
    from asckit.features import add_deltas
    from asckit.features.store import FeatureStore

    x = add_deltas(torch.from_numpy(FeatureStore.open(trained["store"]).get(list(preds.filenames))).float())
    softmax = {}
    for name in ("cycle-0006.ckpt", "cycle-0014.ckpt"):
        model = load_checkpoint_model(run / "checkpoints" / name, config, 3, "cpu")
        with torch.no_grad():
            softmax[name] = torch.softmax(model(x).double(), dim=1).numpy()
    np.testing.assert_allclose(preds.probs, (softmax["cycle-0006.ckpt"] + softmax["cycle-0014.ckpt"]) / 2, atol=1e-6)

    # The separable toy classes are learned by the end: clearly above the 1/3 of guessing among the 3
    # present. (The epoch-6 snapshot of this 15-epoch toy run may not be there yet: with Keras SGD's
    # smaller first steps after a restart it was not, for this seed, and the average sat at 1/3.)
    truth_index = truth["scene_label"].map(SCENES_10.index).to_numpy()
    accuracy = (softmax["cycle-0014.ckpt"].argmax(axis=1) == truth_index).mean()
    assert accuracy > 0.6, accuracy


@pytest.mark.slow
def test_predict_split_takes_k_and_predicts_the_unlabelled_test_split(trained, tmp_path: Path) -> None:
    from asckit.train.predict import predict_split

    run = trained["run"]
    one = predict_split(run, "evaluate", snapshots=1, out=tmp_path / "k1.tsv", progress=False)
    assert [p.name for p in one.checkpoints] == ["cycle-0014.ckpt"]
    both = read_predictions(run / "predictions" / "evaluate.tsv")
    assert not np.allclose(read_predictions(one.path).probs, both.probs)
    test = predict_split(run, "test", progress=False)
    assert test.path == run / "predictions" / "test.tsv"
    assert len(read_predictions(test.path)) == len(load_split(trained["root"], "test"))


@pytest.mark.slow
def test_an_existing_run_is_only_continued_with_resume_and_the_same_config(trained) -> None:
    from asckit.train.run import train

    with pytest.raises(AsckitError, match="a run of this name exists; continue it with --resume"):
        train(load_config(trained["config"], trained["overrides"]))
    argv = ["train", str(trained["config"])] + [a for item in trained["overrides"] for a in ("--set", item)]
    assert main(argv + ["--set", "model.width=0.125", "--resume"]) == 2  # the CLI's exit status for AsckitError


@pytest.mark.slow
def test_resume_refuses_a_changed_model_naming_the_key(trained) -> None:
    from asckit.train.run import prepare_run_dir

    config = load_config(trained["config"], [*trained["overrides"], "model.width=0.125", "batch_augment.mixup_alpha=0.2"])
    with pytest.raises(AsckitError, match=r"other values of batch_augment.mixup_alpha, model.width; resume with the same"):
        prepare_run_dir(config, resume=True)


@pytest.mark.slow
def test_cli_reports_the_run_directory_and_next_commands(tmp_path: Path, capsys) -> None:
    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=2)
    config = tiny_config_file(tmp_path, root, store, name="cli")
    overrides = [*TINY, "optim.epochs=1", "optim.first_cycle=2"]  # stops half-way through the first cycle
    argv = ["train", str(config)] + [a for item in overrides for a in ("--set", item)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "cli"
    assert f"run directory: {run}" in out
    assert f"asckit predict-split {run} --split evaluate" in out
    assert "asckit evaluate" in out and "--root" in out
    # One epoch is no complete cycle: the final epoch is the run's one snapshot.
    from asckit.train.run_dir import RunDir

    assert [p.name for p in RunDir(run).snapshot_checkpoints(3, explicit=False)] == ["final-0000.ckpt"]
    assert json.loads(RunDir(run).finished_file.read_text())["snapshots"] == ["final-0000.ckpt"]

    # Resumed with the same epochs nothing trains, so its predictions stay; with more epochs the
    # weights change: predictions of the old ones are removed, and the new final epoch is a cycle end.
    assert main(["predict-split", str(run), "--split", "evaluate", "--quiet"]) == 0
    predictions = RunDir(run).predictions("evaluate")
    assert main(argv + ["--resume"]) == 0 and predictions.is_file()
    capsys.readouterr()
    assert main(argv + ["--set", "optim.epochs=2", "--resume"]) == 0
    assert not predictions.exists()
    assert f"removed {predictions.parent}: made from this run's earlier weights" in capsys.readouterr().err
    finished = json.loads(RunDir(run).finished_file.read_text())
    assert (finished["epochs"], finished["snapshots"]) == (2, ["cycle-0001.ckpt"])


def test_snapshots_are_the_cycle_ends_then_the_final_epoch_of_a_cut_cycle(tmp_path: Path) -> None:
    from asckit.train.run_dir import RunDir

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("last.ckpt", "cycle-0001.ckpt", "cycle-0005.ckpt", "cycle-0013.ckpt", "final-0009.ckpt", "final-0028.ckpt"):
        (folder / name).write_bytes(b"")
    # final-0009 was the end of a run later resumed with more epochs: older than a cycle end, not a snapshot.
    assert [p.name for p in RunDir(tmp_path).snapshot_checkpoints(3)] == ["cycle-0005.ckpt", "cycle-0013.ckpt", "final-0028.ckpt"]
    assert [p.name for p in RunDir(tmp_path).snapshot_checkpoints(1)] == ["final-0028.ckpt"]
    (folder / "final-0028.ckpt").unlink()
    assert [p.name for p in RunDir(tmp_path).snapshot_checkpoints(2)] == ["cycle-0005.ckpt", "cycle-0013.ckpt"]


@pytest.mark.slow
def test_bf16_autocast_and_channels_last_train_on_cpu(tmp_path: Path) -> None:
    from asckit.train.run import train

    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=2)
    config = load_config(
        tiny_config_file(tmp_path, root, store, name="bf16"),
        [*TINY, "optim.epochs=1", "trainer.precision=bf16-mixed", "trainer.channels_last=true", "model.name=resnet",
         "model.params.num_filters=8"],
    )
    result = train(config)
    assert result.finished
    rows = list(csv.DictReader((result.run_dir / "logs" / "version_0" / "metrics.csv").open()))
    losses = [float(r["train/loss"]) for r in rows if r["train/loss"]]
    assert losses and all(math.isfinite(v) for v in losses)
    state = torch.load(result.run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(v.dtype != torch.bfloat16 for v in state.values())  # autocast: weights stay float32


@pytest.mark.slow
def test_a_deterministic_run_skips_the_nan_fill_of_new_tensors_and_restores_torchs_flags(tmp_path: Path) -> None:
    """Deterministic algorithms without torch's NaN fill of every new tensor (a cost, not a part of
    determinism: asckit.train.run), and both process-wide flags as they were once the run ends."""
    import lightning as L

    from asckit.train.run import train

    seen = []

    class Flags(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            seen.append((torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory))

    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=2)
    config = load_config(tiny_config_file(tmp_path, root, store, name="flags"), [*TINY, "optim.epochs=1"])
    assert config.trainer.deterministic
    before = torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory
    assert train(config, extra_callbacks=(Flags(),)).finished
    assert seen and set(seen) == {(True, False)}
    assert (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory) == before


# ----------------------------------------------------------------------------- L2 as Keras did it
def test_l2_goes_to_the_reference_resnet_layer_kernels_only() -> None:
    from asckit.models import build
    from asckit.train.module import l2_kernels

    resnet = build("resnet", width=0.25)
    convs = [m for m in resnet.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(l2_kernels(resnet)) == len(convs) == 2 * 17 + 2  # every conv of both paths and the head
    mobnet = build("mobnet", width=0.25)
    assert len(l2_kernels(mobnet)) == 2  # the reference regularised the Mobnet's two head convs only
    assert l2_kernels(build("fcnn", width=0.0625)) == []


def test_sgd_weight_decay_two_wd_equals_keras_l2_in_the_loss() -> None:
    torch.manual_seed(0)
    wd, lr = 1e-3, 0.1
    w0 = torch.randn(5, 3)
    x = torch.randn(4, 3)

    def loss_of(w):
        return (x @ w.T).square().mean()

    keras = torch.nn.Parameter(w0.clone())
    ours = torch.nn.Parameter(w0.clone())
    keras_opt = torch.optim.SGD([keras], lr=lr, momentum=0.9)
    ours_opt = torch.optim.SGD([{"params": [ours], "weight_decay": 2 * wd}], lr=lr, momentum=0.9)
    for _ in range(3):
        keras_opt.zero_grad()
        (loss_of(keras) + wd * keras.square().sum()).backward()  # Keras: loss + wd·Σw²
        keras_opt.step()
        ours_opt.zero_grad()
        loss_of(ours).backward()
        ours_opt.step()
    torch.testing.assert_close(ours.detach(), keras.detach(), rtol=1e-6, atol=1e-7)


def test_the_optimizer_puts_2wd_on_the_l2_kernels(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from asckit.train.module import SceneLightningModule, l2_kernels

    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=1)
    config = load_config(tiny_config_file(tmp_path, root, store), [*TINY, "model.name=resnet", "model.params.num_filters=8"])
    module = SceneLightningModule(config, in_channels=3)
    module._trainer = SimpleNamespace(datamodule=SimpleNamespace(steps_per_epoch=lambda world: 5), world_size=1)
    setup = module.configure_optimizers()
    groups = setup["optimizer"].param_groups
    decayed = [g for g in groups if g["weight_decay"]]
    assert len(decayed) == 1 and decayed[0]["weight_decay"] == pytest.approx(2e-3)
    assert {id(p) for p in decayed[0]["params"]} == {id(p) for p in l2_kernels(module.model)}
    assert sum(len(g["params"]) for g in groups) == len(list(module.model.parameters()))
    assert setup["lr_scheduler"]["interval"] == "step"
    assert all(g["lr"] == config.optim.lr_max for g in groups) and groups[0]["momentum"] == 0.9


def test_batch_norm_statistics_start_as_plain_means_then_follow_keras_momentum() -> None:
    from asckit.models.blocks import batch_norm
    from asckit.train.module import warm_up_batch_norm_statistics

    torch.manual_seed(0)
    layer = batch_norm(2).train()
    batches = [torch.randn(4, 2, 3, 3) * 0.03 + k for k in range(3)]
    for batch in batches:
        warm_up_batch_norm_statistics(layer)
        layer(batch)
    expected = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches]).mean(dim=0)
    torch.testing.assert_close(layer.running_mean, expected)  # not 0.03 of the way from 0 as Keras' EMA
    layer.num_batches_tracked.fill_(500)
    warm_up_batch_norm_statistics(layer)
    assert layer.momentum == pytest.approx(0.01)  # Keras' 0.99 decay once warmed up
    # Settled layers are not read again (each read is a host-device sync on a GPU): the count
    # only grows in training, so momentum stays at Keras' value whatever it says now.
    layer.num_batches_tracked.fill_(0)
    warm_up_batch_norm_statistics(layer)
    assert layer.momentum == pytest.approx(0.01)


# ----------------------------------------------------------------------------- where the rows live
def test_rows_in_memory_train_the_same_weights_as_rows_read_from_the_store(tmp_path: Path) -> None:
    from asckit.train.run import train

    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=2)
    digests = {}
    for mode in ("off", "host", "device"):
        config = load_config(
            tiny_config_file(tmp_path, root, store, name=f"rows-{mode}"),
            [*TINY, "optim.epochs=2", "data.validation.fraction=0.3", "debug.record_batches=true",
             f"data.store_in_memory={mode}"],
        )
        result = train(config)
        debug = result.run_dir / "debug"
        digests[mode] = [(debug / name).read_text() for name in sorted(p.name for p in debug.iterdir() if p.suffix != ".txt"
                                                                       or p.name.startswith("seen-"))]
    assert len(digests["off"]) == 3  # two epochs' clips and the final weights' hash
    assert digests["host"] == digests["off"] and digests["device"] == digests["off"]


def test_channels_last_auto_is_on_for_cuda_and_off_for_cpu(tmp_path: Path) -> None:
    from asckit.train.module import SceneLightningModule

    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=2)
    config = load_config(tiny_config_file(tmp_path, root, store), TINY)
    assert config.trainer.channels_last == "auto"
    for device, expected in (("cpu", False), ("cuda:0", True)):
        module = SceneLightningModule(config, in_channels=3)
        module._device = torch.device(device)  # what Lightning sets when it moves the module (no GPU needed here)
        module.on_fit_start()
        assert module.channels_last is expected
        conv = next(m for m in module.model.modules() if isinstance(m, torch.nn.Conv2d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last) is expected


# ---------------------------------------------------------------- runs that travel between machines
AMX, PLAIN = frozenset({"avx512f", "amx_bf16"}), frozenset({"avx512f"})  # a CPU that runs bf16 fast, one that does not
RESOLVED = {AMX: "bf16-mixed", PLAIN: "32-true"}


def _stop_after_first_epoch():
    """A Lightning callback that ends fit after epoch 0, as a run killed after its first checkpoint."""
    from lightning.pytorch.callbacks import Callback

    class Stop(Callback):
        def on_train_epoch_end(self, trainer, pl_module) -> None:
            trainer.should_stop = True

    return Stop()


@pytest.mark.slow
@pytest.mark.parametrize(("first", "then"), [(AMX, PLAIN), (PLAIN, AMX)], ids=["bf16-then-fp32", "fp32-then-bf16"])
def test_an_unfinished_fast_run_resumes_on_a_machine_that_resolves_fast_otherwise(tmp_path, monkeypatch, capsys, first, then) -> None:
    import asckit.train.config as config_module
    from asckit.train.run import train
    from asckit.train.run_dir import RunDir

    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=2)
    path = tiny_config_file(tmp_path, root, store, name="fast")
    overrides = [*TINY, "optim.epochs=2", "trainer.precision=fast"]
    monkeypatch.setattr(config_module, "cpu_flags", lambda: set(first))
    stopped = train(load_config(path, overrides), extra_callbacks=(_stop_after_first_epoch(),))
    assert not stopped.finished
    run = RunDir(stopped.run_dir)
    assert run.precisions_used() == [(0, RESOLVED[first])]

    monkeypatch.setattr(config_module, "cpu_flags", lambda: set(then))  # the project is now on the other machine
    capsys.readouterr()
    assert train(load_config(path, overrides), resume=True).finished
    note = capsys.readouterr().err
    assert f"trainer.precision fast trains with {RESOLVED[then]} on this machine from epoch 2" in note
    assert f"the epochs before ran with {RESOLVED[first]}" in note
    assert run.precisions_used() == [(0, RESOLVED[first]), (1, RESOLVED[then])]
    assert run.load_config().trainer.precision == "fast"  # what was asked, the same on every machine
    assert run.describe_precision("fast") == f"fast = {RESOLVED[first]} from epoch 1, {RESOLVED[then]} from epoch 2"
    assert torch.load(run.last_checkpoint, weights_only=True)["epoch"] == 1
    # Asked for something else than fast, it is another run: refused, naming the key.
    with pytest.raises(AsckitError, match="other values of trainer.precision"):
        train(load_config(path, [*overrides, f"trainer.precision={RESOLVED[first]}", "optim.epochs=3"]), resume=True)


# ---------------------------------------------------------------- what `asckit train` prints
@pytest.mark.slow
def test_a_checked_in_config_prints_one_line_per_epoch_and_lightning_s_bar_only_with_verbose(tmp_path, capfd, caplog) -> None:
    root, store = write_feature_dataset(tmp_path, locations_per_scene=2, clips_per_location=2)
    config = Path(__file__).resolve().parents[2] / "configs" / "task1a" / "fcnn.yaml"
    sets = [s for s in TINY if not s.startswith("trainer.progress_bar")]
    sets += [f"data.root={root}", f"data.store={store}", f"runs_dir={tmp_path / 'runs'}", "data.kinds=[original]", "optim.epochs=2"]
    argv = ["train", str(config)] + [a for s in sets for a in ("--set", s)]
    capfd.readouterr()
    assert main(argv) == 0
    out, err = capfd.readouterr()
    epoch_lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]
    assert out.splitlines()[:2] == epoch_lines  # nothing before them: no model summary
    shown = out + err + caplog.text  # Lightning logs its model summary (pytest may capture the log apart)
    assert "Total params" not in shown and "it/s" not in shown and "Epoch 0" not in shown

    assert main([*argv, "--set", "name=verbose", "--verbose"]) == 0
    out, err = capfd.readouterr()
    assert "Total params" in out + err + caplog.text and "Epoch 1" in out + err  # Lightning's summary and progress bar
    assert not [line for line in out.splitlines() if line.startswith("epoch ")]  # the bar shows the same


# ---------------------------------------------------------------- a config's paths, from any folder
def _project_config(project: Path, root: Path, store: Path) -> Path:
    """A config in PROJECT/configs/ that names its data relative to the project."""
    (project / "configs").mkdir(parents=True, exist_ok=True)
    path = project / "configs" / "relative.yaml"
    path.write_text(f"name: relative\ndata: {{root: {root.relative_to(project)}, store: {store.relative_to(project)}}}\nmodel: {{name: fcnn}}\n")
    return path


def test_train_from_another_folder_advises_making_the_store_in_the_project(tmp_path, monkeypatch, capsys) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = _project_config(project, project / "data" / "x", project / "stores" / "x")
    (project / "data" / "x").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    assert main(["train", str(config), *[a for s in TINY for a in ("--set", s)]]) == 2
    err = capsys.readouterr().err
    assert err == (f"asckit: error: data.store: {project}/stores/x is not a feature store (no manifest.json); "
                   f"make it with `asckit features {project}/data/x --out {project}/stores/x`\n")
    assert not (elsewhere / "runs").exists() and not (project / "runs").exists()  # nothing written
    (project / "data" / "x").rmdir()
    assert main(["train", str(config), *[a for s in TINY for a in ("--set", s)]]) == 2
    assert f"data.root {project}/data/x does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_train_from_another_folder_uses_the_project_s_data_and_runs(tmp_path, monkeypatch, capsys) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    root, store = write_feature_dataset(project, locations_per_scene=2, clips_per_location=2)
    config = _project_config(project, root, store)
    monkeypatch.chdir(elsewhere)
    assert main(["train", str(config), *[a for s in [*TINY, "optim.epochs=1"] for a in ("--set", s)]]) == 0
    out = capsys.readouterr().out
    run = project / "runs" / "relative"
    assert (run / "finished.json").is_file() and not (elsewhere / "runs").exists()
    assert f"run directory: {run}" in out and f"--root {root}" in out
