"""The bad-input corpus's harness (issues 15 and 21): one tiny project built once per session, and
``check_case``, which runs one bad command line in-process and asserts what a user relies on:

* the exit status (0 ok, 1 problems found, 2 usage error; README "Exit status");
* the whole stderr: a usage error (exit 2) is exactly one line, starting ``asckit: error:``, that
  holds every needle; problems found (exit 1) are listed one per line, each starting
  ``asckit: problem:`` (or, with ``stdout=True``, in the printed report, and stderr stays empty);
  never a traceback, a usage block or a stray warning;
* the needles name the diagnosis and the fix: at least one of them is not a piece of the command
  line, so an error that only repeats the user's input does not pass;
* nothing written or changed: every file of the case's folder and of the shared project hashes the
  same after the command as before it (writer lock files, ``.NAME.lock``, and ``may_write`` aside),
  and the command runs in an empty working directory with HOME, TMPDIR, XDG_CACHE_HOME and
  MPLCONFIGDIR pointing at fresh empty folders, which stay empty but for the library caches named in
  ``LIBRARY_CACHES``.

Cases are plain data (``Case``); each ``test_bad_inputs_<area>.py`` lists its own and
``tests/count_bad_inputs.py`` counts them per command.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from conftest import EVALUATE_NAMES, TRAIN_NAMES, write_tau_root

from asckit.cli import main

#: The folders a case's command runs with, each fresh and empty: its environment variable → folder name.
ISOLATED = {"HOME": "home", "TMPDIR": "tmp", "XDG_CACHE_HOME": "cache", "MPLCONFIGDIR": "mplconfig"}

#: What a library (not asckit) may leave in those folders: a path relative to the isolated base → why.
#: None is needed today: no case makes a library write there (the corpus runs in-process, after the libraries were imported).
LIBRARY_CACHES: dict[str, str] = {}

#: How a problem found (exit 1) is listed on stderr, one per line; a usage error's one line.
PROBLEM, ERROR = "asckit: problem:", "asckit: error:"

_WORLD: dict[str, Path] = {}


def tiny_config(base: Path, root: Path, store: Path, name: str = "tiny", extra: str = "") -> Path:
    """A one-epoch FCNN config over ``root``/``store`` whose runs go to ``base``/runs."""
    path = base / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nruns_dir: {base / 'runs'}\ndata: {{root: {root}, store: {store}}}\n"
        "model: {name: fcnn, width: 0.0625}\nbatch_augment: {crop_frames: 32, time_mask_max: 8}\n"
        "optim: {batch_size: 4, epochs: 1, first_cycle: 1}\nsnapshots: 1\n"
        f"trainer: {{accelerator: cpu, progress_bar: false}}\n{extra}"
    )
    return path


def world(tmp_path_factory) -> dict[str, Path]:
    """The shared project (built once per session, never changed by a case): a real-audio TAU root
    (8 one-second clips), its feature store, a one-epoch run with predictions, and its fp32 bundle."""
    if _WORLD:
        return _WORLD
    base = tmp_path_factory.mktemp("corpus_world")
    root = write_tau_root(base / "tau", TRAIN_NAMES, EVALUATE_NAMES)
    store = base / "store"
    assert main(["features", str(root), "--out", str(store), "--quiet", "--workers", "1"]) == 0
    config = tiny_config(base, root, store)
    assert main(["train", str(config)]) == 0
    run = base / "runs" / "tiny"
    assert main(["predict-split", str(run), "--split", "evaluate", "--quiet"]) == 0
    bundle = base / "bundle"
    assert main(["export", str(run), "--fp32-only", "--out", str(bundle)]) == 0
    _WORLD.update(base=base, root=root, store=store, config=config, run=run, bundle=bundle,
                  predictions=run / "predictions" / "evaluate.tsv")
    return _WORLD


@dataclass
class Case:
    """One bad input: ``argv`` with ``{name}`` placeholders (``{w_NAME}`` for the shared project's
    paths, ``{c}`` for the case's own folder), a ``setup`` that writes the bad input into the case
    folder, the expected exit status, and words the one error line must hold."""

    id: str
    argv: list[str]
    needles: tuple[str, ...]
    code: int = 2
    setup: Callable[[Path, dict], None] | None = None
    stdout: bool = False  # the problem is reported in the printed report (data check, submission-check)
    extra: Callable[[Path, dict], None] | None = None  # further checks after the command
    may_write: tuple[str, ...] = ()  # folders of the case that the command may write (checked by ``extra``)
    marks: tuple = ()  # pytest marks, e.g. a skip where the case cannot happen
    # a context the command runs in (e.g. a loopback server for downloads); what it yields (a dict or None)
    # adds placeholders to ``argv`` (e.g. ``{url}``)
    around: Callable[[Path, dict], contextlib.AbstractContextManager] | None = None

    def param(self):
        import pytest

        return pytest.param(self, marks=self.marks, id=self.id)

    @property
    def command(self) -> str:
        return " ".join(self.argv[:2]) if self.argv[0] == "data" else self.argv[0]


def snapshot(*folders: Path, skip: tuple[Path, ...] = ()) -> dict[str, str]:
    """sha256 of every file under ``folders`` (writer lock files and ``skip`` aside)."""
    digests = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if any(path == s or s in path.parents for s in skip):
                continue
            if path.is_file() and not (path.name.startswith(".") and path.name.endswith(".lock")):
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir():
                digests[str(path)] = "dir"
    return digests


@contextlib.contextmanager
def isolated(base: Path) -> Iterator[Path]:
    """Run the enclosed code in the empty folder ``base/cwd`` with HOME, TMPDIR, XDG_CACHE_HOME and
    MPLCONFIGDIR set to empty folders under ``base``; everything is put back afterwards."""
    folders = {var: base / name for var, name in ISOLATED.items()}
    for folder in (*folders.values(), base / "cwd"):
        folder.mkdir(parents=True)
    saved_env = {var: os.environ.get(var) for var in folders}
    saved_cwd, saved_tempdir = os.getcwd(), tempfile.tempdir
    os.environ.update({var: str(folder) for var, folder in folders.items()})
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    os.chdir(base / "cwd")
    try:
        yield base
    finally:
        os.chdir(saved_cwd)
        tempfile.tempdir = saved_tempdir
        for var, value in saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def left_behind(base: Path) -> list[str]:
    """Files and folders under the isolated ``base`` that are not a named library cache."""
    found = []
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base).as_posix()
        if rel in ("cwd", *ISOLATED.values()):
            continue
        if any(rel == cache or rel.startswith(cache + "/") or cache.startswith(rel + "/") for cache in LIBRARY_CACHES):
            continue
        found.append(rel)
    return found


def repeats_the_input(needle: str, argv: list[str]) -> bool:
    """Whether ``needle`` is only a piece of the command line (a path, an option, a value)."""
    return any(needle.lower() in arg.lower() for arg in argv)


def check_case(case: Case, tmp_path: Path, shared: dict[str, Path], capsys) -> tuple[str, str]:
    """Run ``case`` and assert its exit status, its whole stderr, and that nothing was written.

    ``capsys`` is pytest's ``capfd`` (also what a library prints from C code or a worker process:
    the corpus's tests pass it) or ``capsys``.
    """
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    if case.setup is not None:
        case.setup(case_dir, shared)
    names = {f"w_{k}": str(v) for k, v in shared.items()} | {"c": str(case_dir)}
    skip = tuple(case_dir / rel for rel in case.may_write)
    before = snapshot(case_dir, shared["base"], skip=skip)
    with contextlib.ExitStack() as stack:
        if case.around is not None:
            names |= stack.enter_context(case.around(case_dir, shared)) or {}
        argv = [a.format(**names) for a in case.argv]
        env = stack.enter_context(isolated(tmp_path / "env"))
        capsys.readouterr()
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        out, err = capsys.readouterr()
    assert "Traceback" not in err + out, err
    assert code == case.code, f"exit {code}, expected {case.code}: {err}"
    lines = err.splitlines()
    if case.stdout:
        assert err == "", f"the report goes to stdout; stderr holds: {err}"
        found = out.splitlines()
    elif case.code == 1:
        assert lines and all(line.startswith(PROBLEM) for line in lines), f"not one {PROBLEM!r} line per problem: {err}"
        found = lines
    else:
        assert len(lines) == 1 and lines[0].startswith(ERROR), f"not one {ERROR!r} line: {err}"
        found = lines
    assert any(all(n.lower() in line.lower() for n in case.needles) for line in found), (
        f"no line holds all of {case.needles}: {out if case.stdout else err}")
    assert case.needles and not all(repeats_the_input(n, argv) for n in case.needles), (
        f"the needles {case.needles} only repeat the command line; add the words of {found} that name the diagnosis and the fix")
    assert snapshot(case_dir, shared["base"], skip=skip) == before, "the command wrote or changed files"
    assert left_behind(env) == [], f"written to the working directory, HOME or the temp/cache folders: {left_behind(env)}"
    if case.extra is not None:
        case.extra(case_dir, shared)
    return out, err


# --------------------------------------------------------------------------- builders for setups
def write(rel: str, content: str | bytes) -> Callable[[Path, dict], None]:
    """A setup that writes ``content`` to ``c/rel``."""

    def setup(c: Path, w: dict) -> None:
        path = c / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return setup


def copy_of(name: str, change: Callable[[Path], None] | None = None, rel: str | None = None) -> Callable[[Path, dict], None]:
    """A setup that copies the shared project's ``name`` into ``c/rel`` (default: the same name) and changes it."""

    def setup(c: Path, w: dict) -> None:
        target = c / (rel or Path(w[name]).name)
        if Path(w[name]).is_dir():
            shutil.copytree(w[name], target)
        else:
            shutil.copy(w[name], target)
        if change is not None:
            change(target)

    return setup


def both(*setups: Callable[[Path, dict], None]) -> Callable[[Path, dict], None]:
    def setup(c: Path, w: dict) -> None:
        for one in setups:
            one(c, w)

    return setup


def edit_json(rel: str, change: Callable[[dict], object]) -> Callable[[Path], None]:
    """A change that edits the JSON file ``rel`` of a copied folder; ``change`` may return a replacement."""

    def apply(folder: Path) -> None:
        path = folder / rel
        data = json.loads(path.read_text())
        replaced = change(data)
        path.write_text(json.dumps(data if replaced is None else replaced))

    return apply


def wav(rel: str, samples: np.ndarray, sample_rate: int = 44100, subtype: str = "FLOAT") -> Callable[[Path, dict], None]:
    """A setup that writes a WAV file (float samples may hold NaN)."""

    def setup(c: Path, w: dict) -> None:
        import soundfile

        path = c / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, samples, sample_rate, subtype=subtype)

    return setup


def tau_copy(change: Callable[[Path], None] | None = None) -> Callable[[Path, dict], None]:
    """A setup that copies the shared dataset root to ``c/tau`` and changes it."""
    return copy_of("root", change)


def csv_lines(rel: str, text: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / rel).write_bytes(text.encode() if isinstance(text, str) else text)

    return apply
