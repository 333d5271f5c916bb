"""Bad-input corpus (issue 21), models and published weights: `asckit models`, `asckit import-keras`
(damaged HDF5 files: not HDF5, no layer list, model_config not JSON or not a model, a layer's group
or a weight's dataset missing) and `asckit pretrained list|get` (the download against a loopback
server serving damaged bytes).

Each case asserts the exit status, the one error line and that nothing was written or changed
(``bad_input_corpus.check_case``); no case needs the shared trained project, only one small Keras file.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from bad_input_corpus import Case, check_case, copy_of, write
from conftest import FakeZenodo, randomise, write_keras_h5

FCNN = "model_weights/conv2d_1"


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """A base folder holding a valid Keras file of a tiny FCNN (full model, layer graph included)."""
    from asckit.models import build

    base = tmp_path_factory.mktemp("corpus_models")
    h5 = write_keras_h5(randomise(build("fcnn", num_filters=[1, 2, 2])), base / "fcnn.h5")
    return {"base": base, "h5": h5}


def _h5(change):
    """A setup: a copy of the shared Keras file at ``c/m.h5``, changed with h5py."""

    def apply(path: Path) -> None:
        with h5py.File(path, "r+") as f:
            change(f)

    return copy_of("h5", apply, rel="m.h5")


def _set_attr(name: str, value):
    def change(f: h5py.File) -> None:
        f.attrs[name] = value

    return change


IMPORT = ["import-keras", "{c}/m.h5", "--out", "{c}/run"]

IMPORT_KERAS = [
    Case("import-keras missing file", ["import-keras", "{c}/none.h5", "--out", "{c}/run"], ("none.h5: file not found", "check the path"), 2),
    Case("import-keras text file", IMPORT, ("not an HDF5 file", "give a Keras .h5/.hdf5 model file"), 2, write("m.h5", "{}")),
    Case("import-keras JSON file", IMPORT, ("not an HDF5 file", "give a Keras .h5/.hdf5 model file"), 2,
         write("m.h5", json.dumps({"class_name": "Model", "config": {"layers": []}}))),
    Case("import-keras HDF5 without layers", IMPORT, ("no Keras layer list", "not a Keras HDF5 model or weights file"), 2,
         lambda c, w: h5py.File(c / "m.h5", "w").close()),
    Case("import-keras model_config not JSON", IMPORT, ("model_config is not JSON", "the file is damaged: get it again"), 2,
         _h5(_set_attr("model_config", "{oops"))),
    Case("import-keras model_config a JSON list", IMPORT, ("model_config is not a Keras model description", "the file is damaged"), 2,
         _h5(_set_attr("model_config", "[1, 2]"))),
    Case("import-keras layer group missing", IMPORT, ("layer conv2d_1 is listed in layer_names but its group is missing", "get it again"), 2,
         _h5(lambda f: f.__delitem__(FCNN))),
    Case("import-keras weight dataset missing", IMPORT, ("of layer conv2d_1 is listed but its dataset is missing", "get it again"), 2,
         _h5(lambda f: f[FCNN].__delitem__("conv2d_1/kernel:0"))),
    Case("import-keras out is a file", ["import-keras", "{w_h5}", "--out", "{c}/f.txt"], ("is a file", "--out names the new run folder"), 2,
         write("f.txt", "mine")),
    Case("import-keras out is a non-empty folder", ["import-keras", "{w_h5}", "--out", "{c}/mine"],
         ("folder exists and is not empty", "choose a new --out"), 2, write("mine/notes.txt", "mine")),
    Case("import-keras out names the file", ["import-keras", "{c}/m.h5", "--out", "{c}/m.h5"],
         ("is also an input of this command", "give another output path"), 2, copy_of("h5", rel="m.h5")),
    Case("import-keras out holds the file", ["import-keras", "{c}/m.h5", "--out", "{c}"],
         ("holds an input of this command", "give another output folder"), 2, copy_of("h5", rel="m.h5")),
    Case("import-keras arch bogus", ["import-keras", "{w_h5}", "--out", "{c}/run", "--arch", "bogus"], ("unknown", "bogus", "use one of"), 2),
    Case("import-keras task bogus", ["import-keras", "{w_h5}", "--out", "{c}/run", "--task", "1c"],
         ("--task", "invalid choice", "choose from '1a', '1b'"), 2),
    Case("import-keras store missing", ["import-keras", "{w_h5}", "--out", "{c}/run", "--store", "{c}/none"],
         ("not a feature store", "create one with `asckit features"), 2),
]


@contextlib.contextmanager
def _mirror(files: dict[str, bytes]):
    """A loopback HTTP server serving ``files`` (path under the mirror → bytes); yields its base URL as ``{url}``."""
    server = FakeZenodo()
    server.files.update({f"/mirror/{path}": data for path, data in files.items()})
    try:
        yield {"url": f"http://127.0.0.1:{server.port}/mirror"}
    finally:
        server.close()


def _served_damaged(c: Path, w: dict):
    """fcnn-10class's file served with other bytes: the download fails its git blob SHA-1 check."""
    from asckit.pretrained.registry import model

    return _mirror({f.path: b"not the published model" for f in model("fcnn-10class").files})


