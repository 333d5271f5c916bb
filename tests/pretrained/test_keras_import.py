"""Tests for asckit.pretrained.keras_import: Keras HDF5 files written here with h5py (no shared data),
round-tripped through ``asckit import-keras`` into run directories that the other commands use.

``write_keras_h5`` writes an asckit model the way the reference's Keras builders lay it out:
channels-last kernels, ZeroPadding2D + "valid" convs for the FCNN family, the two frequency paths'
layers interleaved in ``layer_names`` and in creation order, a ``model_config`` graph (or none, for
a weights-only file) and an ``optimizer_weights`` group the importer must ignore.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from conftest import imported_model, probs, randomise, write_keras_h5

from asckit.cli import main
from asckit.core.errors import AsckitError
from asckit.models import build
from asckit.pretrained.keras_import import import_keras, read_keras_file
from asckit.train.config import config_from_dict
from asckit.train.run import prepare_run_dir
from asckit.train.run_dir import RunDir

torch.set_num_threads(1)


CASES = {
    # name: (build args, input channels, frames)
    "resnet": (dict(name="resnet", num_filters=2), 3, 24),
    "mobnet": (dict(name="mobnet", width=0.25), 6, 24),
    "fcnn": (dict(name="fcnn", num_filters=[1, 2, 2]), 3, 32),
    "fcnn-3class": (dict(name="fcnn", num_filters=[1, 1, 2], num_classes=3), 3, 32),
    "small_fcnn": (dict(name="small_fcnn", variant="shipped", width=1.0), 6, 32),
    "fsfcnn": (dict(name="fsfcnn", num_filters=[2, 2, 3, 4]), 3, 24),
    "fsfcnn_split": (dict(name="fsfcnn_split", num_filters=[2, 2, 3, 4]), 3, 24),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("graph", [True, False], ids=["full-model", "weights-only"])
def test_import_round_trip_gives_the_same_outputs(tmp_path, case, graph):
    kwargs, channels, frames = CASES[case]
    source = randomise(build(**kwargs))
    h5 = write_keras_h5(source, tmp_path / f"{case}.h5", graph=graph)
    run = tmp_path / "runs" / case
    assert main(["import-keras", str(h5), "--out", str(run)]) == 0
    x = torch.rand(2, channels, 128, frames, generator=torch.Generator().manual_seed(1))
    got = probs(imported_model(run), x)
    assert np.abs(got - probs(source, x)).max() <= 1e-6
    record = json.loads(RunDir(run).imported_file.read_text())
    assert record["source_file"] == h5.name and record["layer_graph"] == graph
    assert record["architecture"] == kwargs["name"]


@pytest.mark.parametrize("graph", [True, False], ids=["full-model", "weights-only"])
def test_keras_2_15_layer_names(tmp_path, graph):
    """Keras 2.15 names the first layer of a class without a suffix (``conv2d``, then ``conv2d_1``)."""
    source = randomise(build("mobnet", width=0.25))
    h5 = write_keras_h5(source, tmp_path / "m.h5", graph=graph, keras_version="2.15.0")
    with h5py.File(h5, "r") as f:
        names = [n.decode() for n in (f["model_weights"] if graph else f).attrs["layer_names"]]
    assert "conv2d" in names and "conv2d_1" in names
    import_keras(h5, tmp_path / "run")
    x = torch.rand(1, 6, 128, 24, generator=torch.Generator().manual_seed(3))
    assert np.abs(probs(imported_model(tmp_path / "run"), x) - probs(source, x)).max() <= 1e-6


def test_two_path_layers_are_mapped_by_the_graph_not_by_position(tmp_path):
    """Paths listed interleaved, and the *upper* path created first: only the graph says which is which."""
    source = randomise(build("resnet", num_filters=2))
    h5 = write_keras_h5(source, tmp_path / "r.h5")
    with h5py.File(h5, "r+") as f:  # swap the two split Lambdas' inputs: lambda_2 now feeds the lower path
        config = json.loads(f.attrs["model_config"])
        for layer in config["config"]["layers"]:
            nodes = layer["inbound_nodes"]
            if nodes and nodes[0][0][0] in ("lambda_1", "lambda_2") and layer["class_name"] != "Lambda":
                nodes[0][0][0] = {"lambda_1": "lambda_2", "lambda_2": "lambda_1"}[nodes[0][0][0]]
        f.attrs["model_config"] = json.dumps(config)
    model = read_keras_file(h5)
    from asckit.pretrained.keras_import import split_paths

    lower, upper, _ = split_paths(model)
    # lambda_1 (created first = the lower band) now feeds the layers written for the upper path.
    x = torch.rand(1, 3, 128, 16, generator=torch.Generator().manual_seed(2))
    import_keras(h5, tmp_path / "run")
    swapped = imported_model(tmp_path / "run")
    assert torch.equal(swapped.lower[0].conv.weight, source.upper[0].conv.weight)
    assert torch.equal(swapped.upper[0].conv.weight, source.lower[0].conv.weight)
    assert {l.name for l in lower}.isdisjoint({l.name for l in upper})
    assert swapped(x).shape == (1, 10)


def test_refuses_a_file_that_fits_no_architecture_naming_the_layer(tmp_path):
    source = randomise(build("fcnn", num_filters=[1, 2, 2]))
    h5 = write_keras_h5(source, tmp_path / "bad.h5")
    with h5py.File(h5, "r+") as f:  # the 4th conv gets 7 output filters instead of 6
        group = f["model_weights/conv2d_4"]
        del group["conv2d_4/kernel:0"]
        group.create_dataset("conv2d_4/kernel:0", data=np.zeros((3, 3, 6, 7), np.float32))
    with pytest.raises(AsckitError, match=r"Keras layer 'conv2d_4' \(Conv2D: kernel \(3, 3, 6, 7\)\) does not fit"):
        import_keras(h5, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    assert main(["import-keras", str(h5), "--out", str(tmp_path / "run")]) == 2


def test_refuses_another_batchnorm_epsilon_and_a_wrong_arch_override(tmp_path):
    source = randomise(build("fcnn", num_filters=[1, 2, 2]))
    h5 = write_keras_h5(source, tmp_path / "m.h5")
    with pytest.raises(AsckitError, match="conv2d_1.*does not fit asckit fsfcnn"):
        import_keras(h5, tmp_path / "a", arch="fsfcnn")
    with h5py.File(h5, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][1]["config"]["epsilon"] = 1e-5
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(AsckitError, match="batch_normalization_1.*epsilon 1e-05"):
        import_keras(h5, tmp_path / "b")


def test_imported_run_refuses_resume_and_fine_tunes_with_init_from(tmp_path):
    source = randomise(build("fcnn", num_filters=[1, 1, 1]))
    h5 = write_keras_h5(source, tmp_path / "m.h5", keras_version="2.15.0")
    run = tmp_path / "runs" / "imported"
    import_keras(h5, run)
    config = RunDir(run).load_config()
    with pytest.raises(AsckitError, match="imported from a Keras file.*--init-from"):
        prepare_run_dir(config, resume=True)

    from asckit.train.init_from import load_initial_weights

    raw = config.model_dump(mode="json") | {"name": "tuned"}
    fresh = build("fcnn", num_filters=[1, 1, 1])
    load_initial_weights(fresh, config_from_dict(raw), run)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), source.state_dict().values())
               if a.dtype.is_floating_point)
    raw["model"]["params"] = {"num_filters": [1, 1, 2]}
    with pytest.raises(AsckitError, match="--init-from .*that run is model fcnn"):
        load_initial_weights(build("fcnn", num_filters=[1, 1, 2]), config_from_dict(raw), run)


def test_train_init_from_an_imported_run_end_to_end(tmp_path):
    """`asckit train CONFIG --init-from RUN`: with a vanishing lr the trained weights stay the imported ones."""
    from conftest import write_feature_dataset

    root, store = write_feature_dataset(tmp_path)
    source = randomise(build("fcnn", num_filters=[1, 1, 1]))
    run = tmp_path / "runs" / "imported"
    import_keras(write_keras_h5(source, tmp_path / "m.h5"), run)
    cfg = tmp_path / "tune.yaml"
    cfg.write_text(
        f"name: tuned\nruns_dir: {tmp_path / 'runs'}\ndata: {{root: {root}, store: {store}}}\n"
        "model: {name: fcnn, params: {num_filters: [1, 1, 1]}}\n"
    )
    sets = ["optim.epochs=1", "optim.lr_max=1.0e-12", "optim.lr_min=0.0", "batch_augment.crop_frames=32",
            "batch_augment.time_mask_max=8", "trainer.accelerator=cpu", "trainer.progress_bar=false", "optim.batch_size=8"]
    argv = ["train", str(cfg), "--init-from", str(run)] + [a for s in sets for a in ("--set", s)]
    assert main(argv) == 0
    tuned = imported_model(tmp_path / "runs" / "tuned")
    conv = tuned.block1[0].conv.weight
    assert torch.allclose(conv, source.block1[0].conv.weight, atol=1e-6)
    assert main(["train", str(cfg), "--resume", "--init-from", str(run)]) == 2


def test_imported_run_is_a_normal_run_for_predict_split(tmp_path):
    """predict-split on a user's dataset + store of the reference settings (given with --root/--store)."""
    from asckit.features.logmel import settings_for
    from asckit.features.store import FeatureStore
    from asckit.predictions.reader import read_predictions

    source = randomise(build("fcnn", num_filters=[1, 1, 1]))
    run = tmp_path / "runs" / "imported"
    import_keras(write_keras_h5(source, tmp_path / "m.h5"), run)
    settings = settings_for("1a", clip_seconds=1.0)
    root = tmp_path / "root"
    (root / "evaluation_setup").mkdir(parents=True)
    names = [f"audio/airport-lisbon-1-{i}-a.wav" for i in range(3)]
    (root / "evaluation_setup" / "fold1_evaluate.csv").write_text("filename\tscene_label\n" + "".join(f"{n}\tairport\n" for n in names))
    store = FeatureStore.create(tmp_path / "store", settings, frames=settings.frames())
    static = np.random.default_rng(0).random((3, 1, 128, settings.frames())).astype(np.float16)
    store.append(names, static)
    out = tmp_path / "evaluate.tsv"
    argv = ["predict-split", str(run), "--split", "evaluate", "--root", str(root), "--store", str(tmp_path / "store"),
            "--out", str(out), "--quiet"]
    assert main(argv) == 0
    from asckit.features import add_deltas

    expected = probs(source, add_deltas(torch.from_numpy(static).float()))
    table = read_predictions(out)
    assert np.abs(np.asarray(table.probs) - expected).max() <= 1e-5


