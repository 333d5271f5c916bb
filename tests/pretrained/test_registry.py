"""Tests for asckit.pretrained.registry: ``asckit pretrained get`` against a loopback HTTP server only.

The registry entries used here are injected (monkeypatch) with files made in the test: a Keras
h5 written by ``test_keras_import.write_keras_h5``, and the same file as a real two-part split zip
made by ``zip -s`` (skipped where the zip program is absent). Nothing touches the internet.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FakeZenodo, randomise, write_keras_h5

from asckit.cli import main
from asckit.core.errors import AsckitError
from asckit.models import build
from asckit.pretrained import registry
from asckit.pretrained.registry import MODELS, PublishedFile, PublishedModel, join_split_zip
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


def register(monkeypatch, name: str, files: dict[str, bytes], sized: bool = True) -> PublishedModel:
    entry = PublishedModel(
        name, "1b", "small_fcnn", 3, 0.9, "test entry",
        tuple(PublishedFile(f"pretrained_models/{n}", blob_sha1(d), len(d) if sized else None) for n, d in files.items()),
    )
    monkeypatch.setitem(MODELS, name, entry)
    return entry


def serve(server: FakeZenodo, files: dict[str, bytes]) -> str:
    for name, data in files.items():
        server.files[f"/mirror/pretrained_models/{name}"] = data
    return f"http://127.0.0.1:{server.port}/mirror/"


def test_registry_lists_every_published_file_once():
    paths = [f.path for m in MODELS.values() for f in (*m.files, *([m.tflite] if m.tflite else []))]
    assert len(paths) == len(set(paths)) == 13  # the table of reference/keras/README.md
    assert all(len(f.git_sha1) == 40 for m in MODELS.values() for f in m.files)
    assert registry.BASE_URL == "https://raw.githubusercontent.com/MihawkHu/DCASE2020_task1/master/"
    assert MODELS["fsfcnn-10class"].split_zip and not MODELS["mobnet-1b"].split_zip


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


def _split_zip(source: Path, folder: Path) -> dict[str, bytes]:
    """``source`` zipped with ``zip -s`` into exactly two parts, named as the authors published them."""
    size_kb = math.ceil(source.stat().st_size / 1024 * 0.6)
    subprocess.run(["zip", "-q", "-s", f"{size_kb}k", "model.zip", source.name], cwd=source.parent, check=True)
    parts = sorted(source.parent.glob("model.z*"))
    assert [p.name for p in parts] == ["model.z01", "model.zip"]
    # The authors' two files: .z01 and the final part renamed .z02 (their readme: cat z01 z02).
    return {f"{source.name}.z01": parts[0].read_bytes(), f"{source.name}.z02": parts[1].read_bytes()}


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs the zip program to make a real split zip (apt-get install zip)")
def test_get_joins_a_two_part_split_zip(tmp_path, server, monkeypatch, keras_file):
    parts = _split_zip(keras_file, tmp_path)
    register(monkeypatch, "split", parts)
    url = serve(server, parts)
    run = tmp_path / "runs" / "split"
    registry.get("split", run, cache=tmp_path / "cache", base_url=url, progress=False)
    assert json.loads(RunDir(run).imported_file.read_text())["source_sha1"] == hashlib.sha1(keras_file.read_bytes()).hexdigest()


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
    assert main(["pretrained", "get", "nope", "--out", "x"]) == 2
