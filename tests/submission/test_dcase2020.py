"""Tests for asckit.submission.dcase2020: DCASE 2020 Task 1 output and meta files, and their checker.

A 10-clip development split (every class, every device a..s6) gives the development results;
evaluation outputs use a small ``rows`` count instead of the official 11,880 / 8,640.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from asckit.cli import main
from asckit.deploy.bundle import Bundle, BundleMember, ModelInfo, member_file_name
from asckit.features.logmel import settings_for
from asckit.labels import DEVICES, SCENES_3, SCENES_10
from asckit.labels import classes as classes_of
from asckit.predictions.reader import write_predictions
from asckit.submission.dcase2020 import (
    EXPECTED_ROWS,
    check_label,
    check_meta,
    check_output_text,
    check_submission,
    development_results,
    meta_document,
    output_text,
    write_submission,
)

LABEL = "Hu_GT_task1a_1"
ROWS = 12


def dev_root(tmp_path: Path) -> tuple[Path, list[str]]:
    """A root whose evaluate split has one clip per class, the devices a, b, c, s1..s6 in turn."""
    root = tmp_path / "dev"
    (root / "evaluation_setup").mkdir(parents=True)
    names = [f"audio/{scene}-vienna-{2000 + i}-{50000 + i}-{DEVICES[i % len(DEVICES)]}.wav" for i, scene in enumerate(SCENES_10)]
    rows = ["filename\tscene_label"] + [f"{n}\t{n.split('/')[1].split('-')[0]}" for n in names]
    (root / "evaluation_setup" / "fold1_evaluate.csv").write_text("\n".join(rows) + "\n")
    return root, names


def random_probs(n: int, classes: int, seed: int) -> np.ndarray:
    p = np.random.default_rng(seed).random((n, classes)) + 0.01
    return p / p.sum(axis=1, keepdims=True)


def fake_bundle(path: Path, total: int = 123_456, task: str = "1a") -> Path:
    """A two-member bundle description written by ``Bundle`` (the graph files are not needed:
    the submission reads only bundle.json)."""
    info = ModelInfo.for_features(task, classes_of(task), settings_for(task))
    members = tuple(BundleMember(name, {"int8": member_file_name(name, "int8")}) for name in ("fcnn", "resnet"))
    complexity = {"total_parameters": total, "total_parameters_non_zero": total - 6, "dcase_kb": 120.5}
    Bundle(info, members, complexity=complexity).write(path)
    return path


INFO = {
    "submission": {
        "name": "asckit reproduction",
        "abbreviation": "asckit",
        "authors": [
            {"lastname": "Doe", "firstname": "Jane", "email": "jane@example.org", "corresponding": True,
             "affiliation": {"abbreviation": "EX", "institute": "Example", "location": "Somewhere"}},
        ],
    },
    "system": {"source_code": "https://example.org/asckit"},
}


# ------------------------------------------------------------------------------------ oracle
# The challenge's rules for a submission, re-derived here from the task's published rules (the
# DCASE 2020 Task 1 submission instructions and the organisers' validator), without asckit's code:
# the judge of what asckit.submission.dcase2020 writes, and a second opinion on what its checker rejects.

OFFICIAL_CLASSES = {
    "1a": ["airport", "bus", "metro", "metro_station", "park", "public_square", "shopping_mall", "street_pedestrian",
           "street_traffic", "tram"],
    "1b": ["indoor", "outdoor", "transportation"],
}
OFFICIAL_DEVICES = ["a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6"]  # device_wise results, 1a only
OFFICIAL_DESCRIPTION = ["input_sampling_rate", "acoustic_features", "embeddings", "data_augmentation", "machine_learning_method",
                        "ensemble_method_subsystem_count", "decision_making", "external_data_usage"]


def official_problems(output: Path, meta_path: Path, task: str, rows: int) -> list[str]:
    """Everything the official rules reject in a submission's two files (empty: accepted)."""
    problems = []
    label = output.name.removesuffix(".output.csv")
    parts = label.split("_")
    if output.name != f"{label}.output.csv" or meta_path.name != f"{label}.meta.yaml":
        problems.append("files must be <label>.output.csv and <label>.meta.yaml")
    if len(parts) != 4 or parts[2] != f"task{task}" or parts[3] not in {"1", "2", "3", "4"}:
        problems.append(f"label {label} is not Lastname_Institute_task{task}_<1-4>")
    problems += official_output_problems(output.read_text(), task, rows)
    meta = yaml.safe_load(meta_path.read_text())
    problems += official_meta_problems(meta, task)
    if meta.get("submission", {}).get("label") != label:
        problems.append("meta label differs from the file names")
    return problems


