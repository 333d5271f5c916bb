"""The `asckit` command front end: every pipeline module's commands, and installs that lack some."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from asckit import cli

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

PROJECT = tomllib.loads(PYPROJECT.read_text())["project"]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement)[0]


#: Import names of the `asckit[train]` packages: what the base (deployment) install lacks.
TRAIN_ONLY = tuple({"scikit-learn": "sklearn"}.get(n, n) for n in map(_name, PROJECT["optional-dependencies"]["train"]))


def test_every_command_module_registers_its_commands():
    parser = cli.build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    for command in ("data", "features", "augment", "train", "fuse", "evaluate", "reproduce", "export", "predict"):
        assert command in choices, command
    assert parser.unavailable == {}


def test_the_base_install_is_torch_free_and_the_train_extra_holds_the_toolkit():
    assert set(map(_name, PROJECT["dependencies"])) == {"numpy", "soundfile", "soxr", "onnxruntime", "pyyaml", "tqdm"}
    assert "torch==2.13.0" in PROJECT["optional-dependencies"]["train"] and "torch" in TRAIN_ONLY
    assert cli.FULL_INSTALL.endswith("'asckit[train]'")


def _run_blocked(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    code = (
        "import sys\n"
        f"for name in {TRAIN_ONLY!r}:\n"
        "    sys.modules[name] = None  # any import of it raises ModuleNotFoundError\n"
        "from asckit.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.mark.slow
def test_the_base_install_runs_predict_and_lists_what_it_lacks():
    done = _run_blocked(["predict", "--help"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: asckit predict" in done.stdout
    done = _run_blocked(["--help"])
    assert done.returncode == 0, done.stderr[-2000:]
    epilog = " ".join(done.stdout.split())  # argparse wraps it
    assert "experiments (needs pydantic)" in epilog and "asckit[train]" in epilog


@pytest.mark.slow
def test_a_command_hidden_for_a_missing_package_is_a_one_line_error_naming_the_extra():
    done = _run_blocked(["reproduce", "table1"])
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "invalid choice: 'reproduce'" in lines[0] and "experiments (needs pydantic)" in lines[0]
    assert "pip install 'asckit[train]'" in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["train", str(PYPROJECT.parent / "configs" / "examples" / "fcnn_tiny.yaml")],
        ["data", "synth", "x"],
        ["evaluate", "p.tsv", "--root", "."],
    ],
)
def test_a_listed_command_whose_handler_needs_a_missing_package_is_a_one_line_error(argv, tmp_path):
    done = _run_blocked(argv, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"asckit: error: `asckit {argv[0]}` needs ") and lines[0].endswith("pip install 'asckit[train]'")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["predikt"], "asckit: error: argument COMMAND: invalid choice: 'predikt' (choose from 'data', "),
        (["data", "chek"], "asckit: error: data: argument ACTION: invalid choice: 'chek' (choose from 'synth', 'check', 'download', 'cut-tau20') "
                           "(see asckit data --help)"),
        (["data", "check"], "asckit: error: data check: the following arguments are required: root (see asckit data check --help)"),
        (["fuse", "--out", "o.tsv"], "asckit: error: fuse: one of the arguments --average --two-stage --logistic is required "
                                     "(see asckit fuse --help)"),
    ],
)
def test_a_usage_error_is_one_line_naming_the_command_and_its_help(argv, line, capsys):
    """argparse's usage block and `asckit X: error:` become asckit's one error line, at every level of commands."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith(line), err
