"""Predictions of a trained run on a dataset split: the snapshot average of its cycle-end checkpoints.

Its one job: ``predict_split(run_dir, split)`` writes ``RUN/predictions/<split>.tsv`` (``RunDir.predictions``) in the DCASE
format (``asckit.predictions.reader``): one row per clip of the split, in CSV order, each row the mean of
the softmax outputs of the run's last K snapshots (``snapshots`` in the config; the paper's
"snapshot averaging near the lr minimum", docs/reference-code.md "Paper vs code"), with equal weight.
The snapshots are the cycle-end checkpoints and, when the run ends inside a cycle, its final
epoch (``final-EEEE.ckpt``), which is then the latest snapshot: a 500-epoch Task 1b run with
K = 3 averages epochs 125, 253 and 499 (K = 1, what ``asckit export`` uses to stay under the
500 KB budget, is the final model), not only the cycle ends up to 253 as before (on the synthetic
1b set, 13 epochs: K = 1 +24.8 points, K = 2 +14.1, 3 seeds; configs/experiments/fidelity_1b.yaml). Which
checkpoints are used depends only on the training schedule, never on any score: nothing is
selected on the split being predicted. A run stopped before its first snapshot is predicted
with its latest checkpoint (``last.ckpt``).

``split`` ``train`` and ``validation`` are the rows a training run sees: the training rows of the
run's config (``data.train_split``, minus any held-out validation locations, plus the augmented
rows of ``data.kinds``, or of ``kinds`` when given, e.g. a student's) and its held-out validation
clips. A row is named by its feature-store key: the dataset filename for an original clip,
``<filename>#<kind>[-n]`` for an augmented copy (``asckit.features.augment_kinds.row_key``), so
augmented copies are rows of their own and a student's ``distill.teacher`` finds each by key.
Every prediction file written here gets a provenance sidecar (``asckit.predictions.file_format``:
run, checkpoints, split, kinds, store).

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

from asckit.core.errors import AsckitError
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
    if config.model.devices:  # DCASE 2025: the general model and a copy per device (asckit.train.device_specific)
        from asckit.models.device_specific import DeviceSpecificModel

        model = DeviceSpecificModel(model, config.model.devices)
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
    kinds: list[str] | None = None,
) -> PredictResult:
    """Write the snapshot-averaged predictions of ``run_dir`` on ``split`` (of the run's dataset,
    or of ``root`` with features in ``store_path``); returns where, from which checkpoints.

    ``split`` is a dataset split (``evaluate``, ``test``) or one of ``TRAINING_SPLITS`` (see the
    module docstring); ``kinds`` only applies to the ``train`` split."""
    import torch
    from tqdm import tqdm

    from asckit.data.tau import load_split
    from asckit.features import add_deltas
    from asckit.features.store import FeatureStore
    from asckit.predictions.file_format import write_provenance
    from asckit.predictions.reader import write_predictions

    run = RunDir(run_dir)
    run_dir = run.path
    config = run.load_config()
    checkpoints = run.snapshot_checkpoints(snapshots or config.snapshots, explicit=snapshots is not None)
    if not run.is_finished():
        print(f"asckit: note: {run_dir} has not finished training; predicting with the checkpoints it has", file=sys.stderr)

    store = FeatureStore.open(store_path or config.data.store)
    _check_same_features(store, FeatureStore.open(config.data.store) if store_path else store, config)
    if kinds is not None and split != "train":
        raise AsckitError(f"predict-split --kinds: only applies to --split train, not {split}")
    if split in TRAINING_SPLITS:
        filenames = training_rows(config, split, store, root, kinds)
        frame = None  # read below only when a device-specific run needs the clips' devices
    else:
        frame = load_split(root or config.data.root, split)
        filenames = frame["filename"].tolist()
    if not filenames:
        raise AsckitError(f"--split {split}: the split holds no clips; nothing to predict")
    store.row_indices(filenames)  # a clear error now if clips are missing, not after some batches

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    in_channels = store.shape[0] if store.holds_waves else stored_to_input_shape(store.shape)[0]
    models = [load_checkpoint_model(path, config, in_channels, device) for path in checkpoints]
    frontend = None
    if store.holds_waves:  # asckit.train.wave_input's evaluation input, without Lightning
        from asckit.features.tau22_torch import MelFrontend

        frontend = MelFrontend().to(device)
    device_of = None
    if config.model.devices:
        if frame is None:
            frame = load_split(root or config.data.root, config.data.train_split, percent=config.data.split)
        device_of = _clip_devices(filenames, frame)
    probs = np.zeros((len(filenames), config.num_classes), dtype=np.float64)
    batches = range(0, len(filenames), batch_size)
    with torch.inference_mode():
        for start in tqdm(batches, disable=not progress, desc=f"predict {split}", unit="batch", dynamic_ncols=True):
            keys = filenames[start : start + batch_size]
            stored = torch.from_numpy(store.get(keys)).to(device).float()
            if frontend is not None:
                x = frontend.log(frontend(stored.reshape(len(keys), -1)))
            else:  # asckit.train.module.model_input, spelled out so that Lightning is not imported here.
                x = add_deltas(stored)
            for model in models:
                logits = model(x, [device_of[k] for k in keys]) if device_of is not None else model(x)
                probs[start : start + len(keys)] += torch.softmax(logits.double(), dim=1).cpu().numpy()
    probs /= len(models)
    path = Path(out) if out is not None else run.predictions(split)
    write_predictions(path, filenames, probs, config.prediction_task)
    write_provenance(path, {
        "made_by": "asckit predict-split",
        "run": str(run_dir.resolve()),
        "checkpoints": [p.name for p in checkpoints],
        "split": split,
        "kinds": list(kinds or config.data.kinds) if split == "train" else None,
        "root": str(Path(root or config.data.root).resolve()),
        "store": str(store.path.resolve()),
        "rows": len(filenames),
    })
    return PredictResult(path, tuple(checkpoints), len(filenames))


def _clip_devices(keys: list[str], frame) -> dict[str, str | None]:
    """Each store row's recording device (that of the clip it was made from; None where unknown), by which
    a device-specific run picks its model; ``frame`` is the split the rows come from (``load_split``)."""
    from asckit.features.augment_kinds import row_source

    known = dict(zip(frame["filename"], frame["device"]))
    return {key: known.get(row_source(key)) for key in keys}


#: The pseudo-splits of the rows a training run sees (see the module docstring).
TRAINING_SPLITS = ("train", "validation")


def training_rows(config, split: str, store, root=None, kinds: list[str] | None = None) -> list[str]:
    """Store keys of the run's training rows (``train``) or held-out validation clips (``validation``)."""
    from asckit.train.datamodule import training_tables

    c = config.model_copy(deep=True)
    c.data.store = store.path
    if root is not None:
        c.data.root = Path(root)
    if kinds is not None:
        c.data.kinds = list(kinds)
    train, validation = training_tables(c, store)
    if split == "train":
        return list(train.keys)
    if validation is None:
        raise AsckitError(
            f"predict-split --split validation: the run holds out no validation clips (data.validation.fraction is "
            f"{c.data.validation.fraction:g}); train it with --set data.validation.fraction=0.1"
        )
    return list(validation.keys)


def _check_same_features(store, training_store, config) -> None:
    """Refuse features made with other settings than the training features (clip length may differ)."""
    ours = dataclasses.replace(store.settings, clip_seconds=None)
    theirs = dataclasses.replace(training_store.settings, clip_seconds=None)
    if ours != theirs:
        raise AsckitError(
            f"{store.path}: features were made with other settings than the run's training store "
            f"{config.data.store}; extract them with the same task settings"
        )


__all__ = ["TRAINING_SPLITS", "PredictResult", "load_checkpoint_model", "predict_split", "training_rows"]
