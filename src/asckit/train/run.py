"""Run a training config with Lightning: the run directory, the Trainer, checkpoints and resume.

Its one job: ``train(config)`` turns a validated config into a finished run directory
(``asckit.train.run_dir.RunDir``: config, checkpoints, logs, finished marker; TensorBoard logs
too when it is installed).

Checkpoints are full Lightning checkpoints (weights, optimizer, lr schedule, loop position),
written atomically by Lightning. ``resume=True`` continues from ``last.ckpt``: a run killed at
any moment redoes the epoch it was in from that epoch's start; since every epoch's order and
random numbers derive from ``(seed, epoch, rank)``, the resumed run ends exactly where an
uninterrupted one would (bit for bit on CPU with ``trainer.deterministic``).

``trainer.precision: fast`` is resolved by the machine that trains (``asckit.train.config.run_precision``),
at every (re)start; ``RUN/precision.json`` records what each part of the run trained with, and a
run resumed on a machine that resolves it otherwise says so in a note.

Ctrl-C stops training the way it stops any command (``asckit: interrupted``, exit status 130);
the run keeps the checkpoint of its last finished epoch and continues with ``--resume``.

Output: one line per epoch; Lightning's progress bar and model summary with
``trainer.progress_bar: true`` or ``verbose``.

Scale-out: ``trainer.devices``, ``num_nodes`` and ``strategy`` go to ``lightning.Trainer`` as they
are. With ``strategy: ddp`` Lightning starts one process per device by re-running the same
command; under torchrun or SLURM every process runs the command itself. Only global rank 0
prepares the run directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import signal
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_write_text
from asckit.train.config import RESUMABLE_CHANGES, TrainConfig, config_differences, run_precision
from asckit.train.run_dir import LOGS, TENSORBOARD, RunDir
from asckit.train.schedule import cycle_end_epochs


def is_launch_rank_zero() -> bool:
    """Whether this process will be global rank 0, from the launcher's environment (True when alone).

    torchrun sets RANK, SLURM sets SLURM_PROCID, Lightning's DDP launcher gives the processes it
    starts LOCAL_RANK (and NODE_RANK on other nodes). Known before the Trainer exists, so only
    rank 0 touches the run directory.
    """
    for name in ("RANK", "SLURM_PROCID"):
        if name in os.environ:
            return int(os.environ[name]) == 0
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0


def prepare_run_dir(config: TrainConfig, resume: bool, write: bool = True) -> Path | None:
    """Check the run directory against ``resume`` and save the config; returns the checkpoint to resume from.

    ``write=False`` only checks, so that ``train`` can refuse early and still create nothing until
    everything else (store, model, trainer settings) has been validated.
    """
    run = RunDir(config.run_dir)
    run_dir, last, saved_path = run.path, run.last_checkpoint, run.config_file
    if run.has_config():
        run.refuse_resume_if_imported()
        failed_start = not any(run.checkpoints.glob("*.ckpt")) and not run.is_finished()
        if failed_start and not resume and not write:
            return None
        if failed_start and not resume:
            # It stopped before its first epoch (e.g. a bad trainer setting): the corrected rerun starts afresh.
            run.clear_failed_start()
        elif not resume:
            raise AsckitError(
                f"{run_dir}: a run of this name exists; continue it with --resume, or pick another name "
                f"(--set name=...)"
            )
        else:
            saved = run.load_config()
            changed = [k for k in config_differences(saved, config) if k not in RESUMABLE_CHANGES]
            if changed:
                raise AsckitError(
                    f"{saved_path}: the run was made with other values of {', '.join(changed)}; "
                    "resume with the same config, or start a new run with another name"
                )
    if not saved_path.is_file() and run_dir.exists() and any(run_dir.iterdir()):
        raise AsckitError(f"{run_dir}: folder exists but holds no run ({saved_path.name} missing); choose another name")
    if not write:
        return None
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    run.write_config(config)
    return last if resume and last.is_file() else None


def state_digest(state_dict: dict) -> str:
    """sha256 over a state_dict's names, dtypes, shapes and values (independent of memory format)."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _callbacks(config: TrainConfig, progress_bar: bool):
    """Cycle-end and per-epoch checkpoints, the precision record, the epoch lines (without
    ``progress_bar``) and the debug recorder; built here so Lightning loads lazily."""
    from lightning.pytorch.callbacks import Callback

    class SnapshotCheckpoints(Callback):
        """``cycle-EEEE.ckpt`` at every cycle end (``final-EEEE.ckpt`` at a last epoch that is
        not one), then ``last.ckpt``, at the end of each epoch.

        The snapshot is written first, so ``last.ckpt`` never runs ahead of a snapshot.
        """

        def __init__(self, run: RunDir, cycle_ends: set[int], last_epoch: int):
            self.run = run
            self.cycle_ends = cycle_ends
            self.last_epoch = last_epoch
            self.training = False

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
            # The first step of this fit changes the weights: outputs of the old ones are stale
            # (not in on_train_epoch_start, which a resumed run skips once).
            if self.training:
                return
            self.training = True
            if trainer.is_global_zero:
                import sys

                for path in self.run.forget_outputs():
                    if path != self.run.finished_file:
                        print(f"asckit: note: removed {path}: made from this run's earlier weights", file=sys.stderr)

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            epoch = trainer.current_epoch
            if epoch in self.cycle_ends:
                trainer.save_checkpoint(self.run.cycle_checkpoint(epoch), weights_only=False)
            elif epoch == self.last_epoch:
                trainer.save_checkpoint(self.run.final_checkpoint(epoch), weights_only=False)
            trainer.save_checkpoint(self.run.last_checkpoint, weights_only=False)

    class PrecisionRecord(Callback):
        """``RUN/precision.json``: the precision this (re)start trains with, from its first epoch on."""

        def __init__(self, run: RunDir):
            self.run = run

        def on_train_start(self, trainer, pl_module) -> None:
            if not trainer.is_global_zero:
                return
            epoch, precision = trainer.current_epoch, str(trainer.precision)
            before = self.run.record_precision(epoch, precision)
            if before is not None:
                import sys

                print(
                    f"asckit: note: {self.run.path}: trainer.precision {config.trainer.precision} trains with {precision} on "
                    f"this machine from epoch {epoch + 1}; the epochs before ran with {before} ({self.run.precision_file.name})",
                    file=sys.stderr,
                )

    class BatchRecorder(Callback):
        """debug.record_batches: each rank's clip keys per epoch, its step count, its final weights' hash."""

        def __init__(self, directory: Path):
            self.directory = directory
            self.seen: list[int] = []

        def on_fit_start(self, trainer, pl_module) -> None:
            self.directory.mkdir(parents=True, exist_ok=True)  # only now: the run directory exists

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
            if batch_idx == 0:
                self.seen = []  # not in on_train_epoch_start, which a resumed run skips once
                self.directory.mkdir(parents=True, exist_ok=True)  # here: the run directory is made after the trainer
            self.seen.extend(batch["index"].tolist())
            with open(self.directory / f"steps-rank{trainer.global_rank}.txt", "a", encoding="utf-8") as handle:
                handle.write(f"{trainer.current_epoch}\t{batch_idx}\n")

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            keys = trainer.datamodule.train_table.keys
            path = self.directory / f"seen-epoch{trainer.current_epoch:04d}-rank{trainer.global_rank}.txt"
            atomic_write_text(path, "".join(f"{keys[i]}\n" for i in self.seen))

        def on_train_end(self, trainer, pl_module) -> None:
            path = self.directory / f"state-rank{trainer.global_rank}.sha256"
            atomic_write_text(path, state_digest(pl_module.model.state_dict()) + "\n")

    class EpochSummary(Callback):
        """asckit's one line per epoch (when the progress bar, which shows the same, is off)."""

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            if not trainer.is_global_zero:
                return
            metrics = trainer.callback_metrics
            line = f"epoch {trainer.current_epoch + 1}/{config.optim.epochs}"
            if "train/loss_epoch" in metrics:
                line += f"  loss {float(metrics['train/loss_epoch']):.4f}"
            if "val/acc" in metrics:
                line += f"  val acc {float(metrics['val/acc']):.3f}"
            print(line, flush=True)

    o = config.optim
    run = RunDir(config.run_dir)
    # The warm-restart schedule's snapshots are its cycle ends; the cosine schedule has one, its last epoch.
    cycle_ends = set(cycle_end_epochs(o.epochs, o.first_cycle, o.cycle_mult)) if o.schedule == "warm_restarts" else set()
    callbacks = [SnapshotCheckpoints(run, cycle_ends, o.epochs - 1), PrecisionRecord(run)]
    if not progress_bar:
        callbacks.append(EpochSummary())
    if config.debug.record_batches:
        callbacks.append(BatchRecorder(run.debug_dir))
    return callbacks


