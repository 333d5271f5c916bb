"""Bad-input corpus, export and predict of TAU22 runs (DCASE 2024/2025): `asckit export` of a TAU22 run
(options that do not fit a bundle of device models, a run without a dataset) and `asckit predict` with
device ids (--device-id and --devices together, device lists that are not one, ids for a 2020 bundle,
damaged device members).

Each case asserts the exit status, the one error line and that nothing was written or changed
(``bad_input_corpus.check_case``). The TAU22 run is imported from a random ¼-width device-specific
CP-Mobile (no training); the TAU22 bundle is hand-made (``conftest.write_tau22_bundle``); the 2020 run
and bundle are the shared project's (``bad_input_corpus.world``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bad_input_corpus import Case, both, check_case, copy_of, edit_json, world, write
from conftest import write_tau22_bundle, write_tau22_root


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """The shared 2020 project, plus in a base of its own: an imported 2025 run with device models a
    and b (no dataset), a tiny TAU22 root, a hand-made TAU22 bundle and a 1 s recording."""
    import soundfile
    import torch

    from asckit.models import build
    from asckit.models.device_specific import DeviceSpecificModel
    from asckit.pretrained.cpjku_checkpoint import import_cpjku_checkpoint

    project = world(tmp_path_factory)
    base = tmp_path_factory.mktemp("corpus_export_tau22")
    torch.manual_seed(0)
    torch.save(DeviceSpecificModel(build("cp_mobile", width=0.25), ["a", "b"]).state_dict(), base / "devices.pt")
    import_cpjku_checkpoint(base / "devices.pt", base / "run22")
    root = write_tau22_root(base / "t22")
    bundle = write_tau22_bundle(base / "bundle22")
    soundfile.write(base / "x.wav", 0.1 * np.random.default_rng(0).standard_normal(44100).astype(np.float32), 44100)
    return {"base": base, "run22": base / "run22", "root22": root, "bundle22": bundle, "wav": base / "x.wav",
            "run": project["run"], "bundle": project["bundle"]}


RUN22 = ["export", "{w_run22}", "--out", "{c}/b"]

EXPORT_TAU22 = [
    Case("export tau22 with another run", [*RUN22[:2], "{w_run}", *RUN22[2:]],
         ("a TAU22 run's bundle holds its general and device models", "export each TAU22 run on its own"), 2),
    Case("export tau22 with a fusion", [*RUN22, "--fusion", "{c}/f.json"],
         ("classifies each recording with one model (its device's)", "leave out --fusion"), 2, write("f.json", "{}")),
    Case("export tau22 without a dataset root", RUN22,
         ("the run's data.root is not a TAU22 dataset root", "give --root TAU22_ROOT, or --fp32-only"), 2),
    Case("export tau22 with a 2020 root", [*RUN22, "--root", "{c}/t20"],
         ("--root is not a TAU22 dataset root", "give --root TAU22_ROOT, or --fp32-only"), 2,
         write("t20/evaluation_setup/fold1_train.csv", "filename\tscene_label\naudio/airport-lisbon-1000-40000-a.wav\tairport\n")),
    Case("export deploy fp16 with fp32 only", [*RUN22, "--fp32-only", "--deploy", "fp16"],
         ("--deploy fp16 with --fp32-only", "writes fp32 files only; leave out one of them"), 2),
    Case("export deploy fp16 for a 2020 run", ["export", "{w_run}", "--out", "{c}/b", "--deploy", "fp16"],
         ("fp16 files are written for TAU22 runs", "a task 1a bundle deploys int8 or fp32"), 2),
    Case("export deploy bogus", [*RUN22, "--deploy", "fp8"], ("--deploy", "invalid choice", "choose from 'int8', 'fp16', 'fp32'"), 2),
]

PREDICT22 = ["predict", "{w_bundle22}", "{w_wav}", "--no-progress"]
LIST = "filename\tdevice_id\n"


def _remove(rel: str):
    return lambda folder: (folder / rel).unlink()


def _swap_member(folder: Path) -> None:
    """device-a's file replaced by a graph of another input (128 mel bands, as a 2020 model takes)."""
    import onnx

    model = onnx.load(str(folder / "device-a.fp32.onnx"))
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 128
    onnx.save(model, str(folder / "device-a.fp32.onnx"))


