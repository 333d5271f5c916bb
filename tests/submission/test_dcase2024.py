"""The DCASE 2024 submission package (asckit.submission.dcase2024): five splits written from
prediction files into one folder and zip, accepted by the checker; every rule of the official 2024
validator broken once, and asckit's own per-split rule; a split written again; differing complexity."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from asckit.cli import main
from asckit.labels import DEVICES, SCENES_10
from asckit.predictions.reader import write_predictions
from asckit.submission.dcase2024 import OWN_RULE, SPLITS, check_package, meta_name, output_name

LABEL = "Doe_ABC_task1_1"
ROWS = 12
COMPLEXITY = {"total_model_size": 122296, "total_parameters": 61148, "macs": 29419156}


def write_dev_root(base: Path) -> Path:
    """A TAU22 root whose development-test list has one clip per class, the nine devices in turn."""
    root = base / "dev"
    (root / "split_setup").mkdir(parents=True)
    names = [f"audio/{scene}-vienna-{2000 + i}-{50000 + i}-{i % 10}-{DEVICES[i % len(DEVICES)]}.wav" for i, scene in enumerate(SCENES_10)]
    rows = ["filename\tscene_label"] + [f"{n}\t{n.split('/')[1].split('-')[0]}" for n in names]
    (root / "split_setup" / "test.csv").write_text("\n".join(rows) + "\n")
    return root


def random_probs(n: int, seed: int) -> np.ndarray:
    p = np.random.default_rng(seed).random((n, len(SCENES_10))) + 0.01
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture
def inputs(tmp_path):
    root = write_dev_root(tmp_path)
    dev_names = [line.split("\t")[0] for line in (root / "split_setup" / "test.csv").read_text().splitlines()[1:]]
    paths = {"root": root, "info": tmp_path / "info.yaml"}
    for split in SPLITS:
        eval_names = [f"audio/{i}.wav" for i in range(ROWS)]
        paths[f"eval{split}"] = write_predictions(tmp_path / f"eval{split}.tsv", eval_names, random_probs(ROWS, split), "2024")
        paths[f"dev{split}"] = write_predictions(tmp_path / f"dev{split}.tsv", dev_names, random_probs(len(dev_names), 100 + split), "2024")
    paths["info"].write_text(yaml.safe_dump({"system": {"complexity": COMPLEXITY}}))
    return paths


def submit(inputs: dict, out: Path, split: int, *extra: str, dev: Path | None = None) -> int:
    return main([
        "submission", str(inputs[f"eval{split}"]), "--task", "2024", "--split", str(split), "--label", LABEL,
        "--dev", str(dev or inputs[f"dev{split}"]), "--root", str(inputs["root"]), "--rows", str(ROWS),
        "--out", str(out), *extra,
    ])


def test_five_splits_make_a_package_the_checker_accepts(tmp_path, inputs, capsys):
    out = tmp_path / "pkg"
    for split in SPLITS:
        assert submit(inputs, out, split, "--info", str(inputs["info"]), *(["--zip"] if split == 100 else [])) == 0
    meta = yaml.safe_load((out / meta_name(LABEL)).read_text())
    dev = meta["results"]["development_dataset"]
    assert list(dev) == [f"split_{s}" for s in SPLITS]
    assert set(dev["split_25"]) == {"overall", "class_wise", "device_wise"}
    assert list(dev["split_25"]["device_wise"]) == list(DEVICES)
    assert meta["system"]["complexity"] == COMPLEXITY
    # The placeholder author is corresponding and named as a placeholder; the checker warns about it.
    assert meta["submission"]["authors"][0]["corresponding"] is True and meta["submission"]["authors"][0]["lastname"] == "TODO"
    # One output per split, the evaluation rows with the header the validator wants.
    text = (out / output_name(LABEL, 5)).read_text().splitlines()
    assert text[0].split("\t") == ["filename", "scene_label", *SCENES_10] and len(text) == ROWS + 1
    with zipfile.ZipFile(tmp_path / "pkg.zip") as archive:
        assert sorted(archive.namelist()) == sorted(
            [f"task1/{LABEL}/{output_name(LABEL, s)}" for s in SPLITS] + [f"task1/{LABEL}/{meta_name(LABEL)}"]
        )
    for package in (out, tmp_path / "pkg.zip"):
        result = check_package(package, rows=ROWS)
        assert result.ok, result.problems
        assert any("authors[0].lastname" in w for w in result.warnings)
    capsys.readouterr()
    assert main(["submission-check", str(tmp_path / "pkg.zip"), "--task", "2024", "--rows", str(ROWS)]) == 0
    assert "follows the rules" in capsys.readouterr().out


def test_writing_a_split_again_replaces_its_own_entries_only(tmp_path, inputs):
    out = tmp_path / "pkg"
    info = tmp_path / "authors.yaml"
    info.write_text(yaml.safe_dump({"submission": {"abbreviation": "DoeNet"}, "system": {"complexity": COMPLEXITY}}))
    assert submit(inputs, out, 5, "--info", str(info)) == 0
    assert submit(inputs, out, 10, "--info", str(inputs["info"])) == 0
    before = yaml.safe_load((out / meta_name(LABEL)).read_text())
    ten = (out / output_name(LABEL, 10)).read_bytes()
    assert submit(inputs, out, 5, "--info", str(inputs["info"]), dev=inputs["dev50"]) == 0
    after = yaml.safe_load((out / meta_name(LABEL)).read_text())
    assert after["results"]["development_dataset"]["split_10"] == before["results"]["development_dataset"]["split_10"]
    assert after["results"]["development_dataset"]["split_5"] != before["results"]["development_dataset"]["split_5"]
    assert after["submission"]["abbreviation"] == "DoeNet"  # what an earlier call's --info set stays
    assert (out / output_name(LABEL, 10)).read_bytes() == ten


def test_a_split_with_another_complexity_is_refused(tmp_path, inputs, capsys):
    out = tmp_path / "pkg"
    assert submit(inputs, out, 5, "--info", str(inputs["info"])) == 0
    bigger = tmp_path / "bigger.yaml"
    bigger.write_text(yaml.safe_dump({"system": {"complexity": {**COMPLEXITY, "macs": 30_000_000}}}))
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert submit(inputs, out, 10, "--info", str(bigger)) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "split_5 were written with" in err and "one system" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files


# ------------------------------------------------------------------------------------ checker


def good_files() -> dict[str, str]:
    """A package's files by name, following every rule (ROWS evaluation rows)."""
    from asckit.submission.common import output_text
    from asckit.submission.dcase2024 import meta_document

    meta = meta_document(LABEL)
    meta["system"]["complexity"] = dict(COMPLEXITY)
    scores = {"accuracy": 50.0, "logloss": 1.5}
    meta["results"]["development_dataset"] = {
        f"split_{s}": {"overall": scores, "class_wise": dict.fromkeys(SCENES_10, scores), "device_wise": dict.fromkeys(DEVICES, scores)}
        for s in SPLITS
    }
    files = {meta_name(LABEL): yaml.safe_dump(meta)}
    for split in SPLITS:
        files[output_name(LABEL, split)] = output_text([f"audio/{i}.wav" for i in range(ROWS)], random_probs(ROWS, split), "2024")
    return files


