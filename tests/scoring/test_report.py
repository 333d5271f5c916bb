"""Report: the Table-1 row first, per-device/class tables, and the two PNG plots."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from asckit.labels import DEVICES, SCENES_10
from asckit.predictions.reader import Predictions
from asckit.scoring.metrics import compute_metrics
from asckit.scoring.report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _metrics(with_devices: bool = True, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = 180
    y = rng.integers(0, 10, size=n)
    devices = [DEVICES[i % len(DEVICES)] for i in range(n)]
    names = [f"audio/{SCENES_10[k]}-lyon-{i}-{i}-{d}.wav" for i, (k, d) in enumerate(zip(y, devices))]
    logits = rng.normal(size=(n, 10))
    logits[np.arange(n), y] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = pd.DataFrame({"filename": names, "scene_label": [SCENES_10[k] for k in y]})
    if with_devices:
        truth["device"] = devices
    return compute_metrics(truth, Predictions(names, probs, SCENES_10, "1a", "p.tsv"))


def _tables(markdown: str) -> list[list[list[str]]]:
    """Every markdown table as rows of stripped cells (separator rows dropped)."""
    tables, current = [], []
    for line in markdown.splitlines():
        if line.startswith("|"):
            if not set(line.strip()) <= set("|-: "):
                current.append([c.strip() for c in line.strip()[1:-1].split(" | ")])
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def test_first_table_is_the_paper_table1_row_in_percent_with_one_decimal(tmp_path):
    metrics = _metrics()
    paths = write_report(metrics, tmp_path / "out", "FCNN (7)")
    text = paths["report"].read_text(encoding="utf-8")
    header, row = _tables(text)[0]
    assert header == ["System", "A acc. %", "B&C acc. %", "s1-s3 acc. %", "s4-s6 acc. %", "val loss", "Avg acc. %"]
    t1 = metrics["table1"]
    assert row == [
        "FCNN (7)",
        *(f"{100 * t1[g]:.1f}" for g in ("A", "B&C", "s1-s3", "s4-s6")),
        f"{t1['val_loss']:.3f}",
        f"{100 * metrics['macro_accuracy']:.1f}",
    ]


def test_device_and_class_tables_list_every_device_and_class(tmp_path):
    metrics = _metrics()
    text = write_report(metrics, tmp_path, "run")["report"].read_text(encoding="utf-8")
    tables = _tables(text)
    device_table = next(t for t in tables if t[0][0] == "Device")
    assert [r[0] for r in device_table[1:]] == list(DEVICES)
    for r in device_table[1:]:
        assert r[3] == f"{100 * metrics['per_device'][r[0]]['accuracy']:.1f}"
    class_table = next(t for t in tables if t[0][0] == "Class")
    assert [r[0] for r in class_table[1:]] == list(SCENES_10)
    confusion = next(t for t in tables if t[0][0].startswith("true"))
    assert [[int(v) for v in r[1:]] for r in confusion[1:]] == metrics["confusion_matrix"]["matrix"]


def test_plots_are_written_as_png_files(tmp_path):
    paths = write_report(_metrics(), tmp_path, "run")
    for key in ("confusion_matrix", "per_device_accuracy"):
        data = paths[key].read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion_matrix.png", "per_device_accuracy.png", "report.md"]


def test_a_pipe_in_the_title_does_not_break_the_table(tmp_path):
    text = write_report(_metrics(), tmp_path, "fcnn | fsfcnn")["report"].read_text(encoding="utf-8")
    header, row = _tables(text)[0]
    assert len(row) == len(header)


def test_ground_truth_without_devices_still_gives_a_full_report(tmp_path):
    metrics = _metrics(with_devices=False)
    paths = write_report(metrics, tmp_path, "no devices")
    text = paths["report"].read_text(encoding="utf-8")
    assert _tables(text)[0][1][1:5] == ["–"] * 4
    assert "names no devices" in text
    assert paths["per_device_accuracy"].read_bytes().startswith(PNG_MAGIC)


@pytest.mark.slow
def test_importing_the_pipeline_modules_does_not_load_matplotlib():
    code = (
        "import sys, asckit.scoring.report, asckit.scoring.commands, asckit.fusion.commands, asckit.scoring.metrics; "
        "sys.exit('matplotlib' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
