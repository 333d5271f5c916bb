"""asckit.pretrained.cpjku_checkpoint: CPJKU CP-Mobile checkpoints (2024/2025 baselines) as asckit models.

The unit tests save random models in each layout; the parity test reads the reference fixtures
(reference/dcase2025/README.md §7: checkpoints and logits computed with CPJKU's own code).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import random_cp_mobile, random_devices, shared_reference
from torch import nn

from asckit.core.errors import AsckitError
from asckit.models import build
from asckit.models.device_specific import DeviceSpecificModel
from asckit.pretrained.cpjku_checkpoint import FRONTEND_BUFFERS, import_cpjku_checkpoint, read_cpjku_checkpoint

torch.set_num_threads(1)

REFERENCE = shared_reference("dcase2025")
DEVICES_2025 = ("a", "b", "c", "s1", "s2", "s3")


def fake_frontend() -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
    """Frontend buffers of the right shapes and the 'expected' values they match."""
    rng = np.random.default_rng(0)
    expected = {value: rng.uniform(-1, 1, shape).astype(np.float32) for value, shape in FRONTEND_BUFFERS.values()}
    buffers = {name: torch.from_numpy(expected[value]) for name, (value, _) in FRONTEND_BUFFERS.items()}
    return buffers, expected


def lightning_file(path, state: dict, prefix: str, with_frontend: bool = True) -> dict[str, np.ndarray]:
    """``state`` under ``prefix`` in a Lightning-style checkpoint at ``path``; returns the expected frontend."""
    buffers, expected = fake_frontend()
    full = {f"{prefix}{k}": v for k, v in state.items()} | (buffers if with_frontend else {})
    torch.save({"epoch": 1, "global_step": 2, "pytorch-lightning_version": "2.5.0", "state_dict": full}, path)
    return expected


def logits(model, x, devices=None):
    with torch.no_grad():
        return model(x) if devices is None else model(x, devices)


X = torch.randn(4, 1, 256, 33)


def test_a_device_specific_model_round_trips_through_both_layouts(tmp_path):
    original = random_devices()
    organizers = tmp_path / "model_state_dict.pt"
    torch.save(original.state_dict(), organizers)  # keys base_model.*, device_models.<dev>.*
    lightning = tmp_path / "devices.ckpt"
    expected = lightning_file(lightning, original.state_dict(), "multi_device_model.")
    mixed = ["s2", None, "a", "s4"]
    for path, layout in ((organizers, "state_dict"), (lightning, "lightning-devices")):
        loaded = read_cpjku_checkpoint(path, expected)
        assert (loaded.layout, loaded.devices, type(loaded.model)) == (layout, ("a", "s2"), DeviceSpecificModel)
        assert not loaded.model.training
        for device in ("a", "s2", "s3", None):
            assert torch.equal(logits(loaded.model, X, [device] * 4), logits(original, X, [device] * 4))
        assert torch.allclose(logits(loaded.model, X, mixed), logits(original, X, mixed), atol=1e-6)
    assert read_cpjku_checkpoint(organizers).notes == ("no frontend buffers (mel.*) in the file: the frontend it was trained with cannot be checked",)
    assert read_cpjku_checkpoint(lightning, expected).frontend.keys() == FRONTEND_BUFFERS.keys()


def test_a_general_model_loads_as_cp_mobile_and_keeps_the_file_sha1(tmp_path):
    import hashlib

    original = random_cp_mobile(3)
    path = tmp_path / "general.ckpt"
    expected = lightning_file(path, original.state_dict(), "model.")
    loaded = read_cpjku_checkpoint(path, expected)
    assert loaded.devices == () and loaded.layout == "lightning" and loaded.notes == ()
    assert loaded.model.build_kwargs["name"] == "cp_mobile"
    assert torch.equal(logits(loaded.model, X), logits(original, X))
    assert loaded.source_sha1 == hashlib.sha1(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "params",
    [
        {"width": 1.0},  # the 2024/2025 baselines: 1.8, 2.1
        {"width": 1.0, "base_channels": 24, "channels_multiplier": 2.3, "expansion_rate": 3.0},  # get_model's defaults
        {"width": 1.0, "base_channels": 40, "channels_multiplier": 1.5, "expansion_rate": 1.7, "num_classes": 3},
    ],
)
def test_widths_are_inferred_from_the_shapes(params, tmp_path):
    state = build("cp_mobile", **params).state_dict()
    torch.save({f"base_model.{k}": v for k, v in state.items()}, tmp_path / "m.pt")
    loaded = read_cpjku_checkpoint(tmp_path / "m.pt")
    assert [(k, v.shape) for k, v in loaded.model.state_dict().items()] == [(k, v.shape) for k, v in state.items()]
    if "channels_multiplier" not in params:
        assert (loaded.params["channels_multiplier"], loaded.params["expansion_rate"]) == (1.8, 2.1)


def test_float16_values_load_into_the_float32_model(tmp_path):
    original = random_cp_mobile(4)
    torch.save({f"base_model.{k}": v.half() if v.is_floating_point() else v for k, v in original.state_dict().items()}, tmp_path / "h.pt")
    loaded = read_cpjku_checkpoint(tmp_path / "h.pt")
    assert loaded.stored_dtype == "float16"
    assert next(loaded.model.parameters()).dtype == torch.float32
    assert torch.allclose(logits(loaded.model, X), logits(original, X), atol=0.05)


def _refused(path, match, expected=None):
    with pytest.raises(AsckitError, match=match) as info:
        read_cpjku_checkpoint(path, expected)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_keys_devices_and_shapes_that_are_not_cp_mobile_are_refused(tmp_path):
    state = random_cp_mobile(5).state_dict()
    cases = {
        "extra": ({**state, "head.weight": torch.zeros(2)}, "model.", "key 'model.head.weight' is not part of a CP-Mobile"),
        "prefix": (state, "net.", "key 'net.in_c.0.0.weight' is not part of a CP-Mobile checkpoint"),
        "shape": (
            {**state, "stages.s1.b1.block.1.1.weight": torch.zeros(5)},
            "model.",
            r"model.stages.s1.b1.block.1.1.weight has shape \(5,\).*no CP-Mobile has this shape set",
        ),
        "missing": ({k: v for k, v in state.items() if "running_var" not in k}, "model.", "running_var is missing .* get it again"),
        "no stem": ({k: v for k, v in state.items() if not k.startswith("in_c.1.")}, "model.", "has no in_c.1.0.weight"),
    }
    for name, (content, prefix, match) in cases.items():
        lightning_file(tmp_path / f"{name}.ckpt", content, prefix, with_frontend=False)
        _refused(tmp_path / f"{name}.ckpt", match)
    bare = {f"base_model.{k}": v for k, v in state.items()}
    torch.save(bare | {f"device_models.s4.{k}": v for k, v in state.items()}, tmp_path / "s4.pt")
    _refused(tmp_path / "s4.pt", "device 's4', which cannot have its own model in DCASE 2025")
    torch.save({f"device_models.a.{k}": v for k, v in state.items()}, tmp_path / "nobase.pt")
    _refused(tmp_path / "nobase.pt", "no general model")
    mixed = {**{f"model.{k}": v for k, v in state.items()}, "multi_device_model.base_model.x": torch.zeros(1)}
    torch.save({"state_dict": mixed}, tmp_path / "mix.ckpt")
    _refused(tmp_path / "mix.ckpt", "mixes a general model")


def test_files_that_are_not_state_dicts_are_refused(tmp_path):
    _refused(tmp_path / "none.ckpt", "file not found")
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    _refused(tmp_path / "text.ckpt", "not a PyTorch checkpoint")
    torch.save(nn.Linear(2, 2), tmp_path / "module.pt")  # a pickled module: code, not weights
    _refused(tmp_path / "module.pt", "holds Python objects other than tensors")
    torch.save({"state_dict": {"model.in_c.0.0.weight": [1, 2]}}, tmp_path / "list.ckpt")
    _refused(tmp_path / "list.ckpt", "is not a tensor")
    torch.save({}, tmp_path / "empty.pt")
    _refused(tmp_path / "empty.pt", "holds no state_dict")


def test_frontend_buffers_are_compared_with_asckits_values(tmp_path):
    state = random_cp_mobile(6).state_dict()
    path = tmp_path / "f.ckpt"
    expected = lightning_file(path, state, "model.")
    assert read_cpjku_checkpoint(path, expected).notes == ()
    shifted = dict(expected, window=expected["window"] + 2e-6)
    _refused(path, r"frontend buffer mel.1.spectrogram.window differs from asckit's window by up to 2(\.\d+)?e-06 \(> 1e-06\)", shifted)
    # The mel bank may differ by torch's float32 pow rounding (up to 1e-5), not by more.
    assert read_cpjku_checkpoint(path, dict(expected, mel_fb=expected["mel_fb"] + 1e-5)).notes == ()
    far = dict(expected, mel_fb=expected["mel_fb"] + 3e-5)
    _refused(path, r"mel.1.mel_scale.fb differs from asckit's mel_fb by up to 3(\.\d+)?e-05 \(> 2e-05\)", far)
    other = dict(expected, mel_fb=expected["mel_fb"][:, :128])
    with pytest.raises(ValueError):  # asckit's own values of the wrong size: a programming error, not the file's
        read_cpjku_checkpoint(path, other)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["state_dict"]["mel.0.kernel"] = torch.zeros(320, 1, 400)
    torch.save(checkpoint, path)
    _refused(path, r"frontend buffer mel.0.kernel has shape \(320, 1, 400\)", expected)
    del checkpoint["state_dict"]["mel.0.kernel"]
    torch.save(checkpoint, path)
    assert read_cpjku_checkpoint(path, expected).notes == ("frontend buffers mel.0.kernel absent: not compared",)


# --------------------------------------------------------------------------------------------
# Parity with the reference's own outputs (reference/dcase2025/README.md §7)

needs_reference = pytest.mark.skipif(
    not (REFERENCE / "outputs.npz").is_file(), reason=f"the reference fixtures are not at {REFERENCE} (set ASCKIT_SHARED)"
)


@pytest.fixture(scope="module")
def reference():
    frontend = np.load(REFERENCE / "frontend.npz")
    logmel = torch.from_numpy(frontend["logmel"])
    if logmel.dim() == 3:
        logmel = logmel.unsqueeze(1)
    expected = {key: frontend[key] for key in ("resample_kernel", "window", "mel_fb")}
    return logmel, dict(np.load(REFERENCE / "outputs.npz")), expected


@needs_reference
def test_the_reference_frontend_buffers_match_asckits_frontend_and_the_fixture(reference):
    _, _, fixture = reference
    for name in ("cpmobile_2024.ckpt", "cpmobile_2025_devices.ckpt"):
        assert read_cpjku_checkpoint(REFERENCE / name).notes == ()  # asckit.features.tau22_frontend's values
        assert read_cpjku_checkpoint(REFERENCE / name, fixture).notes == ()  # the reference's own (frontend.npz)


@needs_reference
def test_the_2024_checkpoint_gives_the_reference_logits(reference):
    logmel, outputs, _ = reference
    loaded = read_cpjku_checkpoint(REFERENCE / "cpmobile_2024.ckpt")
    assert loaded.params == {"num_classes": 10, "in_channels": 1, "base_channels": 32, "channels_multiplier": 1.8, "expansion_rate": 2.1}
    assert sum(p.numel() for p in loaded.model.parameters()) == 61_148
    np.testing.assert_allclose(logits(loaded.model, logmel).numpy(), outputs["logits_2024"], atol=1e-5, rtol=0)
    # fp16 as the template runs it: model and input halved. fp16 keeps ~3 decimal digits: 2e-3
    # absolute on logits of size ~1-10 (fp16 and fp32 reference logits differ by up to 1e-3).
    half = logits(loaded.model.half(), logmel.half()).float().numpy()
    np.testing.assert_allclose(half, outputs["logits_2024_fp16"], atol=2e-3, rtol=0)


@needs_reference
def test_the_2025_checkpoint_gives_the_reference_logits_per_device(reference):
    logmel, outputs, _ = reference
    loaded = read_cpjku_checkpoint(REFERENCE / "cpmobile_2025_devices.ckpt")
    assert loaded.devices == DEVICES_2025 and loaded.notes == ()
    model = loaded.model
    cases = {"base": None, "unknown": ["s4"] * 3, "mixed_devices": ["a", "s2", "unknown"]}
    cases |= {device: [device] * 3 for device in DEVICES_2025}
    for name, devices in cases.items():
        np.testing.assert_allclose(logits(model, logmel, devices).numpy(), outputs[f"logits_2025_{name}"], atol=1e-5, rtol=0, err_msg=name)
    for device in DEVICES_2025:
        np.testing.assert_allclose(
            logits(model.for_device(device), logmel).numpy(), outputs[f"logits_2025_{device}"], atol=1e-5, rtol=0, err_msg=device
        )


# --------------------------------------------------------------------------------------------
# The imported run directory (asckit import-ckpt)


def test_an_imported_run_loads_as_every_command_loads_a_trained_run(tmp_path):
    import json

    from asckit.train.predict import load_checkpoint_model
    from asckit.train.run import prepare_run_dir
    from asckit.train.run_dir import RunDir

    original = random_devices(("a", "s2"))
    torch.save(original.state_dict(), tmp_path / "model_state_dict.pt")
    result = import_cpjku_checkpoint(tmp_path / "model_state_dict.pt", tmp_path / "runs" / "devices")
    run = RunDir(result.run_dir)
    config = run.load_config()
    assert (config.task, config.data.split, config.model.name, config.model.devices) == ("2025", 25, "cp_mobile", ["a", "s2"])
    assert run.is_finished() and run.is_imported()
    record = json.loads(run.imported_file.read_text())
    assert (record["layout"], record["devices"], record["frontend"]) == ("state_dict", ["a", "s2"], "not in the file")
    model = load_checkpoint_model(run.snapshot_checkpoints(1)[-1], config, 1, torch.device("cpu"))
    mixed = ["s2", "c", "a", None]
    assert torch.allclose(logits(model, X, mixed), logits(original, X, mixed), atol=1e-6)
    with pytest.raises(AsckitError, match="imported from a CPJKU checkpoint.*--init-from"):
        prepare_run_dir(config, resume=True)


def test_a_general_model_imports_as_2024_on_split_100_unless_told(tmp_path):
    from asckit.models import build
    from asckit.train.config import config_from_dict
    from asckit.train.init_from import load_initial_weights
    from asckit.train.run_dir import RunDir

    original = random_cp_mobile(7)
    path = tmp_path / "general.ckpt"
    lightning_file(path, original.state_dict(), "model.", with_frontend=False)
    default = import_cpjku_checkpoint(path, tmp_path / "a")
    assert (default.task, default.split) == ("2024", 100)  # unknown split: the largest, the protocol guard's safe side
    told = import_cpjku_checkpoint(path, tmp_path / "b", task="2025", split=25)
    assert RunDir(told.run_dir).load_config().data.split == 25
    # A general run fine-tunes from it (the 2025 device stage's init_from).
    raw = RunDir(default.run_dir).load_config().model_dump(mode="json") | {"name": "tuned"}
    fresh = build("cp_mobile", **raw["model"]["params"])
    load_initial_weights(fresh, config_from_dict(raw), default.run_dir)
    assert torch.equal(logits(fresh.eval(), X), logits(original, X))


@needs_reference
def test_the_imported_2025_run_gives_the_reference_logits(reference, tmp_path):
    from asckit.train.predict import load_checkpoint_model
    from asckit.train.run_dir import RunDir

    logmel, outputs, _ = reference
    result = import_cpjku_checkpoint(REFERENCE / "cpmobile_2025_devices.ckpt", tmp_path / "run")
    run = RunDir(result.run_dir)
    model = load_checkpoint_model(run.snapshot_checkpoints(1)[-1], run.load_config(), 1, torch.device("cpu"))
    got = logits(model, logmel, ["a", "s2", "unknown"]).numpy()
    np.testing.assert_allclose(got, outputs["logits_2025_mixed_devices"], atol=1e-5, rtol=0)


@pytest.mark.slow
def test_predict_split_runs_an_imported_run_on_a_waveform_store(tmp_path):
    from conftest import write_tau22_root

    from asckit.cli import main
    from asckit.features.extraction import extract_dataset
    from asckit.predictions.reader import read_predictions

    root = write_tau22_root(tmp_path / "t22", scenes=("airport", "bus"))
    extract_dataset(root, tmp_path / "store", workers=1, progress=False)
    torch.save(random_devices(("a",)).state_dict(), tmp_path / "m.pt")
    out = tmp_path / "runs" / "imported"
    assert main(["import-ckpt", str(tmp_path / "m.pt"), "--out", str(out), "--root", str(root), "--store", str(tmp_path / "store")]) == 0
    assert main(["predict-split", str(out), "--split", "evaluate", "--quiet"]) == 0  # TAU22's dev-test list
    predictions = read_predictions(out / "predictions" / "evaluate.tsv")
    assert len(predictions.filenames) == 2 * 20 and np.allclose(predictions.probs.sum(axis=1), 1.0)


@needs_reference
def test_asckits_own_frontend_and_model_give_the_references_probabilities_from_the_raw_waves():
    """The whole chain: the fixture's 44.1 kHz waves through asckit's resampling (as the waveform store does)
    and MelFrontend (as training and predict-split do), then the imported 2025 model per device, against the
    reference's probabilities (its torchaudio frontend + model: outputs.npz)."""
    from asckit.features import tau22_frontend
    from asckit.features.tau22_torch import MelFrontend

    frontend = np.load(REFERENCE / "frontend.npz")
    outputs = np.load(REFERENCE / "outputs.npz")
    waves = torch.from_numpy(tau22_frontend.resample(frontend["wave44k"].reshape(3, -1), 44100))
    mel = MelFrontend()
    x = mel.log(mel(waves))
    model = read_cpjku_checkpoint(REFERENCE / "cpmobile_2025_devices.ckpt").model
    with torch.inference_mode():
        for device in ("a", "s2", None):
            ours = torch.softmax(model(x, [device] * 3), dim=1).numpy()
            key = f"logits_2025_{device}" if device else "logits_2025_unknown"
            theirs = torch.softmax(torch.from_numpy(outputs[key]), dim=1).numpy()
            assert np.abs(ours - theirs).max() <= 1e-4, device