def official_output_problems(text: str, task: str, rows: int) -> list[str]:
    header, *lines = text.splitlines()
    fields = ["filename", "scene_label", *OFFICIAL_CLASSES[task]]
    problems = [] if header.split("\t") == fields else ["header"]
    seen = set()
    for n, line in enumerate(lines, 1):
        row = line.split("\t")
        base = row[0].rsplit("/", 1)[-1]
        stem, dot, extension = base.rpartition(".")
        if base in seen:
            problems.append(f"row {n}: duplicate")
        seen.add(base)
        if not (dot and extension == "wav" and stem.isdigit() and 0 <= int(stem) < rows):
            problems.append(f"row {n}: file name")
        if len(row) != len(fields):
            problems.append(f"row {n}: field count")
            continue
        if row[1] not in OFFICIAL_CLASSES[task]:
            problems.append(f"row {n}: scene label")
        try:
            [float(v) for v in row[2:]]
        except ValueError:
            problems.append(f"row {n}: probability")
    if len(seen) != rows:
        problems.append("unique file count")
    return problems


def official_meta_problems(meta: dict, task: str) -> list[str]:
    def lacks(block, keys, where):
        return [f"{where} lacks {k}" for k in keys if not isinstance(block, dict) or k not in block]

    problems = lacks(meta, ["submission", "system", "results"], "meta")
    if problems:
        return problems
    submission, system = meta["submission"], meta["system"]
    problems += lacks(submission, ["label", "name", "abbreviation", "authors"], "submission")
    for author in submission.get("authors", []):
        problems += lacks(author, ["lastname", "firstname", "email", "affiliation"], "author")
    if sum(bool(a.get("corresponding")) for a in submission.get("authors", [])) != 1:
        problems.append("one corresponding author")
    if len(str(submission.get("abbreviation", ""))) > 10:
        problems.append("abbreviation over 10 characters")
    problems += lacks(system, ["description", "complexity", "external_datasets", "source_code"], "system")
    problems += lacks(system.get("description"), OFFICIAL_DESCRIPTION + (["complexity_management"] if task == "1b" else []), "description")
    complexity = ["total_parameters"] + (["total_parameters_non_zero", "model_size"] if task == "1b" else [])
    problems += lacks(system.get("complexity"), complexity, "complexity")
    if not isinstance(system.get("complexity", {}).get("total_parameters"), int):
        problems.append("total_parameters is not an integer")
    dev = meta["results"].get("development_dataset")
    blocks = {"overall": None, "class_wise": OFFICIAL_CLASSES[task]} | ({"device_wise": OFFICIAL_DEVICES} if task == "1a" else {})
    problems += lacks(dev, list(blocks), "development_dataset")
    for block, items in blocks.items():
        scores = [dev.get(block)] if items is None else [dev.get(block, {}).get(item) for item in items]
        for score in scores:
            if not (isinstance(score, dict) and all(isinstance(score.get(k), (int, float)) for k in ("accuracy", "logloss"))):
                problems.append(f"{block}: accuracy and logloss numbers")
    return problems


# A dev split of one clip per class whose results are derived by hand: clip i (scene i, device
# DEVICES[i % 9]) is right for even i (probability 0.8 on its scene) and wrong for odd i (0.8 on the
# next scene); the other nine classes share 0.2.
P_TOP, P_REST = 0.8, 0.2 / 9
LOSS_RIGHT, LOSS_WRONG = -np.log(P_TOP), -np.log(P_REST)
# Device a holds clips 0 (right) and 9 (wrong): 50 %; b..s6 hold clip 1..8 alone: 0 % for odd, 100 % for even.
HAND_DEVICE_ACCURACY = {"a": 50.0, "b": 0.0, "c": 100.0, "s1": 0.0, "s2": 100.0, "s3": 0.0, "s4": 100.0, "s5": 0.0, "s6": 100.0}


def designed_dev_probs() -> np.ndarray:
    probs = np.full((10, 10), P_REST)
    for i in range(10):
        probs[i, i if i % 2 == 0 else (i + 1) % 10] = P_TOP
    return probs


@pytest.fixture
def inputs(tmp_path):
    root, names = dev_root(tmp_path)
    write_predictions(tmp_path / "dev.tsv", names, designed_dev_probs(), "1a")
    write_predictions(tmp_path / "eval.tsv", [f"audio/{i}.wav" for i in range(ROWS)], random_probs(ROWS, 10, 1), "1a")
    (tmp_path / "info.yaml").write_text(yaml.safe_dump(INFO))
    return {
        "root": root, "dev": tmp_path / "dev.tsv", "eval": tmp_path / "eval.tsv", "bundle": fake_bundle(tmp_path / "bundle"),
        "info": tmp_path / "info.yaml",
    }


