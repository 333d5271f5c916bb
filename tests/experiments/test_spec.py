"""Tests for asckit.experiments.spec: which file a name or path means, and where an experiment's
model configs are read from."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO, tiny_experiment

from asckit.core.errors import AsckitError
from asckit.experiments.spec import SHIPPED_CONFIGS, find_experiment, load_experiment, project_of


def test_a_short_name_is_the_shipped_experiment_and_a_path_is_that_file(tmp_path, monkeypatch, capsys):
    """`table1` never means a stray configs/table1.yaml of the working directory (a stderr line says
    which file is used and which is not); a path always means that file."""
    shipped = (REPO / "configs" / "task1a" / "table1.yaml").resolve()
    assert SHIPPED_CONFIGS == (REPO / "configs").resolve()
    monkeypatch.chdir(tmp_path)
    assert find_experiment("table1") == shipped
    assert capsys.readouterr().err == f"asckit: note: table1 is the experiment shipped with asckit: {shipped}\n"
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "table1.yaml").write_text("name: mine\n")
    assert find_experiment("table1") == shipped
    note = capsys.readouterr().err
    assert note.count("\n") == 1 and str(shipped) in note and "not configs/table1.yaml here" in note
    assert find_experiment("configs/table1.yaml") == Path("configs/table1.yaml")
    assert find_experiment("./configs/../configs/table1.yaml").resolve() == tmp_path / "configs" / "table1.yaml"
    assert capsys.readouterr().err == ""
    (tmp_path / "table1.yaml").write_text("name: mine\n")
    assert find_experiment("table1.yaml") == Path("table1.yaml")  # a .yaml name is a path, not a short name
    assert find_experiment("distill") == (REPO / "configs" / "experiments" / "distill.yaml").resolve()
    with pytest.raises(AsckitError, match="no experiment of that name ships with asckit .shipped: demo, table1, task1b, "):
        find_experiment("fcnn")  # a training config, not an experiment


def test_model_configs_are_read_from_the_experiments_project(tmp_path):
    """Relative model-config paths: from the folder holding the experiment's configs/ folder, else
    from the experiment's own folder; absolute ones as they are."""
    assert project_of(REPO / "configs" / "task1a" / "table1.yaml") == REPO
    assert project_of(tmp_path / "proj" / "configs" / "deep" / "e.yaml") == tmp_path / "proj"
    assert project_of(tmp_path / "e.yaml") == tmp_path
    spec = yaml.safe_load(tiny_experiment(tmp_path).read_text())
    spec["models"]["fcnn"]["config"] = "configs/mine/fcnn.yaml"
    spec["models"]["fcnn_b"]["config"] = "fcnn.yaml"
    (tmp_path / "p" / "configs" / "x").mkdir(parents=True)
    (tmp_path / "p" / "configs" / "x" / "e.yaml").write_text(yaml.safe_dump(spec))
    models = load_experiment(tmp_path / "p" / "configs" / "x" / "e.yaml").models
    assert models["fcnn"].config == str(tmp_path / "p" / "configs" / "mine" / "fcnn.yaml")
    assert models["fcnn_b"].config == str(tmp_path / "p" / "fcnn.yaml")
    assert models["fcnn_3class"].config == str(REPO / "configs/task1a/fcnn_3class.yaml")
