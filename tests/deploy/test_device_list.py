"""asckit.deploy.device_list: the device list of ``asckit predict --devices`` (fold1_test.csv's layout),
which row a file takes, and one-line errors for lists that are not such a list."""

from __future__ import annotations

from pathlib import Path

import pytest

from asckit.core.errors import AsckitError
from asckit.deploy.device_list import DeviceList


def _list(tmp_path: Path, text: str, name: str = "fold1_test.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_takes_the_row_whose_filename_is_the_longest_end_of_its_path(tmp_path):
    path = _list(tmp_path, "filename\tdevice_id\naudio/0.wav\ta\n1.wav\ts2\nother/audio/0.wav\tb\n./audio/2.wav\t\n")
    listing = DeviceList.read(path)
    assert len(listing) == 4
    assert listing.device_of("/data/eval/audio/0.wav") == "a"  # audio/0.wav under any folder
    assert listing.device_of("/data/other/audio/0.wav") == "b"  # the longer row wins
    assert listing.device_of("audio/1.wav") == "s2" and listing.device_of("1.wav") == "s2"  # the bare name
    assert listing.device_of("audio/2.wav") is None and listing.is_listed("audio/2.wav")  # listed, no id
    assert listing.device_of("audio/3.wav") is None and not listing.is_listed("audio/3.wav")
    assert not listing.is_listed("x/0.wav")  # 'audio/0.wav' is not a trailing part of x/0.wav


def test_a_relative_path_is_also_tried_as_its_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "eval" / "audio").mkdir(parents=True)
    path = _list(tmp_path, f"filename\tdevice_id\n{tmp_path / 'eval' / 'audio' / '5.wav'}\tc\n")
    monkeypatch.chdir(tmp_path / "eval")
    assert DeviceList.read(path).device_of("audio/5.wav") == "c"


def test_other_columns_are_ignored_and_a_byte_order_mark_is_read(tmp_path):
    path = _list(tmp_path, "\ufeffscene_label\tdevice_id\tfilename\nbus\tb\taudio/7.wav\n")
    assert DeviceList.read(path).device_of("audio/7.wav") == "b"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty; the first line must be the header filename<TAB>device_id"),
        ("filename,device_id\naudio/0.wav,a\n", "not TAB-separated"),
        ("filename\tdevice\naudio/0.wav\ta\n", "lacks the columns filename and device_id"),
        ("filename\tdevice_id\n", "lists no files, only its header"),
        ("filename\tdevice_id\naudio/0.wav\ta\n./audio/0.wav\tb\n", ":3: ./audio/0.wav is listed twice (also line 2)"),
        ("filename\tdevice_id\naudio/0.wav\ta\tb\n", ":2: 3 TAB-separated fields, the header has 2"),
        ("filename\tdevice_id\n\ta\n", ":2: the filename is empty"),
    ],
)
def test_lists_that_are_not_device_lists_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(AsckitError, match=message.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")) as caught:
        DeviceList.read(_list(tmp_path, text))
    assert "\n" not in str(caught.value)


def test_a_missing_or_binary_list_is_a_one_line_error(tmp_path):
    with pytest.raises(AsckitError, match="no such device list"):
        DeviceList.read(tmp_path / "none.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00filename")
    with pytest.raises(AsckitError, match="not UTF-8 text"):
        DeviceList.read(tmp_path / "bin.csv")
