"""Predictions of a trained run on a dataset split: the snapshot average of its cycle-end checkpoints.

Its one job: ``predict_split(run_dir, split)`` writes ``RUN/predictions/<split>.tsv`` (``RunDir.predictions``) in the DCASE
format (``asckit.predictions``): one row per clip of the split, in CSV order, each row the mean of
the softmax outputs of the run's last K snapshots (``snapshots`` in the config; the paper's
"snapshot averaging near the lr minimum", reference/spec.md "Paper vs code"), with equal weight.
The snapshots are the cycle-end checkpoints and, when the run ends inside a cycle, its final
epoch (``final-EEEE.ckpt``), which is then the latest snapshot: a 500-epoch Task 1b run with
K = 3 averages epochs 125, 253 and 499 (K = 1, what ``asckit export`` uses to stay under the
500 KB budget, is the final model), not only the cycle ends up to 253 as before (on the synthetic
1b set, 13 epochs: K = 1 +24.8 points, K = 2 +14.1, 3 seeds; configs/experiments/fidelity_1b.yaml). Which
checkpoints are used depends only on the training schedule, never on any score: nothing is
selected on the split being predicted. A run stopped before its first snapshot is predicted
with its latest checkpoint (``last.ckpt``).

Models see the full-length, unaugmented input (stored static log-mel + deltas), in float32, on
the GPU when there is one. This is a plain inference loop rather than a Lightning one: it has no
state to resume and stays free of Lightning's start-up cost.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

from asckit.errors import AsckitError
from asckit.tasks import stored_to_input_shape
from asckit.train.run_dir import RunDir


@dataclasses.dataclass(frozen=True)
class PredictResult:
    path: Path
    checkpoints: tuple[Path, ...]
    clips: int


def load_checkpoint_model(checkpoint: Path, config, in_channels: int, device):
    """The run's network with the weights of ``checkpoint``, in eval mode on ``device``."""
    import torch

    from asckit.models import build

    model = build(
        config.model.name,
        num_classes=config.num_classes,
        in_channels=in_channels,
        width=config.model.width,
        **config.model.params,
    )
    try:
        # weights_only: a checkpoint is data; nothing in it needs to run code to load.
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    except Exception as exc:
        raise AsckitError(f"{checkpoint}: cannot be read as a checkpoint ({type(exc).__name__}); it may be damaged") from None
    prefix = "model."
    model.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
    return model.to(device).eval()


def predict_split(
    run_dir: str | os.PathLike,
    split: str,
    snapshots: int | None = None,
    root: str | os.PathLike | None = None,
    store_path: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    batch_size: int = 64,
    device: str | None = None,
    progress: bool = True,
) -> PredictResult:
    """Write the snapshot-averaged predictions of ``run_dir`` on ``split`` (of the run's dataset,
    or of ``root`` with features in ``store_path``); returns where, from which checkpoints."""
    import torch
    from tqdm import tqdm

    from asckit.features import add_deltas
    from asckit.features.store import FeatureStore
    from asckit.predictions import write_predictions

    run = RunDir(run_dir)
    run_dir = run.path
    config = run.load_config()
    checkpoints = run.snapshot_checkpoints(snapshots or config.snapshots, explicit=snapshots is not None)
    if not run.is_finished():
        print(f"asckit: note: {run_dir} has not finished training; predicting with the checkpoints it has", file=sys.stderr)

    store = FeatureStore.open(store_path or config.data.store)
    _check_same_features(store, FeatureStore.open(config.data.store) if store_path else store, config)
    frame = _split_frame(config, root, split)
    if not len(frame):
        raise AsckitError(f"--split {split}: the split holds no clips; nothing to predict")
    filenames = frame["filename"].tolist()
    store.row_indices(filenames)  # a clear error now if clips are missing, not after some batches

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    in_channels = stored_to_input_shape(store.shape)[0]
    models = [load_checkpoint_model(path, config, in_channels, device) for path in checkpoints]
    probs = np.zeros((len(filenames), config.num_classes), dtype=np.float64)
    batches = range(0, len(filenames), batch_size)
    with torch.inference_mode():
        for start in tqdm(batches, disable=not progress, desc=f"predict {split}", unit="batch", dynamic_ncols=True):
            keys = filenames[start : start + batch_size]
            # asckit.train.module.model_input, spelled out so that Lightning is not imported here.
            x = add_deltas(torch.from_numpy(store.get(keys)).to(device).float())
            for model in models:
                probs[start : start + len(keys)] += torch.softmax(model(x).double(), dim=1).cpu().numpy()
    probs /= len(models)
    path = Path(out) if out is not None else run.predictions(split)
    write_predictions(path, filenames, probs, config.prediction_task)
    return PredictResult(path, tuple(checkpoints), len(filenames))


def _split_frame(config, root, split: str):
    """The clips of ``split``: a dataset split, or ``validation``, the clips the run held out of its
    training split (``data.validation``), as ``asckit fuse --logistic --fit-on`` needs them."""
    from asckit.data.tau import load_split

    if split != "validation":
        return load_split(root or config.data.root, split)
    if config.data.validation.fraction <= 0:
        raise AsckitError(
            "--split validation: the run held out no clips (data.validation.fraction is 0); train with "
            "--set data.validation.fraction=0.1 to have held-out predictions"
        )
    from asckit.train.datamodule import split_validation  # the run's own rule for what it held out

    frame = load_split(root or config.data.root, config.data.train_split)
    return split_validation(frame, config.data.validation.fraction, config.seed)[1]


def _check_same_features(store, training_store, config) -> None:
    """Refuse features made with other settings than the training features (clip length may differ)."""
    ours = dataclasses.replace(store.settings, clip_seconds=None)
    theirs = dataclasses.replace(training_store.settings, clip_seconds=None)
    if ours != theirs:
        raise AsckitError(
            f"{store.path}: features were made with other settings than the run's training store "
            f"{config.data.store}; extract them with the same task settings"
        )


__all__ = ["PredictResult", "load_checkpoint_model", "predict_split"]
