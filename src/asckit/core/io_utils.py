"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or Ctrl-C therefore never leaves a half-written result under the final name. The result
gets the user's normal permissions (``0666``/``0777`` less the umask), not the ``0600``/``0700`` of
the temporary (which a bare rename would keep).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from asckit.core.errors import AsckitError, first_line


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    The temporary keeps the target's suffix so that writers which look at it (soundfile, numpy)
    behave as for the final name.
    """
    path = Path(path)
    if path.is_dir():
        raise AsckitError(f"{path}: is a folder; give a file name there (e.g. {path / ('NAME' + (path.suffix or '.tsv'))})")
    if path.parent.exists() and not path.parent.is_dir():
        raise AsckitError(f"{path.parent}: is a file, not a folder; give an output path inside a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


STAGING = ".staging-"


def staging_dir(target: str | os.PathLike) -> Path:
    """A new empty folder beside ``target`` to assemble it in, then rename onto it.

    Staging folders an earlier, killed run left beside ``target`` are removed first: call this with
    ``target``'s writer lock held (``asckit.core.locking``), so no other process is using them. The folder
    gets the user's normal permissions (0777 less the umask).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{glob.escape(target.name)}{STAGING}*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{STAGING}", dir=target.parent))
    os.chmod(staging, 0o777 & ~current_umask())
    return staging


def replace_folder(staging: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move the assembled ``staging`` folder (``staging_dir``) onto ``target``; a folder already there
    is removed only once the new one is in place."""
    staging, target = Path(staging), Path(target)
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


def read_json_object(path: str | os.PathLike, fix: str) -> dict:
    """A JSON file that must hold an object; a damaged one is a one-line error ending with ``fix``."""
    import json

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AsckitError(f"{path}: damaged ({first_line(exc)}); {fix}") from None
    if not isinstance(data, dict):
        raise AsckitError(f"{path}: damaged (a JSON {type(data).__name__}, not an object); {fix}")
    return data


def refuse_output_over_input(out: str | os.PathLike | None, inputs, option: str = "--out", folder: bool = False) -> None:
    """Refuse an output path that names one of the command's ``inputs`` (``None`` entries are skipped):
    writing it would destroy what the command reads, and record the result as its own source.
    ``folder=True`` for an output folder that is replaced or filled as a whole (a bundle, a store, a
    run): it must not hold an input either. Call it before anything is read or written."""
    if out is None:
        return
    target = Path(out).resolve()
    for given in inputs:
        if given is None:
            continue
        source = Path(given).resolve()
        if source == target:
            raise AsckitError(f"{option} {out}: is also an input of this command ({given}); writing it would destroy "
                              "that input: give another output path")
        if folder and target in source.parents:
            raise AsckitError(f"{option} {out}: holds an input of this command ({given}); writing there would destroy "
                              "that input: give another output folder")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
