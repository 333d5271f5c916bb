"""Shared builders and fixtures of the test suite, importable as ``from conftest import ...``:

- ``write_tau_root``: a tiny hand-made dataset in the TAU layout (independent of the synthesiser);
- ``write_feature_dataset``: CSVs and a feature store whose clips carry their class (training tests);
- ``TINY``, ``tiny_config_file``: the smallest training config that still trains;
- ``write_run_dir``: a run directory (``RunDir``) with given weights as cycle-end checkpoints.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


def write_tau_root(
    root: Path,
    train: list[str],
    evaluate: list[str],
    seconds: float = 1.0,
    sample_rate: int = 44100,
    channels: int = 1,
    label_of=None,
) -> Path:
    """Write WAVs (noise) and TAB CSVs for the given dev-style filenames; labels from the names."""
    import soundfile

    label_of = label_of or (lambda name: name.split("-")[0])
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "evaluation_setup").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    meta = ["filename\tscene_label\tidentifier\tsource_label"]
    for name in train + evaluate:
        samples = int(seconds * sample_rate)
        audio = (0.1 * rng.standard_normal((samples, channels))).astype(np.float32)
        soundfile.write(root / "audio" / name, audio, sample_rate, subtype="PCM_24")
        scene, city, location, _segment, device = Path(name).stem.split("-")
        meta.append(f"audio/{name}\t{label_of(name)}\t{city}-{location}\t{device}")
    (root / "meta.csv").write_text("\n".join(meta) + "\n")
    for split, names in (("train", train), ("evaluate", evaluate)):
        rows = ["filename\tscene_label"] + [f"audio/{n}\t{label_of(n)}" for n in names]
        (root / "evaluation_setup" / f"fold1_{split}.csv").write_text("\n".join(rows) + "\n")
    test_rows = ["filename"] + [f"audio/{n}" for n in evaluate]
    (root / "evaluation_setup" / "fold1_test.csv").write_text("\n".join(test_rows) + "\n")
    return root


TRAIN_NAMES = [
    "airport-lisbon-1000-40000-a.wav",
    "airport-lisbon-1000-40000-b.wav",
    "bus-lyon-1001-40001-a.wav",
    "park-paris-1002-40002-a.wav",
    "park-paris-1002-40002-s1.wav",
]
EVALUATE_NAMES = [
    "airport-vienna-2000-50000-a.wav",
    "bus-vienna-2001-50001-s4.wav",
    "tram-prague-2002-50002-c.wav",
]


@pytest.fixture
def tau_root(tmp_path: Path) -> Path:
    """A valid 8-clip Task 1a root, 1 s clips at 44.1 kHz mono."""
    return write_tau_root(tmp_path / "tau", TRAIN_NAMES, EVALUATE_NAMES)


#: Stored frames of a 1 s clip at 44.1 kHz: 1 + 44100 // 1024.
STATIC_FRAMES = 44


def write_feature_dataset(
    base: Path,
    scenes: tuple[str, ...] = ("airport", "bus", "park"),
    locations_per_scene: int = 3,
    clips_per_location: int = 4,
    train_devices: tuple[str, ...] = ("a", "b"),
    eval_devices: tuple[str, ...] = ("a", "s4"),
) -> tuple[Path, Path]:
    """A TAU-layout root (CSVs only, no audio) and a feature store whose clips carry their class.

    Class k of SCENES_10 lights up mel bins [12k, 12k + 12) over noise, so a narrow model can learn
    it in a few epochs; devices other than 'a' add a spectral tilt, which makes them harder.
    Returns (root, store path).
    """
    from asckit.features.logmel import settings_for
    from asckit.features.store import FeatureStore
    from asckit.labels import SCENES_10

    root, store_path = base / "root", base / "store"
    (root / "evaluation_setup").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = {"train": [], "evaluate": []}
    for s, scene in enumerate(scenes):
        for loc in range(locations_per_scene):
            for clip in range(clips_per_location):
                for device in train_devices:
                    rows["train"].append((f"audio/{scene}-lisbon-{100 * s + loc}-{clip}-{device}.wav", scene))
        for clip in range(clips_per_location):
            for device in eval_devices:
                rows["evaluate"].append((f"audio/{scene}-vienna-{900 + s}-{clip}-{device}.wav", scene))
    for split, items in rows.items():
        text = "filename\tscene_label\n" + "".join(f"{f}\t{s}\n" for f, s in items)
        (root / "evaluation_setup" / f"fold1_{split}.csv").write_text(text)
    test_rows = "filename\n" + "".join(f"{f}\n" for f, _ in rows["evaluate"])
    (root / "evaluation_setup" / "fold1_test.csv").write_text(test_rows)

    store = FeatureStore.create(store_path, settings_for("1a", clip_seconds=1.0), STATIC_FRAMES)
    items = rows["train"] + rows["evaluate"]
    features = rng.uniform(0, 0.4, size=(len(items), 1, 128, STATIC_FRAMES))
    tilt = np.linspace(0, 0.3, 128)[:, None]
    for i, (filename, scene) in enumerate(items):
        k = SCENES_10.index(scene)
        features[i, 0, 12 * k : 12 * k + 12] += 0.5
        if not filename.endswith("-a.wav"):
            features[i, 0] += tilt
    store.append([f for f, _ in items], np.clip(features, 0, 1).astype(np.float16))
    return root, store_path


TINY = [
    "model.width=0.0625",
    "batch_augment.crop_frames=32",
    "batch_augment.time_mask_max=8",
    "optim.batch_size=8",
    "optim.epochs=3",
    "optim.first_cycle=1",  # cycles end after epochs 0, 2, 6, 14, ...
    "snapshots=2",
    "trainer.accelerator=cpu",
    "trainer.progress_bar=false",
    "trainer.log_every_n_steps=1",
]


def tiny_config_file(base: Path, root: Path, store: Path, name: str = "tiny") -> Path:
    path = base / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nruns_dir: {base / 'runs'}\ndata: {{root: {root}, store: {store}}}\n"
        "model: {name: fcnn}\n"
    )
    return path


def write_run_dir(config, states: dict[int, dict]):
    """A run directory for ``config`` (a ``TrainConfig``) as ``asckit train`` leaves it: its config
    and one cycle-end checkpoint per epoch in ``states`` (epoch → model state_dict)."""
    import torch

    from asckit.train.run_dir import RunDir

    run = RunDir(config.run_dir)
    run.checkpoints.mkdir(parents=True)
    run.write_config(config)
    for epoch, state in states.items():
        torch.save({"state_dict": {f"model.{k}": v for k, v in state.items()}}, run.cycle_checkpoint(epoch))
    return run.path
