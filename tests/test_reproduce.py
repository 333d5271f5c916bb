"""asckit reproduce: a tiny experiment end to end (synth → features → train → fuse → table),
idempotent reruns, and clear errors for broken experiment files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from asckit.errors import AsckitError
from asckit.reproduce import find_experiment, load_experiment, reproduce

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]

TINY_SCALE = [
    "model.width=0.0625",
    "batch_augment.crop_frames=48",
    "batch_augment.time_mask_max=8",
    "optim.batch_size=16",
    "optim.epochs=2",
    "optim.first_cycle=1",
    "snapshots=1",
    "trainer.accelerator=cpu",
    "trainer.progress_bar=false",
    "data.kinds=[original]",  # the 1a model configs default to the reference's augmented list
]


def tiny_experiment(base: Path) -> Path:
    spec = {
        "name": "tiny",
        "title": "tiny experiment",
        "runs": str(base / "runs" / "{name}-{scale}"),
        "dataset": {
            "root": str(base / "data" / "tiny"),
            "synth": {"task": "1a", "preset": "tiny", "seed": 0},
            "stores": {"scaled": {"path": str(base / "stores" / "{root_name}")}},
        },
        "scales": {"tiny": TINY_SCALE},
        "models": {
            "fcnn": {"config": str(REPO / "configs/task1a/fcnn.yaml")},
            "fcnn_b": {"config": str(REPO / "configs/task1a/fcnn.yaml"), "set": ["batch_augment.spec_augment=false"]},
            "fcnn_3class": {"config": str(REPO / "configs/task1a/fcnn_3class.yaml")},
            "fcnn_kd": {"config": str(REPO / "configs/task1a/fcnn.yaml"), "teacher": "(4)"},
        },
        "systems": [
            {"row": "(0)", "name": "cited", "cited": "published only", "paper": [1, 2, 3, 4, 1.5, 5]},
            {"row": "(1)", "name": "FCNN", "run": "fcnn", "paper": [87.3, 79.5, 75.7, 73.0, 1.07, 76.9]},
            {"row": "(2)", "name": "FCNN no SpecAugment", "run": "fcnn_b"},
            {"row": "(3)", "name": "(1)+(2)", "average": ["fcnn", "fcnn_b"]},
            {"row": "(4)", "name": "two-stage", "two_stage": {"ten": ["fcnn", "fcnn_b"], "three": ["fcnn_3class"]}},
            {"row": "(5)", "name": "FCNN distilled from (4)", "run": "fcnn_kd"},
        ],
        "devices": ["s4"],
        "complexity": True,
        "claims": [{"text": "the ensemble beats its members", "better": "(3)", "than": ["(1)", "(2)"]}],
    }
    path = base / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    base = tmp_path_factory.mktemp("reproduce")
    path = tiny_experiment(base)
    table = reproduce(path, progress=False)
    return base, path, table


@pytest.mark.slow
def test_the_table_holds_every_row_beside_the_paper(reproduced):
    base, _, table = reproduced
    text = table.read_text()
    assert table == base / "runs" / "tiny-tiny" / "tiny.md"
    assert "| (0) | cited |" in text and "cited (1.0)" in text
    row1 = next(line for line in text.splitlines() if line.startswith("| (1) | FCNN |"))
    assert "(87.3)" in row1 and "(76.9)" in row1 and "(1.07)" in row1
    for row in ("(2)", "(3)", "(4)"):
        assert f"| {row} |" in text
    claim = next(line for line in text.splitlines() if line.startswith("- the ensemble beats its members (avg_acc: (3)"))
    assert "(1) " in claim and "(2) " in claim and claim.count("points, 95 % CI") == 2  # one interval per comparison
    assert claim.endswith(("): reproduced", "): within noise", "): NOT reproduced"))
    assert "asckit synthetic set (task 1a, preset tiny" in text


# The DCASE 2020 super-classes (task 1b), written out here independently of asckit.labels.
SUPERCLASS = {
    "airport": 0, "shopping_mall": 0, "metro_station": 0,
    "park": 1, "public_square": 1, "street_pedestrian": 1, "street_traffic": 1,
    "bus": 2, "metro": 2, "tram": 2,
}
GROUPS = {"A": ("a",), "B&C": ("b", "c"), "s1-s3": ("s1", "s2", "s3"), "s4-s6": ("s4", "s5", "s6")}


def _read_tsv(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """A prediction TSV read with plain text tools: class columns and filename → probabilities."""
    header, *rows = path.read_text().splitlines()
    fields = [row.split("\t") for row in rows]
    return header.split("\t")[2:], {f[0]: np.array([float(v) for v in f[2:]]) for f in fields}


def _oracle_row(probs: dict[str, np.ndarray], classes: list[str], truth: dict[str, str]) -> dict[str, float]:
    """The Table 1 cells from first principles: macro accuracy (mean of the classes' recalls) per
    device, group columns as the mean of their devices, log loss on renormalised probabilities."""
    names = sorted(truth)
    y = np.array([classes.index(truth[n]) for n in names])
    p = np.array([probs[n] for n in names])
    p = p / p.sum(axis=1, keepdims=True)
    right = p.argmax(axis=1) == y
    device = np.array([Path(n).stem.rsplit("-", 1)[1] for n in names])

    def macro(mask):
        return float(np.mean([right[mask & (y == c)].mean() for c in np.unique(y[mask])]))

    row = {g: float(np.mean([macro(device == d) for d in members])) for g, members in GROUPS.items()}
    row["val_loss"] = float(-np.mean(np.log(p[np.arange(len(y)), y])))
    row["avg_acc"] = macro(np.ones(len(y), bool))
    return row


@pytest.mark.slow
def test_results_are_the_metrics_of_the_fused_member_predictions(reproduced):
    """Rows (1), (3) and (4) recomputed in the test from the members' prediction files and the
    split's labels: the average ensemble, and the two-stage product ten × super-class of three."""
    base, _, table = reproduced
    runs = base / "runs" / "tiny-tiny"
    lines = (base / "data" / "tiny" / "evaluation_setup" / "fold1_evaluate.csv").read_text().splitlines()[1:]
    truth = dict(line.split("\t") for line in lines)
    ten, fcnn = _read_tsv(runs / "fcnn" / "predictions" / "evaluate.tsv")
    _, fcnn_b = _read_tsv(runs / "fcnn_b" / "predictions" / "evaluate.tsv")
    three, fcnn_3 = _read_tsv(runs / "fcnn_3class" / "predictions" / "evaluate.tsv")
    assert three == ["indoor", "outdoor", "transportation"] and set(fcnn) == set(fcnn_b) == set(fcnn_3) == set(truth)

    average = {n: (fcnn[n] / fcnn[n].sum() + fcnn_b[n] / fcnn_b[n].sum()) / 2 for n in truth}
    two_stage = {n: average[n] * fcnn_3[n][[SUPERCLASS[c] for c in ten]] for n in truth}
    results = json.loads((runs / "results.json").read_text())
    text = table.read_text()
    for row, probs in (("(1)", fcnn), ("(3)", average), ("(4)", two_stage)):
        expected = _oracle_row(probs, ten, truth)
        assert {k: results["rows"][row][0][k] for k in expected} == pytest.approx(expected, abs=1e-6), row
        line = next(line for line in text.splitlines() if line.startswith(f"| {row} |"))
        cells = [cell.split(" (")[0] for cell in line.split(" | ")[3:]]
        assert cells[:4] == [f"{100 * expected[g]:.1f}" for g in GROUPS], row
        assert cells[4:6] == [f"{expected['val_loss']:.3f}", f"{100 * expected['avg_acc']:.1f}"], row
    assert len(results["claims"]) == 1 and results["claims"][0].startswith("the ensemble beats its members")


@pytest.mark.slow
def test_a_student_is_distilled_from_its_teacher_systems_train_split_predictions(reproduced):
    """The teacher file of row (5) is the two-stage product of the members' train-split
    predictions, and the student's run trained with it; the table has the extra columns."""
    base, _, table = reproduced
    runs = base / "runs" / "tiny-tiny"
    teachers = runs / "teachers"
    ten, fcnn = _read_tsv(teachers / "fcnn-train-original.tsv")
    _, fcnn_b = _read_tsv(teachers / "fcnn_b-train-original.tsv")
    _, fcnn_3 = _read_tsv(teachers / "fcnn_3class-train-original.tsv")
    _, fused = _read_tsv(teachers / "row4-train-original.tsv")
    train = (base / "data" / "tiny" / "evaluation_setup" / "fold1_train.csv").read_text().splitlines()[1:]
    assert set(fused) == {line.split("\t")[0] for line in train}
    for name in list(fused)[:5]:
        product = (fcnn[name] + fcnn_b[name]) / 2 * fcnn_3[name][[SUPERCLASS[c] for c in ten]]
        assert fused[name] == pytest.approx(product / product.sum(), abs=1e-9)
    config = yaml.safe_load((runs / "fcnn_kd" / "config.yaml").read_text())
    assert config["distill"]["teacher"] == str(teachers / "row4-train-original.tsv")
    header = next(line for line in table.read_text().splitlines() if line.startswith("| Idx |"))
    assert header.endswith("| s4 acc | int8 KB | params | MMACs/s |")
    results = json.loads((runs / "results.json").read_text())
    assert results["rows"]["(5)"][0]["s4"] is not None
    assert results["complexity"]["(4)"]["params"] > results["complexity"]["(1)"]["params"] > 0
    # MACs per second of audio are counted on a 10 s clip (3 x 128 x 423), not on the tiny set's 1.5 s ones.
    import torch

    from asckit.models import build, complexity

    with torch.device("meta"):
        model = build("fcnn", width=0.0625)
    assert results["complexity"]["(1)"]["macs_per_second"] == pytest.approx(complexity(model, (3, 128, 423)).macs / 10)


@pytest.mark.slow
def test_rerun_reuses_finished_runs(reproduced, capsys):
    base, path, table = reproduced
    checkpoint = next((base / "runs" / "tiny-tiny" / "fcnn" / "checkpoints").glob("cycle-*.ckpt"))
    before = checkpoint.stat().st_mtime_ns
    reproduce(path, progress=False)
    assert checkpoint.stat().st_mtime_ns == before
    assert "training fcnn" not in capsys.readouterr().out


@pytest.mark.slow
def test_a_finished_run_of_another_config_is_refused_not_reused(reproduced, tmp_path):
    """Changing a model's settings in the experiment must not silently score the old run."""
    base, path, _ = reproduced
    spec = yaml.safe_load(path.read_text())
    spec["models"]["fcnn_b"]["set"] = ["batch_augment.spec_augment=false", "model.width=0.125"]
    changed = tmp_path / "tiny.yaml"
    changed.write_text(yaml.safe_dump(spec))
    with pytest.raises(AsckitError, match=r"fcnn_b: this finished run was trained with other values of model.width"):
        reproduce(changed, progress=False)


def test_broken_experiments_are_one_line_errors(tmp_path):
    spec = yaml.safe_load(tiny_experiment(tmp_path).read_text())
    spec["systems"][1]["run"] = "nope"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(AsckitError, match=r"bad.yaml: system \(1\): unknown model\(s\) nope"):
        load_experiment(bad)
    with pytest.raises(AsckitError, match="no such experiment file"):
        find_experiment("does-not-exist")
    with pytest.raises(AsckitError, match="scale 'huge' is not defined"):
        reproduce(tiny_experiment(tmp_path), scale="huge", progress=False)
    spec = yaml.safe_load(tiny_experiment(tmp_path).read_text())
    spec["models"]["fcnn_kd"]["teacher"] = "(9)"
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(AsckitError, match=r"model fcnn_kd: teacher '\(9\)' is not a system row"):
        load_experiment(bad)


def test_the_checked_in_experiments_are_valid():
    names = ["configs/task1a/table1.yaml", "configs/demo.yaml", "configs/task1b/task1b.yaml"]
    names += sorted(str(p.relative_to(REPO)) for p in (REPO / "configs" / "experiments").glob("*.yaml"))
    for name in names:
        experiment = load_experiment(REPO / name)
        for model in experiment.models.values():
            assert (REPO / model.config).is_file(), model.config


def test_a_scale_that_uses_the_measured_rirs_refuses_to_start_without_them(tmp_path):
    spec = yaml.safe_load(tiny_experiment(tmp_path).read_text())
    spec["dataset"]["stores"]["scaled"].update(augment=["reverb-drc"], rir_set={"tiny": "mardy"})
    path = tmp_path / "measured.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(AsckitError, match=r"uses the reference's measured mardy RIRs and 9 are missing; download them "
                       r"with `asckit data download rirs --set mardy --root .*rirs` \(or pass --rir-root\)"):
        reproduce(path, progress=False, rir_root=tmp_path / "rirs")
    assert not (tmp_path / "data").exists()  # refused before synthesising or extracting anything


