"""Fine-tuning: start a new training run from the final weights of another run.

One job: ``load_initial_weights(model, config, run_dir)`` copies the weights ``asckit
predict-split`` would use for ``run_dir`` (its last snapshot) into the freshly built network of a
new run, after checking that both runs build the same network (architecture, width, parameters,
classes). The source may be trained by asckit or imported from Keras (``asckit import-keras``).
Only weights and BatchNorm statistics are taken: the optimizer, schedule and epoch count start
anew, as the new config says.
"""

from __future__ import annotations

import os
from pathlib import Path

from asckit.core.errors import AsckitError


def load_initial_weights(model, config, run_dir: str | os.PathLike) -> Path:
    """Load the last snapshot of ``run_dir`` into ``model`` (built from ``config``); returns the checkpoint."""
    import torch

    from asckit.train.predict import load_checkpoint_model
    from asckit.train.run_dir import RunDir

    run = RunDir(run_dir)
    run_dir = run.path
    source = run.load_config()
    ours = (config.model.name, config.model.width, config.model.params, config.num_classes)
    theirs = (source.model.name, source.model.width, source.model.params, source.num_classes)
    if ours != theirs:
        raise AsckitError(
            f"--init-from {run_dir}: that run is model {theirs[0]} (width {theirs[1]}, params {theirs[2]}, "
            f"{theirs[3]} classes), this config builds {ours[0]} (width {ours[1]}, params {ours[2]}, {ours[3]} classes); "
            f"set the config's model and labels to match {run.config_file}"
        )
    checkpoint = run.snapshot_checkpoints(1)[-1]
    trained = load_checkpoint_model(checkpoint, source, model.in_channels, torch.device("cpu"))
    if source.model.devices:  # a device-specific run (asckit.train.device_specific): its general model
        trained = trained.base_model
    model.load_state_dict(trained.state_dict())
    return checkpoint


__all__ = ["load_initial_weights"]
