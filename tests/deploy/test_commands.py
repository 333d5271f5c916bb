"""asckit.deploy.commands: what ``asckit export`` prints from its report (complexity units, parity verdict)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asckit.deploy.commands import format_report
from asckit.deploy.export import parity_of_predictions
from asckit.labels import SCENES_10


def _report(parity: dict | None) -> dict:
    artifact = {"file": "m.int8.onnx", "file_bytes": 149_056, "params": 85_752, "nonzero": 91_000, "bits": 8,
                "dcase_kb": 88.9, "macs": 26_170_848, "macs_per_second": 6_623_280.0}
    report = {"artifacts": [artifact], "totals": {"int8": {"file_bytes": 149_056}}, "deployed": "int8", "budget_kb": None,
              "limits": [], "int8_mode": "static"}
    if parity is not None:
        report["parity"] = {"source": "data/demo evaluate split", **parity}
    return report


def _parity(flips: int) -> dict:
    """630 clips; int8 wrong where fp32 was right on ``flips`` of them."""
    labels = [scene for scene in SCENES_10 for _ in range(63)]
    y = np.array([SCENES_10.index(label) for label in labels])
    p32 = np.full((630, 10), 0.02)
    p32[np.arange(630), y] = 0.82
    p8 = p32.copy()
    flipped = np.arange(0, 630, 630 // max(flips, 1))[:flips]
    p8[flipped] = 0.02
    p8[flipped, (y[flipped] + 1) % 10] = 0.82
    return parity_of_predictions(labels, p32, p8, SCENES_10, task="1a")


def test_macs_are_printed_per_second_of_audio_with_their_unit():
    text = format_report(_report(None))
    header, row, note = text.splitlines()[:3]
    assert header.split()[-1] == "MMACs/s" and row.split()[-1] == "6.62"
    assert note == "MMACs/s: millions of multiply-accumulates per second of audio (a 10 s clip's, ÷ 10)"


def test_parity_within_the_noise_reads_as_a_match_without_a_warning():
    text = format_report(_report(_parity(3)))  # 3 clips of 630: the 0.5 points that used to warn
    line = next(line for line in text.splitlines() if line.startswith("parity on 630 clips"))
    assert "top-1 agreement 99.5 % (target ≥ 98 %)" in line and "(int8 − fp32 -0.5 points, 95 % CI -1.1 to +0.0)" in line
    assert line.endswith(": int8 matches fp32") and "warning" not in text


def test_failed_parity_says_why_and_what_to_try():
    text = format_report(_report(_parity(14)))
    lines = text.splitlines()
    assert next(line for line in lines if line.startswith("parity on")).endswith("int8 does NOT match fp32")
    warning = lines[-1]
    assert warning.startswith("warning: int8 and fp32 agree on the top class of 97.8 % of the clips (target ≥ 98 %); ")
    assert "int8 is less accurate than fp32 beyond the noise" in warning and warning.endswith("try more --calibration-clips, or --fp32-only")


def test_failed_int8_parity_of_a_bundle_with_fp16_files_points_to_them():
    report = _report(_parity(14))
    report["parity_fp16"] = {"source": "data/demo evaluate split", **_parity(0)}
    lines = format_report(report).splitlines()
    int8_warning = next(line for line in lines if line.startswith("warning: int8 and fp32"))
    assert int8_warning.endswith("try more --calibration-clips, --deploy fp16 (its parity is the next line), or --fp32-only")
    assert lines[-1].startswith("parity on 630 clips") and lines[-1].endswith("fp16 matches fp32")


# ------------------------------------------------------------------------------------ TAU22 end to end


@pytest.fixture(scope="module")
def tau22_export(tau22_runs):
    """`asckit export` of the tiny device-specific run (general, a, b): int8 (static) and fp16 files."""
    import torch

    from asckit.cli import main
    from asckit.train.run_dir import RunDir

    torch.set_num_threads(1)
    root, store, general, devices = tau22_runs
    assert main(["export", str(devices.run_dir), "--calibration-clips", "16"]) == 0
    return RunDir(devices.run_dir).export_dir, tau22_runs


def _torch_probs(runs, device: str | None, names: list[str]) -> np.ndarray:
    """The trained run's own probabilities (torch model, torch frontend on the stored waves) for ``names``."""
    import torch

    from asckit.features.tau22_torch import MelFrontend
    from asckit.train.predict import load_checkpoint_model
    from asckit.train.run_dir import RunDir

    _, store, _, devices = runs
    model = load_checkpoint_model(RunDir(devices.run_dir).snapshot_checkpoints(1)[-1], devices, 1, torch.device("cpu"))
    mel = MelFrontend()
    with torch.inference_mode():
        x = mel.log(mel(torch.from_numpy(store.get(names)).reshape(len(names), -1)))
        return torch.softmax(model.for_device(device)(x).double(), dim=1).numpy()