def test_submission_files_follow_the_rules_and_hold_the_development_results(tmp_path, inputs, capsys):
    out = tmp_path / "submission"
    code = main([
        "submission", str(inputs["eval"]), "--task", "1a", "--label", LABEL, "--dev", str(inputs["dev"]),
        "--root", str(inputs["root"]), "--model", str(inputs["bundle"]), "--info", str(inputs["info"]),
        "--rows", str(ROWS), "--out", str(out),
    ])
    assert code == 0
    assert "warning" not in capsys.readouterr().out
    output, meta_path = out / f"{LABEL}.output.csv", out / f"{LABEL}.meta.yaml"
    assert official_problems(output, meta_path, "1a", ROWS) == []
    check = check_submission(output, meta_path, "1a", rows=ROWS)
    assert check.ok and check.warnings == [], check
    assert main(["submission-check", str(output), str(meta_path), "--task", "1a", "--rows", str(ROWS)]) == 0

    # The output holds the evaluation probabilities as given, each row labelled with its top class.
    lines = output.read_text().splitlines()
    assert len(lines) == ROWS + 1
    given = random_probs(ROWS, 10, 1)
    for i, line in enumerate(lines[1:]):
        filename, label, *values = line.split("\t")
        assert filename == f"audio/{i}.wav" and label == SCENES_10[int(np.argmax(given[i]))]
        np.testing.assert_allclose([float(v) for v in values], given[i], atol=1e-6)

    dev = yaml.safe_load(meta_path.read_text())["results"]["development_dataset"]
    assert dev["overall"]["accuracy"] == pytest.approx(50.0, abs=0.01)
    assert dev["overall"]["logloss"] == pytest.approx((LOSS_RIGHT + LOSS_WRONG) / 2, abs=1e-4)
    for i, scene in enumerate(SCENES_10):
        right = i % 2 == 0
        assert dev["class_wise"][scene]["accuracy"] == pytest.approx(100.0 if right else 0.0, abs=0.01), scene
        assert dev["class_wise"][scene]["logloss"] == pytest.approx(LOSS_RIGHT if right else LOSS_WRONG, abs=1e-4), scene
    for device, accuracy in HAND_DEVICE_ACCURACY.items():
        assert dev["device_wise"][device]["accuracy"] == pytest.approx(accuracy, abs=0.01), device
    assert dev["device_wise"]["a"]["logloss"] == pytest.approx((LOSS_RIGHT + LOSS_WRONG) / 2, abs=1e-4)
    meta = yaml.safe_load(meta_path.read_text())
    assert meta["system"]["complexity"]["total_parameters"] == 123_456
    assert meta["system"]["description"]["ensemble_method_subsystem_count"] == 2
    assert meta["submission"]["authors"][0]["lastname"] == "Doe"  # --info merged over the generated fields


def test_without_author_details_the_placeholders_are_warnings(tmp_path, inputs, capsys):
    code = main([
        "submission", str(inputs["eval"]), "--task", "1a", "--label", LABEL, "--dev", str(inputs["dev"]),
        "--root", str(inputs["root"]), "--model", str(inputs["bundle"]), "--rows", str(ROWS), "--out", str(tmp_path / "s"),
    ])
    assert code == 0
    assert "fill in submission.authors[0].lastname" in capsys.readouterr().out


def test_without_out_a_prediction_file_gives_runs_submission(tmp_path, inputs, monkeypatch):
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    code = main([
        "submission", str(inputs["eval"]), "--task", "1a", "--label", LABEL, "--dev", str(inputs["dev"]),
        "--root", str(inputs["root"]), "--model", str(inputs["bundle"]), "--info", str(inputs["info"]), "--rows", str(ROWS),
    ])
    assert code == 0
    assert sorted(p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file()) == [
        f"runs/submission/{LABEL}.meta.yaml", f"runs/submission/{LABEL}.output.csv",
    ]


def test_the_official_row_count_is_required_and_nothing_is_written_otherwise(tmp_path, inputs, capsys):
    out = tmp_path / "s"
    code = main([
        "submission", str(inputs["eval"]), "--task", "1a", "--label", LABEL, "--dev", str(inputs["dev"]),
        "--root", str(inputs["root"]), "--model", str(inputs["bundle"]), "--out", str(out),
    ])
    assert code == 2
    assert f"{ROWS} unique files, expected {EXPECTED_ROWS['1a']}" in capsys.readouterr().err
    assert not out.exists()