def _meta(change):
    def apply(files: dict) -> None:
        meta = yaml.safe_load(files[meta_name(LABEL)])
        change(meta)
        files[meta_name(LABEL)] = yaml.safe_dump(meta)

    return apply


def _output(change):
    def apply(files: dict) -> None:
        lines = files[output_name(LABEL, 25)].splitlines()
        files[output_name(LABEL, 25)] = "\n".join(change(lines)) + "\n"

    return apply


def _author(**fields):
    return {"lastname": "Doe", "firstname": "J", "email": "j@x.org", "affiliation": {"institute": "X"}, **fields}


def _pop(*keys):
    def change(meta: dict) -> None:
        node = meta
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return change


def _set(value, *keys):
    def change(meta: dict) -> None:
        node = meta
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


def _cell(line: str, index: int, value: str) -> str:
    cells = line.split("\t")
    cells[index] = value
    return "\t".join(cells)


def _extra_file(files: dict) -> None:
    files["notes.txt"] = "x"


def _drop_output(files: dict) -> None:
    del files[output_name(LABEL, 50)]


RULES = [
    ("two corresponding authors", _meta(_set([_author(corresponding=True), _author(corresponding=True)], "submission", "authors")),
     "exactly one author as corresponding (found 2)"),
    ("no corresponding author", _meta(_set([_author()], "submission", "authors")), "exactly one author as corresponding (found 0)"),
    ("author without email", _meta(_set([{k: v for k, v in _author(corresponding=True).items() if k != "email"}], "submission", "authors")),
     "submission.authors[0] lacks email"),
    ("long abbreviation", _meta(_set("ElevenChars", "submission", "abbreviation")), "abbreviation is longer than 10"),
    ("submission without name", _meta(_pop("submission", "name")), "submission lacks name"),
    ("label of another task", _meta(_set("Doe_ABC_task1a_1", "submission", "label")), "task1a"),
    ("total_parameters not an int", _meta(_set("many", "system", "complexity", "total_parameters")), "total_parameters must be an integer"),
    ("complexity without macs", _meta(_pop("system", "complexity", "macs")), "system.complexity lacks macs"),
    ("description without pipeline", _meta(_pop("system", "description", "pipeline")), "system.description lacks pipeline"),
    ("system without source_code", _meta(_pop("system", "source_code")), "system lacks source_code"),
    ("external dataset without url", _meta(_set([{"name": "AudioSet", "total_audio_length": 1}], "system", "external_datasets")),
     "external_datasets[0] lacks url"),
    ("a split key missing", _meta(_pop("results", "development_dataset", "split_50")), "development_dataset lacks split_50"),
    ("11 fields in a row", _output(lambda lines: [*lines[:3], lines[3].rsplit("\t", 1)[0], *lines[4:]]), "line 4 has 11 fields, not 12"),
    ("a duplicate file", _output(lambda lines: [*lines[:-1], lines[1]]), "appears twice"),
    ("a file index too large", _output(lambda lines: [*lines[:-1], lines[-1].replace(f"audio/{ROWS - 1}.wav", f"audio/{ROWS}.wav")]),
     "outside 0..11.wav"),
    ("a row missing", _output(lambda lines: lines[:-1]), f"{ROWS - 1} unique files, expected {ROWS}"),
    ("an illegal scene label", _output(lambda lines: [lines[0], _cell(lines[1], 1, "beach"), *lines[2:]]), "scene_label 'beach' is not a class"),
    ("a probability not a number", _output(lambda lines: [lines[0], _cell(lines[1], 11, "x"), *lines[2:]]), "a probability is not a number"),
    ("a wrong header", _output(lambda lines: ["file\t" + lines[0].split("\t", 1)[1], *lines[1:]]), "header must be"),
    ("a misnamed file", _extra_file, "notes.txt is not <Label>.output.split_"),
    ("the output label differs", lambda files: files.__setitem__(output_name("Roe_ABC_task1_1", 5), files.pop(output_name(LABEL, 5))),
     "differs from submission.label"),
    ("own rule: a split's results lack device_wise", _meta(_pop("results", "development_dataset", "split_25", "device_wise")),
     f"({OWN_RULE}): results.development_dataset.split_25 lacks device_wise"),
    ("own rule: a split's logloss missing", _meta(_pop("results", "development_dataset", "split_5", "class_wise", "tram", "logloss")),
     "split_5.class_wise.tram needs accuracy and logloss"),
    ("own rule: an output missing", _drop_output, f"({OWN_RULE}): no output for split 50"),
]


