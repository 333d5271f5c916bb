"""asckit reproduce: a tiny experiment end to end (synth → features → train → fuse → table),
idempotent reruns, and clear errors for broken experiment files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from asckit.errors import AsckitError
from asckit.reproduce import find_experiment, load_experiment, reproduce

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]

TINY_SCALE = [
    "model.width=0.0625",
    "augment.crop_frames=48",
    "augment.time_mask_max=8",
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
            "fcnn_b": {"config": str(REPO / "configs/task1a/fcnn.yaml"), "set": ["augment.spec_augment=false"]},
            "fcnn_3class": {"config": str(REPO / "configs/task1a/fcnn_3class.yaml")},
        },
        "systems": [
            {"row": "(0)", "name": "cited", "cited": "published only", "paper": [1, 2, 3, 4, 1.5, 5]},
            {"row": "(1)", "name": "FCNN", "run": "fcnn", "paper": [87.3, 79.5, 75.7, 73.0, 1.07, 76.9]},
            {"row": "(2)", "name": "FCNN no SpecAugment", "run": "fcnn_b"},
            {"row": "(3)", "name": "(1)+(2)", "average": ["fcnn", "fcnn_b"]},
            {"row": "(4)", "name": "two-stage", "two_stage": {"ten": ["fcnn", "fcnn_b"], "three": ["fcnn_3class"]}},
        ],
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
    assert claim.endswith(("): reproduced", "): reproduced within noise", "): NOT reproduced", "): NOT reproduced (within noise)"))
    assert "asckit synthetic set (task 1a, preset tiny" in text


def test_results_are_the_evaluated_metrics_of_the_fused_files(reproduced):
    base, _, _ = reproduced
    runs = base / "runs" / "tiny-tiny"
    results = json.loads((runs / "results.json").read_text())
    assert set(results["rows"]) == {"(1)", "(2)", "(3)", "(4)"}
    assert len(results["claims"]) == 1 and results["claims"][0].startswith("the ensemble beats its members")
    metrics = json.loads((runs / "systems" / "row4" / "metrics.json").read_text())
    assert results["rows"]["(4)"][0]["avg_acc"] == metrics["macro_accuracy"]
    assert metrics["classes"] == list(json.loads(json.dumps(metrics["classes"])))
    assert len(metrics["classes"]) == 10  # two-stage output keeps the ten scenes


def test_rerun_reuses_finished_runs(reproduced, capsys):
    base, path, table = reproduced
    checkpoint = next((base / "runs" / "tiny-tiny" / "fcnn" / "checkpoints").glob("cycle-*.ckpt"))
    before = checkpoint.stat().st_mtime_ns
    reproduce(path, progress=False)
    assert checkpoint.stat().st_mtime_ns == before
    assert "training fcnn" not in capsys.readouterr().out


def test_a_finished_run_of_another_config_is_refused_not_reused(reproduced, tmp_path):
    """Changing a model's settings in the experiment must not silently score the old run."""
    base, path, _ = reproduced
    spec = yaml.safe_load(path.read_text())
    spec["models"]["fcnn_b"]["set"] = ["augment.spec_augment=false", "model.width=0.125"]
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
