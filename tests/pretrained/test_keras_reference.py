"""Acceptance of issue 11 against the reference's own Keras models (``../shared/reference/keras/``).

For the two published Task 1b models and the five narrow 1a models built by the reference's own
builder code: ``asckit import-keras`` → the run as every command loads it → probabilities on the
fixtures' inputs, which must match what Keras computed to ≤ 1e-5 (max abs); the same through an
exported fp32 ONNX bundle. Each file is imported as saved (``model.save``: a layer graph in
``model_config``), as a weights-only copy (the same file without ``model_config``, so the importer
must work out the paths and paddings from layer names and order alone) and, for the published
Mobnet (Keras 2.2.2) and the Resnet (Keras 2.15, with its ``top_level_model_weights`` group),
re-rooted as Keras ``save_weights`` writes it (``layer_names`` at the root, no ``model_weights``
group). The folder sits beside the repository root (``ASCKIT_SHARED`` points elsewhere); where it
is absent (a user's clone) these tests skip.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from conftest import imported_model, shared_reference

from asckit.cli import main
from asckit.data.download import git_blob_sha1
from asckit.pretrained.registry import MODELS

KERAS = shared_reference("keras")
pytestmark = pytest.mark.skipif(
    not (KERAS / "keras_outputs_1b.json").is_file(),
    reason=f"the reference's Keras fixtures are not at {KERAS} (shared data beside the repository; set ASCKIT_SHARED)",
)
TOLERANCE = 1e-5

#: fixture file → (its key in keras_outputs_<task>.json, task)
FIXTURES = {
    "mobnet-model-0.9517.hdf5": ("mobnet-model-0.9517", "1b"),
    "smallfcnn-model-0.9618.hdf5": ("smallfcnn-model-0.9618", "1b"),
    "fcnn10.h5": ("fcnn10", "1a"),
    "fcnn3.h5": ("fcnn3", "1a"),
    "fsfcnn10.h5": ("fsfcnn10", "1a"),
    "resnet10.h5": ("resnet10", "1a"),
    "resnet3.h5": ("resnet3", "1a"),
}


def keras_outputs(file: str) -> tuple[np.ndarray, np.ndarray]:
    key, task = FIXTURES[file]
    expected = json.loads((KERAS / f"keras_outputs_{task}.json").read_text())[key]
    return np.load(KERAS / f"input_{task}.npy"), np.asarray(expected)


def as_saved(source: Path, folder: Path) -> Path:
    return source


def without_graph(source: Path, folder: Path) -> Path:
    """A copy without the root attribute ``model_config``: weights only, in the ``model.save`` layout."""
    copy = Path(shutil.copyfile(source, folder / source.name))
    with h5py.File(copy, "r+") as f:
        del f.attrs["model_config"]
    return copy


def as_save_weights(source: Path, folder: Path) -> Path:
    """What Keras ``model.save_weights(...h5)`` writes: the ``model_weights`` group's attributes
    (``layer_names``, ``backend``, ``keras_version``) and layer groups at the root, nothing else."""
    copy = folder / source.name
    with h5py.File(source, "r") as src, h5py.File(copy, "w") as dst:
        weights = src["model_weights"]
        for key, value in weights.attrs.items():
            dst.attrs[key] = value
        for name in weights:
            src.copy(weights[name], dst, name=name)
    return copy


LAYOUTS = {"model.save": as_saved, "weights-only": without_graph, "save_weights": as_save_weights}
#: (file, layout) pairs checked against Keras' outputs.
CASES = [(f, layout) for layout in ("model.save", "weights-only") for f in FIXTURES]
CASES += [("mobnet-model-0.9517.hdf5", "save_weights"), ("resnet10.h5", "save_weights")]  # Keras 2.2.2 and 2.15 writers


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``runs(file, layout)``: the run ``asckit import-keras`` makes of ``file`` in ``layout`` (imported once)."""
    base = tmp_path_factory.mktemp("imported")
    made: dict[tuple[str, str], Path] = {}

    def run(file: str, layout: str = "model.save") -> Path:
        if (file, layout) not in made:
            folder = base / layout
            folder.mkdir(exist_ok=True)
            source = LAYOUTS[layout](KERAS / file, folder)
            made[file, layout] = folder / Path(file).stem.replace(".", "_")
            assert main(["import-keras", str(source), "--out", str(made[file, layout])]) == 0
        return made[file, layout]

    return run


@pytest.mark.parametrize(("file", "layout"), CASES, ids=[f"{f}-{layout}" for f, layout in CASES])
def test_imported_model_matches_keras(runs, file, layout, capsys):
    run = runs(file, layout)
    x, expected = keras_outputs(file)
    with torch.no_grad():
        got = torch.softmax(imported_model(run)(torch.from_numpy(x)).double(), dim=1).numpy()
    diff = float(np.abs(got - expected).max())
    with capsys.disabled():
        print(f"\n  {file} ({layout}): max |asckit - Keras| = {diff:.2e}")
    assert diff <= TOLERANCE
    assert json.loads((run / "imported.json").read_text())["layer_graph"] is (layout == "model.save")


@pytest.mark.parametrize("file", ["mobnet-model-0.9517.hdf5", "smallfcnn-model-0.9618.hdf5"])
def test_exported_fp32_onnx_matches_keras(runs, file, tmp_path):
    from asckit.deploy.runtime import load_exported_model

    bundle = tmp_path / "bundle"
    assert main(["export", str(runs(file)), "--fp32-only", "--budget-kb", "2000", "--out", str(bundle)]) == 0
    x, expected = keras_outputs(file)
    got = load_exported_model(bundle, "fp32").predict_features(x)
    assert float(np.abs(got - expected).max()) <= TOLERANCE


def test_published_files_have_the_registry_sha1():
    published = {f.name: f for m in MODELS.values() for f in (*m.files, *([m.tflite] if m.tflite else []))}
    for name in ("mobnet-model-0.9517.hdf5", "smallfcnn-model-0.9618.hdf5",
                 "mobnet-model-0.9517-quantized.tflite", "smallfcnn-model-0.9618-quantized.tflite"):
        entry = published[name]
        assert git_blob_sha1(KERAS / name) == entry.git_sha1
        assert (KERAS / name).stat().st_size == entry.size