@pytest.mark.parametrize(("change", "needle"), [pytest.param(c, n, id=i) for i, c, n in RULES])
def test_each_rule_broken_once_is_reported(tmp_path, change, needle):
    files = good_files()
    change(files)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    problems = check_package(tmp_path, rows=ROWS).problems
    assert problems, "no problem reported"
    assert any(needle in p for p in problems), problems


def test_the_zip_layout_is_checked(tmp_path):
    files = good_files()
    package = tmp_path / "p.zip"
    with zipfile.ZipFile(package, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"task1/{LABEL}/{name}", text)
    assert check_package(package, rows=ROWS).ok
    with zipfile.ZipFile(package, "w") as archive:  # the label folder differs; a file outside task1/
        for name, text in files.items():
            archive.writestr(f"task1/Roe_ABC_task1_1/{name}", text)
        archive.writestr("other/task1_notes.csv", "x")
    problems = check_package(package, rows=ROWS).problems
    assert any("folder name differs from submission.label" in p for p in problems), problems
    assert any("other/task1_notes.csv is not under task1/<Label>/" in p for p in problems), problems


def test_a_run_folder_gives_the_complexity_of_its_model(tmp_path, inputs):
    from conftest import write_run_dir

    from asckit.train.config import config_from_dict
    from asckit.train.run_dir import RunDir

    data = {"root": str(inputs["root"]), "store": str(tmp_path / "store"), "split": 25}
    config = config_from_dict({"name": "cpm", "task": "2024", "runs_dir": str(tmp_path / "runs"), "data": data, "model": {"name": "cp_mobile"},
                              "batch_augment": {"time_mask_max": 0}})
    run = RunDir(write_run_dir(config, {}))
    run.predictions("test").parent.mkdir()
    run.predictions("test").write_bytes(inputs["eval25"].read_bytes())
    run.predictions("evaluate").write_bytes(inputs["dev25"].read_bytes())
    out = tmp_path / "pkg"
    argv = ["submission", str(run.path), "--task", "2024", "--label", LABEL, "--rows", str(ROWS), "--out", str(out)]
    assert main([*argv, "--split", "25"]) == 0
    complexity = yaml.safe_load((out / meta_name(LABEL)).read_text())["system"]["complexity"]
    # The baseline's figures (reference/dcase2025 README §3): parameters at fp16, torchinfo's MACs.
    assert complexity == {"total_model_size": 122296, "total_parameters": 61148, "macs": 29419156}
    assert main([*argv, "--split", "5"]) == 2  # the run was trained on split 25


