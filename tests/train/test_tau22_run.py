"""The TAU22 training path end to end on a hand-made root: waveform store → general run on a split →
device-specific run (nested runs assembled into one) → predictions that pick each clip's model by device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asckit.train.run_dir import RunDir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tau22_runs):
    return tau22_runs  # conftest: trained once per session, shared with tests/deploy's export of them


def test_the_store_holds_every_listed_clip_as_a_32_khz_wave(trained):
    root, store, *_ = trained
    assert store.holds_waves and store.shape == (1, 32000) and len(store) == 3 * (30 + 20)  # 3 scenes: 30 train + 20 test clips


def test_the_general_run_trains_on_its_split_only_and_keeps_no_frontend_in_its_checkpoint(trained):
    _, _, general, _ = trained
    from asckit.features.store import FeatureStore
    from asckit.train.datamodule import training_tables

    table, _ = training_tables(general, FeatureStore.open(general.data.store))
    assert len(table) == 3 * 20 and all("-40001-" not in k and "-40011-" not in k for k in table.keys)  # split 25 only
    state = torch.load(RunDir(general.run_dir).snapshot_checkpoints(1)[-1], weights_only=True)["state_dict"]
    assert state and all(k.startswith("model.") for k in state)  # window, filterbank: facts, not weights


def test_the_device_run_assembles_the_general_model_and_each_fine_tuned_copy(trained):
    _, _, general, devices = trained
    run = RunDir(devices.run_dir)
    assert run.is_finished() and sorted(p.name for p in (run.path / "devices").iterdir() if not p.name.startswith(".")) == ["a", "b"]
    assembled = torch.load(run.snapshot_checkpoints(1)[-1], weights_only=True)["state_dict"]
    base = torch.load(RunDir(general.run_dir).snapshot_checkpoints(1)[-1], weights_only=True)["state_dict"]
    tuned_a = torch.load(RunDir(run.path / "devices" / "a").snapshot_checkpoints(1)[-1], weights_only=True)["state_dict"]
    key = next(k for k in base if k.endswith("weight"))
    suffix = key[len("model."):]
    assert torch.equal(assembled[f"model.base_model.{suffix}"], base[key])
    assert torch.equal(assembled[f"model.device_models.a.{suffix}"], tuned_a[key])
    assert not torch.equal(tuned_a[key], base[key])  # fine-tuning moved it


def test_predictions_use_the_clips_own_device_model_and_the_general_one_for_unknown_devices(trained):
    root, store, general, devices = trained
    from asckit.features.tau22_torch import MelFrontend
    from asckit.predictions.reader import read_predictions
    from asckit.train.predict import load_checkpoint_model, predict_split

    result = predict_split(devices.run_dir, "evaluate", progress=False)
    predictions = read_predictions(result.path)
    run = RunDir(devices.run_dir)
    both = load_checkpoint_model(run.snapshot_checkpoints(1)[-1], devices, 1, torch.device("cpu"))
    mel = MelFrontend()
    for device, model in (("a", both.for_device("a")), ("s4", both.for_device(None))):
        name = next(n for n in predictions.filenames if n.endswith(f"-{device}.wav"))
        x = mel.log(mel(torch.from_numpy(store.get([name])).reshape(1, -1)))
        with torch.inference_mode():
            expected = torch.softmax(model(x).double(), dim=1).numpy()[0]
        got = predictions.probs[predictions.filenames.index(name)]
        np.testing.assert_allclose(got, expected, atol=1e-6)
    assert both.for_device("s4") is both.for_device(None)  # s4 has no model of its own: the general one


def test_a_device_specific_run_can_seed_a_new_general_run_with_its_general_model(trained, tmp_path):
    _, _, general, devices = trained
    from asckit.models import build
    from asckit.train.init_from import load_initial_weights

    model = build("cp_mobile", num_classes=10, in_channels=1, width=general.model.width)
    load_initial_weights(model, general, devices.run_dir)
    base = torch.load(RunDir(general.run_dir).snapshot_checkpoints(1)[-1], weights_only=True)["state_dict"]
    assert all(torch.equal(v, base[f"model.{k}"]) for k, v in model.state_dict().items())


def test_a_device_run_made_with_other_settings_is_refused_not_silently_reused(trained):
    from asckit.core.errors import AsckitError
    from asckit.train.run import train

    _, _, _, devices = trained
    changed = devices.model_copy(deep=True)
    changed.optim.lr_max = 0.001
    with pytest.raises(AsckitError, match="other values of optim.lr_max"):
        train(changed)
    assert RunDir(devices.run_dir).is_finished()  # the run and its device runs are kept
