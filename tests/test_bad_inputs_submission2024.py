"""Bad-input corpus (issue 15) for the DCASE 2024 submission: ``asckit submission --task 2024``
(--split, --zip, --model, --info, an earlier package in --out) and ``asckit submission-check`` on a
2024 package.

The shared project here is small and hand-made (a TAU22 development-test list, prediction files,
a package folder): nothing is trained. Each case asserts the exit status, the one error line and
that nothing was written or changed (``bad_input_corpus.check_case``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from bad_input_corpus import Case, both, check_case, write

from asckit.cli import main
from asckit.labels import DEVICES, SCENES_3, SCENES_10
from asckit.predictions.reader import write_predictions

LABEL = "Doe_ABC_task1_1"
ROWS = 4
COMPLEXITY = {"total_model_size": 122296, "total_parameters": 61148, "macs": 29419156}


@pytest.fixture(scope="session")
def shared(tmp_path_factory) -> dict[str, Path]:
    """A TAU22 root with a development-test list, evaluation and development predictions, an INFO
    file with the complexity figures, and a package folder holding split 5 (written by asckit)."""
    base = tmp_path_factory.mktemp("sub2024_world")
    root = base / "dev"
    (root / "split_setup").mkdir(parents=True)
    names = [f"audio/{s}-vienna-{2000 + i}-{50000 + i}-{i % 10}-{DEVICES[i % len(DEVICES)]}.wav" for i, s in enumerate(SCENES_10)]
    (root / "split_setup" / "test.csv").write_text("filename\tscene_label\n" + "".join(f"{n}\t{n[6:].split('-')[0]}\n" for n in names))
    rng = np.random.default_rng(0)

    def probs(n: int, k: int = 10) -> np.ndarray:
        p = rng.random((n, k)) + 0.01
        return p / p.sum(axis=1, keepdims=True)

    world = {
        "base": base,
        "root": root,
        "eval": write_predictions(base / "eval.tsv", [f"audio/{i}.wav" for i in range(ROWS)], probs(ROWS), "2024"),
        "dev": write_predictions(base / "dev.tsv", names, probs(len(names)), "2024"),
        "eval3": write_predictions(base / "eval3.tsv", [f"audio/{i}.wav" for i in range(ROWS)], probs(ROWS, len(SCENES_3)), "1b"),
        "info": base / "info.yaml",
        "package": base / "package",
    }
    world["info"].write_text(yaml.safe_dump({"system": {"complexity": COMPLEXITY}}))
    assert main(_argv(world, "5", "--info", str(world["info"]), "--out", str(world["package"]))) == 0
    return world


def _argv(world: dict, split: str, *extra: str) -> list[str]:
    return ["submission", str(world["eval"]), "--task", "2024", "--split", split, "--label", LABEL, "--dev", str(world["dev"]),
            "--root", str(world["root"]), "--rows", str(ROWS), *extra]


SUB = ["submission", "{w_eval}", "--task", "2024", "--label", LABEL, "--dev", "{w_dev}", "--root", "{w_root}", "--rows", str(ROWS)]


def _tau22_bundle(task: str, complexity: dict | None = None):
    """A setup that writes a hand-made TAU22 bundle of ``task`` to ``c/b`` (``conftest.write_tau22_bundle``) with ``complexity``."""

    def setup(c: Path, w: dict) -> None:
        import json

        from conftest import write_tau22_bundle

        write_tau22_bundle(c / "b", devices=(), task=task)
        data = json.loads((c / "b" / "bundle.json").read_text())
        (c / "b" / "bundle.json").write_text(json.dumps({**data, "complexity": complexity or {}}))

    return setup


def _copy_package(change=None):
    """A setup that copies the shared package folder to ``c/pkg`` and changes its meta.yaml text."""

    def setup(c: Path, w: dict) -> None:
        target = c / "pkg"
        target.mkdir()
        for path in Path(w["package"]).iterdir():
            (target / path.name).write_bytes(path.read_bytes())
        if change is not None:
            meta = target / f"{LABEL}.meta.yaml"
            meta.write_text(change(meta.read_text()))

    return setup


SUBMISSION_2024 = [
    Case("submission 2024 without --split", [*SUB, "--out", "{c}/s"], ("--task 2024 needs --split N", "5, 10, 25, 50, 100"), 2),
    Case("submission 2024 split 7", [*SUB, "--split", "7", "--out", "{c}/s"], ("--split", "invalid choice", "choose from 5, 10, 25, 50, 100"), 2),
    Case("submission 2024 split not a number", [*SUB, "--split", "half", "--out", "{c}/s"], ("--split", "not a whole number", "in digits"), 2),
    Case("submission 1a with --split",
         ["submission", "{w_eval}", "--task", "1a", "--split", "5", "--label", "A_B_task1a_1", "--out", "{c}/s"],
         ("--split", "only for --task 2024", "remove it"), 2),
    Case("submission 1a with --zip", ["submission", "{w_eval}", "--task", "1a", "--zip", "--label", "A_B_task1a_1", "--out", "{c}/s"],
         ("--zip", "only for --task 2024", "remove it"), 2),
    Case("submission 2024 label of 2020",
         ["submission", "{w_eval}", "--task", "2024", "--split", "5", "--label", "A_B_task1a_1", "--out", "{c}/s"],
         ("but this is a task1 submission: use <Lastname>_<Institute>_task1_<1-4>",), 2),
    Case("submission 2024 model not a bundle", [*SUB, "--split", "5", "--model", "{c}/bundle", "--out", "{c}/s"],
         ("not an asckit export bundle", "give a folder written by `asckit export`"), 2, write("bundle/bundle.json", "{}")),
    Case("submission 2024 model neither run nor bundle", [*SUB, "--split", "5", "--model", "{c}/m", "--out", "{c}/s"],
         ("neither a run folder (config.yaml) nor an export bundle", "give the submitted model's run folder or its `asckit export` bundle"),
         2, write("m/notes.txt", "x")),
    Case("submission 2024 bundle of a 2025 run", [*SUB, "--split", "5", "--model", "{c}/b", "--out", "{c}/s"],
         ("a bundle of task 2025, not of a 2024 run", "give the bundle `asckit export` wrote for the submitted 2024 run"), 2,
         _tau22_bundle("2025")),
    Case("submission 2024 bundle without figures", [*SUB, "--split", "5", "--model", "{c}/b", "--out", "{c}/s"],
         ("the bundle records no parameter memory", "re-export the run with this asckit"), 2, _tau22_bundle("2024")),
    Case("submission 2024 outputs not made by the bundle", [*SUB, "--split", "5", "--model", "{c}/b", "--out", "{c}/s"],
         ("no provenance sidecar", "says the bundle", "classify the evaluation set with the bundle (`asckit predict"), 2,
         _tau22_bundle("2024", {"param_bytes": 61148, "total_parameters": 61148, "macs": 29419156})),
    Case("submission 2024 no complexity", [*SUB, "--split", "5", "--out", "{c}/s"],
         ("no complexity figures", "system.complexity in --info"), 2),
    Case("submission 2024 info a list", [*SUB, "--split", "5", "--info", "{c}/i.yaml", "--out", "{c}/s"],
         ("must be a mapping of meta.yaml fields",), 2, write("i.yaml", "- a\n- b\n")),
    Case("submission 2024 info not YAML", [*SUB, "--split", "5", "--info", "{c}/i.yaml", "--out", "{c}/s"],
         ("not a readable YAML file",), 2, write("i.yaml", "a: [\n")),
    Case("submission 2024 three-class predictions",
         ["submission", "{w_eval3}", "--task", "2024", "--split", "5", "--label", LABEL, "--dev", "{w_dev}", "--root", "{w_root}",
          "--rows", str(ROWS), "--info", "{w_info}", "--out", "{c}/s"], ("3-class predictions", "not the 10 scenes of task 2024"), 2),
    Case("submission 2024 differing complexity", [*SUB, "--split", "10", "--info", "{c}/i.yaml", "--out", "{c}/pkg"],
         ("split_5 were written with", "the five splits are one system"), 2,
         both(_copy_package(), write("i.yaml", yaml.safe_dump({"system": {"complexity": {**COMPLEXITY, "macs": 1}}})))),
    Case("submission 2024 damaged meta in out", [*SUB, "--split", "10", "--info", "{w_info}", "--out", "{c}/pkg"],
         ("not valid YAML", "remove it to start the package again"), 2, _copy_package(lambda text: text + "\n: [\n")),
    Case("submission 2024 zip is an input", [*SUB, "--split", "5", "--info", "{c}/x.zip", "--out", "{c}/x", "--zip"],
         ("is also an input of this command", "give another output path"), 2, write("x.zip", yaml.safe_dump({"system": {"complexity": COMPLEXITY}}))),
    Case("submission 2024 run of task 1a",
         ["submission", "{c}/run", "--task", "2024", "--split", "5", "--label", LABEL, "--out", "{c}/s"],
         ("a task 1a run trained on split 100", "give the run of this split"), 2,
         write("run/config.yaml", "name: run\ntask: 1a\ndata: {root: x, store: y}\n")),
]

CHECK_2024 = [
    Case("submission-check 2024 with a meta file", ["submission-check", "{w_package}", "{c}/m.yaml", "--task", "2024"],
         ("checks the whole package", "give only the zip or the folder"), 2),
    Case("submission-check 1a without meta", ["submission-check", "{c}/a.output.csv", "--task", "1a"],
         ("give both LABEL.output.csv and LABEL.meta.yaml",), 2),
    Case("submission-check 2024 not a zip", ["submission-check", "{c}/p.zip", "--task", "2024", "--rows", str(ROWS)],
         ("not a zip file", "give the package zip or its folder"), 1, write("p.zip", "not a zip"), stdout=True),
    Case("submission-check 2024 missing package", ["submission-check", "{c}/none", "--task", "2024"],
         ("not found", "give the package zip or its folder"), 1, stdout=True),
    Case("submission-check 2024 rows 0", ["submission-check", "{w_package}", "--task", "2024", "--rows", "0"],
         ("--rows", "0 is too small; use 1 or more"), 2),
    Case("submission-check 2024 missing splits", ["submission-check", "{w_package}", "--task", "2024", "--rows", str(ROWS)],
         ("asckit's rule, beyond the validator", "no output for split 10, 25, 50, 100"), 1, stdout=True),
]

ALL = SUBMISSION_2024 + CHECK_2024


@pytest.mark.parametrize("case", [c.param() for c in ALL])
def test_refuses_bad_input_and_writes_nothing(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)
