"""The run directory: the folder a training run writes and every later stage reads.

Its one job is the layout, in one place::

    RUN/config.yaml                 the resolved config (every "reference" value filled in;
                                    trainer.precision as asked for, ``fast`` included)
    RUN/precision.json              what the run trained with: [{"first_epoch": E, "precision": P}],
                                    one entry per change (``fast`` resolves per machine, and a run
                                    resumed on another machine may change), E 0-based
    RUN/checkpoints/last.ckpt       written at the end of every epoch (and so at the end)
    RUN/checkpoints/cycle-EEEE.ckpt at the end of every cosine cycle (lr at its minimum), EEEE the
                                    0-based epoch: the snapshots predictions and exports average
    RUN/checkpoints/final-EEEE.ckpt the last epoch, when the run ends inside a cycle (1b: 500 epochs
                                    end 246 epochs into the 256-epoch 8th cycle, lr about 4e-4):
                                    the latest snapshot
    RUN/logs/version_N/metrics.csv  one CSV per (re)start (Lightning's CSVLogger)
    RUN/finished.json               once the last epoch is done (epochs, global step, snapshots)
    RUN/imported.json               only in an imported run (``asckit import-keras``, ``asckit import-ckpt``):
                                    source file, SHA-1, what was found; such a run cannot resume
    RUN/published/                  only in a run fetched by ``asckit pretrained get``: the authors' own
                                    deployable file of the model, as published (their TFLite)
    RUN/predictions/<split>.tsv     ``asckit predict-split`` (a prediction TSV)
    RUN/export/                     ``asckit export RUN`` (an export bundle, asckit.deploy.bundle)
    RUN/debug/                      only with debug.record_batches (tests)

``train`` writes it (``asckit.train.run``); ``predict-split``, ``export``, ``reproduce`` and
``submission`` read it through ``RunDir``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_write_text

CONFIG_FILE = "config.yaml"
CHECKPOINTS = "checkpoints"
LAST = "last.ckpt"
CYCLE_GLOB = "cycle-*.ckpt"
FINAL_GLOB = "final-*.ckpt"
FINISHED = "finished.json"
PRECISION = "precision.json"
IMPORTED = "imported.json"
PUBLISHED = "published"
PREDICTIONS = "predictions"
EXPORT = "export"
DEBUG = "debug"
LOGS = "logs"
TENSORBOARD = "tensorboard"


def cycle_checkpoint_name(epoch: int) -> str:
    return f"cycle-{epoch:04d}.ckpt"


def final_checkpoint_name(epoch: int) -> str:
    return f"final-{epoch:04d}.ckpt"


def checkpoint_epoch(path: str | os.PathLike) -> int:
    """The 0-based epoch of a ``cycle-EEEE.ckpt`` or ``final-EEEE.ckpt``."""
    return int(Path(path).stem.rsplit("-", 1)[1])


@dataclass(frozen=True)
class RunDir:
    """A run directory at ``path`` (it need not exist yet)."""

    path: Path

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.resolve().name

    # Config

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    def has_config(self) -> bool:
        return self.config_file.is_file()

    def load_config(self):
        """The resolved ``TrainConfig`` the run was made with, its paths read from where the run is
        now (``asckit.train.config.relocated``: a moved project still finds its data)."""
        import yaml

        from asckit.train.config import config_from_dict, relocated

        if not self.has_config():
            raise AsckitError(f"{self.path}: not a run directory (no {CONFIG_FILE}); train one with `asckit train CONFIG.yaml`")
        saved = config_from_dict(yaml.safe_load(self.config_file.read_text(encoding="utf-8")), source=str(self.config_file))
        return relocated(saved, self.path)

    def write_config(self, config) -> None:
        atomic_write_text(self.config_file, config.to_yaml())

    # Checkpoints

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / LAST

    def cycle_checkpoint(self, epoch: int) -> Path:
        return self.checkpoints / cycle_checkpoint_name(epoch)

    def final_checkpoint(self, epoch: int) -> Path:
        return self.checkpoints / final_checkpoint_name(epoch)

    def cycle_checkpoints(self) -> list[Path]:
        """The cycle-end checkpoints, oldest first."""
        return sorted(self.checkpoints.glob(CYCLE_GLOB), key=checkpoint_epoch)

    def snapshot_files(self) -> list[Path]:
        """The run's snapshots, oldest first: its cycle-end checkpoints, then its final-epoch one.

        Only the latest ``final-EEEE.ckpt`` counts, and only when it is later than every cycle end
        (a run resumed with more epochs leaves an earlier final epoch behind, which is then no
        snapshot of this run's schedule).
        """
        snapshots = self.cycle_checkpoints()
        finals = sorted(self.checkpoints.glob(FINAL_GLOB), key=checkpoint_epoch)
        if finals and (not snapshots or checkpoint_epoch(finals[-1]) > checkpoint_epoch(snapshots[-1])):
            snapshots.append(finals[-1])
        return snapshots

    def snapshot_checkpoints(self, snapshots: int, explicit: bool = True) -> list[Path]:
        """The last ``snapshots`` snapshots (``snapshot_files``), oldest first; ``last.ckpt`` if there are none.

        Fewer snapshots than an ``explicit`` request (``--snapshots K``) is an error, never a quiet
        fallback; for the config's K (``explicit=False``) a run that holds fewer (a short run) uses
        those it has, with a note on stderr.
        """
        import sys

        if snapshots < 1:
            raise AsckitError(f"--snapshots {snapshots}: use 1 or more")
        found = self.snapshot_files()
        if len(found) >= snapshots:
            return found[-snapshots:]
        if found and explicit:
            raise AsckitError(f"--snapshots {snapshots}: {self.checkpoints} holds {len(found)} snapshot(s); use at most {len(found)}")
        if found:
            print(f"asckit: note: {self.path}: {len(found)} of the config's {snapshots} snapshots exist; averaging those", file=sys.stderr)
            return found
        if self.last_checkpoint.is_file():
            return [self.last_checkpoint]
        raise AsckitError(f"{self.checkpoints}: no checkpoints; train the run first (`asckit train CONFIG.yaml`)")

    def clear_failed_start(self) -> None:
        """Remove what a start that stopped before its first epoch left (config, logs, no checkpoint),
        so that the corrected command starts afresh instead of being told to --resume."""
        import shutil

        for path in (self.config_file, self.precision_file, self.checkpoints, self.path / LOGS, self.path / TENSORBOARD, self.debug_dir):
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)

    # Precision record (train writes it when each (re)start begins training)

    @property
    def precision_file(self) -> Path:
        return self.path / PRECISION

    def precisions_used(self) -> list[tuple[int, str]]:
        """(first 0-based epoch, precision) of each part of the run, oldest first; empty when not
        recorded (a run made before the record existed, or imported)."""
        if not self.precision_file.is_file():
            return []
        try:
            entries = json.loads(self.precision_file.read_text(encoding="utf-8"))
            return [(int(e["first_epoch"]), str(e["precision"])) for e in entries]
        except (ValueError, TypeError, KeyError) as exc:
            raise AsckitError(f"{self.precision_file}: damaged ({exc}); delete it (it only records what the run trained with)") from None

    def record_precision(self, first_epoch: int, precision: str) -> str | None:
        """Record that training from ``first_epoch`` on runs with ``precision``; returns the
        precision the epochs before it ran with when that differs (else None)."""
        kept = [(e, p) for e, p in self.precisions_used() if e < first_epoch]  # a redone epoch is retrained
        before = kept[-1][1] if kept else None
        if before != precision:
            kept.append((first_epoch, precision))
        text = json.dumps([{"first_epoch": e, "precision": p} for e, p in kept], indent=2) + "\n"
        atomic_write_text(self.precision_file, text)
        return before if before not in (None, precision) else None

    def describe_precision(self, requested: str) -> str:
        """``requested`` (the config's trainer.precision) with what it trained with where that says
        more: ``32-true``, ``fast = bf16-mixed``, ``fast = bf16-mixed from epoch 1, 32-true from epoch 5``."""
        used = self.precisions_used()
        if not used or (len(used) == 1 and used[0][1] == requested):
            return requested
        if len(used) == 1:
            return f"{requested} = {used[0][1]}"
        return f"{requested} = " + ", ".join(f"{p} from epoch {e + 1}" for e, p in used)

    # Finished marker

    @property
    def finished_file(self) -> Path:
        return self.path / FINISHED

    def is_finished(self) -> bool:
        return self.finished_file.is_file()

    def mark_finished(self, epochs: int, global_step: int) -> None:
        summary = {"epochs": epochs, "global_step": int(global_step), "snapshots": [p.name for p in self.snapshot_files()]}
        atomic_write_text(self.finished_file, json.dumps(summary, indent=2) + "\n")

    # Imported runs (asckit.pretrained.keras_import writes them)

    @property
    def imported_file(self) -> Path:
        return self.path / IMPORTED

    def is_imported(self) -> bool:
        return self.imported_file.is_file()

    @property
    def published_dir(self) -> Path:
        """The authors' published files that came with an imported run (``asckit pretrained get``)."""
        return self.path / PUBLISHED

    def refuse_resume_if_imported(self) -> None:
        """AsckitError when the run was imported (from Keras or a CPJKU checkpoint): it has no training state to resume."""
        if self.is_imported():
            try:
                kind = json.loads(self.imported_file.read_text(encoding="utf-8")).get("format", "keras")
            except (OSError, ValueError, AttributeError):
                kind = "keras"
            source = "a CPJKU checkpoint" if kind == "cpjku-checkpoint" else "a Keras file"
            raise AsckitError(
                f"{self.path}: imported from {source}, not trained by asckit, so there is nothing to resume; "
                f"fine-tune it with `asckit train CONFIG.yaml --init-from {self.path}` under a new run name"
            )

    # Outputs of later stages

    def predictions(self, split: str) -> Path:
        """Where ``asckit predict-split`` writes the run's predictions on ``split``."""
        return self.path / PREDICTIONS / f"{split}.tsv"

    @property
    def export_dir(self) -> Path:
        """The default bundle folder of ``asckit export RUN``."""
        return self.path / EXPORT

    def exported_bundle(self) -> Path | None:
        """The run's export folder when it holds a bundle, else None."""
        from asckit.deploy.bundle import BUNDLE_FILE

        return self.export_dir if (self.export_dir / BUNDLE_FILE).is_file() else None

    def forget_outputs(self) -> list[Path]:
        """Remove what the run's earlier weights produced (finished marker, predictions, its own
        export folder), as training is about to change those weights: a run resumed with more
        epochs must not be read through outputs of its old snapshots. Returns what was removed."""
        import shutil

        removed = []
        for path in (self.finished_file, self.path / PREDICTIONS, self.export_dir):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            else:
                continue
            removed.append(path)
        return removed

    @property
    def debug_dir(self) -> Path:
        return self.path / DEBUG


__all__ = ["RunDir", "cycle_checkpoint_name"]