PREDICT_TAU22 = [
    Case("predict device id and devices list together", [*PREDICT22, "--device-id", "a", "--devices", "{c}/l.csv"],
         ("argument --devices: not allowed with argument --device-id", "see asckit predict --help"), 2, write("l.csv", LIST + "x.wav\ta\n")),
    Case("predict empty device id", [*PREDICT22, "--device-id", " "], ("--device-id: empty", "give the recording device's id"), 2),
    Case("predict devices list missing", [*PREDICT22, "--devices", "{c}/none.csv"],
         ("no such device list", "check the path", "filename<TAB>device_id"), 2),
    Case("predict devices list is a folder", [*PREDICT22, "--devices", "{c}"],
         ("is a folder, not a device list", "give the list file", "fold1_test.csv"), 2),
    Case("predict devices list empty", [*PREDICT22, "--devices", "{c}/l.csv"],
         ("empty; the first line must be the header filename<TAB>device_id",), 2, write("l.csv", "")),
    Case("predict devices list only a header", [*PREDICT22, "--devices", "{c}/l.csv"],
         ("lists no files, only its header", "add one row filename<TAB>device_id"), 2, write("l.csv", LIST)),
    Case("predict devices list wrong header", [*PREDICT22, "--devices", "{c}/l.csv"],
         ("lacks the columns filename and device_id", "make the first line filename<TAB>device_id"), 2,
         write("l.csv", "filename\tscene_label\nx.wav\tbus\n")),
    Case("predict devices list not tab separated", [*PREDICT22, "--devices", "{c}/l.csv"],
         ("not TAB-separated", "separate the columns with TABs"), 2, write("l.csv", "filename,device_id\nx.wav,a\n")),
    Case("predict devices list duplicate filename", [*PREDICT22, "--devices", "{c}/l.csv"],
         ("l.csv:3: audio/x.wav is listed twice (also line 2)", "give each file one row"), 2,
         write("l.csv", LIST + "./audio/x.wav\ta\naudio/x.wav\tb\n")),
    Case("predict devices list ragged row", [*PREDICT22, "--devices", "{c}/l.csv"],
         ("l.csv:2: 1 TAB-separated fields, the header has 2", "write each row as filename<TAB>device_id"), 2,
         write("l.csv", LIST + "x.wav\n")),
    Case("predict devices list not utf-8", [*PREDICT22, "--devices", "{c}/l.csv"],
         ("not UTF-8 text", "save the device list as UTF-8"), 2, write("l.csv", b"filename\tdevice_id\n\xff\xfe.wav\ta\n")),
    Case("predict out names the devices list", [*PREDICT22, "--devices", "{c}/l.csv", "--out", "{c}/l.csv"],
         ("is also an input of this command", "give another output path"), 2, write("l.csv", LIST + "x.wav\ta\n")),
    Case("predict device id with a 2020 bundle", ["predict", "{w_bundle}", "{w_wav}", "--device-id", "a", "--no-progress"],
         ("a task 1a bundle has no device models, so device ids do not apply", "leave out --device-id/--devices"), 2),
    Case("predict devices list with a 2020 bundle", ["predict", "{w_bundle}", "{w_wav}", "--devices", "{c}/l.csv", "--no-progress"],
         ("has no device models, so device ids do not apply", "leave out --device-id/--devices"), 2, write("l.csv", LIST + "x.wav\ta\n")),
    Case("predict device member missing", ["predict", "{c}/bundle22", "{w_wav}", "--device-id", "a", "--no-progress"],
         ("device-a.fp32.onnx: member model file missing from the bundle", "re-export it"), 2,
         copy_of("bundle22", _remove("device-a.fp32.onnx"))),
    Case("predict device member of another model", ["predict", "{c}/bundle22", "{w_wav}", "--device-id", "a", "--no-progress"],
         ("device-a.fp32.onnx: takes input", "it is not this bundle's model: re-export"), 2, copy_of("bundle22", _swap_member)),
    Case("predict routing names no member", ["predict", "{c}/bundle22", "{w_wav}", "--no-progress"],
         ("damaged device routing", "device-c", "re-export the model"), 2,
         copy_of("bundle22", edit_json("bundle.json", lambda d: d["routing"]["devices"].update(c="device-c")))),
    Case("predict tau22 bundle of another frontend", ["predict", "{c}/bundle22", "{w_wav}", "--no-progress"],
         ("made with another TAU22 frontend", "predict with the asckit release that exported it, or re-export the run"), 2,
         copy_of("bundle22", edit_json("bundle.json", lambda d: d["features"].update(hop_length=320)))),
    Case("predict precision the bundle lacks", [*PREDICT22, "--precision", "int8"],
         ("member 'general' has no int8 file", "predict with --precision fp32"), 2),
]


def _listing(c: Path, w: dict) -> None:
    (c / "l.csv").write_text(LIST + "x.wav\tb\n")


@pytest.mark.parametrize("case", [c.param() for c in [*EXPORT_TAU22, *PREDICT_TAU22]])
def test_refuses_bad_input_and_writes_nothing(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)


def test_the_cases_inputs_are_good_before_each_change(tmp_path: Path, shared, capfd) -> None:
    """The bundle and the device list the cases damage work as they are, so each case's error comes from its change."""
    from asckit.cli import main

    both(copy_of("bundle22"), _listing)(tmp_path, shared)
    out = tmp_path / "out.tsv"
    assert main(["predict", str(tmp_path / "bundle22"), str(shared["wav"]), "--devices", str(tmp_path / "l.csv"),
                 "--out", str(out), "--no-progress"]) == 0
    assert capfd.readouterr().err == "asckit: device models: b 1 file\n"
    assert json.loads(Path(f"{out}.source.json").read_text())["files"][0]["model"] == "device-b"
