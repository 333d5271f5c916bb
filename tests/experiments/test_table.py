"""Tests for asckit.experiments.table: the results table formatted from data alone."""

from __future__ import annotations

from conftest import REPO, TINY_SCALE, tiny_experiment

from asckit.experiments.reproduce import Context
from asckit.experiments.spec import load_experiment
from asckit.experiments.table import ModelFacts, TableFacts, format_table
from asckit.train.config import load_config


def test_the_table_is_formatted_from_what_was_read_without_reading_anything(tmp_path):
    """``format_table`` takes the facts read first (``read_table_facts``): no dataset and no run
    directory exist here, and the table is still the rows, the notes and the claims."""
    experiment = load_experiment(tiny_experiment(tmp_path))
    ctx = Context(experiment, tmp_path / "no-data", "tiny", tmp_path / "no-runs", {}, [0, 1])
    config = load_config(REPO / "configs/task1a/fcnn.yaml", TINY_SCALE)
    facts = TableFacts("a described dataset", ["- an RIR note."], {k: ModelFacts(config, "32-true") for k in ("fcnn", "fcnn_b")})
    one = {"A": 0.5, "B&C": 0.4, "s1-s3": 0.3, "s4-s6": 0.2, "val_loss": 1.25, "avg_acc": 0.35, "s4": 0.1}
    rows = {s.row: [] for s in experiment.systems} | {"(1)": [one, {**one, "avg_acc": 0.45, "s4": None}]}
    complexity = {"(1)": {"kb_int8": 1234.5, "params": 12345, "macs_per_second": 2.5e7}}
    before = sorted(tmp_path.rglob("*"))
    lines = format_table(ctx, facts, rows, ["a claim: reproduced"], complexity).splitlines()
    assert sorted(tmp_path.rglob("*")) == before
    assert lines[0] == "# tiny experiment: asckit (tiny scale)"
    assert (
        "| (1) | FCNN |  | 50.0 ± 0.0 (87.3) | 40.0 ± 0.0 (79.5) | 30.0 ± 0.0 (75.7) | 20.0 ± 0.0 (73.0) | 1.250 ± 0.000 (1.07) "
        "| 40.0 ± 7.1 (76.9) | 10.0 | 1,234.5 | 12,345 | 25.00 |"
    ) in lines
    assert "| (0) | cited |  | cited (1.0) | cited (2.0) | cited (3.0) | cited (4.0) | cited (1.50) | cited (5.0) | cited | – | – | – |" in lines
    assert "| (2) | FCNN no SpecAugment |  | – (–) | – (–) | – (–) | – (–) | – (–) | – (–) | – | – | – | – |" in lines
    notes = lines[lines.index("## Notes") + 2 : lines.index("## Notes") + 7]
    assert notes == [
        f"- Dataset: `{tmp_path / 'no-data'}`: a described dataset; scored on its fold1 evaluate split.",
        "- Seeds: 0, 1 (mean ± sample std where more than one).",
        "- an RIR note.",
        "- `fcnn`: fcnn width 0.0625, 10 classes, 2 epochs, snapshots 1, kinds original, precision 32-true",
        "- `fcnn_b`: fcnn width 0.0625, 10 classes, 2 epochs, snapshots 1, kinds original, precision 32-true",
    ]
    assert lines[-1] == "- a claim: reproduced" and "## The paper's claims, checked on these numbers" in lines
