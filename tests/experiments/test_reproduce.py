"""asckit reproduce: a tiny experiment end to end (synth → features → train → fuse → table),
idempotent reruns, and clear errors for broken experiment files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, TINY_SCALE, tiny_experiment

from asckit.core.errors import AsckitError
from asckit.experiments.reproduce import reproduce
from asckit.experiments.spec import find_experiment, load_experiment

torch.set_num_threads(1)


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
    with pytest.raises(AsckitError, match="no experiment of that name ships with asckit"):
        find_experiment("does-not-exist")
    with pytest.raises(AsckitError, match="does-not-exist.yaml: experiment file not found"):
        find_experiment("does-not-exist.yaml")
    with pytest.raises(AsckitError, match="scale 'huge' is not defined"):
        reproduce(tiny_experiment(tmp_path), scale="huge", progress=False)
    spec = yaml.safe_load(tiny_experiment(tmp_path).read_text())
    spec["models"]["fcnn_kd"]["teacher"] = "(9)"
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(AsckitError, match=r"model fcnn_kd: teacher '\(9\)' is not a system row"):
        load_experiment(bad)


def test_every_checked_in_experiment_is_shipped_and_plans_from_another_folder(tmp_path, monkeypatch):
    """Every experiment in configs/ is a shipped one, and at every scale its experiment and model
    configs validate from a folder that is not the repository; data, stores and runs go there."""
    from asckit.experiments.reproduce import plan
    from asckit.experiments.spec import shipped_experiments

    expected = ["configs/task1a/table1.yaml", "configs/demo.yaml", "configs/task1b/task1b.yaml"]
    expected += [str(p.relative_to(REPO)) for p in (REPO / "configs" / "experiments").glob("*.yaml")]
    shipped = shipped_experiments()
    assert sorted(str(p.relative_to(REPO / "configs").parent / p.name) for p in shipped.values()) == sorted(
        e.removeprefix("configs/") for e in expected)
    monkeypatch.chdir(tmp_path)
    for name, path in shipped.items():
        experiment = load_experiment(path)
        for model in experiment.models.values():
            assert Path(model.config).is_relative_to(REPO / "configs") and Path(model.config).is_file(), model.config
        for scale in experiment.scales:
            ctx = plan(path, scale=scale)
            assert ctx.root.absolute().is_relative_to(tmp_path) and ctx.runs_dir.absolute().is_relative_to(tmp_path), name
            assert all(store.absolute().is_relative_to(tmp_path) for store in ctx.stores.values()), name
    assert list(tmp_path.iterdir()) == []


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

    from asckit.experiments.reproduce import Context, rir_bank_notes

    store = tmp_path / "store"
    (store / "augment").mkdir(parents=True)
    (store / "augment" / "reverb-drc.json").write_text(json.dumps({"seed": 0, "rirs": [{}] * 24, "rir_dir": None}))
    experiment = load_experiment(tiny_experiment(tmp_path))
    ctx = Context(experiment, tmp_path, "tiny", tmp_path / "runs", {"scaled": store, "other": tmp_path / "none"}, [0])
    assert rir_bank_notes(ctx) == [
        f"- reverb-drc rows of store `scaled` (`{store}`): a simulated pyroomacoustics bank (24 RIRs, seed 0), "
        "not the reference's measured RIRs."
    ]


def test_every_model_config_is_checked_before_any_data_is_made(tmp_path, monkeypatch):
    """A missing or invalid model config, however late in the experiment, stops the run before the
    dataset is synthesised; the error names the experiment file, the model and the config."""
    import asckit.experiments.reproduce

    def no_data(ctx):
        raise AssertionError("data was about to be made before the error")

    monkeypatch.setattr(asckit.experiments.reproduce, "prepare_data", no_data)
    spec = yaml.safe_load(tiny_experiment(tmp_path).read_text())
    spec["models"]["fcnn_kd"]["config"] = str(tmp_path / "nope.yaml")
    missing = tmp_path / "missing.yaml"
    missing.write_text(yaml.safe_dump(spec))
    with pytest.raises(AsckitError, match=rf"^{missing}: model fcnn_kd: config {tmp_path / 'nope.yaml'} not found$"):
        reproduce(missing, progress=False)
    (tmp_path / "broken.yaml").write_text((REPO / "configs/task1a/fcnn.yaml").read_text().replace("mixup_alpha: 0.4", "mixup_alpha: -1"))
    spec["models"]["fcnn_kd"]["config"] = str(tmp_path / "broken.yaml")
    broken = tmp_path / "e.yaml"
    broken.write_text(yaml.safe_dump(spec))
    with pytest.raises(AsckitError, match=rf"^{broken}: model fcnn_kd: .*broken.yaml: batch_augment.mixup_alpha"):
        reproduce(broken, progress=False)
    spec["models"]["fcnn_kd"]["config"] = str(REPO / "configs/task1a/fcnn.yaml")
    spec["models"]["fcnn_kd"]["set"] = ["optim.epochs=0"]
    broken.write_text(yaml.safe_dump(spec))
    with pytest.raises(AsckitError, match=rf"^{broken}: model fcnn_kd: its scale and set values: optim: epochs must be ≥ 1"):
        reproduce(broken, progress=False)
    spec["dataset"]["synth"] = None
    spec["models"]["fcnn_kd"]["set"] = []
    broken.write_text(yaml.safe_dump(spec))
    with pytest.raises(AsckitError, match="dataset root not found"):
        reproduce(broken, progress=False, dry_run=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.yaml", "e.yaml", "missing.yaml", "tiny.yaml"]


def test_a_dry_run_prints_where_everything_would_go_and_makes_nothing(tmp_path, monkeypatch, capsys):
    from asckit.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "demo", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("asckit: note: demo is the experiment shipped with asckit: ")
    assert f"[reproduce demo] dataset {tmp_path / 'data' / 'demo'}; synthesised when missing" in out
    assert f"[reproduce demo] store scaled: {tmp_path / 'stores' / 'demo'} + reverb-drc" in out
    assert f"[reproduce demo] model fsfcnn: {(REPO / 'configs/task1a/fsfcnn.yaml').resolve()} → {tmp_path / 'runs/demo/fsfcnn'}" in out
    assert out.rstrip().endswith("nothing was made") and "table written" not in out
    assert list(tmp_path.iterdir()) == []


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


@pytest.mark.slow
def test_a_wheel_install_ships_the_experiments_and_their_configs(tmp_path):
    """`pip install .` (not editable) ships configs/ as package data: from a folder that is no clone,
    `asckit reproduce table1 --dry-run` finds the shipped experiment and its model configs inside the
    installed package. The wheel goes into a fresh venv that borrows this one's packages (torch, ...)
    through a path file, so nothing is downloaded."""
    import shutil
    import subprocess
    import sys
    import sysconfig

    pytest.importorskip("setuptools", reason="building the wheel needs setuptools (--no-build-isolation)")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))  # follows the link
    quiet = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp_path / "wheel"), str(source)], **quiet)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], **quiet)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], **quiet).stdout.strip())
    outer = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "outer.pth").write_text("".join(f"{path}\n" for path in outer))
    wheel = next((tmp_path / "wheel").glob("asckit-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)], **quiet)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")} | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run([venv / "bin" / "asckit", "reproduce", "table1", "--scale", "demo", "--dry-run"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    shipped = site / "asckit" / "configs"
    assert done.stderr == f"asckit: note: table1 is the experiment shipped with asckit: {shipped / 'task1a' / 'table1.yaml'}\n"
    assert f"model fcnn_all: {shipped / 'task1a' / 'fcnn.yaml'} → {work / 'runs' / 'table1-demo' / 'fcnn_all'}" in done.stdout
    assert f"dataset {work / 'data' / 'demo'}; synthesised when missing" in done.stdout
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in shipped.glob("*/*.yaml")) == sorted(p.name for p in (REPO / "configs").glob("*/*.yaml"))


@pytest.mark.slow
def test_trainings_run_at_once_give_the_same_runs_as_one_after_another(reproduced, tmp_path, capfd):
    """--jobs 2 trains the models without a teacher two at a time in worker processes (the student
    after them): the same predictions, the same table, as the one-at-a-time run of the fixture."""
    base, path, table = reproduced
    runs = tmp_path / "runs-at-once"
    capfd.readouterr()
    again = reproduce(path, progress=False, runs_dir=runs, jobs=2)
    out = capfd.readouterr().out  # the workers write to the file descriptor
    assert all(f"trained {m} in" in out for m in ("fcnn", "fcnn_b", "fcnn_3class", "fcnn_kd"))
    first = base / "runs" / "tiny-tiny"
    for model in ("fcnn", "fcnn_b", "fcnn_3class", "fcnn_kd"):
        assert (runs / model / "predictions" / "evaluate.tsv").read_text() == (
            first / model / "predictions" / "evaluate.tsv"
        ).read_text(), model
    assert again.read_text().replace(str(runs), str(first)) == table.read_text()


def test_jobs_must_be_positive(tmp_path):
    with pytest.raises(AsckitError, match="--jobs must be at least 1"):
        reproduce(tiny_experiment(tmp_path), progress=False, jobs=0)


@pytest.mark.slow
@pytest.mark.parametrize(("first", "then"), [({"amx_bf16"}, set()), (set(), {"amx_bf16"})], ids=["bf16-then-fp32", "fp32-then-bf16"])
def test_a_run_trained_with_fast_is_reused_on_a_machine_that_resolves_fast_otherwise(
    reproduced, tmp_path, monkeypatch, capsys, first, then
):
    """`trainer.precision: fast` is bf16 on an AMX (or CUDA) machine and fp32 here: a project copied
    between the two reuses its finished runs (the hardware detection is patched to change machine)."""
    import asckit.train.config as config_module

    base, path, _ = reproduced  # its dataset and store are reused
    spec = yaml.safe_load(path.read_text())
    spec.update(runs=str(tmp_path / "runs"), complexity=False, claims=[], models={"fcnn": spec["models"]["fcnn"]})
    spec["scales"]["tiny"] = [*TINY_SCALE, "trainer.precision=fast"]
    spec["systems"] = [s for s in spec["systems"] if s.get("run") == "fcnn"]
    experiment = tmp_path / "fast.yaml"
    experiment.write_text(yaml.safe_dump(spec))
    trained_with = "bf16-mixed" if first else "32-true"

    monkeypatch.setattr(config_module, "cpu_flags", lambda: set(first))
    capsys.readouterr()
    reproduce(experiment, progress=False)
    assert "training fcnn" in capsys.readouterr().out
    monkeypatch.setattr(config_module, "cpu_flags", lambda: set(then))
    table = reproduce(experiment, progress=False)
    out = capsys.readouterr().out
    assert "training fcnn" not in out and "resuming" not in out
    assert f"precision fast = {trained_with}" in table.read_text()  # what the run trained with, as recorded
