"""Tests for asckit.pretrained.registry: ``asckit pretrained get`` against a loopback HTTP server only.

The registry entries used here are injected (monkeypatch) with files made in the test: a Keras
h5 written by ``conftest.write_keras_h5`` (with a made-up TFLite file beside it), and the same file as a
real two-part split zip made by ``zip -s`` (skipped where the zip program is absent), also with the
``__MACOSX/`` member a Mac adds. Nothing touches the internet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import FakeZenodo, randomise, shared_reference, write_keras_h5

from asckit.cli import main
from asckit.core.errors import AsckitError
from asckit.models import build
from asckit.pretrained import registry
from asckit.pretrained.registry import MODELS, PublishedFile, PublishedModel, extract_model, join_split_zip
from asckit.train.run_dir import RunDir


@pytest.fixture
def server():
    srv = FakeZenodo()
    yield srv
    srv.close()


@pytest.fixture
def keras_file(tmp_path) -> Path:
    """A small 1b small-FCNN (shipped variant) file, padded by optimizer state to ~300 kB."""
    return write_keras_h5(randomise(build("small_fcnn", variant="shipped")), tmp_path / "small.hdf5", junk=80_000)


def blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def published(name: str, data: bytes, sized: bool = True) -> PublishedFile:
    return PublishedFile(f"pretrained_models/{name}", blob_sha1(data), len(data) if sized else None)


def register(monkeypatch, name: str, files: dict[str, bytes], sized: bool = True, tflite: tuple[str, bytes] | None = None) -> PublishedModel:
    entry = PublishedModel(
        name, "1b", "small_fcnn", 3, 0.9, "test entry", tuple(published(n, d, sized) for n, d in files.items()),
        published(*tflite) if tflite else None,
    )
    monkeypatch.setitem(MODELS, name, entry)
    return entry


def serve(server: FakeZenodo, files: dict[str, bytes]) -> str:
    for name, data in files.items():
        server.files[f"/mirror/pretrained_models/{name}"] = data
    return f"http://127.0.0.1:{server.port}/mirror/"


def test_registry_lists_every_published_file():
    files = [f for m in MODELS.values() for f in (*m.files, *([m.tflite] if m.tflite else []))]
    assert len({f.path for f in files}) == len({f.git_sha1 for f in files}) == 13  # the table of reference/keras/README.md
    assert len([f for m in MODELS.values() for f in m.files]) == 11  # each Keras file belongs to one model
    assert all(len(f.git_sha1) == 40 for f in files)
    assert registry.BASE_URL == "https://raw.githubusercontent.com/MihawkHu/DCASE2020_task1/master/"
    assert MODELS["fsfcnn-10class"].split_zip and not MODELS["mobnet-1b"].split_zip
    # The two TFLite files come with the 1b models; mob2-all.h5 is a re-save of mobnet-1b's weights, so its TFLite too.
    assert [m.name for m in MODELS.values() if m.tflite] == ["mobnet-1b", "smallfcnn-1b", "mobnet-tf2"]
    assert MODELS["mobnet-tf2"].tflite == MODELS["mobnet-1b"].tflite
    assert MODELS["mobnet-tf2"].accuracy == MODELS["mobnet-1b"].accuracy == 0.9517
    assert MODELS["mobnet-tf2"].files[0].size == MODELS["mobnet-1b"].files[0].size
    # The TF2 folder's loaders (fcnn_att.py, resnet.py) build 10 classes.
    assert MODELS["fcnn-tf2"].classes == MODELS["resnet-tf2"].classes == 10


def test_get_downloads_verifies_and_imports_an_h5(tmp_path, server, monkeypatch, keras_file, capsys):
    data = keras_file.read_bytes()
    register(monkeypatch, "tiny", {"small.hdf5": data}, sized=False)
    url = serve(server, {"small.hdf5": data})
    run = tmp_path / "runs" / "tiny"
    argv = ["pretrained", "get", "tiny", "--out", str(run), "--cache", str(tmp_path / "cache"), "--base-url", url, "--quiet"]
    assert main(argv) == 0
    record = json.loads(RunDir(run).imported_file.read_text())
    assert record["provenance"]["registry_name"] == "tiny"
    assert record["source_sha1"] == hashlib.sha1(data).hexdigest()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert "small_fcnn(variant=shipped)" in capsys.readouterr().out


def test_get_fetches_the_published_tflite_beside_the_model(tmp_path, server, monkeypatch, keras_file, capsys):
    data, tflite = keras_file.read_bytes(), b"TFL3" + bytes(range(256)) * 40
    register(monkeypatch, "tiny", {"small.hdf5": data}, tflite=("small-quantized.tflite", tflite))
    url = serve(server, {"small.hdf5": data, "small-quantized.tflite": tflite})
    run, cache = tmp_path / "runs" / "tiny", tmp_path / "cache"
    argv = ["pretrained", "get", "tiny", "--out", str(run), "--cache", str(cache), "--base-url", url, "--quiet"]
    assert main(argv) == 0
    assert (RunDir(run).published_dir / "small-quantized.tflite").read_bytes() == tflite
    assert (cache / "small-quantized.tflite").read_bytes() == tflite  # beside the h5, as benchmarks/inference.py --published reads them
    record = json.loads(RunDir(run).imported_file.read_text())
    assert record["provenance"]["tflite"] == {"path": "pretrained_models/small-quantized.tflite", "git_sha1": blob_sha1(tflite)}
    assert f"{RunDir(run).published_dir / 'small-quantized.tflite'}" in capsys.readouterr().out


KERAS = shared_reference("keras")


@pytest.mark.skipif(not (KERAS / "mobnet-model-0.9517-quantized.tflite").is_file(),
                    reason=f"the authors' published 1b files are not at {KERAS} (shared data beside the repository; set ASCKIT_SHARED)")
def test_get_mobnet_1b_as_published_with_its_tflite(tmp_path, server):
    """The real registry entry against a loopback mirror of the real files: SHA-1s, sizes, the TFLite beside the model."""
    entry = MODELS["mobnet-1b"]
    for file in (*entry.files, entry.tflite):
        server.files[f"/mirror/{file.path}"] = (KERAS / file.name).read_bytes()
    run = tmp_path / "runs" / "mobnet-1b"
    result = registry.get("mobnet-1b", run, cache=tmp_path / "cache", base_url=f"http://127.0.0.1:{server.port}/mirror/", progress=False)
    assert (result.guess.arch, result.guess.params, result.guess.num_classes) == ("mobnet", {"num_filters": 24}, 3)
    tflite = RunDir(run).published_dir / "mobnet-model-0.9517-quantized.tflite"
    assert tflite.read_bytes() == (KERAS / tflite.name).read_bytes()
    assert sorted(p.name for p in RunDir(run).published_dir.iterdir()) == [tflite.name]


def test_a_corrupted_tflite_is_refused_and_nothing_is_imported(tmp_path, server, monkeypatch, keras_file):
    data, tflite = keras_file.read_bytes(), b"TFL3" + bytes(range(256)) * 40
    register(monkeypatch, "tiny", {"small.hdf5": data}, tflite=("small-quantized.tflite", tflite))
    url = serve(server, {"small.hdf5": data, "small-quantized.tflite": tflite[:-1] + b"!"})
    cache, run = tmp_path / "cache", tmp_path / "runs" / "tiny"
    with pytest.raises(AsckitError, match="small-quantized.tflite: downloaded bytes have git blob SHA-1 .* nothing was imported"):
        registry.get("tiny", run, cache=cache, base_url=url, progress=False)
    assert not run.exists()
    assert sorted(p.name for p in cache.iterdir()) == ["small.hdf5"]


def test_a_file_with_other_classes_than_the_registry_is_not_imported(tmp_path, server, monkeypatch, keras_file):
    data, tflite = keras_file.read_bytes(), b"TFL3" + bytes(64)
    entry = register(monkeypatch, "tiny", {"small.hdf5": data}, tflite=("small-quantized.tflite", tflite))
    monkeypatch.setitem(MODELS, "tiny", dataclasses.replace(entry, classes=10))
    url = serve(server, {"small.hdf5": data, "small-quantized.tflite": tflite})
    run = tmp_path / "runs" / "tiny"
    with pytest.raises(AsckitError, match="has 3 classes, the registry says 10; not imported"):
        registry.get("tiny", run, cache=tmp_path / "cache", base_url=url, progress=False)
    assert not run.exists()


def test_an_interrupted_download_resumes(tmp_path, server, monkeypatch, keras_file):
    data = keras_file.read_bytes()
    register(monkeypatch, "tiny", {"small.hdf5": data})
    url = serve(server, {"small.hdf5": data})
    server.cut_after["/mirror/pretrained_models/small.hdf5"] = len(data) // 3
    cache, run = tmp_path / "cache", tmp_path / "runs" / "tiny"
    with pytest.raises(AsckitError, match="rerun to resume"):
        registry.get("tiny", run, cache=cache, base_url=url, progress=False)
    assert (cache / "small.hdf5.part").stat().st_size == len(data) // 3 and not run.exists()
    registry.get("tiny", run, cache=cache, base_url=url, progress=False)
    assert server.requests[-1][1] == f"bytes={len(data) // 3}-"
    assert (cache / "small.hdf5").read_bytes() == data


def test_a_corrupted_download_is_refused_and_not_imported(tmp_path, server, monkeypatch, keras_file):
    data = keras_file.read_bytes()
    register(monkeypatch, "tiny", {"small.hdf5": data})
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    url = serve(server, {"small.hdf5": bytes(bad)})
    cache, run = tmp_path / "cache", tmp_path / "runs" / "tiny"
    with pytest.raises(AsckitError, match="git blob SHA-1 .* nothing was imported"):
        registry.get("tiny", run, cache=cache, base_url=url, progress=False)
    assert not run.exists()
    assert list(cache.iterdir()) == []


def _split_zip(source: Path, folder: Path, macos: bool = False) -> dict[str, bytes]:
    """``source`` zipped with ``zip -s`` into exactly two parts, named as the authors published them;
    ``macos``: with the AppleDouble member a Mac's Finder adds (``__MACOSX/._<name>``)."""
    size_kb = math.ceil(source.stat().st_size / 1024 * 0.6)
    members = [source.name]
    if macos:
        (source.parent / "__MACOSX").mkdir()
        (source.parent / "__MACOSX" / f"._{source.name}").write_bytes(b"\x00\x05\x16\x07" + bytes(4000))
        members.append(f"__MACOSX/._{source.name}")
    subprocess.run(["zip", "-q", "-s", f"{size_kb}k", "model.zip", *members], cwd=source.parent, check=True)
    parts = sorted(source.parent.glob("model.z*"))
    assert [p.name for p in parts] == ["model.z01", "model.zip"]
    # The authors' two files: .z01 and the final part renamed .z02 (their readme: cat z01 z02).
    return {f"{source.name}.z01": parts[0].read_bytes(), f"{source.name}.z02": parts[1].read_bytes()}


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs the zip program to make a real split zip (apt-get install zip)")
@pytest.mark.parametrize("macos", [False, True], ids=["plain", "with-__MACOSX"])
def test_get_joins_a_two_part_split_zip(tmp_path, server, monkeypatch, keras_file, macos):
    parts = _split_zip(keras_file, tmp_path, macos)
    register(monkeypatch, "split", parts)
    url = serve(server, parts)
    run = tmp_path / "runs" / "split"
    registry.get("split", run, cache=tmp_path / "cache", base_url=url, progress=False)
    assert json.loads(RunDir(run).imported_file.read_text())["source_sha1"] == hashlib.sha1(keras_file.read_bytes()).hexdigest()