@pytest.mark.slow
def test_a_device_specific_run_exports_every_model_at_three_precisions_with_its_figures(tau22_export):
    from asckit.deploy.bundle import Bundle

    bundle_dir, _ = tau22_export
    bundle = Bundle.read(bundle_dir)
    assert bundle.info.frontend == "tau22" and bundle.precision == "int8" and bundle.mel is None
    assert [m.name for m in bundle.members] == ["general", "device-a", "device-b"]
    assert all(set(m.files) == {"fp32", "fp16", "int8"} for m in bundle.members)
    import onnx

    int8 = onnx.load(str(bundle_dir / "device-a.int8.onnx")).graph
    assert "AveragePool" not in {n.op_type for n in int8.node}  # the shortcut pool runs as a (quantized) depthwise conv
    assert [n.op_type for n in int8.node if "features" in n.input] == ["Conv"]  # the 1-channel first conv stays float
    assert bundle.routing.devices == {"a": "device-a", "b": "device-b"}
    report = json.loads((bundle_dir / "export_report.json").read_text())
    assert report["parity"]["holds"] and report["parity"]["agreement"] >= 0.98  # int8 agrees with fp32, clips routed by device
    assert report["parity_fp16"]["agreement"] == 1.0
    by = {(a["member"], a["precision"]): a for a in report["artifacts"]}
    assert by[("device-a", "fp16")]["param_bytes"] * 2 == by[("device-a", "fp32")]["param_bytes"]
    assert by[("device-a", "fp16")]["file_bytes"] < by[("device-a", "fp32")]["file_bytes"]
    assert {c["member"] for c in report["limits"]} == {"general", "device-a", "device-b"}
    assert {c["limit"] for c in report["limits"]} == {"DCASE 2023-2025"}
    assert "asckit package" in report["figures_note"]


