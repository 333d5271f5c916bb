"""asckit.submission.dcase2025: the DCASE 2025 inference package (``asckit package``).

The unit tests write packages of imported tiny runs (random CP-Mobiles, no training) and import them
in this process with asckit, scipy, soxr and pandas hidden and blocked, as the organizers' machine
has only the package's requirements. The slow test installs a package non-editable into a fresh
venv and drives it the way the organizers' scripts do (``package2025_driver.py``).
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib
import importlib.abc
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from conftest import random_cp_mobile, random_devices, write_tau22_root

from asckit.core.errors import AsckitError
from asckit.labels import SCENES_10
from asckit.models.counting import parameter_bytes, torchinfo_macs
from asckit.submission.dcase2025 import PACKAGE_DATA, REQUIREMENTS, package_name, prepare_submission, write_package

torch.set_num_threads(1)

LABEL = "Smith_TUW_task1_1"
PACKAGE = "Smith_TUW_task1"
#: What the organizers' machine need not have: the package must import and run with these blocked.
BLOCKED = ("asckit", "scipy", "soxr", "pandas", "sklearn", "librosa", "lightning", "yaml")


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: the package must run without it")
        return None


@contextlib.contextmanager
def package_importable(out: Path):
    """``out``'s package importable, with the ``BLOCKED`` modules hidden and unimportable; everything
    is put back afterwards (the package's own modules forgotten, so the next test imports its own)."""
    hidden = {name: module for name, module in sys.modules.items() if name.split(".")[0] in BLOCKED}
    for name in hidden:
        del sys.modules[name]
    blocker = _Blocker()
    sys.meta_path.insert(0, blocker)
    sys.path.insert(0, str(out))
    try:
        yield
    finally:
        sys.path.remove(str(out))
        sys.meta_path.remove(blocker)
        for name in [n for n in sys.modules if n.split(".")[0] in (*BLOCKED, PACKAGE)]:
            del sys.modules[name]
        sys.modules.update(hidden)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny TAU22 root (one scene: 20 dev-test clips of devices a and s4), an imported device-specific
    run (devices a, b) and an imported general run (task 2024, split 25), a second root with another
    dev-test list, and odd audio files (48 kHz stereo 2 s; 0.3 s)."""
    from asckit.pretrained.cpjku_checkpoint import import_cpjku_checkpoint

    base = tmp_path_factory.mktemp("package2025")
    root = write_tau22_root(base / "t22", scenes=("airport",))
    other = base / "other"
    (other / "split_setup").mkdir(parents=True)
    lines = (root / "split_setup" / "test.csv").read_text().splitlines()
    (other / "split_setup" / "test.csv").write_text("\n".join(lines[:-1]) + "\n")  # one clip fewer
    torch.save(random_devices(("a", "b")).state_dict(), base / "devices.pt")
    devices = import_cpjku_checkpoint(base / "devices.pt", base / "runs" / "devices", root=root).run_dir
    general_state = {f"model.{k}": v for k, v in random_cp_mobile(7).state_dict().items()}
    torch.save({"state_dict": general_state}, base / "general.ckpt")
    general = import_cpjku_checkpoint(base / "general.ckpt", base / "runs" / "general", task="2024", split=25, root=root).run_dir
    rng = np.random.default_rng(1)
    soundfile.write(base / "stereo48k.wav", (0.1 * rng.standard_normal((96000, 2))).astype(np.float32), 48000)
    soundfile.write(base / "short.wav", (0.1 * rng.standard_normal(13230)).astype(np.float32), 44100)
    return {"base": base, "root": root, "other": other, "devices": Path(devices), "general": Path(general)}


def _package(world, out: Path, run="devices", precision="fp16", label=LABEL, root=None) -> Path:
    write_package(prepare_submission(world[run], label, precision, root, out), out)
    return out


@pytest.fixture(scope="module")
def fp16_repo(world) -> Path:
    """The device-specific run's package at fp16 (read by several tests, changed by none)."""
    return _package(world, world["base"] / "fp16repo")


def _setup_keywords(path: Path) -> dict:
    """The literal keyword arguments of the ``setup(...)`` call in a setup.py."""
    call = next(n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    return {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg != "packages"}


def test_the_repository_layout_and_setup_metadata(world, fp16_repo):
    out = fp16_repo
    package = out / PACKAGE
    for path in ("__init__.py", f"{LABEL}.py", "_inference.py", "resources/__init__.py", "resources/dummy.wav",
                 "resources/test.csv", "ckpts/__init__.py", f"ckpts/{LABEL}.pt", f"ckpts/{LABEL}.json", "asckit_vendored/__init__.py"):
        assert (package / path).is_file(), path
    setup = _setup_keywords(out / "setup.py")
    assert setup["name"] == PACKAGE and setup["python_requires"] == ">=3.10"
    assert set(setup["package_data"][PACKAGE]) >= {"resources/*.csv", "resources/*.wav", "ckpts/*.pt", "ckpts/*.json"}
    assert setup["install_requires"] == list(REQUIREMENTS) and "torchaudio" not in setup["install_requires"]
    assert (out / "requirements.txt").read_text().split() == list(REQUIREMENTS)
    assert (package / "resources" / "test.csv").read_text() == (world["root"] / "split_setup" / "test.csv").read_text()
    info = soundfile.info(package / "resources" / "dummy.wav")
    assert (info.samplerate, info.channels, info.frames) == (44100, 1, 44100)
    assert len(PACKAGE_DATA) == len(set(PACKAGE_DATA))


def test_the_package_runs_without_asckit_and_computes_what_asckit_computes(world, fp16_repo):
    from asckit.features.tau22_torch import MelFrontend
    from asckit.features.tau22_wave import clip_wave
    from asckit.train.predict import load_checkpoint_model
    from asckit.train.run_dir import RunDir

    out = fp16_repo
    clips = sorted((world["root"] / "audio").glob("*-50000-*"))[:2] + [world["base"] / "stereo48k.wav", world["base"] / "short.wav"]
    devices = ["a", "s4", "b", float("nan")]  # own models a, b; s4 and a missing id: the general model
    with package_importable(out):
        api = importlib.import_module(f"{PACKAGE}.{LABEL}")
        loaded = api.load_model()
        keys = loaded.model.state_dict().keys()
        assert {k.split(".")[0] for k in keys} == {"base_model", "device_models"}
        assert {k.split(".")[1] for k in keys if k.startswith("device_models.")} == {"a", "b"}
        assert api.get_model_for_device(loaded, "s7") is loaded.model.base_model
        assert api.get_model_for_device(loaded, "a") is loaded.model.device_models["a"]
        shipped = api.get_model_for_device(loaded, "a")
        assert {p.dtype for p in shipped.parameters()} == {torch.float16}
        inputs = api.load_inputs([str(c) for c in clips], devices, loaded)
        logits, order = api.predict([str(c) for c in clips], devices, batch_size=3, use_cuda=False)
        assert not any(name.split(".")[0] == "asckit" for name in sys.modules)
    assert order == list(SCENES_10) and all(t.shape == (1, 1, 256, 65) and t.dtype == torch.float32 for t in inputs)
    assert all(row.shape == (10,) and row.dtype == torch.float32 for row in logits)
    # The organizers' counter on what the package ships: fp16 bytes, and torchinfo on an fp32 copy.
    counted = copy.deepcopy(shipped).float()
    assert parameter_bytes(shipped) == 2 * sum(p.numel() for p in shipped.parameters())
    # asckit's own chain on the same files: its run's model, clip_wave, MelFrontend, fp32 weights.
    run = RunDir(world["devices"])
    ours = load_checkpoint_model(run.snapshot_checkpoints(1)[-1], run.load_config(), 1, torch.device("cpu"))
    assert torchinfo_macs(counted, inputs[0].shape) == torchinfo_macs(ours.base_model, (1, 1, 256, 65))
    mel = MelFrontend()
    x = mel.log(mel(torch.from_numpy(np.concatenate([clip_wave(c) for c in clips]))))
    torch.testing.assert_close(torch.cat(inputs), x)  # the same input, bit for bit
    with torch.inference_mode():
        expected = ours(x, ["a", None, "b", None])
    got = torch.stack(logits)
    assert (got.argmax(1) == expected.argmax(1)).all()
    assert (got - expected).abs().max() <= 0.01 * expected.abs().max()  # fp16 weights, fp32 arithmetic


def test_int8_weights_are_real_parameters_counted_at_one_byte_with_the_same_macs(world, tmp_path):
    out = _package(world, tmp_path / "repo", precision="int8")
    with package_importable(out):
        api = importlib.import_module(f"{PACKAGE}.{LABEL}")
        loaded = api.load_model()
        shipped = api.get_model_for_device(loaded, "b")
        dtypes = {name: p.dtype for name, p in shipped.named_parameters()}
        profiled = copy.deepcopy(shipped).float()  # what the organizers' complexity.py profiles
    convs = [name for name in dtypes if name.endswith(".weight") and dtypes[name] == torch.int8]
    assert convs and all(dtypes[name[: -len("weight")] + "scale"] == torch.float16 for name in convs)
    fp16_params = sum(p.numel() for name, p in shipped.named_parameters() if p.dtype == torch.float16)
    int8_params = sum(p.numel() for name, p in shipped.named_parameters() if p.dtype == torch.int8)
    assert parameter_bytes(shipped) == int8_params + 2 * fp16_params < parameter_bytes(random_cp_mobile(0).half())
    assert any(p.dtype == torch.int8 for p in profiled.parameters())
    assert torchinfo_macs(profiled, (1, 1, 256, 65)) == torchinfo_macs(random_cp_mobile(0), (1, 1, 256, 65))


def test_a_general_run_ships_its_general_model_for_every_device(world, tmp_path):
    out = _package(world, tmp_path / "repo", run="general")
    with package_importable(out):
        api = importlib.import_module(f"{PACKAGE}.{LABEL}")
        loaded = api.load_model()
        assert all(k.startswith("base_model.") for k in loaded.model.state_dict())
        assert all(api.get_model_for_device(loaded, d) is loaded.model.base_model for d in ("a", "b", "s1", "s10"))


def test_submission_2_joins_the_package_and_a_different_dev_test_list_is_refused(world, fp16_repo, tmp_path):
    out = tmp_path / "repo"
    shutil.copytree(fp16_repo, out)
    first = (out / PACKAGE / "ckpts" / f"{LABEL}.pt").read_bytes()
    _package(world, out, run="general", label=f"{PACKAGE}_2", precision="int8")
    assert sorted(p.name for p in (out / PACKAGE).glob(f"{PACKAGE}_*.py")) == [f"{PACKAGE}_1.py", f"{PACKAGE}_2.py"]
    assert (out / PACKAGE / "ckpts" / f"{LABEL}.pt").read_bytes() == first
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(AsckitError, match=r"test.csv: differs from .*the dev-test list of Smith_TUW_task1_1, Smith_TUW_task1_2; a package has one"):
        _package(world, out, label=f"{PACKAGE}_3", root=world["other"])
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and not p.name.endswith(".lock")} == {
        p: b for p, b in before.items() if not p.name.endswith(".lock")
    }


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("Smith_TUW_task1_5", "must be <Lastname>_<Institute>_task1_<1-4>"),
        ("Smith_TUW_task1a_1", "names task1a, but this is a task1 submission"),
        ("Smith_TUW_task1_1_2", "must be <Lastname>_<Institute>_task1_<1-4>"),
        ("Sm-ith_TUW_task1_1", "must be a Python module name"),
        ("1Smith_TUW_task1_1", "must be a Python module name"),
    ],
)
def test_labels_name_a_submission_of_a_python_package(label, message):
    with pytest.raises(AsckitError, match=message):
        package_name(label)


def test_the_package_of_a_label_is_the_label_without_its_index():
    assert package_name("Smith_TUW_task1_4") == "Smith_TUW_task1"