def test_extract_model_ignores_macos_metadata_members(tmp_path):
    """A zip made on a Mac holds ``__MACOSX/._name.hdf5`` (AppleDouble metadata) beside the model."""
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("__MACOSX/", b"")
        zf.writestr("__MACOSX/._model.hdf5", b"\x00\x05\x16\x07 AppleDouble")
        zf.writestr("._model.hdf5", b"\x00\x05\x16\x07 AppleDouble")
        zf.writestr("model.hdf5", b"the model")
    out = tmp_path / "out"
    out.mkdir()
    assert extract_model(archive, out) == out / "model.hdf5"
    assert sorted(p.name for p in out.iterdir()) == ["model.hdf5"] and (out / "model.hdf5").read_bytes() == b"the model"
    with zipfile.ZipFile(archive, "a") as zf:  # two real models are still one too many
        zf.writestr("other/model.h5", b"another")
    with pytest.raises(AsckitError, match="expected one .h5/.hdf5 file inside, found 2"):
        extract_model(archive, out)


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs the zip program to make a real split zip (apt-get install zip)")
def test_join_split_zip_refuses_a_missing_part(tmp_path, keras_file):
    parts = _split_zip(keras_file, tmp_path)
    last = tmp_path / "last.z02"
    last.write_bytes(parts[f"{keras_file.name}.z02"])
    with pytest.raises(AsckitError, match="has 2 parts, 1 were given"):
        join_split_zip([last], tmp_path / "joined.zip")