def _int8_bundle_2024(folder: Path) -> Path:
    """A hand-made TAU22 bundle of a 2024 run (``conftest.write_tau22_bundle``), described as deploying static
    int8 (its int8 file a copy of the fp32 one) with the baseline's figures at int8."""
    import json
    import shutil

    from conftest import write_tau22_bundle

    bundle = write_tau22_bundle(folder, devices=(), task="2024")
    shutil.copy(bundle / "general.fp32.onnx", bundle / "general.int8.onnx")
    data = json.loads((bundle / "bundle.json").read_text())
    data["members"][0]["files"]["int8"] = "general.int8.onnx"
    data.update(precision="int8", int8_mode="static",
                complexity={"param_bytes": 61148, "total_parameters": 61148, "macs": 29419156, "precision": "int8"})
    (bundle / "bundle.json").write_text(json.dumps(data))
    return bundle


def test_a_bundle_gives_the_figures_at_its_deployed_precision_and_must_have_made_the_outputs(tmp_path, inputs, capsys):
    import soundfile

    bundle = _int8_bundle_2024(tmp_path / "bundle")
    (tmp_path / "eval" / "audio").mkdir(parents=True)
    for i in range(ROWS):
        soundfile.write(tmp_path / "eval" / "audio" / f"{i}.wav", np.random.default_rng(i).uniform(-0.1, 0.1, 16000), 16000)
    evaluation = tmp_path / "eval.tsv"
    assert main(["predict", str(bundle), str(tmp_path / "eval" / "audio"), "--out", str(evaluation), "--no-progress"]) == 0
    out = tmp_path / "pkg"
    argv = ["submission", str(evaluation), "--task", "2024", "--split", "25", "--label", LABEL, "--dev", str(inputs["dev25"]),
            "--root", str(inputs["root"]), "--rows", str(ROWS), "--model", str(bundle), "--out", str(out)]
    assert main(argv) == 0
    meta = yaml.safe_load((out / meta_name(LABEL)).read_text())
    assert meta["system"]["complexity"] == {"total_model_size": 61148, "total_parameters": 61148, "macs": 29419156}  # int8: 1 B each
    assert meta["system"]["description"]["complexity_management"] == "int8 (static quantization, asckit export)"
    # predict keyed its rows by the machine's paths; the output names the files as the evaluation set does
    rows = (out / output_name(LABEL, 25)).read_text().splitlines()[1:]
    assert sorted(row.split("\t")[0] for row in rows) == sorted(f"audio/{i}.wav" for i in range(ROWS))
    capsys.readouterr()
    # Outputs the bundle did not make are refused: another file, the run's torch predictions, another precision.
    assert main([*argv[:1], str(inputs["eval25"]), *argv[2:]]) == 2
    assert "no provenance sidecar" in capsys.readouterr().err
    assert main(["predict", str(bundle), str(tmp_path / "eval" / "audio"), "--out", str(evaluation), "--precision", "fp32",
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(argv) == 2
    assert "made with the bundle's general.fp32.onnx, not the int8 files it deploys" in capsys.readouterr().err
