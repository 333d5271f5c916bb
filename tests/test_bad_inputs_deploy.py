"""Bad-input corpus (issue 15), after training: predict-split, evaluate, compare, fuse, export,
predict, submission, submission-check, augment and reproduce.

Each case asserts the exit status, the one error line and that nothing was written or changed
(``bad_input_corpus.check_case``); damaged bundles are copies of a real exported one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from bad_input_corpus import Case, both, check_case, copy_of, edit_json, wav, world, write


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    return world(tmp_path_factory)


def _predictions(change=None):
    """A setup that copies the shared evaluate predictions to ``c/p.tsv`` and changes its lines."""

    def setup(c: Path, w: dict) -> None:
        lines = Path(w["predictions"]).read_text().splitlines()
        (c / "p.tsv").write_text("\n".join(change(lines) if change else lines) + "\n")

    return setup


def _bundle(change):
    return copy_of("bundle", change)


def _bundle_json(change):
    return _bundle(edit_json("bundle.json", change))


def _swap_onnx(folder: Path) -> None:
    """Another model's graph under this bundle's member name (a 3-class small FCNN)."""
    import torch

    from asckit.deploy.export import export_onnx
    from asckit.models import build

    model = build("small_fcnn", num_classes=3, in_channels=3, width=0.25).eval()
    with torch.no_grad():
        export_onnx([model], folder / "tiny.fp32.onnx", (3, 128, 36), {"precision": "fp32"})


def _mp3(rel: str):
    """A setup that writes an MP3 file (libsndfile encodes it)."""

    def setup(c: Path, w: dict) -> None:
        import soundfile

        tone = (0.1 * np.sin(np.arange(44100) / 10)).astype(np.float32)
        soundfile.write(c / rel, tone, 44100, format="MP3")

    return setup


PREDICT = ["predict", "{c}/bundle", "{w_root}/audio", "--no-progress"]


def _predict(case_id: str, needles: tuple[str, ...], setup, argv=PREDICT, code: int = 2) -> Case:
    return Case(f"predict {case_id}", list(argv), needles, code, setup)


def _one_file(case_id: str, needles: tuple[str, ...], setup) -> Case:
    return Case(f"predict {case_id}", ["predict", "{w_bundle}", "{c}/x.wav", "--no-progress"], needles, 2, setup)


SPLIT = ["predict-split", "{w_run}", "--split", "evaluate", "--quiet"]
CSV = "evaluation_setup/fold1_evaluate.csv"

PREDICT_SPLIT = [
    Case("predict-split validation of a run that held out nothing", [*SPLIT[:3], "validation", "--out", "{c}/p.tsv"],
         ("--split validation", "data.validation.fraction"), 2),
    Case("predict-split missing run", ["predict-split", "{c}/none", "--split", "evaluate"]
         , ("not a run directory", "train one with `asckit train"), 2),
    Case("predict-split split bogus", [*SPLIT[:3], "bogus"], ("--split", "invalid choice", "choose from 'evaluate'"), 2),
    Case("predict-split out is a folder", [*SPLIT, "--out", "{c}/folder"]
         , ("is a folder", "give a file name there"), 2, write("folder/keep.txt", "")),
    Case("predict-split out under a file", [*SPLIT, "--out", "{c}/f.txt/p.tsv"]
         , ("is a file, not a folder", "give an output path inside a folder"), 2, write("f.txt", "")),
    Case("predict-split snapshots above the run's", [*SPLIT, "--snapshots", "5", "--out", "{c}/p.tsv"],
         ("--snapshots 5", "use at most 1"), 2),
    Case("predict-split store missing", [*SPLIT, "--store", "{c}/none", "--root", "{w_root}", "--out", "{c}/p.tsv"],
         ("not a feature store", "create one with `asckit features"), 2),
    Case("predict-split store other settings", [*SPLIT, "--store", "{c}/store", "--root", "{w_root}", "--out", "{c}/p.tsv"],
         ("made with other settings than the run's training store", "extract them with the same"),
         2, copy_of("store", edit_json("manifest.json", lambda m: m["settings"].update(n_mels=64)))),
    Case("predict-split root without the split", [*SPLIT, "--root", "{c}/tau", "--out", "{c}/p.tsv"]
         , ("fold1_evaluate.csv: not found", "`asckit data check"), 2,
         copy_of("root", lambda r: (r / CSV).unlink())),
    Case("predict-split root with ../ names", [*SPLIT, "--root", "{c}/tau", "--out", "{c}/p.tsv"]
         , ("leads out of the dataset root", "list files under the dataset root"), 2,
         copy_of("root", lambda r: (r / CSV).write_text("filename\tscene_label\n../x.wav\tbus\n"))),
    Case("predict-split clips not in the store", [*SPLIT, "--root", "{c}/tau", "--out", "{c}/p.tsv"]
         , ("not in the feature store", "run `asckit features` on the dataset first"), 2,
         copy_of("root", lambda r: (r / CSV).write_text("filename\tscene_label\naudio/bus-oslo-1-1-a.wav\tbus\n"))),
    Case("predict-split out names the store", [*SPLIT, "--store", "{c}/store", "--root", "{w_root}", "--out", "{c}/store"],
         ("is also an input of this command", "give another output path"), 2, copy_of("store")),
]

EVALUATE = [
    Case("evaluate missing predictions", ["evaluate", "{c}/none.tsv", "--root", "{w_root}"], ("prediction file not found", "check the path"), 2),
    Case("evaluate out is a file", ["evaluate", "{w_predictions}", "--root", "{w_root}", "--out", "{c}/f.txt"]
         , ("is a file", "--out names the folder for metrics.json"), 2,
         write("f.txt", "mine")),
    Case("evaluate split bogus", ["evaluate", "{w_predictions}", "--root", "{w_root}", "--split", "bogus", "--out", "{c}/e"],
         ("unknown split 'bogus'", "use one of train, evaluate, test"), 2),
    Case("evaluate missing root", ["evaluate", "{w_predictions}", "--root", "{c}/none", "--out", "{c}/e"]
         , ("the dataset root does not exist", "check the path"), 2),
    Case("evaluate NaN probabilities", ["evaluate", "{c}/p.tsv", "--root", "{w_root}", "--out", "{c}/e"]
         , ("p.tsv", "not a finite probability", "write a number in every class column"), 2,
         _predictions(lambda lines: [lines[0], *[line.replace("0.0", "nan", 1) for line in lines[1:]]])),
    Case("evaluate unknown label column", ["evaluate", "{c}/p.tsv", "--root", "{w_root}", "--out", "{c}/e"]
         , ("p.tsv", "unknown class columns airprot", "the class columns must be exactly"), 2,
         _predictions(lambda lines: [lines[0].replace("airport", "airprot"), *lines[1:]])),
    Case("evaluate empty predictions", ["evaluate", "{c}/p.tsv", "--root", "{w_root}", "--out", "{c}/e"]
         , ("p.tsv", "header ''", "it must be filename, scene_label"), 2,
         write("p.tsv", "")),
    Case("evaluate clips of another split", ["evaluate", "{c}/p.tsv", "--root", "{w_root}", "--out", "{c}/e"]
         , ("p.tsv", "list different clips", "both must cover the same clips"), 2,
         _predictions(lambda lines: [lines[0], lines[1].replace("airport-vienna", "airport-oslo")])),
    Case("evaluate out names the dataset root", ["evaluate", "{w_predictions}", "--root", "{c}/tau", "--out", "{c}/tau"],
         ("is also an input of this command", "give another output path"), 2, copy_of("root")),
]

COMPARE = [
    Case("compare split bogus", ["compare", "{w_predictions}", "{w_predictions}", "--root", "{w_root}", "--split", "bogus"],
         ("--split", "invalid choice", "choose from 'train', 'evaluate'"), 2),
    Case("compare one file twice as two seeds", ["compare", "{w_predictions},{w_predictions}", "{w_predictions}", "--root", "{w_root}"],
         ("listed twice", "list each once"), 2),
    Case("compare empty item", ["compare", "{w_predictions},", "{w_predictions}", "--root", "{w_root}"],
         ("empty file name", "give A.tsv or A1.tsv,A2.tsv"), 2),
    Case("compare missing file", ["compare", "{c}/none.tsv", "{w_predictions}", "--root", "{w_root}"]
         , ("none.tsv", "not found", "check the path"), 2),
    Case("compare draws 10", ["compare", "{w_predictions}", "{w_predictions}", "--root", "{w_root}", "--draws", "10"],
         ("--draws 10", "use at least 100 resamples"), 2),
    Case("compare different clips", ["compare", "{c}/p.tsv", "{w_predictions}", "--root", "{w_root}"]
         , ("p.tsv", "list different clips", "both must cover the same clips"), 2,
         _predictions(lambda lines: lines[:-1])),
]

FUSE = [
    Case("fuse out is a folder", ["fuse", "--average", "{w_predictions}", "{c}/p.tsv", "--out", "{c}/folder"]
         , ("is a folder", "give a file name there"), 2,
         both(_predictions(), write("folder/keep.txt", ""))),
    Case("fuse missing input", ["fuse", "--average", "{w_predictions}", "{c}/none.tsv", "--out", "{c}/o.tsv"]
         , ("none.tsv", "prediction file not found", "check the path"), 2),
    Case("fuse one file", ["fuse", "--average", "{w_predictions}", "--out", "{c}/o.tsv"], ("give two or more prediction files",), 2),
    Case("fuse different clips", ["fuse", "--average", "{w_predictions}", "{c}/p.tsv", "--out", "{c}/o.tsv"]
         , ("p.tsv", "list different clips", "both must cover the same clips"), 2,
         _predictions(lambda lines: lines[:-1])),
    Case("fuse weights of another length", ["fuse", "--average", "{w_predictions}", "{c}/p.tsv", "--weights", "1", "--out", "{c}/o.tsv"],
         ("1 weights for 2 members", "one weight per member"), 2, _predictions()),
    Case("fuse logistic without fit-on", ["fuse", "--logistic", "{w_predictions}", "{c}/p.tsv", "--out", "{c}/o.tsv"],
         ("--fit-on", "fit it with", "or give --fusion-model"), 2, _predictions()),
    Case("fuse out names an input", ["fuse", "--average", "{c}/p.tsv", "{w_predictions}", "--out", "{c}/p.tsv"],
         ("is also an input of this command", "give another output path"), 2, _predictions()),
    Case("fuse save-fusion names a member", ["fuse", "--logistic", "{c}/p.tsv", "{w_predictions}", "--fit-on", "{c}/p.tsv", "{w_predictions}",
                                              "--truth", "{w_root}/meta.csv", "--save-fusion", "{c}/p.tsv", "--out", "{c}/o.tsv"],
         ("--save-fusion", "is also an input of this command", "give another output path"), 2, _predictions()),
    Case("fuse out and save-fusion one file", ["fuse", "--logistic", "{c}/p.tsv", "{w_predictions}", "--fit-on", "{c}/p.tsv",
                                                "{w_predictions}", "--truth", "{w_root}/meta.csv", "--save-fusion", "{c}/o", "--out", "{c}/o"],
         ("--out and --save-fusion both name", "give each its own file"), 2, _predictions()),
]

EXPORT = [
    Case("export missing run", ["export", "{c}/none", "--fp32-only", "--out", "{c}/b"], ("not a run directory", "train one with `asckit train"), 2),
    Case("export out is a file", ["export", "{w_run}", "--fp32-only", "--out", "{c}/f.txt"]
         , ("is a file", "--out names the bundle folder"), 2, write("f.txt", "mine")),
    Case("export out is another folder", ["export", "{w_run}", "--fp32-only", "--out", "{c}/mine"]
         , ("not an export bundle", "choose another --out folder"), 2,
         write("mine/notes.txt", "mine")),
    Case("export over the budget", ["export", "{w_run}", "--fp32-only", "--out", "{c}/b", "--budget-kb", "1"],
         ("over the 1 KB budget", "use fewer or narrower members"), 2),
    Case("export snapshots above the run's", ["export", "{w_run}", "--fp32-only", "--out", "{c}/b", "--snapshots", "4"],
         ("--snapshots 4", "holds 1 snapshot(s); use at most 1"), 2),
    Case("export missing fusion", ["export", "{w_run}", "--fp32-only", "--out", "{c}/b", "--fusion", "{c}/none.json"]
         , ("none.json", "fusion model not found", "check the path"), 2),
    Case("export run without checkpoints", ["export", "{c}/tiny", "--fp32-only", "--out", "{c}/b"], ("no checkpoints", "train the run first"), 2,
         copy_of("run", lambda r: shutil.rmtree(r / "checkpoints"))),
    Case("export NaN weights", ["export", "{c}/tiny", "--fp32-only", "--out", "{c}/b"], ("NaN or infinite", "retrain"), 2,
         copy_of("run", lambda r: _poison_checkpoints(r))),
    Case("export int8 mode bogus", ["export", "{w_run}", "--int8", "bogus", "--out", "{c}/b"]
         , ("--int8", "invalid choice", "choose from 'static', 'dynamic'"), 2),
    Case("export two runs of one name", ["export", "{w_run}", "{w_run}", "--fp32-only", "--out", "{c}/b"], ("same folder name", "rename one"), 2),
    Case("export several runs without --out", ["export", "{w_run}", "{c}/other"]
         , ("export of several runs", "give the bundle folder with --out"), 2, copy_of("run", rel="other")),
    Case("export out names the run", ["export", "{c}/tiny", "--fp32-only", "--out", "{c}/tiny"],
         ("is also an input of this command", "give another output path"), 2, copy_of("run")),
    Case("export out holds the run", ["export", "{c}/tiny", "--fp32-only", "--out", "{c}"],
         ("holds an input of this command", "give another output folder"), 2, copy_of("run")),
]


def _poison_checkpoints(run: Path) -> None:
    import torch

    for path in (run / "checkpoints").glob("*.ckpt"):
        checkpoint = torch.load(path, weights_only=False)
        for tensor in checkpoint["state_dict"].values():
            if tensor.is_floating_point():
                tensor.fill_(float("nan"))
        torch.save(checkpoint, path)


PREDICT_CASES = [
    _predict("missing model", ("no such model", "give an export folder or an .onnx file"), None, ["predict", "{c}/none", "{w_root}/audio"]),
    _predict("folder without bundle.json", ("no bundle.json", "give an export folder written by `asckit export`"), write("bundle/x.txt", "")),
    _predict("bundle.json not JSON", ("not a readable bundle description", "re-export the model"),
         _bundle(lambda b: (b / "bundle.json").write_text("{oops"))),
    _predict("bundle.json array", ("bundle.json: damaged", "not an object", "re-export"), _bundle(lambda b: (b / "bundle.json").write_text("[]"))),
    _predict("bundle version text", ("damaged bundle description", "re-export the model"), _bundle_json(lambda d: d.update(version="x"))),
    _predict("bundle version 99", ("newer than this asckit", "upgrade asckit"), _bundle_json(lambda d: d.update(version=99))),
    _predict("members not a list", ("damaged bundle description", "re-export the model"), _bundle_json(lambda d: d.update(members="x"))),
    _predict("member not an object", ("damaged bundle description", "re-export the model"), _bundle_json(lambda d: d.update(members=["x"]))),
    _predict("no members", ("lists no member models", "re-export it"), _bundle_json(lambda d: d.update(members=[]))),
    _predict("member file missing", ("member model file missing", "re-export it"), _bundle(lambda b: (b / "tiny.fp32.onnx").unlink())),
    _predict("member path outside", ("plain name inside the bundle", "re-export the model"),
             _bundle_json(lambda d: d["members"][0]["files"].update(fp32="../x.onnx"))),
    _predict("member weight -1", ("member weights", "must be non-negative numbers", "re-export the model"),
         _bundle_json(lambda d: d["members"][0].update(weight=-1))),
    _predict("member onnx garbage", ("ONNX Runtime cannot load it", "re-export the model"),
         _bundle(lambda b: (b / "tiny.fp32.onnx").write_text("garbage"))),
    _predict("another model's onnx", ("tiny.fp32.onnx", "gives 3 scores per clip", "10 classes", "re-export"), _bundle(_swap_onnx)),
    _predict("9 classes over 10 outputs", ("10 scores per clip", "9 classes", "re-export"),
         _bundle_json(lambda d: d.update(classes=d["classes"][:9]))),
    _predict("sample_rate 0", ("features.sample_rate 0", "re-export it with `asckit export`"),
         _bundle_json(lambda d: d["features"].update(sample_rate=0))),
    _predict("window seconds 0", ("window.seconds 0", "re-export it with `asckit export`"), _bundle_json(lambda d: d["window"].update(seconds=0))),
    _predict("window seconds nan", ("window.seconds nan", "re-export it with `asckit export`"),
         _bundle_json(lambda d: d["window"].update(seconds="nan"))),
    _predict("window missing", ("incomplete model description", "re-export it with `asckit export`"),
         _bundle_json(lambda d: d.__delitem__("window"))),
    _predict("features not an object", ("incomplete model description", "re-export it with `asckit export`"),
         _bundle_json(lambda d: d.update(features="x"))),
    _predict("channels 3", ("channels 3", "re-export it with `asckit export`"), _bundle_json(lambda d: d["features"].update(channels=3))),
    _predict("mel.npy missing", ("cannot read the mel matrix", "re-export the model"), _bundle(lambda b: (b / "mel.npy").unlink())),
    _predict("mel.npy of other shape", ("mel matrix has shape", "re-export the model"), _bundle(lambda b: np.save(b / "mel.npy", np.zeros((4, 4),
         np.float32)))),
    _predict("fusion unknown", ("unknown fusion", "use 'average' or 'logistic'"), _bundle_json(lambda d: d.update(fusion={"method": "vote"}))),
    _predict("precision bogus", ("--precision", "invalid choice", "choose from 'int8', 'fp16', 'fp32'"),
         None, [*PREDICT[:1], "{w_bundle}", "{w_root}/audio", "--precision", "fp8"]),
    _predict("fp16 absent", ("no fp16 file", "export with that precision or predict with --precision fp32"),
         None, [*PREDICT[:1], "{w_bundle}", "{w_root}/audio", "--precision", "fp16"]),
    _predict("int8 absent", ("no int8 file", "export with that precision"),
         None, [*PREDICT[:1], "{w_bundle}", "{w_root}/audio", "--precision", "int8"]),
    _predict("out is a folder", ("is a folder", "give a file name there"), write("folder/keep.txt", ""),
             [*PREDICT[:1], "{w_bundle}", "{w_root}/audio", "--out", "{c}/folder", "--no-progress"]),
    _predict("windows is a folder", ("is a folder", "give a file name there"), write("folder/keep.txt", ""),
             [*PREDICT[:1], "{w_bundle}", "{w_root}/audio", "--windows", "{c}/folder", "--no-progress"]),
    _predict("onnx file garbage", ("ONNX Runtime cannot load it", "give a model written by `asckit export`"), write("x.onnx", "garbage"),
             ["predict", "{c}/x.onnx", "{w_root}/audio"]),
    _one_file("NaN audio", ("x.wav", "NaN or infinite", "repair or remove this file"), wav("x.wav", np.full(44100, np.nan, dtype=np.float32))),
    _one_file("inf audio", ("x.wav", "NaN or infinite", "repair or remove this file"), wav("x.wav", np.r_[np.zeros(100), np.inf].astype(np.float32))),
    _one_file("text as audio", ("x.wav", "not a readable audio file", "convert it to WAV or FLAC"), write("x.wav", "text")),
    _one_file("empty audio", ("x.wav", "holds no samples", "give a recording with sound in it"), wav("x.wav", np.zeros(0, dtype=np.float32))),
    _one_file("silence", ("x.wav", "digital silence", "give a recording with sound in it"), wav("x.wav", np.zeros(44100, dtype=np.float32))),
    _one_file("missing file", ("x.wav", "no such file or folder", "check the path"), None),
    Case("predict out names a recording", ["predict", "{w_bundle}", "{c}/x.wav", "--out", "{c}/x.wav", "--no-progress"],
         ("is also an input of this command", "give another output path"), 2, wav("x.wav", np.full(44100, 0.1, dtype=np.float32))),
    Case("predict out and windows one file", [*PREDICT, "--out", "{c}/p.tsv", "--windows", "{c}/p.tsv"],
         ("--out and --windows both name", "give each its own file"), 2, copy_of("bundle")),
    Case("predict folder with an unreadable file", ["predict", "{w_bundle}", "{c}/rec", "--out", "{c}/p.tsv", "--no-progress"],
         ("rec/bad.wav", "not a readable audio file", "convert it to WAV or FLAC"), 1,
         both(write("rec/bad.wav", "text"), wav("rec/good.wav", np.full(44100, 0.1, dtype=np.float32))),
         may_write=("p.tsv", "p.tsv.source.json"),
         extra=lambda c, w: _rows_of(c / "p.tsv", ["good.wav"])),
    Case("predict folder of unreadable files", ["predict", "{w_bundle}", "{c}/rec", "--out", "{c}/p.tsv", "--no-progress"],
         ("none of the 2 file(s) could be classified", "nothing written"), 1, both(write("rec/a.wav", "text"), write("rec/b.wav", "text"))),
    Case("predict MP3 audio", ["predict", "{w_bundle}", "{c}/x.mp3", "--no-progress"],
         ("x.mp3: MP3 audio is not supported", "WAV and FLAC"), 2, _mp3("x.mp3")),
]

SUBMISSION = [
    Case("submission missing source", ["submission", "{c}/none", "--task", "1a", "--label", "A_B_task1a_1", "--out", "{c}/s"],
         ("none", "no such run folder or prediction file", "check the path"), 2),
    Case("submission predictions without dev",
         ["submission", "{w_predictions}", "--task", "1a", "--label", "A_B_task1a_1", "--out", "{c}/s"],
         ("with a prediction file", "give --dev DEV.tsv and --root DEV_ROOT"), 2),
    Case("submission bad label", ["submission", "{w_predictions}", "--task", "1a", "--label", "bad label", "--dev", "{w_predictions}",
                                  "--root", "{w_root}", "--out", "{c}/s"], ("label 'bad label' must be <Lastname>_<Institute>_task1a_<1-4>",), 2),
    Case("submission bundle of another task",
         ["submission", "{w_predictions}", "--task", "1a", "--label", "A_B_task1a_1", "--dev", "{w_predictions}", "--root", "{w_root}",
          "--model", "{c}/bundle", "--out", "{c}/s", "--rows", "3"], ("bundle of task 1b", "give --model the bundle of the submitted system"), 2,
         _bundle_json(lambda d: d.update(task="1b", classes=["indoor", "outdoor", "transportation"]))),
    Case("submission task bogus", ["submission", "{w_predictions}", "--task", "1c", "--label", "A_B_task1a_1"]
         , ("--task", "invalid choice", "choose from '1a', '1b'"), 2),
    Case("submission-check missing files", ["submission-check", "{c}/a.output.csv", "{c}/a.meta.yaml", "--task", "1a"],
         ("a.output.csv", "file not found", "check the path"), 1, stdout=True),
    Case("submission-check rows 0", ["submission-check", "{c}/a.output.csv", "{c}/a.meta.yaml", "--task", "1a", "--rows", "0"],
         ("--rows", "0 is too small; use 1 or more"), 2),
    Case("submission-check no task", ["submission-check", "{c}/a.output.csv", "{c}/a.meta.yaml"]
         , ("the following arguments are required: --task", "see asckit submission-check --help"), 2),
    Case("submission out names the dev predictions",
         ["submission", "{w_predictions}", "--task", "1a", "--label", "A_B_task1a_1", "--dev", "{c}/p.tsv", "--root", "{w_root}",
          "--out", "{c}/p.tsv"], ("is also an input of this command", "give another output path"), 2, _predictions()),
]

AUGMENT = [
    Case("augment store missing", ["augment", "{w_root}", "--kind", "noise", "--out", "{c}/none", "--quiet"]
         , ("not a feature store", "create one with `asckit features"), 2),
    Case("augment kind bogus", ["augment", "{w_root}", "--kind", "bogus", "--out", "{c}/store", "--quiet"]
         , ("--kind", "invalid choice", "choose from 'noise'"), 2,
         copy_of("store")),
    Case("augment noise-snr nan", ["augment", "{w_root}", "--kind", "noise", "--out", "{c}/store", "--noise-snr", "nan", "--quiet",
                                   "--workers", "1"]
                                   , ("--noise-snr", "not a finite number; give one such as"), 2, copy_of("store"), may_write=("store/augment",),
         extra=lambda c, w: _store_unchanged(c / "store", w["store"])),
    Case("augment noise-snr -100", ["augment", "{w_root}", "--kind", "noise", "--out", "{c}/store", "--noise-snr", "-100", "--quiet"],
         ("--noise-snr", "is outside -20 to 100", "below -20 dB"), 2, copy_of("store")),
    Case("augment copies 0", ["augment", "{w_root}", "--kind", "noise", "--out", "{c}/store", "--copies", "0", "--quiet"]
         , ("--copies", "0 is too small; use 1 or more"), 2,
         copy_of("store")),
    Case("augment damaged store", ["augment", "{w_root}", "--kind", "noise", "--out", "{c}/store", "--quiet"]
         , ("manifest.json: damaged", "delete the store folder"), 2,
         copy_of("store", lambda s: (s / "manifest.json").write_text("[]"))),
    Case("augment damaged record", ["augment", "{w_root}", "--kind", "noise", "--out", "{c}/store", "--quiet", "--workers", "1"],
         ("noise.json", "damaged", "write to a new --out store"), 2, copy_of("store", lambda s: _noise_rows_with_damaged_record(s))),
    Case("augment root with ../ names", ["augment", "{c}/tau", "--kind", "noise", "--out", "{c}/store", "--quiet"],
         ("leads out of the dataset root", "list files under the dataset root"), 2,
         both(copy_of("store"), copy_of("root", lambda r: (r / "evaluation_setup/fold1_train.csv").write_text(
             "filename\tscene_label\n../../x.wav\tbus\n")))),
    Case("augment out is the dataset root", ["augment", "{c}/tau", "--kind", "noise", "--out", "{c}/tau", "--quiet"],
         ("is also an input of this command", "give another output path"), 2, copy_of("root")),
]


def _rows_of(path: Path, names: list[str]) -> None:
    """The prediction file ``path`` holds one row per file of ``names`` (by file name), in that order."""
    rows = path.read_text().splitlines()[1:]
    assert [Path(row.split("\t")[0]).name for row in rows] == names, rows


def _store_unchanged(store: Path, intact: Path) -> None:
    for name in ("manifest.json", "rows.tsv", "data.f16"):
        assert (store / name).read_bytes() == (intact / name).read_bytes(), name


def _noise_rows_with_damaged_record(store: Path) -> None:
    from asckit.features.store import FeatureStore

    opened = FeatureStore.open(store, writable=True)
    opened.append(["audio/x.wav#noise"], np.zeros((1, *opened.shape), dtype=np.float16), kind="noise", sources=["audio/x.wav"])
    opened.close()
    (store / "augment").mkdir(exist_ok=True)
    (store / "augment" / "noise.json").write_text("{oops")


def _experiment(models: dict, synth: bool = True):
    """A setup writing ``c/e.yaml``: one system per model, data, stores and runs under ``c`` (never made)."""

    def setup(c: Path, w: dict) -> None:
        import yaml

        spec = {
            "name": "e", "title": "e", "runs": str(c / "runs"),
            "dataset": {"root": str(c / "data"), "stores": {"s": {"path": str(c / "store")}},
                        **({"synth": {"preset": "tiny"}} if synth else {})},
            "models": {k: {"config": v(c, w) if callable(v) else v, "set": ["trainer.accelerator=cpu"]} for k, v in models.items()},
            "systems": [{"row": f"({i})", "name": k, "run": k} for i, k in enumerate(models)],
        }
        (c / "e.yaml").write_text(yaml.safe_dump(spec))

    return setup


def _broken_config(c: Path, w: dict) -> str:
    (c / "broken.yaml").write_text(Path(w["config"]).read_text().replace("epochs: 1", "epochs: 0"))
    return str(c / "broken.yaml")


_GOOD = {f"m{i}": lambda c, w: str(w["config"]) for i in range(4)}

REPRODUCE = [
    Case("reproduce unknown experiment", ["reproduce", "bogus"],
         ("bogus", "no experiment of that name ships with asckit", "shipped: demo, table1, task1b"), 2),
    Case("reproduce missing experiment path", ["reproduce", "{c}/none.yaml"]
         , ("none.yaml", "experiment file not found", "give the path of an experiment YAML"), 2),
    Case("reproduce YAML not a mapping", ["reproduce", "{c}/e.yaml"]
         , ("e.yaml", "holds a YAML list, not an experiment", "an experiment file is a mapping"), 2, write("e.yaml", "- a\n")),
    Case("reproduce missing model config", ["reproduce", "{c}/e.yaml"]
         , ("e.yaml: model m4: config", "nope.yaml not found", "relative config paths are read from"), 2,
         _experiment({**_GOOD, "m4": "configs/nope.yaml"})),
    Case("reproduce shipped config written relative to another project", ["reproduce", "{c}/e.yaml"],
         ("e.yaml: model m4: config", "read from", "asckit ships", "configs/task1a/fcnn.yaml"), 2,
         _experiment({**_GOOD, "m4": "configs/task1a/fcnn.yaml"})),
    Case("reproduce invalid fifth model config", ["reproduce", "{c}/e.yaml", "--dry-run"],
         ("e.yaml: model m4:", "broken.yaml", "epochs must be ≥ 1"), 2, _experiment({**_GOOD, "m4": _broken_config})),
    Case("reproduce missing dataset without synth", ["reproduce", "{c}/e.yaml", "--dry-run"],
         ("data: dataset root not found", "pass --root or download it"), 2, _experiment(_GOOD, synth=False)),
]

ALL = [*PREDICT_SPLIT, *EVALUATE, *COMPARE, *FUSE, *EXPORT, *PREDICT_CASES, *SUBMISSION, *AUGMENT, *REPRODUCE]


@pytest.mark.parametrize("case", [c.param() for c in ALL])
def test_refuses_bad_input_and_writes_nothing(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)


def test_export_of_an_unfinished_run_says_so(tmp_path: Path, shared, capsys) -> None:
    from asckit.cli import main

    run = tmp_path / "tiny"
    shutil.copytree(shared["run"], run)
    (run / "finished.json").unlink()
    assert main(["export", str(run), "--fp32-only", "--out", str(tmp_path / "b")]) == 0
    assert "has not finished training" in capsys.readouterr().err
    assert json.loads((tmp_path / "b" / "bundle.json").read_text())["precision"] == "fp32"


def test_predict_warns_about_a_recording_far_shorter_than_the_model_window(tmp_path: Path, shared, capsys) -> None:
    from asckit.cli import main

    wav("one.wav", np.full(1, 0.5, dtype=np.float32))(tmp_path, shared)
    assert main(["predict", str(shared["bundle"]), str(tmp_path / "one.wav"), "--no-progress"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "one.wav: only 0.000 s long" in warnings[0]
