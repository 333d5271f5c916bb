"""The `asckit` command front end: every pipeline module's commands, and installs that lack some."""

import subprocess
import sys

from asckit import cli


def test_every_command_module_registers_its_commands():
    parser = cli.build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    for command in ("data", "features", "augment", "train", "fuse", "evaluate", "reproduce", "export", "predict"):
        assert command in choices, command
    assert parser.unavailable == {}


def _run_blocked(blocked: tuple[str, ...], argv: list[str]) -> subprocess.CompletedProcess:
    code = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # any import of it raises ModuleNotFoundError\n"
        "from asckit.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_missing_dependency_hides_only_the_commands_that_need_it():
    """An `asckit[infer]`-style install (no pandas, no pydantic) still runs `asckit predict`."""
    done = _run_blocked(("pandas", "pydantic"), ["predict", "--help"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: asckit predict" in done.stdout


def test_a_command_of_a_missing_dependency_is_a_one_line_error_naming_the_package():
    done = _run_blocked(("pandas", "pydantic"), ["reproduce", "table1"])
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert "invalid choice: 'reproduce'" in last and "reproduce (needs pydantic)" in last and "pip install asckit" in last
    assert "Traceback" not in done.stderr