def test_the_table_names_the_rir_bank_of_each_store(tmp_path):
    import json

    from asckit.reproduce import Context, rir_bank_notes

    store = tmp_path / "store"
    (store / "augment").mkdir(parents=True)
    (store / "augment" / "reverb-drc.json").write_text(json.dumps({"seed": 0, "rirs": [{}] * 24, "rir_dir": None}))
    experiment = load_experiment(tiny_experiment(tmp_path))
    ctx = Context(experiment, tmp_path, "tiny", tmp_path / "runs", {"scaled": store, "other": tmp_path / "none"}, [0])
    assert rir_bank_notes(ctx) == [
        f"- reverb-drc rows of store `scaled` (`{store}`): a simulated pyroomacoustics bank (24 RIRs, seed 0), "
        "not the reference's measured RIRs."
    ]


def test_a_checked_in_experiment_is_found_from_any_working_directory(tmp_path, monkeypatch):
    from asckit.reproduce import REPOSITORY

    monkeypatch.chdir(tmp_path)
    found = find_experiment("table1")
    assert found.resolve() == (REPOSITORY / "configs" / "task1a" / "table1.yaml").resolve() and found.is_file()
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "table1.yaml").write_text("name: mine\n")
    assert find_experiment("table1") == Path("configs") / "table1.yaml"  # the working directory's own comes first


@pytest.mark.slow
def test_a_moved_project_reuses_its_finished_runs(reproduced, tmp_path, capsys):
    """Runs record absolute paths; after the project folder moves, they are read from the new place."""
    import shutil

    base, path, table = reproduced
    moved = tmp_path / "renamed-project"
    shutil.copytree(base, moved, ignore=shutil.ignore_patterns("*.lock"))
    (moved / "tiny.yaml").write_text(path.read_text().replace(str(base), str(moved)))
    saved = yaml.safe_load((moved / "runs" / "tiny-tiny" / "fcnn_kd" / "config.yaml").read_text())
    assert saved["data"]["root"].startswith(str(base))  # as trained: the old place
    (base / "runs").rename(base / "runs-away")  # the old runs are gone while the moved ones are used
    try:
        capsys.readouterr()
        again = reproduce(moved / "tiny.yaml", progress=False)
        out = capsys.readouterr().out
    finally:
        (base / "runs-away").rename(base / "runs")
    assert "training fcnn" not in out and "resuming" not in out
    assert again.read_text().replace(str(moved), str(base)) == table.read_text()