def test_export_static_int8_with_parity_on_an_imported_run(tmp_path, tau_root, capsys):
    """`asckit export RUN --root ROOT` (static int8, calibration and parity on the dataset) works unchanged."""
    run = tmp_path / "runs" / "imported"
    import_keras(write_keras_h5(randomise(build("fcnn", num_filters=[1, 1, 1])), tmp_path / "m.h5"), run)
    bundle = tmp_path / "bundle"
    assert main(["export", str(run), "--root", str(tau_root), "--out", str(bundle)]) == 0
    report = json.loads((bundle / "export_report.json").read_text())
    assert report["int8_mode"] == "static" and report["parity"]["clips"] == 3
    assert "parity on 3 clips" in capsys.readouterr().out


def test_predict_with_an_imported_1b_bundle_takes_stereo_48k_and_mono_44k(tmp_path):
    """A 44.1 kHz mono recording is resampled to 48 kHz and duplicated to L and R, as task 1b requires."""
    import soundfile
    import soxr

    from asckit.predictions.reader import read_predictions

    run = tmp_path / "runs" / "mobnet"
    import_keras(write_keras_h5(randomise(build("mobnet", width=0.25)), tmp_path / "m.h5"), run)
    bundle = tmp_path / "bundle"
    assert main(["export", str(run), "--fp32-only", "--out", str(bundle)]) == 0
    rng = np.random.default_rng(0)
    mono = (0.1 * rng.standard_normal(44100 * 10)).astype(np.float32)
    soundfile.write(tmp_path / "mono44k.wav", mono, 44100, subtype="FLOAT")
    same = soxr.resample(mono, 44100, 48000, quality="HQ").astype(np.float32)
    soundfile.write(tmp_path / "dup48k.wav", np.stack([same, same], axis=1), 48000, subtype="FLOAT")
    stereo = (0.1 * rng.standard_normal((48000 * 10, 2))).astype(np.float32)
    soundfile.write(tmp_path / "stereo48k.wav", stereo, 48000, subtype="FLOAT")
    out = tmp_path / "out.tsv"
    files = [str(tmp_path / n) for n in ("mono44k.wav", "dup48k.wav", "stereo48k.wav")]
    assert main(["predict", str(bundle), *files, "--out", str(out)]) == 0
    table = read_predictions(out)
    rows = dict(zip((Path(f).name for f in table.filenames), np.asarray(table.probs)))
    assert set(rows) == {"mono44k.wav", "dup48k.wav", "stereo48k.wav"}
    assert np.abs(rows["mono44k.wav"] - rows["dup48k.wav"]).max() <= 1e-5
    assert all(abs(r.sum() - 1) < 1e-6 for r in rows.values())
    # What the bundle's front end got from the mono file: 48 kHz, the same signal in L and R.
    from asckit.deploy.bundle import WindowRule
    from asckit.deploy.runtime import read_windows

    (_, _, audio), = read_windows(tmp_path / "mono44k.wav", WindowRule(), 48000, 2)
    assert audio.shape == (2, 480000) and np.array_equal(audio[0], audio[1])
    assert np.abs(audio[0] - same[:480000]).max() < 1e-6