def test_unknown_name_and_list(capsys):
    assert main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    assert "mobnet-1b" in out and "95.17 %" in out and "as published" in out
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.split() and line.split()[0] in MODELS}
    assert rows["mobnet-tf2"].split()[4:7] == ["95.17", "%", "yes"] and "re-saved by Keras 2.2.4" in rows["mobnet-tf2"]
    assert rows["smallfcnn-1b"].split()[6] == "yes" and rows["fcnn-10class"].split()[6] == "-"
    assert rows["fcnn-tf2"].split()[3] == "10" and "TFLite files (dynamic-range int8) only of the two 1b models" in out
    assert main(["pretrained", "get", "nope", "--out", "x"]) == 2


# ----------------------------------------------------------------------------------------------
# The published DCASE 2025 checkpoints: downloaded and verified only (no licence is published)

from asckit.pretrained.registry import CHECKPOINTS, PublishedCheckpoint  # noqa: E402


def test_checkpoint_registry_is_the_reference_list():
    """reference/dcase2025/README.md §5b: the ckpts/ of the 2025 rank-1 team's package at b21b3b5."""
    assert {name: (c.file.path, c.file.git_sha1) for name, c in CHECKPOINTS.items()} == {
        "dcase2025-baseline": ("Karasin_JKU_task1/ckpts/baseline.ckpt", "29c04c53c5da2b6931d7ce11b0ebe1837ebd0fb5"),
        "karasin2025-sys1": ("Karasin_JKU_task1/ckpts/sys1.ckpt", "ee3962928d919443adbde9ff7267685325971860"),
        "karasin2025-sys2": ("Karasin_JKU_task1/ckpts/sys2.ckpt", "6859221e9a0f566d44cadcec041dcc4e0400d08f"),
        "karasin2025-sys3": ("Karasin_JKU_task1/ckpts/sys3.ckpt", "a236edee8fda57070a4b0996094ade244b07a4c5"),
        "karasin2025-sys4": ("Karasin_JKU_task1/ckpts/sys4.ckpt", "a3d332c56350a99d2c4dfcabfefac0c239cff86d"),
    }
    assert CHECKPOINTS["karasin2025-sys4"].file.size == 3_941_781
    assert registry.CKPT_BASE_URL == (
        "https://raw.githubusercontent.com/turquenite/dcase2025_task1_inference/b21b3b54795af98bccec66416db83acb46e49160/")
    assert not set(CHECKPOINTS) & set(MODELS)


