"""Tests for asckit.submission: DCASE 2020 Task 1 output and meta files, and their checker.

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
from asckit.predictions import write_predictions
from asckit.submission import (
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


def fake_bundle(path: Path, total: int = 123_456) -> Path:
    """A two-member bundle description written by ``Bundle`` (the graph files are not needed:
    the submission reads only bundle.json)."""
    info = ModelInfo.for_features("1a", SCENES_10, settings_for("1a"))
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


@pytest.fixture
def inputs(tmp_path):
    root, names = dev_root(tmp_path)
    write_predictions(tmp_path / "dev.tsv", names, random_probs(len(names), 10, 0), "1a")
    write_predictions(tmp_path / "eval.tsv", [f"audio/{i}.wav" for i in range(ROWS)], random_probs(ROWS, 10, 1), "1a")
    (tmp_path / "info.yaml").write_text(yaml.safe_dump(INFO))
    return {"root": root, "dev": tmp_path / "dev.tsv", "eval": tmp_path / "eval.tsv", "bundle": fake_bundle(tmp_path / "bundle"), "info": tmp_path / "info.yaml"}


def test_submission_files_follow_the_rules_and_hold_the_development_results(tmp_path, inputs, capsys):
    from asckit.data.tau import load_split
    from asckit.metrics import compute_metrics
    from asckit.predictions import read_predictions

    out = tmp_path / "submission"
    code = main([
        "submission", str(inputs["eval"]), "--task", "1a", "--label", LABEL, "--dev", str(inputs["dev"]),
        "--root", str(inputs["root"]), "--model", str(inputs["bundle"]), "--info", str(inputs["info"]),
        "--rows", str(ROWS), "--out", str(out),
    ])
    assert code == 0
    assert "warning" not in capsys.readouterr().out
    output, meta_path = out / f"{LABEL}.output.csv", out / f"{LABEL}.meta.yaml"
    check = check_submission(output, meta_path, "1a", rows=ROWS)
    assert check.ok and check.warnings == [], check
    assert main(["submission-check", str(output), str(meta_path), "--task", "1a", "--rows", str(ROWS)]) == 0

    lines = output.read_text().splitlines()
    assert lines[0].split("\t") == ["filename", "scene_label", *SCENES_10] and len(lines) == ROWS + 1
    meta = yaml.safe_load(meta_path.read_text())
    metrics = compute_metrics(load_split(inputs["root"], "evaluate"), read_predictions(inputs["dev"]))
    dev = meta["results"]["development_dataset"]
    assert dev["overall"]["accuracy"] == pytest.approx(100 * metrics["macro_accuracy"], abs=0.01)
    assert dev["overall"]["logloss"] == pytest.approx(metrics["log_loss"], abs=1e-4)
    assert set(dev["device_wise"]) == set(DEVICES) and set(dev["class_wise"]) == set(SCENES_10)
    for device in DEVICES:
        assert dev["device_wise"][device]["accuracy"] == pytest.approx(100 * metrics["per_device"][device]["accuracy"], abs=0.01)
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

    config = config_from_dict({"name": "fcnn", "runs_dir": str(tmp_path / "runs"), "data": {"root": str(inputs["root"]), "store": str(tmp_path / "store")}})
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

    run_dir.predictions("test").unlink()
    assert main(["submission", str(run), "--task", "1a", "--label", LABEL, "--rows", str(ROWS), "--out", str(out)]) == 2
    assert f"predict-split {run} --split test" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ checker


def good_output(task: str = "1a", rows: int = ROWS) -> str:
    return output_text([f"audio/{i}.wav" for i in range(rows)], random_probs(rows, len(SCENES_10 if task == "1a" else SCENES_3), 2), task)


def test_a_good_output_has_no_problems():
    assert check_output_text(good_output(), "1a", ROWS) == []
    assert check_output_text(good_output("1b"), "1b", ROWS) == []


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (lambda lines: lines[:-1], f"{ROWS - 1} unique files, expected {ROWS}"),
        (lambda lines: [lines[0].replace("tram", "trams")] + lines[1:], "header must be"),
        (lambda lines: lines[:1] + [lines[1].replace("audio/0.wav", "audio/1.wav")] + lines[2:], "appears twice"),
        (lambda lines: lines[:1] + [lines[1].replace("audio/0.wav", "audio/zero.wav")] + lines[2:], "not <n>.wav"),
        (lambda lines: lines[:1] + [lines[1].replace("audio/0.wav", f"audio/{ROWS}.wav")] + lines[2:], "outside 0.."),
        (lambda lines: lines[:1] + ["\t".join(lines[1].split("\t")[:1] + ["beach"] + lines[1].split("\t")[2:])] + lines[2:], "not a class"),
        (lambda lines: lines[:1] + ["\t".join(lines[1].split("\t")[:2] + ["0.5"] * 10)] + lines[2:], "sum to 5"),
        (lambda lines: lines[:1] + ["\t".join(lines[1].split("\t")[:2] + ["x"] * 10)] + lines[2:], "not a number"),
        (lambda lines: lines[:1] + [lines[1] + "\t0.1"] + lines[2:], "fields, not 12"),
    ],
)
def test_the_checker_finds_broken_outputs(mutate, problem):
    lines = good_output().splitlines()
    problems = check_output_text("\n".join(mutate(lines)) + "\n", "1a", ROWS)
    assert any(problem in p for p in problems), problems


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

    without_devices = json.loads(json.dumps(meta))
    del without_devices["results"]["development_dataset"]["device_wise"]
    assert any("lacks device_wise" in p for p in check_meta(without_devices, "1a").problems)

    one_device_short = json.loads(json.dumps(meta))
    del one_device_short["results"]["development_dataset"]["device_wise"]["s6"]
    assert any("device_wise lacks s6" in p for p in check_meta(one_device_short, "1a").problems)

    two_corresponding = json.loads(json.dumps(meta))
    two_corresponding["submission"]["authors"].append(dict(two_corresponding["submission"]["authors"][0]))
    assert any("exactly one author" in p for p in check_meta(two_corresponding, "1a").problems)

    long_name = json.loads(json.dumps(meta))
    long_name["submission"]["abbreviation"] = "a" * 11
    assert any("abbreviation" in p for p in check_meta(long_name, "1a").problems)

    # Task 1b asks for the complexity management and the non-zero count and size.
    b_meta = meta_document("Hu_GT_task1b_1", "1b", {"overall": {"accuracy": 1.0, "logloss": 1.0}, "class_wise": {c: {"accuracy": 1.0, "logloss": 1.0} for c in SCENES_3}}, {"total_parameters": 10, "total_parameters_non_zero": 9, "model_size": 1.0})
    assert check_meta(b_meta, "1b").problems == []
    del b_meta["system"]["complexity"]["model_size"]
    del b_meta["system"]["description"]["complexity_management"]
    problems = check_meta(b_meta, "1b").problems
    assert any("model_size" in p for p in problems) and any("complexity_management" in p for p in problems)


@pytest.mark.parametrize(
    "label, ok", [(LABEL, True), ("Hu_GT_task1a_5", False), ("Hu_GT_task1b_1", False), ("Hu_G_T_task1a_1", False)]
)
def test_labels(label, ok):
    assert (check_label(label, "1a") == []) is ok


def test_submission_check_command_fails_on_a_broken_file(tmp_path, inputs):
    meta = meta_document(LABEL, "1a", development_results({
        "macro_accuracy": 0.5, "log_loss": 1.0,
        "per_class": {c: {"accuracy": 0.5, "log_loss": 1.0} for c in SCENES_10},
        "per_device": {d: {"accuracy": 0.5, "log_loss": 1.0} for d in DEVICES},
    }, "1a"), {"total_parameters": 10})
    output, meta_path, _ = write_submission(tmp_path, LABEL, "1a", [f"{i}.wav" for i in range(ROWS)], random_probs(ROWS, 10, 3), meta, rows=ROWS)
    assert main(["submission-check", str(output), str(meta_path), "--task", "1a", "--rows", str(ROWS)]) == 0
    output.write_text("\n".join(output.read_text().splitlines()[:-2]) + "\n")
    assert main(["submission-check", str(output), str(meta_path), "--task", "1a", "--rows", str(ROWS)]) == 1
    renamed = tmp_path / "other.output.csv"
    output.rename(renamed)
    assert not check_submission(renamed, meta_path, "1a", rows=ROWS).ok