def test_a_run_directory_supplies_predictions_root_and_bundle(tmp_path, inputs, capsys):
    from conftest import write_run_dir

    from asckit.train.config import config_from_dict
    from asckit.train.run_dir import RunDir

    data = {"root": str(inputs["root"]), "store": str(tmp_path / "store")}
    config = config_from_dict({"name": "fcnn", "runs_dir": str(tmp_path / "runs"), "data": data})
    run_dir = RunDir(write_run_dir(config, {}))
    run = run_dir.path
    for split, source in (("test", inputs["eval"]), ("evaluate", inputs["dev"])):
        run_dir.predictions(split).parent.mkdir(exist_ok=True)
        run_dir.predictions(split).write_bytes(source.read_bytes())
    fake_bundle(run_dir.export_dir, total=999)
    out = tmp_path / "s"
    assert main(["submission", str(run), "--task", "1a", "--label", LABEL, "--rows", str(ROWS), "--out", str(out)]) == 0
    meta = yaml.safe_load((out / f"{LABEL}.meta.yaml").read_text())
    assert meta["system"]["complexity"]["total_parameters"] == 999

    # Without --out the files go into the run folder, not into the working directory.
    assert main(["submission", str(run), "--task", "1a", "--label", LABEL, "--rows", str(ROWS)]) == 0
    assert (run / "submission" / f"{LABEL}.output.csv").is_file() and (run / "submission" / f"{LABEL}.meta.yaml").is_file()

    run_dir.predictions("test").unlink()
    assert main(["submission", str(run), "--task", "1a", "--label", LABEL, "--rows", str(ROWS), "--out", str(out)]) == 2
    assert f"predict-split {run} --split test" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ checker


def good_output(task: str = "1a", rows: int = ROWS) -> str:
    return output_text([f"audio/{i}.wav" for i in range(rows)], random_probs(rows, len(SCENES_10 if task == "1a" else SCENES_3), 2), task)


def test_a_good_output_has_no_problems():
    assert check_output_text(good_output(), "1a", ROWS) == []
    assert check_output_text(good_output("1b"), "1b", ROWS) == []


def test_a_good_output_passes_the_official_rules():
    assert official_output_problems(good_output(), "1a", ROWS) == []
    assert official_output_problems(good_output("1b"), "1b", ROWS) == []


# official: whether the challenge's own rules reject it too (asckit also insists on probabilities
# that sum to 1, which the organisers' validator does not check).
@pytest.mark.parametrize(
    "mutate, problem, official",
    [
        (lambda lines: lines[:-1], f"{ROWS - 1} unique files, expected {ROWS}", True),
        (lambda lines: [lines[0].replace("tram", "trams")] + lines[1:], "header must be", True),
        (lambda lines: lines[:1] + [lines[1].replace("audio/0.wav", "audio/1.wav")] + lines[2:], "appears twice", True),
        (lambda lines: lines[:1] + [lines[1].replace("audio/0.wav", "audio/zero.wav")] + lines[2:], "not <n>.wav", True),
        (lambda lines: lines[:1] + [lines[1].replace("audio/0.wav", f"audio/{ROWS}.wav")] + lines[2:], "outside 0..", True),
        (lambda lines: lines[:1] + ["\t".join(lines[1].split("\t")[:1] + ["beach"] + lines[1].split("\t")[2:])] + lines[2:],
         "not a class", True),
        (lambda lines: lines[:1] + ["\t".join(lines[1].split("\t")[:2] + ["0.5"] * 10)] + lines[2:], "sum to 5", False),
        (lambda lines: lines[:1] + ["\t".join(lines[1].split("\t")[:2] + ["x"] * 10)] + lines[2:], "not a number", True),
        (lambda lines: lines[:1] + [lines[1] + "\t0.1"] + lines[2:], "fields, not 12", True),
    ],
)
def test_the_checker_finds_broken_outputs(mutate, problem, official):
    text = "\n".join(mutate(good_output().splitlines())) + "\n"
    problems = check_output_text(text, "1a", ROWS)
    assert any(problem in p for p in problems), problems
    assert bool(official_output_problems(text, "1a", ROWS)) is official