def register_checkpoint(monkeypatch, data: bytes) -> PublishedCheckpoint:
    entry = PublishedCheckpoint("tiny-2025", "test entry", PublishedFile("pkg/ckpts/tiny.ckpt", blob_sha1(data), len(data)))
    monkeypatch.setitem(CHECKPOINTS, entry.name, entry)
    return entry


def test_get_of_a_checkpoint_downloads_verifies_and_names_the_import_command(tmp_path, server, monkeypatch, capsys):
    data = b"PK fake checkpoint" + bytes(range(256)) * 30
    register_checkpoint(monkeypatch, data)
    server.files["/mirror/pkg/ckpts/tiny.ckpt"] = data
    cache = tmp_path / "cache"
    argv = ["pretrained", "get", "tiny-2025", "--cache", str(cache), "--base-url", f"http://127.0.0.1:{server.port}/mirror/", "--quiet"]

    assert main(argv) == 0

    path = cache / registry.CKPT_CACHE_FOLDER / "tiny.ckpt"
    assert path.read_bytes() == data
    out = capsys.readouterr().out
    assert f"asckit import-ckpt {path} --out {Path('runs') / 'tiny-2025'}" in out and "no licence is published" in out
    server.requests.clear()
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    assert server.requests == [] and f"--out {tmp_path / 'run'}" in capsys.readouterr().out  # verified in the cache: not fetched again
    assert not (tmp_path / "run").exists()  # get does not import: that is import-ckpt's job


def test_a_corrupted_checkpoint_is_deleted(tmp_path, server, monkeypatch):
    data = bytes(range(256)) * 30
    register_checkpoint(monkeypatch, data)
    server.files["/mirror/pkg/ckpts/tiny.ckpt"] = data[:-1] + b"!"
    cache = tmp_path / "cache"
    with pytest.raises(AsckitError, match="tiny.ckpt: downloaded bytes have git blob SHA-1"):
        registry.get_checkpoint("tiny-2025", cache, f"http://127.0.0.1:{server.port}/mirror/", progress=False)
    assert list((cache / registry.CKPT_CACHE_FOLDER).iterdir()) == []


def test_list_names_the_checkpoints_and_says_no_licence_is_published(capsys):
    assert main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in CHECKPOINTS}
    assert sorted(rows) == sorted(CHECKPOINTS) and "sys4.ckpt" in rows["karasin2025-sys4"]
    assert "turquenite/dcase2025_task1_inference at b21b3b5" in out and "no licence is published" in out