@pytest.mark.slow
def test_predict_routes_each_file_to_its_device_model_and_says_so(tau22_export, tmp_path, capsys):
    from asckit.cli import main
    from asckit.labels import SCENES_10
    from asckit.predictions.file_format import read_provenance
    from asckit.predictions.reader import read_predictions

    bundle_dir, runs = tau22_export
    root = runs[0]
    names = ["audio/park-lisbon-2002-50020-3-a.wav", "audio/park-lisbon-1002-40020-3-b.wav",
             "audio/park-lisbon-2002-50020-3-s4.wav", "audio/bus-lisbon-2001-50010-0-a.wav"]
    files = [str(root / n) for n in names]
    listing = tmp_path / "fold1_test.csv"
    listing.write_text("filename\tdevice_id\n" + "".join(f"{n}\t{d}\n" for n, d in zip(names[:3], ("a", "b", "s4"))))
    out = tmp_path / "out.tsv"
    capsys.readouterr()
    assert main(["predict", str(bundle_dir), *files, "--devices", str(listing), "--out", str(out), "--precision", "fp32",
                 "--no-progress", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert err == ("asckit: device models: a 1 file, b 1; general model 2 files "
                   "(not in fold1_test.csv 1; ids without a model of their own: s4 1)\n")
    assert out.read_text().splitlines()[0].split("\t") == ["filename", "scene_label", *SCENES_10]  # the DCASE header, nothing added
    provenance = read_provenance(out)
    assert [(f["device_id"], f["model"]) for f in provenance["files"]] == [
        ("a", "device-a"), ("b", "device-b"), ("s4", "general"), (None, "general")]
    predictions = read_predictions(out)
    for name, device in zip(names, ("a", "b", None, None)):  # the exported models give the run's own probabilities
        expected = _torch_probs(runs, device, [name])[0]
        np.testing.assert_allclose(predictions.probs[predictions.filenames.index(str(root / name))], expected, atol=1e-4)
    assert main(["predict", str(bundle_dir), files[2], "--device-id", "b", "--out", str(out), "--precision", "fp32",
                 "--no-progress"]) == 0
    assert capsys.readouterr().err == "asckit: device models: b 1 file\n"
    np.testing.assert_allclose(read_predictions(out).probs[0], _torch_probs(runs, "b", [names[2]])[0], atol=1e-4)
    assert main(["predict", str(bundle_dir), files[0], "--device-id", "s9", "--no-progress"]) == 0  # an unknown id: the general model
    assert capsys.readouterr().err == "asckit: general model 1 file (ids without a model of their own: s9 1)\n"


def test_the_routing_summary_names_each_model_and_why_files_went_to_the_general_one(tmp_path, capsys):
    import soundfile
    from conftest import write_tau22_bundle

    from asckit.cli import main

    bundle = write_tau22_bundle(tmp_path / "bundle")
    (tmp_path / "audio").mkdir()
    for n in range(6):
        soundfile.write(tmp_path / "audio" / f"{n}.wav", np.random.default_rng(n).uniform(-0.1, 0.1, 16000), 16000)
    listing = tmp_path / "fold1_test.csv"
    listing.write_text("filename\tdevice_id\naudio/0.wav\ta\naudio/1.wav\tb\naudio/2.wav\ta\naudio/3.wav\ts4\naudio/4.wav\t\n")
    capsys.readouterr()
    assert main(["predict", str(bundle), str(tmp_path / "audio"), "--devices", str(listing), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert err == ("asckit: device models: a 2 files, b 1; general model 3 files "
                   "(no id 1; not in fold1_test.csv 1; ids without a model of their own: s4 1)\n")
    labels = [line.split()[1] for line in out.splitlines()[1:]]
    assert labels == ["bus", "metro", "bus", "airport", "airport", "airport"]  # the models' marks: a → bus, b → metro, general → airport


def test_the_table_of_a_bundle_with_device_models_shows_each_model_and_which_verdict_counts():
    from asckit.deploy.commands import format_models

    def artifact(member, precision, param_bytes, file_bytes):
        return {"member": member, "precision": precision, "params": 61_148, "param_bytes": param_bytes, "file_bytes": file_bytes,
                "macs_per_second": 29_419_156.0}

    artifacts = [artifact(m, p, b, f) for m in ("general", "device-a")
                 for p, b, f in (("fp32", 244_592, 250_000), ("fp16", 122_296, 130_000), ("int8", 61_148, 90_000))]
    limits = [{"member": m, "limit": "DCASE 2023-2025", "quantity": f"{p} param bytes", "precision": p, "ok": p != "fp32",
               "text": f"{m}: DCASE 2023-2025 {p} param bytes"} for m in ("general", "device-a") for p in ("fp32", "fp16", "int8")]
    report = {"precisions": ["fp32", "fp16", "int8"], "artifacts": artifacts, "deployed": "fp16", "limits": limits,
              "routing": {"general": "general", "devices": {"a": "device-a"}, "answers": {"general": [], "device-a": ["a"]}},
              "totals": {"fp16": {"file_bytes": 260_000, "files": ["general.fp16.onnx", "device-a.fp16.onnx"], "param_bytes": 122_296,
                                  "macs_per_second": 29_419_156.0}},
              "figures_note": "the verdict that counts is the organizers' (`asckit package`)"}
    lines = format_models(report).splitlines()
    assert lines[0].startswith("asckit deployment figures per model, against DCASE 2023-2025")
    assert lines[2].split()[:3] == ["general", "all", "others"] and lines[2].endswith("29.42  OVER/ok/ok")
    assert lines[3].split()[:2] == ["device-a", "a"] and "122,296" in lines[3] and "61,148" in lines[3]
    assert not any(line.startswith("limits:") for line in lines)  # over at fp32 only, which is not deployed
    report["deployed"] = "fp32"
    assert "limits: device-a: DCASE 2023-2025 fp32 param bytes (deployed fp32)" in format_models(report).splitlines()
    report["deployed"] = "fp16"
    assert lines[-2] == "deployed (fp16): 260,000 B on disk in 2 files; largest model 122,296 B of parameters, 29.42 MMACs/s"
    assert lines[-1] == "note: the verdict that counts is the organizers' (`asckit package`)"
