"""Tests for asckit.core.io_utils: atomic outputs get the user's permissions (umask), a folder or a file in
the wrong place is a one-line error, staging folders of a killed run are cleaned by the next."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_write_text, read_json_object, refuse_output_over_input, replace_folder, staging_dir


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_atomic_file_gets_0666_less_the_umask_not_the_temporary_0600(tmp_path: Path, umask_027) -> None:
    atomic_write_text(tmp_path / "out.tsv", "x\n")
    assert _mode(tmp_path / "out.tsv") == 0o640
    os.umask(0o002)
    atomic_write_text(tmp_path / "out.tsv", "y\n")  # replacing a file: the new one's mode, from the umask
    assert _mode(tmp_path / "out.tsv") == 0o664


def test_a_staging_folder_gets_0777_less_the_umask_and_replaces_stale_ones(tmp_path: Path, umask_027) -> None:
    stale = staging_dir(tmp_path / "bundle")
    (stale / "half.onnx").write_text("killed here")
    fresh = staging_dir(tmp_path / "bundle")
    assert not stale.exists() and fresh.is_dir() and _mode(fresh) == 0o750
    other = tmp_path / ".bundle2.staging-x"  # another target's staging folder is left alone
    other.mkdir()
    staging_dir(tmp_path / "bundle")
    assert other.is_dir()


def test_an_output_path_that_is_a_folder_or_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(AsckitError, match="is a folder; give a file name"):
        atomic_write_text(tmp_path / "folder", "x")
    (tmp_path / "file").write_text("mine")
    with pytest.raises(AsckitError, match="is a file, not a folder"):
        atomic_write_text(tmp_path / "file" / "out.tsv", "x")
    assert (tmp_path / "file").read_text() == "mine" and sorted(os.listdir(tmp_path)) == ["file", "folder"]


@pytest.mark.parametrize("text, message", [("{oops", "damaged"), ("[1]", r"damaged \(a JSON list, not an object\)"), ("\xff", "damaged")])
def test_read_json_object_names_the_file_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(AsckitError, match=f"r.json: {message}.*; delete it") as error:
        read_json_object(path, "delete it")
    assert "\n" not in str(error.value)


def test_an_output_that_names_an_input_is_refused_and_a_folder_output_must_not_hold_one(tmp_path, monkeypatch):
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "a.tsv").write_text("x")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AsckitError, match=r"^--out a.tsv: is also an input of this command .*a.tsv\); .*give another output path$"):
        refuse_output_over_input("a.tsv", [None, tmp_path / "a.tsv"])  # the same file, however written
    with pytest.raises(AsckitError, match=r"^--save-fusion runs/\.\./a.tsv: is also an input"):
        refuse_output_over_input("runs/../a.tsv", ["a.tsv"], "--save-fusion")
    with pytest.raises(AsckitError, match=r"^--out runs: holds an input of this command \(runs/a\); .*another output folder$"):
        refuse_output_over_input("runs", ["runs/a"], folder=True)
    refuse_output_over_input("runs", ["runs/a"])  # a file output named after a folder is refused elsewhere ("is a folder")
    refuse_output_over_input("runs/a/export", ["runs/a"], folder=True)  # inside an input: fine (export's default)
    refuse_output_over_input(None, ["a.tsv"])
    refuse_output_over_input("b.tsv", ["a.tsv", None])


def test_replacing_a_folder_swaps_it_whole(tmp_path):
    old, new = tmp_path / "bundle", tmp_path / ".staging"
    old.mkdir()
    (old / "old.onnx").write_text("old")
    new.mkdir()
    (new / "new.onnx").write_text("new")
    replace_folder(new, old)
    assert os.listdir(tmp_path) == ["bundle"] and os.listdir(old) == ["new.onnx"]
