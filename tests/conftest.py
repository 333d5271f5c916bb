"""Shared fixtures: a tiny hand-made dataset in the TAU layout (independent of the synthesiser)."""

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