def _cache_holds_no_file(c: Path, w: dict) -> None:
    assert [p for p in (c / "cache").rglob("*") if p.is_file()] == [], "a download that failed its check was kept"


GET = ["pretrained", "get", "fcnn-10class", "--quiet"]

PRETRAINED = [
    Case("pretrained list extra word", ["pretrained", "list", "fcnn"],
         ("pretrained list: unrecognized arguments: fcnn", "see asckit pretrained list --help"), 2),
    Case("pretrained without an action", ["pretrained"], ("the following arguments are required: ACTION", "see asckit pretrained --help"), 2),
    Case("pretrained get unknown model", ["pretrained", "get", "fcnn-11class", "--out", "{c}/run"],
         ("unknown published model", "`asckit pretrained list` shows: fcnn-10class"), 2),
    Case("pretrained get out is a file", [*GET, "--out", "{c}/f.txt", "--cache", "{c}/cache"], ("is a file", "--out names the new run folder"), 2,
         write("f.txt", "mine")),
    Case("pretrained get out is a non-empty folder", [*GET, "--out", "{c}/mine", "--cache", "{c}/cache"],
         ("folder exists and is not empty", "choose a new --out"), 2, write("mine/notes.txt", "mine")),
    Case("pretrained get out is the cache", [*GET, "--out", "{c}/cache", "--cache", "{c}/cache"],
         ("is also an input of this command", "give another output path"), 2),
    Case("pretrained get damaged download", [*GET, "--out", "{c}/run", "--cache", "{c}/cache", "--base-url", "{url}"],
         ("downloaded bytes have git blob SHA-1", "the download was deleted", "rerun to download it again"), 2,
         around=_served_damaged, may_write=("cache",), extra=_cache_holds_no_file),
]


MODELS = [
    Case("models width 0", ["models", "--width", "0"], ("--width", "must be above 0"), 2),
    Case("models width nan", ["models", "--width", "nan"], ("--width", "not a finite number; give one such as"), 2),
    Case("models width text", ["models", "--width", "half"], ("--width", "is not a number; write one in digits"), 2),
    Case("models extra word", ["models", "fcnn"], ("models: unrecognized arguments: fcnn", "see asckit models --help"), 2),
]

ALL = [*IMPORT_KERAS, *PRETRAINED, *MODELS]


@pytest.mark.parametrize("case", [c.param() for c in ALL])
def test_refuses_bad_input_and_writes_nothing(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)


def test_the_shared_keras_file_imports(tmp_path: Path, shared, capsys) -> None:
    """The cases' damaged files are copies of a file that imports: the damage is what they refuse."""
    from asckit.cli import main

    copy = tmp_path / "m.h5"
    shutil.copy(shared["h5"], copy)
    assert main(["import-keras", str(copy), "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "finished.json").is_file()
    assert np.isfinite(json.loads((tmp_path / "run" / "imported.json").read_text())["width"])
