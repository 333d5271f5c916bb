"""The bad-input corpus's harness (issue 15): one tiny project built once per session, and
``check_case``, which runs one bad command line in-process and asserts what a user relies on:

* the exit status (0 ok, 1 problems found, 2 usage error; README "Exit status"),
* exactly one error line naming what to fix, and never a traceback,
* nothing written or changed: every file of the case's folder and of the shared project hashes the
  same after the command as before it (writer lock files, ``.NAME.lock``, aside).

Cases are plain data (``Case``); each ``test_bad_inputs_<area>.py`` lists its own and
``tests/count_bad_inputs.py`` counts them per command.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from conftest import EVALUATE_NAMES, TRAIN_NAMES, write_tau_root

from asckit.cli import main

#: Lines Lightning or asckit print on stderr that are not errors (asckit's own warnings, a waiting writer).
NOT_ERRORS = ("GPU available", "TPU available", "HPU available", "`Trainer.fit` stopped", "LOCAL_RANK",
              "asckit: warning:", "asckit: waiting", "💡")

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


def check_case(case: Case, tmp_path: Path, shared: dict[str, Path], capsys) -> tuple[str, str]:
    """Run ``case`` and assert its exit status, its one error line, and that nothing changed."""
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    if case.setup is not None:
        case.setup(case_dir, shared)
    names = {f"w_{k}": str(v) for k, v in shared.items()} | {"c": str(case_dir)}
    argv = [a.format(**names) for a in case.argv]
    skip = tuple(case_dir / rel for rel in case.may_write)
    before = snapshot(case_dir, shared["base"], skip=skip)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out, err
    assert code == case.code, f"exit {code}, expected {case.code}: {err}"
    errors = [line for line in err.splitlines() if "error:" in line and not line.startswith(NOT_ERRORS)]
    if case.stdout:
        text = out
        assert any(all(n.lower() in line.lower() for n in case.needles) for line in out.splitlines()), out
    else:
        assert len(errors) == 1, f"not one error line: {err}"
        text = errors[0]
        for needle in case.needles:
            assert needle.lower() in text.lower(), f"{needle!r} not in {text!r}"
    assert snapshot(case_dir, shared["base"], skip=skip) == before, "the command wrote or changed files"
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