def _loggers(config: TrainConfig) -> list:
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    # A new version_N folder per (re)start: CSVLogger would otherwise delete the earlier metrics.csv.
    loggers = [CSVLogger(config.run_dir, name=LOGS)]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        loggers.append(TensorBoardLogger(config.run_dir, name=TENSORBOARD))
    return loggers


def build_trainer(config: TrainConfig, has_validation: bool, extra_callbacks: tuple = (), verbose: bool = False):
    """The ``lightning.Trainer`` of a config (plus ``extra_callbacks``, e.g. a benchmark's timer);
    ``verbose`` shows Lightning's progress bar and model summary as ``trainer.progress_bar`` does."""
    import lightning as L

    t = config.trainer
    progress_bar = t.progress_bar or verbose
    deterministic: bool | str = t.deterministic
    if t.deterministic and t.accelerator in ("auto", "gpu", "cuda") and _cuda_available():
        deterministic = "warn"  # a few CUDA kernels have no deterministic version: warn, don't fail
    return L.Trainer(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=run_precision(t),
        deterministic=deterministic,
        max_epochs=config.optim.epochs,
        default_root_dir=config.run_dir,
        logger=_loggers(config),
        callbacks=_callbacks(config, progress_bar) + list(extra_callbacks),
        enable_checkpointing=False,  # SnapshotCheckpoints writes every checkpoint the run keeps
        use_distributed_sampler=False,  # EpochBatches splits every epoch across ranks itself
        num_sanity_val_steps=0,
        limit_val_batches=None if has_validation else 0,
        enable_progress_bar=progress_bar,
        enable_model_summary=progress_bar,
        log_every_n_steps=t.log_every_n_steps,
    )


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _drop_tips(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("💡")


def _quiet_lightning(verbose: bool = False) -> None:
    """Silence Lightning messages that are advertising or about deliberate choices; its banner lines
    (``GPU available: ...``, ``Trainer.fit stopped: ...``) only with ``verbose``."""
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")  # num_workers=0 is deliberate
    warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")  # tiny runs
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")  # Lightning vs torch 2.13
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")  # the logger rank_zero_info uses
    if _drop_tips not in logger.filters:
        logger.addFilter(_drop_tips)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    global_zero: bool  # this process is rank 0, the one that reports to the user
    finished: bool  # every epoch of the config has run


def train(
    config: TrainConfig,
    resume: bool = False,
    init_from: str | os.PathLike | None = None,
    extra_callbacks: tuple = (),
    verbose: bool = False,
) -> TrainResult:
    """Train ``config`` into ``config.run_dir``; ``resume`` continues from its ``last.ckpt``;
    ``init_from`` starts from the final weights of another run (fine-tuning, e.g. an imported one);
    ``verbose`` lets Lightning's own status lines, progress bar and model summary through.
    Ctrl-C raises KeyboardInterrupt (Lightning would exit with status 1).

    ``extra_callbacks``: Lightning callbacks to add (benchmarks/gpu.py times steps with one).
    """
    if init_from is not None and resume:
        raise AsckitError("--init-from starts a new run and --resume continues one; use one of them")
    if init_from is not None and config.init_from is not None:
        raise AsckitError(f"--init-from {init_from}: the config already starts from init_from {config.init_from}; give one of them")
    if config.model.devices:
        from asckit.train.device_specific import train_device_models

        return train_device_models(config, resume, init_from, verbose)
    locks: list = []
    try:
        return _train(config, resume, init_from, locks, verbose, extra_callbacks)
    finally:
        for lock in locks:
            lock.release()


def _train(config: TrainConfig, resume: bool, init_from, locks: list, verbose: bool, extra_callbacks: tuple) -> TrainResult:
    if is_launch_rank_zero():
        prepare_run_dir(config, resume, write=False)  # refuse early; create nothing yet

    _quiet_lightning(verbose)
    import lightning as L
    import torch

    from asckit.train.datamodule import StoreDataModule
    from asckit.train.module import SceneLightningModule

    # The data (and a distillation teacher) are checked before the run directory is made, so a
    # config error leaves no half-made run behind that would then need --resume.
    L.seed_everything(config.seed, workers=True, verbose=False)  # model initialisation
    datamodule = StoreDataModule(config)
    datamodule.prepare()
    module = SceneLightningModule(config, datamodule.in_channels)
    init_from = init_from if init_from is not None else (config.init_from if not resume else None)
    if init_from is not None:
        from asckit.train.init_from import load_initial_weights

        load_initial_weights(module.model, config, init_from)
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    fill_before = torch.utils.deterministic.fill_uninitialized_memory
    try:
        trainer = build_trainer(config, has_validation=datamodule.val_table is not None, extra_callbacks=extra_callbacks, verbose=verbose)
    except Exception as exc:  # Lightning refuses trainer settings this machine cannot run (MisconfigurationException)
        if type(exc).__name__ != "MisconfigurationException" and not isinstance(exc, ValueError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AsckitError(
            f"trainer.accelerator {config.trainer.accelerator!r} with trainer.devices {config.trainer.devices!r} cannot "
            f"run here ({first}); fix trainer.* in the config or with --set"
        ) from None
    o = config.optim
    if o.schedule == "cosine":  # a warm-up longer than the run is refused now, not at the first step
        from asckit.train.module import warmup_steps

        total = datamodule.steps_per_epoch(trainer.world_size) * o.epochs
        if warmup_steps(o, total) > total:
            raise AsckitError(
                f"optim.warmup_steps: {o.warmup_steps} warm-up steps exceed the run's {total} optimizer steps "
                f"({o.epochs} epochs of {total // o.epochs}); lower optim.warmup_steps, or set optim.warmup_fraction"
            )
    if is_launch_rank_zero():  # everything is validated: only now is the run directory made
        from asckit.core.locking import acquire_writer

        locks.append(acquire_writer(config.run_dir, "run directory"))  # one trainer per run; a crash frees it too
        ckpt_path = prepare_run_dir(config, resume)  # checked again: another trainer may have made it meanwhile
    else:
        last = RunDir(config.run_dir).last_checkpoint
        ckpt_path = last if resume and last.is_file() else None
    sigint_before = signal.getsignal(signal.SIGINT)
    # With deterministic algorithms on, torch also fills every new tensor with NaN, which only shows
    # reads of uninitialized memory and is not needed for determinism (torch.utils.deterministic's
    # docs); it cost 15 % of a TAU22 training step on a CPU (benchmarks/train_tau22.py --profile).
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    except SystemExit:
        # Lightning turns Ctrl-C into sys.exit(1) after stopping cleanly (trainer.interrupted);
        # asckit reports it as every command does (asckit.cli: "asckit: interrupted", status 130).
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        # Lightning switches torch to deterministic algorithms process-wide, and ignores Ctrl-C
        # once interrupted; leave the process as it was.
        torch.use_deterministic_algorithms(deterministic_before)
        torch.utils.deterministic.fill_uninitialized_memory = fill_before
        if sigint_before is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, sigint_before)
    finished = trainer.current_epoch >= config.optim.epochs
    if trainer.is_global_zero and finished:
        RunDir(config.run_dir).mark_finished(config.optim.epochs, trainer.global_step)
    return TrainResult(config.run_dir, trainer.is_global_zero, finished)


__all__ = [
    "TrainResult",
    "build_trainer",
    "is_launch_rank_zero",
    "prepare_run_dir",
    "state_digest",
    "train",
]
