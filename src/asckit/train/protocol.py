"""Protocol guards: refuse, before training, a run that would learn labels its protocol does not allow.

Its one job: two checks of what a training run may learn from, each a pure function that returns
nothing or raises one-line ``AsckitError`` (reference/dcase2025/README.md §4, last item): 2024
entries train on the labels of their split only, 2025 entries on split 25 only.

* :func:`check_training_rows_in_split`: every training row is a clip of the configured split.
* :func:`check_teacher_provenance`: a distillation teacher's prediction file comes from runs trained
  within the student's split. A teacher trained on more (e.g. on TAU20's training split, which is
  TAU22's split 100) leaks the labels of the clips outside the split into the student through its
  predictions. The runs behind a file are read from its provenance sidecar
  (``asckit.predictions.file_format``: ``asckit predict-split`` records the run, ``asckit fuse`` and
  ``asckit reproduce`` the files fused, each with its own record), and each run's training clips
  from its saved config (:func:`run_training_clips`).

Clips are compared by name as prediction files are (``asckit.predictions.reader.clip_key``: the
basename), and a feature-store row of an augmented copy (``<filename>#<kind>``) counts as the clip it
was made from, so augmented copies of split clips are inside the split.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from asckit.core.errors import AsckitError

__all__ = [
    "check_teacher_provenance",
    "check_training_rows_in_split",
    "clip_names",
    "run_training_clips",
    "teacher_runs",
]

#: How deep fused files may nest (a fusion of fusions of ...) before the record is taken as circular.
MAX_PROVENANCE_DEPTH = 16


def clip_names(filenames: Iterable[str]) -> set[str]:
    """The clips of dataset filenames or feature-store row keys, as the checks compare them."""
    from asckit.features.augment_kinds import row_source
    from asckit.predictions.reader import clip_key

    return {clip_key(row_source(name)) for name in filenames}


def _outside(rows: Iterable[str], allowed: set[str]) -> list[str]:
    """The rows whose clip is not in ``allowed`` (clip names), in their order."""
    from asckit.features.augment_kinds import row_source
    from asckit.predictions.reader import clip_key

    return [r for r in rows if clip_key(row_source(r)) not in allowed]


def check_training_rows_in_split(train_filenames: Iterable[str], split_filenames: Iterable[str], split_name: str) -> None:
    """Refuse training rows (dataset filenames or store row keys) whose clip is not in the split
    ``split_name`` (its filenames ``split_filenames``), in one line naming how many and one of them."""
    rows = list(train_filenames)
    outside = _outside(rows, clip_names(split_filenames))
    if outside:
        raise AsckitError(
            f"{split_name}: {len(outside)} of the {len(rows)} training rows are not clips of this split "
            f"(e.g. {outside[0]}); the protocol trains on its split's labels only: train on that split's rows "
            "(check data.kinds and the feature store's rows)"
        )


def teacher_runs(teacher_tsv: str | os.PathLike) -> list[Path]:
    """The run directories behind the prediction file ``teacher_tsv``, read from its provenance
    sidecar and, for a fused file, from those of the files it was fused from (in order, no repeats).

    Refuses a file (or a fused member) without a sidecar, or whose record names no run."""
    from asckit.predictions.file_format import provenance_path, read_provenance

    top = Path(teacher_tsv)
    runs: list[Path] = []

    def fix(name: str) -> str:
        return (
            f"make the teacher file with `asckit predict-split RUN --split train` (or `asckit fuse` of such files), "
            f"which writes {name} beside it"
        )

    def visit(path: Path, record: dict | None, depth: int) -> None:
        sidecar = provenance_path(path).name
        if record is None:
            where = "" if path == top else f" (fused from {path})"
            raise AsckitError(
                f"distill.teacher: {top}{where}: no provenance sidecar ({sidecar}), so asckit cannot check which clips "
                f"the teacher was trained on; {fix(sidecar)}"
            )
        if depth > MAX_PROVENANCE_DEPTH:
            raise AsckitError(f"distill.teacher: {top}: its provenance nests more than {MAX_PROVENANCE_DEPTH} fusions deep "
                              f"(circular?); {fix(sidecar)}")
        if isinstance(record.get("run"), str):
            run = Path(record["run"])
            if run not in runs:
                runs.append(run)
            return
        inputs = record.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise AsckitError(
                f"distill.teacher: {top}: the provenance sidecar of {path} ({sidecar}) names no run and no fused files, "
                f"so asckit cannot check which clips the teacher was trained on; {fix(sidecar)}"
            )
        for member in inputs:
            if isinstance(member, dict) and "file" in member:  # asckit fuse: each input with its own record
                visit(Path(member["file"]), member.get("source"), depth + 1)
            elif isinstance(member, str):  # asckit reproduce: the fused files' paths
                visit(Path(member), read_provenance(member), depth + 1)
            else:
                raise AsckitError(f"distill.teacher: {top}: the provenance sidecar of {path} ({sidecar}) has an input "
                                  f"asckit does not know ({member!r}); {fix(sidecar)}")

    visit(top, read_provenance(top), 0)
    return runs


def run_training_clips(run_dir: Path) -> tuple[str, set[str]]:
    """What a run may have trained on: a description for messages and the clip names of the split its
    saved config names (``data.train_split`` of ``data.root``), before any validation hold-out (a
    superset of its training rows, so the check errs on the safe side). The one place that knows how a
    config names its training split: a protocol that adds split keys extends it here."""
    from asckit.data.tau import load_split
    from asckit.train.run_dir import RunDir

    run = RunDir(run_dir)
    if not run.has_config():
        raise AsckitError(
            f"{run_dir}: the teacher run named by the provenance is not there (no config.yaml), so asckit cannot check "
            "which clips it was trained on; restore the run, or make the teacher file again from a run that exists"
        )
    config = run.load_config()
    frame = load_split(config.data.root, config.data.train_split, percent=config.data.split)
    split = f"split {config.data.split} %" if config.data.split is not None else f"split {config.data.train_split!r}"
    return f"{split} of {config.data.root}", clip_names(frame["filename"])


def check_teacher_provenance(
    teacher_tsv: str | os.PathLike,
    student_split: set[str] | frozenset[str] | str,
    *,
    student_root: str | os.PathLike | None = None,
    split_name: str | None = None,
    training_clips: Callable[[Path], tuple[str, set[str]]] = run_training_clips,
) -> None:
    """Refuse a teacher whose runs were not all trained within the student's split, in one line.

    ``student_split`` is the set of the split's filenames, or a split name of the student's dataset
    ``student_root`` (read with ``asckit.data.tau.load_split``). ``split_name`` names the split in
    messages (default: the name, or "the student's split"). ``training_clips(run_dir)`` gives a
    run's (description, clip names); the default reads the run's saved config
    (:func:`run_training_clips`). A teacher file without a provenance sidecar is refused too: it
    cannot be checked.
    """
    if isinstance(student_split, str):
        if student_root is None:
            raise ValueError("check_teacher_provenance: a split given by name needs student_root")
        from asckit.data.tau import load_split

        name = split_name or f"split {student_split!r} of {student_root}"
        allowed = clip_names(load_split(student_root, student_split)["filename"])
    else:
        name = split_name or "the student's split"
        allowed = clip_names(student_split)
    for run in teacher_runs(teacher_tsv):
        described, clips = training_clips(run)
        outside = sorted(clips - allowed)
        if outside:
            raise AsckitError(
                f"distill.teacher: {teacher_tsv}: teacher run {run} was trained on {described}, {len(outside)} of whose "
                f"{len(clips)} clips are outside {name} (e.g. {outside[0]}), so it would leak their labels into the "
                f"student; use a teacher trained within {name}"
            )