def test_the_checker_finds_broken_meta_files():
    results = development_results(
        {
            "macro_accuracy": 0.5, "log_loss": 1.0,
            "per_class": {c: {"accuracy": 0.5, "log_loss": 1.0} for c in SCENES_10},
            "per_device": {d: {"accuracy": 0.5, "log_loss": 1.0} for d in DEVICES},
        },
        "1a",
    )
    meta = meta_document(LABEL, "1a", results, {"total_parameters": 10, "total_parameters_non_zero": 9, "model_size": 1.0})
    assert check_meta(meta, "1a").problems == []
    assert official_meta_problems(meta, "1a") == []

    without_devices = json.loads(json.dumps(meta))
    del without_devices["results"]["development_dataset"]["device_wise"]
    assert any("lacks device_wise" in p for p in check_meta(without_devices, "1a").problems)
    expected = ["development_dataset lacks device_wise"] + 9 * ["device_wise: accuracy and logloss numbers"]
    assert official_meta_problems(without_devices, "1a") == expected

    one_device_short = json.loads(json.dumps(meta))
    del one_device_short["results"]["development_dataset"]["device_wise"]["s6"]
    assert any("device_wise lacks s6" in p for p in check_meta(one_device_short, "1a").problems)
    assert official_meta_problems(one_device_short, "1a") == ["device_wise: accuracy and logloss numbers"]

    two_corresponding = json.loads(json.dumps(meta))
    two_corresponding["submission"]["authors"].append(dict(two_corresponding["submission"]["authors"][0]))
    assert any("exactly one author" in p for p in check_meta(two_corresponding, "1a").problems)
    assert official_meta_problems(two_corresponding, "1a") == ["one corresponding author"]

    long_name = json.loads(json.dumps(meta))
    long_name["submission"]["abbreviation"] = "a" * 11
    assert any("abbreviation" in p for p in check_meta(long_name, "1a").problems)
    assert official_meta_problems(long_name, "1a") == ["abbreviation over 10 characters"]

    # external_datasets that is not a list is one problem: not a TypeError (a number), nor one per character (a string).
    for value in (3, "none"):
        not_a_list = json.loads(json.dumps(meta))
        not_a_list["system"]["external_datasets"] = value
        assert check_meta(not_a_list, "1a").problems == ["meta: system.external_datasets must be a list (may be empty)"]

    # Task 1b asks for the complexity management and the non-zero count and size.
    b_results = {"overall": {"accuracy": 1.0, "logloss": 1.0}, "class_wise": {c: {"accuracy": 1.0, "logloss": 1.0} for c in SCENES_3}}
    b_meta = meta_document("Hu_GT_task1b_1", "1b", b_results, {"total_parameters": 10, "total_parameters_non_zero": 9, "model_size": 1.0})
    assert check_meta(b_meta, "1b").problems == []
    assert official_meta_problems(b_meta, "1b") == []
    del b_meta["system"]["complexity"]["model_size"]
    del b_meta["system"]["description"]["complexity_management"]
    problems = check_meta(b_meta, "1b").problems
    assert any("model_size" in p for p in problems) and any("complexity_management" in p for p in problems)
    assert official_meta_problems(b_meta, "1b") == ["description lacks complexity_management", "complexity lacks model_size"]


@pytest.mark.parametrize(
    "label, ok", [(LABEL, True), ("Hu_GT_task1a_5", False), ("Hu_GT_task1b_1", False), ("Hu_G_T_task1a_1", False)]
)
def test_labels(label, ok, tmp_path):
    assert (check_label(label, "1a") == []) is ok
    output, meta = tmp_path / f"{label}.output.csv", tmp_path / f"{label}.meta.yaml"
    output.write_text(good_output())
    meta.write_text(yaml.safe_dump({"submission": {"label": label}}))
    assert any("label" in p and "task1a" in p for p in official_problems(output, meta, "1a", ROWS)) is not ok


def test_submission_check_command_fails_on_a_broken_file(tmp_path, inputs):
    meta = meta_document(LABEL, "1a", development_results({
        "macro_accuracy": 0.5, "log_loss": 1.0,
        "per_class": {c: {"accuracy": 0.5, "log_loss": 1.0} for c in SCENES_10},
        "per_device": {d: {"accuracy": 0.5, "log_loss": 1.0} for d in DEVICES},
    }, "1a"), {"total_parameters": 10})
    names = [f"{i}.wav" for i in range(ROWS)]
    output, meta_path, _ = write_submission(tmp_path, LABEL, "1a", names, random_probs(ROWS, 10, 3), meta, rows=ROWS)
    assert official_problems(output, meta_path, "1a", ROWS) == []
    assert main(["submission-check", str(output), str(meta_path), "--task", "1a", "--rows", str(ROWS)]) == 0
    output.write_text("\n".join(output.read_text().splitlines()[:-2]) + "\n")
    assert main(["submission-check", str(output), str(meta_path), "--task", "1a", "--rows", str(ROWS)]) == 1
    renamed = tmp_path / "other.output.csv"
    output.rename(renamed)
    assert not check_submission(renamed, meta_path, "1a", rows=ROWS).ok
