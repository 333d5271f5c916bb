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
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from conftest import random_cp_mobile, random_devices, shared_reference, write_tau22_root

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
    assert "predictions/" in (out / ".gitignore").read_text().split()
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


def test_the_baselines_width_is_counted_per_device_as_the_organizers_count_it():
    from asckit.models.cp_mobile import CPMobile
    from asckit.models.device_specific import DeviceSpecificModel
    from asckit.models.weight_precision import to_shipped
    from asckit.submission.dcase2025 import COMPLEXITY_CHECK_DEVICES, count_devices

    counts = count_devices(to_shipped(DeviceSpecificModel(CPMobile(), ("a",)), "fp16"))
    assert tuple(counts) == COMPLEXITY_CHECK_DEVICES == ("a", "b", "c", *(f"s{i}" for i in range(1, 11)))
    assert {(c.macs, c.param_bytes) for c in counts.values()} == {(29_419_156, 122_296)}  # reference/dcase2025 README §3


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


# ------------------------------------------------------------------------------------------------
# Installed non-editable in a fresh venv, driven as the organizers' scripts drive it


def _fresh_venv(path: Path) -> Path:
    """A venv that reuses this interpreter's installed packages (torch, pandas, scikit-learn, torchinfo,
    setuptools, pip) through a .pth line, so nothing is downloaded; asckit's editable install is not
    among them (a .pth inside a path named by a .pth is not run). Returns its python."""
    import subprocess
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "reuse_parent_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _asckit_probabilities(run: Path, files: list[Path], devices: list[str]) -> np.ndarray:
    """asckit's own fp32 chain on ``files``: clip_wave, MelFrontend, the run's model routed by ``devices``."""
    from asckit.features.tau22_torch import MelFrontend
    from asckit.features.tau22_wave import clip_wave
    from asckit.train.predict import load_checkpoint_model
    from asckit.train.run_dir import RunDir

    model = load_checkpoint_model(RunDir(run).snapshot_checkpoints(1)[-1], RunDir(run).load_config(), 1, torch.device("cpu"))
    mel = MelFrontend()
    with torch.inference_mode():
        x = mel.log(mel(torch.from_numpy(np.concatenate([clip_wave(f) for f in files]))))
        return torch.softmax(model(x, devices).double(), dim=1).numpy()


@pytest.mark.slow
# find_spec("setuptools") passes setuptools' distutils shim, which warns when distutils was imported before it
@pytest.mark.filterwarnings("ignore:Setuptools is replacing distutils")
def test_the_installed_package_driven_as_the_organizers_do_it_matches_asckit(tmp_path):
    """fp16 (submission 1) and int8 (submission 2) of one device-specific run, installed non-editable
    into a fresh venv and driven by package2025_driver.py: complexity per device within the limits and
    as asckit counted it, the printed micro accuracy equal to asckit's score of the package's own
    logits, the package's classes equal to asckit's fp32 predictions on >= 99.5 % of the dev-test
    clips, an evaluation-set output asckit reads as a prediction file, and the organizers' saved
    state_dict readable by asckit again."""
    import json
    import os
    import subprocess

    for needed in ("pip", "setuptools"):  # the fresh venv borrows them from this interpreter's packages (found, not imported)
        if importlib.util.find_spec(needed) is None:
            pytest.skip(f"{needed} is not installed beside asckit: the fresh venv cannot install the package")
    from asckit.data import synth
    from asckit.data.tau import load_split
    from asckit.features.extraction import extract_dataset
    from asckit.predictions.reader import Predictions, read_predictions
    from asckit.pretrained.cpjku_checkpoint import import_cpjku_checkpoint, read_cpjku_checkpoint
    from asckit.scoring.metrics import compute_metrics
    from asckit.train.predict import predict_split

    # The synthetic tiny TAU22 set: 200 dev-test clips of all nine devices, scenes that sound different, so
    # that even a random model's classes vary from clip to clip (on white noise they would not).
    root = tmp_path / "tiny"
    synth.synthesize(root, task="2025", preset="tiny", seed=0, workers=1, progress=False)
    extract_dataset(root, tmp_path / "store", splits=("evaluate",), workers=1, progress=False)
    torch.save(random_devices(("a", "b")).state_dict(), tmp_path / "devices.pt")
    run = import_cpjku_checkpoint(tmp_path / "devices.pt", tmp_path / "run", root=root, store=tmp_path / "store").run_dir
    fp32 = read_predictions(predict_split(run, "evaluate", progress=False).path)
    evaluation = tmp_path / "eval"
    (evaluation / "audio").mkdir(parents=True)
    (evaluation / "evaluation_setup").mkdir()
    eval_devices = ["a", "b", "s4", "d", "s7", "s11"]
    for n, name in enumerate(fp32.filenames[:: len(fp32.filenames) // len(eval_devices)][: len(eval_devices)]):
        shutil.copyfile(root / name, evaluation / "audio" / f"{n}.wav")
    (evaluation / "evaluation_setup" / "fold1_test.csv").write_text(
        "filename\tdevice_id\n" + "".join(f"audio/{n}.wav\t{d}\n" for n, d in enumerate(eval_devices))
    )
    expected_eval = _asckit_probabilities(run, [evaluation / "audio" / f"{n}.wav" for n in range(len(eval_devices))], eval_devices)
    out = tmp_path / "repo"
    for label, precision in ((LABEL, "fp16"), (f"{PACKAGE}_2", "int8")):
        write_package(prepare_submission(run, label, precision), out)
    python = _fresh_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"OMP_NUM_THREADS": "1"}
    subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-deps", "--no-build-isolation", "--no-cache-dir", "-q", str(out)],
                   check=True, env=env, cwd=tmp_path)
    manifest = json.loads((out / PACKAGE / "asckit_package.json").read_text())
    truth = load_split(root, "evaluate")
    driven = subprocess.run(
        [str(python), str(Path(__file__).with_name("package2025_driver.py")), "--name", PACKAGE, "--index", "1", "2",
         "--dev", str(root), "--eval", str(evaluation), "--out", str(tmp_path / "predictions")],
        check=True, env=env, cwd=tmp_path, capture_output=True, text=True,
    )
    for index, label in ((1, LABEL), (2, f"{PACKAGE}_2")):
        results = tmp_path / "predictions" / str(index)
        report = json.loads((results / "report.json").read_text())
        assert Path(report["module_file"]).is_relative_to(tmp_path / "venv") and not report["asckit_imported"]
        counted = manifest["submissions"][label]["complexity"]
        for device, figures in report["complexity"].items():
            assert figures["shape"] == [1, 1, 256, 65] and figures["MACs"] <= 30_000_000 and figures["Params"] <= 128_000
            assert (figures["MACs"], figures["Params"]) == (counted[device]["macs"], counted[device]["param_bytes"])
        logits = torch.tensor(report["dev_logits"])
        ours = Predictions(tuple(report["dev_filenames"]), torch.softmax(logits.double(), dim=1).numpy(), tuple(report["class_order"]), "2025")
        micro = 100 * compute_metrics(truth, ours)["micro_accuracy"]
        assert f"Test Accuracy: {report['printed_accuracy']:.2f}%" in driven.stdout
        assert abs(micro - report["printed_accuracy"]) <= 0.01
        agree = np.mean([ours.probs[i].argmax() == fp32.probs[fp32.filenames.index(f)].argmax() for i, f in enumerate(ours.filenames)])
        print(f"{label}: printed {report['printed_accuracy']:.2f} %, asckit {micro:.4f} %, agreement with fp32 {100 * agree:.2f} %")
        assert agree >= 0.995
        output = read_predictions(results / "output.csv")  # a valid asckit prediction file
        assert list(output.filenames) == [f"audio/{n}.wav" for n in range(len(eval_devices))]
        # Each evaluation clip by its device id's model (a, b their own; s4, d, s7, s11 the general one), as asckit routes it.
        gap = np.abs(output.probs - expected_eval).max()
        print(f"{label}: evaluation-set probabilities within {gap:.2e} of asckit's fp32 ones")
        assert (output.probs.argmax(1) == expected_eval.argmax(1)).all() and gap <= (0.01 if index == 1 else 0.05)
        saved = read_cpjku_checkpoint(results / "model_state_dict.pt") if index == 1 else None  # fp16: asckit's own layout
        assert saved is None or (saved.devices == ("a", "b") and saved.stored_dtype == "float16")


