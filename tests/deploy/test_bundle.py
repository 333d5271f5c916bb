"""Tests for asckit.deploy.bundle: bundle.json written and read through ``Bundle``, and what a
damaged or foreign bundle says."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asckit.core.errors import AsckitError
from asckit.deploy.bundle import BUNDLE_FILE, Bundle, BundleMember, ModelInfo, WindowRule, member_file_name
from asckit.features.logmel import settings_for
from asckit.labels import SCENES_3


def _bundle(folder, **changes) -> Bundle:
    info = ModelInfo.for_features("1b", SCENES_3, settings_for("1b", clip_seconds=2.0))
    members = (BundleMember("mobnet", {"int8": member_file_name("mobnet", "int8")}, weight=2.0, snapshots=3),)
    bundle = Bundle(info, members, **changes)
    bundle.write(folder)
    return bundle


def test_a_written_bundle_reads_back_equal(tmp_path):
    written = _bundle(tmp_path, int8_mode="static", complexity={"total_parameters": 7})
    read = Bundle.read(tmp_path)
    assert read.info == written.info and read.members == written.members
    assert (read.precision, read.int8_mode, read.fusion_method, read.complexity) == ("int8", "static", "average", {"total_parameters": 7})
    # 2 s 1b clips: 1 + 96000 // 1024 = 94 frames, 86 after the deltas.
    assert read.info.input_shape == (6, 128, 86)


def test_member_files_must_be_plain_names_that_exist(tmp_path):
    _bundle(tmp_path)
    with pytest.raises(AsckitError, match="member model file missing"):
        Bundle.read(tmp_path).member_paths()
    (tmp_path / "mobnet.int8.onnx").write_bytes(b"")
    assert Bundle.read(tmp_path).member_paths() == [tmp_path / "mobnet.int8.onnx"]
    with pytest.raises(AsckitError, match="has no fp32 file"):
        Bundle.read(tmp_path).member_paths("fp32")
    data = json.loads((tmp_path / BUNDLE_FILE).read_text())
    data["members"][0]["files"]["int8"] = "../elsewhere.onnx"
    (tmp_path / BUNDLE_FILE).write_text(json.dumps(data))
    with pytest.raises(AsckitError, match="must be a plain name"):
        Bundle.read(tmp_path).member_paths()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: {**d, "format": "other"}, "not an asckit export bundle"),
        (lambda d: {**d, "version": 99}, "newer than this asckit reads"),
        (lambda d: {**d, "fusion": {"method": "vote"}}, "unknown fusion"),
        (lambda d: {k: v for k, v in d.items() if k != "features"}, "incomplete model description"),
    ],
)
def test_foreign_or_damaged_descriptions_are_one_line_errors(tmp_path, edit, message):
    _bundle(tmp_path)
    data = json.loads((tmp_path / BUNDLE_FILE).read_text())
    (tmp_path / BUNDLE_FILE).write_text(json.dumps(edit(data)))
    with pytest.raises(AsckitError, match=message):
        Bundle.read(tmp_path)


def test_the_window_rule_adds_an_end_aligned_window_for_a_long_enough_tail():
    rule = WindowRule(seconds=10.0, min_tail_seconds=1.0)
    sr, window = 100, 1000
    assert rule.starts(500, window, sr) == [0]
    assert rule.starts(2050, window, sr) == [0, 1000]  # 0.5 s tail: dropped
    assert rule.starts(2150, window, sr) == [0, 1000, 1150]  # 1.5 s tail: one more window at the end


def test_the_mel_matrix_and_logistic_fusion_are_read_from_the_folder(tmp_path):
    _bundle(tmp_path, fusion={"method": "logistic", "file": "fusion_logistic.json"})
    np.save(tmp_path / "mel.npy", np.eye(3, dtype=np.float32))
    (tmp_path / "fusion_logistic.json").write_text(json.dumps({"coef": [[1.0]], "intercept": [0.0]}))
    bundle = Bundle.read(tmp_path / BUNDLE_FILE)
    np.testing.assert_array_equal(bundle.load_mel(), np.eye(3))
    assert bundle.load_logistic() == {"coef": [[1.0]], "intercept": [0.0]}


def _tau22_bundle(folder, devices=("a", "s1")) -> Bundle:
    from asckit.deploy.bundle import DeviceRouting, device_member_name
    from asckit.labels import SCENES_10

    names = ["general", *(device_member_name(d) for d in devices)]
    members = tuple(BundleMember(n, {p: member_file_name(n, p) for p in ("fp32", "fp16", "int8")}) for n in names)
    bundle = Bundle(ModelInfo.for_tau22("2025", SCENES_10), members, precision="fp16", mel=None,
                    routing=DeviceRouting("general", {d: device_member_name(d) for d in devices}))
    bundle.write(folder)
    return bundle


def test_a_tau22_bundle_reads_back_with_its_front_end_and_routing(tmp_path):
    written = _tau22_bundle(tmp_path)
    data = json.loads((tmp_path / BUNDLE_FILE).read_text())
    assert data["version"] == 2 and data["frontend"] == "tau22" and data["mel"] is None
    assert data["features"]["sample_rate"] == 32000 and data["window"] == {"seconds": 1.0, "min_tail_seconds": 0.5, "shorter": "repeat"}
    read = Bundle.read(tmp_path)
    assert read.info == written.info and read.routing == written.routing and read.load_mel() is None
    assert read.info.input_shape == (1, 256, 65) and (read.info.sample_rate, read.info.channels) == (32000, 1)
    assert [read.routing.member_for(d) for d in ("a", "s1", "s4", None, "A")] == ["device-a", "device-s1", "general", "general", "general"]


def test_a_2020_bundle_stays_version_1_for_older_readers(tmp_path):
    _bundle(tmp_path)
    data = json.loads((tmp_path / BUNDLE_FILE).read_text())
    assert data["version"] == 1 and "frontend" not in data and "routing" not in data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: {**d, "routing": {"general": "general", "devices": {"b": "device-b"}}}, "damaged device routing .*device-b"),
        (lambda d: {**d, "routing": {"devices": []}}, "damaged device routing"),
        (lambda d: {**d, "features": {**d["features"], "hop_length": 512}}, "made with another TAU22 frontend"),
        (lambda d: {**d, "frontend": "cqt"}, "unknown front end 'cqt'"),
    ],
)
def test_a_damaged_or_foreign_tau22_description_is_a_one_line_error(tmp_path, edit, message):
    _tau22_bundle(tmp_path)
    data = json.loads((tmp_path / BUNDLE_FILE).read_text())
    (tmp_path / BUNDLE_FILE).write_text(json.dumps(edit(data)))
    with pytest.raises(AsckitError, match=message):
        Bundle.read(tmp_path)
