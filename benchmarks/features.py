"""Feature extraction throughput: asckit's wav → store path against serial librosa, in one run.

Writes N ten-second 44.1 kHz mono 24-bit WAVs (noise + tones) into a temporary TAU-layout root,
then times (1) the reference pipeline run serially with librosa (soundfile.read + melspectrogram
with the reference settings + log + min/max scaling, one clip at a time) and (2)
`asckit.features.extraction.extract_dataset` with 2 workers writing the float16 store. Prints
clips/s of both, their ratio (target ≥ 3×) and the store's bytes per clip (target ≤ 115 KB).
It also extracts the first sixth of the clips alone: the difference of the two runs cancels the
fixed cost (worker start-up, planning) and gives the marginal rate that a full dataset (16,935
clips for 1a) sees.

    python benchmarks/features.py [--clips 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def make_root(root: Path, clips: int, task: str) -> None:
    import soundfile

    sr, channels = (44100, 1) if task == "1a" else (48000, 2)
    (root / "audio").mkdir(parents=True)
    (root / "evaluation_setup").mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(10 * sr) / sr
    rows = ["filename\tscene_label"]
    for i in range(clips):
        name = f"audio/park-paris-{1000 + i}-{40000 + i}-a.wav"
        audio = 0.05 * rng.standard_normal((10 * sr, channels)) + 0.1 * np.sin(2 * np.pi * (200 + i) * t)[:, None]
        soundfile.write(root / name, audio.astype(np.float32), sr, subtype="PCM_24")
        rows.append(f"{name}\t{'park' if task == '1a' else 'outdoor'}")
    (root / "evaluation_setup" / "fold1_train.csv").write_text("\n".join(rows) + "\n")


def serial_librosa(root: Path, keys: list[str], task: str) -> float:
    import librosa
    import soundfile

    sr = 44100 if task == "1a" else 48000
    librosa.feature.melspectrogram(y=np.zeros(4096), sr=sr)  # first-call cost is not per clip
    start = time.perf_counter()
    for key in keys:
        audio, rate = soundfile.read(root / key, stop=10 * sr)
        channels = audio.T if audio.ndim == 2 else audio[None]
        out = [
            np.log(
                librosa.feature.melspectrogram(
                    y=ch, sr=rate, n_fft=2048, hop_length=1024, window="hann", center=True, pad_mode="reflect",
                    power=2.0, n_mels=128, fmax=rate / 2, htk=True, norm=None,
                )
                + 1e-8
            )
            for ch in channels
        ]
        x = np.stack(out)
        x = ((x - x.min()) / (x.max() - x.min())).astype(np.float32)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--task", choices=("1a", "1b"), default="1a")
    args = parser.parse_args()

    from asckit.features.extraction import extract_dataset, listed_filenames

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        make_root(root, args.clips, args.task)
        keys = listed_filenames(root)
        librosa_s = serial_librosa(root, keys, args.task)
        part = max(1, args.clips // 6)
        part_root = Path(tmp) / "part"
        (part_root / "evaluation_setup").mkdir(parents=True)
        (part_root / "audio").symlink_to(root / "audio")
        lines = (root / "evaluation_setup" / "fold1_train.csv").read_text().splitlines()
        (part_root / "evaluation_setup" / "fold1_train.csv").write_text("\n".join(lines[: part + 1]) + "\n")
        start = time.perf_counter()
        store = extract_dataset(root, Path(tmp) / "store", workers=args.workers, progress=False)
        asckit_s = time.perf_counter() - start
        start = time.perf_counter()
        extract_dataset(part_root, Path(tmp) / "part-store", workers=args.workers, progress=False)
        part_s = time.perf_counter() - start
        bytes_per_clip = (store.path / "data.f16").stat().st_size / len(store)
    marginal = (args.clips - part) / (asckit_s - part_s)
    print(f"task {args.task}, {args.clips} clips of 10 s")
    print(f"serial librosa (reference settings): {args.clips / librosa_s:7.1f} clips/s")
    print(f"asckit extract_dataset, {args.workers} workers: {args.clips / asckit_s:7.1f} clips/s (incl. process start-up)")
    print(f"ratio asckit / librosa: {librosa_s / asckit_s:.2f}x (target >= 3x)")
    print(f"marginal rate ({args.clips} minus {part} clips, start-up cancelled): {marginal:7.1f} clips/s, "
          f"{marginal * librosa_s / args.clips:.2f}x librosa")
    print(f"store: {bytes_per_clip / 1000:.1f} KB per clip (target <= 115 KB for 1a)")


if __name__ == "__main__":
    main()