REFERENCE = shared_reference("dcase2025")


@pytest.mark.slow
@pytest.mark.skipif(not (REFERENCE / "outputs.npz").is_file(), reason=f"the reference fixtures are not at {REFERENCE} (set ASCKIT_SHARED)")
def test_a_package_of_the_references_2025_checkpoint_gives_the_references_probabilities(tmp_path):
    """The reference's full-width device-specific checkpoint (random weights, computed with CPJKU's code:
    reference/dcase2025 README §7), imported and packaged at fp16: the package's probabilities on the
    fixture's raw 44.1 kHz waves against the reference's (its torchaudio frontend and fp32 model)."""
    from asckit.pretrained.cpjku_checkpoint import import_cpjku_checkpoint

    root = tmp_path / "dev"
    (root / "split_setup").mkdir(parents=True)
    (root / "split_setup" / "test.csv").write_text("filename\tscene_label\naudio/airport-lisbon-1-2-0-a.wav\tairport\n")
    run = import_cpjku_checkpoint(REFERENCE / "cpmobile_2025_devices.ckpt", tmp_path / "run", root=root).run_dir
    out = tmp_path / "repo"
    submission = prepare_submission(run, LABEL, "fp16")
    assert {(c.macs, c.param_bytes) for c in submission.complexity.values()} == {(29_419_156, 122_296)}
    write_package(submission, out)
    waves = np.load(REFERENCE / "frontend.npz")["wave44k"]
    files = [str(tmp_path / f"{i}.wav") for i in range(len(waves))]
    for path, wave in zip(files, waves):
        soundfile.write(path, wave, 44100, subtype="FLOAT")
    outputs = np.load(REFERENCE / "outputs.npz")
    with package_importable(out):
        api = importlib.import_module(f"{PACKAGE}.{LABEL}")
        for device, key in (("a", "a"), ("s2", "s2"), ("s4", "unknown")):
            logits, _ = api.predict(files, [device] * len(files), use_cuda=False)
            ours = torch.softmax(torch.stack(logits).double(), dim=1).numpy()
            theirs = torch.softmax(torch.from_numpy(outputs[f"logits_2025_{key}"]).double(), dim=1).numpy()
            assert (ours.argmax(1) == theirs.argmax(1)).all() and np.abs(ours - theirs).max() <= 1e-3, device  # measured 1.9e-4
