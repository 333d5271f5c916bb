"""DCASE 2025 device-specific models: one run directory with the general model and a fine-tuned copy per device.

Its one job: train a config whose ``model.devices`` lists devices, as the 2025 baseline's
``train_device_specific.py`` does: each listed device's model starts from the general run
(``init_from``) and is fine-tuned on that device's training clips alone (the config's own epochs,
lr, warm-up; the recipe turns Freq-MixStyle off), one device after the other. Every device
training is an ordinary run directory inside the device-specific one, so it resumes and is reused
like any other::

    RUN/config.yaml                    the device-specific config (model.devices, init_from)
    RUN/devices/<dev>/                 the fine-tuning run of device <dev> (data.devices: [<dev>])
    RUN/checkpoints/final-EEEE.ckpt    the assembled model: ``model.base_model.*`` (the general run's
                                       last snapshot) and ``model.device_models.<dev>.*``
                                       (``asckit.models.device_specific.DeviceSpecificModel``)
    RUN/finished.json                  once every device is trained and the model assembled

Predictions pick each clip's model by its device (``asckit.train.predict``): the device's own, or the
general model for a device without one (s4–s6 of the dev-test, every new evaluation device).
"""

from __future__ import annotations

from pathlib import Path

from asckit.core.errors import AsckitError

DEVICES_DIR = "devices"


def device_config(config, device: str):
    """The fine-tuning run of one device: the config without ``model.devices``, on that device's clips."""
    sub = config.model_copy(deep=True)
    sub.model.devices = []
    sub.data.devices = [device]
    sub.name = device
    sub.runs_dir = Path(config.run_dir) / DEVICES_DIR
    return sub


def train_device_models(config, resume: bool, init_from, verbose: bool):
    """Train every device of ``config.model.devices`` from the general run, then assemble the run."""
    from asckit.core.locking import acquire_writer
    from asckit.train.run import TrainResult, prepare_run_dir, train
    from asckit.train.run_dir import RunDir

    general = init_from if init_from is not None else config.init_from
    if general is None:
        raise AsckitError(
            "model.devices: device-specific models start from a general run; set init_from: runs/<the general run> "
            "(or --init-from RUN)"
        )
    general_run = RunDir(general)
    if not general_run.has_config():
        raise AsckitError(f"init_from: {general_run.path} is not a run directory; train the general run there first "
                          "(`asckit train configs/dcase2025/general.yaml`) or fix init_from")
    if not general_run.is_finished():
        raise AsckitError(f"init_from: {general_run.path} has not finished training; train the general run first (--resume it)")
    if not RunDir(config.run_dir).has_config():
        prepare_run_dir(config, resume=False, write=False)  # refuse a folder that is no run, before anything is made
    for device in config.model.devices:  # every device's clips and the store, checked before anything is made
        from asckit.train.datamodule import StoreDataModule

        StoreDataModule(device_config(config, device)).prepare()
    lock = acquire_writer(config.run_dir, "run directory")
    try:
        # A run directory with a config always continues: its device runs are kept and reused, so a config
        # that differs from the saved one is refused (prepare_run_dir) rather than cleared as a failed start,
        # which would leave device runs of the old settings to be reused under the new ones.
        prepare_run_dir(config, resume=resume or RunDir(config.run_dir).has_config())
    finally:
        lock.release()
    last = None
    for device in config.model.devices:
        sub = device_config(config, device)
        sub.init_from = Path(general_run.path)
        run = RunDir(sub.run_dir)
        if run.is_finished() and run.load_config().optim.epochs == sub.optim.epochs:
            continue  # a finished run of more or fewer epochs is resumed to the config's count, as any run
        print(f"asckit: device {device}: fine-tuning from {general_run.path}", flush=True)
        last = train(sub, resume=run.has_config(), verbose=verbose)
        if not last.finished:
            return TrainResult(config.run_dir, last.global_zero, False)
    assemble(config, general_run)
    return TrainResult(config.run_dir, True if last is None else last.global_zero, True)


def assemble(config, general_run) -> Path:
    """Write the run's one snapshot: the general run's last snapshot as ``base_model``, each device run's
    last snapshot as ``device_models.<dev>``; then mark the run finished."""
    import torch

    from asckit.core.io_utils import atomic_path
    from asckit.train.run_dir import RunDir

    run = RunDir(config.run_dir)
    state = {}
    sources = {"base_model": general_run.snapshot_checkpoints(1)[-1]}
    for device in config.model.devices:
        sources[f"device_models.{device}"] = RunDir(device_config(config, device).run_dir).snapshot_checkpoints(1)[-1]
    for prefix, checkpoint in sources.items():
        weights = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
        state.update({f"model.{prefix}.{k[len('model.'):]}": v for k, v in weights.items() if k.startswith("model.")})
    target = run.final_checkpoint(config.optim.epochs - 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as partial:
        torch.save({"state_dict": state, "sources": {k: str(v) for k, v in sources.items()}}, partial)
    for stale in run.snapshot_files():  # an assembly of another epoch count must not stay the run's snapshot
        if stale != target:
            stale.unlink()
    run.mark_finished(config.optim.epochs, 0)
    return target


__all__ = ["DEVICES_DIR", "assemble", "device_config", "train_device_models"]
