"""Training speed and memory: model step rates by precision, the data pipeline's rate, peak RSS.

Three measurements, each compared with a reference measured in the same run:

1. **Training step** (batch → deltas → augmentation → forward → soft cross-entropy → backward →
   SGD step, as ``asckit.train.module`` does it, without Lightning's bookkeeping) of the full-width
   FCNN and Resnet: clips/s in fp32, then fp32 + channels_last and bf16 autocast + channels_last
   as ratios to fp32.
2. **Data pipeline**, one process (one DataLoader worker's job, plus the batch work the training
   device does): feature store → ``StoreBatches`` → float32 + deltas → SpecAugment, crop, mixup
   (and channel swap for 1b), in clips/s; target ≥ 5 × the CPU training rate of the narrow
   demo model (``--demo-width``), measured here too.
3. **Peak RSS** of a real ``asckit.train.run.train`` (one epoch, tiny model) in a fresh process,
   for stores of N and 4·N clips; it must not grow with the store (rows are read with pread, so
   no store pages stay mapped into the process).

    python benchmarks/train.py                                   # full width; slow on a 2-core CPU
    python benchmarks/train.py --models fcnn --batch 32 --device cuda
    python benchmarks/train.py --width 0.0625 --batch 4 --steps 2 --clips 64 --rss-clips 64   # smoke run

On a GPU use ``--device cuda`` for (1); (2) and (3) always run on the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from timing import clips_per_second

from asckit.features import settings_for
from asckit.features.store import FeatureStore

MODELS = {"fcnn": {}, "resnet": {"num_filters": 24}}
MODES = ("fp32", "fp32+channels_last", "bf16+channels_last")
SCENES = ("airport", "bus", "park", "tram")


# ----------------------------------------------------------------------------- fixtures
def make_dataset(base: Path, clips: int, frames: int, seed: int = 0) -> tuple[Path, Path]:
    """A TAU-layout root (CSV only) and a store of ``clips`` random 1a rows of ``frames`` static frames."""
    root, store_path = base / "root", base / "store"
    (root / "evaluation_setup").mkdir(parents=True)
    names = [f"audio/{SCENES[i % 4]}-lisbon-{i % 40}-{i}-a.wav" for i in range(clips)]
    rows = "".join(f"{n}\t{SCENES[i % 4]}\n" for i, n in enumerate(names))
    (root / "evaluation_setup" / "fold1_train.csv").write_text("filename\tscene_label\n" + rows)
    seconds = (frames - 1) * 1024 / 44100
    store = FeatureStore.create(store_path, settings_for("1a", clip_seconds=round(seconds, 4)), frames)
    rng = np.random.default_rng(seed)
    for start in range(0, clips, 256):
        chunk = names[start : start + 256]
        store.append(chunk, rng.random((len(chunk), 1, 128, frames), dtype=np.float32).astype(np.float16))
    return root, store_path


def augment_config(crop: int | None, channel_swap: bool = False):
    from asckit.train.batch_augment import BatchAugment

    return BatchAugment(spec_augment=True, crop_frames=crop, channel_swap=channel_swap, mixup_alpha=0.4)


# ----------------------------------------------------------------------------- 1. training step
def step_rate(name: str, width: float, batch: int, frames: int, mode: str, steps: int, warmup: int, device) -> float:
    """Clips/s of a full training step in ``mode`` on random stored rows."""
    from asckit.models import build
    from asckit.train import batch_augment
    from asckit.train.module import model_input, soft_cross_entropy

    torch.manual_seed(0)
    model = build(name, width=width, **MODELS.get(name, {})).to(device).train()
    channels_last = "channels_last" in mode
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    static = torch.rand(batch, 1, 128, frames, dtype=torch.float16, device=device)
    labels = torch.randint(0, 10, (batch,), device=device)
    augment = augment_config(crop=min(400, frames - 8 - 1))
    generator = torch.Generator().manual_seed(0)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if mode.startswith("bf16") else contextlib.nullcontext()

    def one_step() -> None:
        x = model_input(static)
        y = torch.nn.functional.one_hot(labels, 10).float()
        x, y = batch_augment.apply(x, y, augment, generator)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast:
            loss = soft_cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return clips_per_second(one_step, steps, warmup, batch, device)


# ----------------------------------------------------------------------------- 2. data pipeline
def pipeline_rate(store_path: Path, clips: int, batch: int, frames: int, passes: int = 2) -> float:
    """Clips/s of store → batch → deltas → all augmentations, in this (single-threaded) process."""
    from asckit.train import batch_augment
    from asckit.train.datamodule import ClipTable, EpochBatches, StoreBatches
    from asckit.train.module import model_input

    store = FeatureStore.open(store_path)
    keys = store.keys()[:clips]
    table = ClipTable(tuple(keys), tuple(keys), store.row_indices(keys), np.arange(len(keys)) % 10, np.zeros(len(keys), dtype=np.int64))
    dataset = StoreBatches(store, table)
    sampler = EpochBatches(table.labels, batch, seed=0)
    augment = augment_config(crop=min(400, frames - 8 - 1))
    generator = torch.Generator().manual_seed(0)
    done, start = 0, time.perf_counter()
    for epoch in range(passes):
        sampler.set_epoch(epoch)
        for positions in sampler:
            item = dataset[positions]
            y = torch.nn.functional.one_hot(item["y"], 10).float()
            batch_augment.apply(model_input(item["x"]), y, augment, generator)
            done += len(positions)
    return done / (time.perf_counter() - start)


# ----------------------------------------------------------------------------- 3. peak RSS
RSS_CHILD = r"""
import json, resource, sys, torch
torch.set_num_threads(1)
from asckit.train.config import config_from_dict
from asckit.train.run import train
root, store, runs, frames = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config = config_from_dict({
    "name": "rss", "runs_dir": runs, "data": {"root": root, "store": store},
    "model": {"name": "fcnn", "width": 0.0625},
    "batch_augment": {"crop_frames": min(400, frames - 9), "time_mask_max": min(39, frames - 10)},
    "optim": {"epochs": 1, "batch_size": 32},
    "trainer": {"accelerator": "cpu", "progress_bar": False},
})
train(config)
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
print(json.dumps({"peak_rss_mb": int(status["VmHWM"].split()[0]) / 1024,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def training_peak_rss(base: Path, clips: int, frames: int) -> dict:
    root, store = make_dataset(base, clips, frames)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(root), str(store), str(base / "runs"), str(frames)],
        env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["store_mb"] = (store / "data.f16").stat().st_size / 2**20
    return result


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--width", type=float, default=1.0, help="width of the models of (1); 1.0 = reference")
    parser.add_argument("--demo-width", type=float, default=0.25, help="width of the narrow demo FCNN of (2)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=431, help="stored static frames (431 = 10 s at 44.1 kHz)")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per mode")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--clips", type=int, default=512, help="clips the data pipeline reads (twice)")
    parser.add_argument("--rss-clips", type=int, default=1024, help="N of the peak-RSS runs (N and 4·N clips)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("step", "pipeline", "rss"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads for (1) (default: torch's)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, batch {args.batch}, "
          f"{args.frames} stored frames, cpu capability {torch.backends.cpu.get_cpu_capability()}")

    if "step" not in args.skip:
        print(f"\n(1) training step clips/s at width {args.width} ({args.steps} timed steps per mode)")
        print(f"{'model':<10}{'fp32':>10}" + "".join(f"{m + ' ×':>24}" for m in MODES[1:]))
        for name in args.models:
            rates = {m: step_rate(name, args.width, args.batch, args.frames, m, args.steps, args.warmup, device) for m in MODES}
            ratios = "".join(f"{rates[m] / rates['fp32']:>24.2f}" for m in MODES[1:])
            print(f"{name:<10}{rates['fp32']:>10.1f}{ratios}", flush=True)

    with tempfile.TemporaryDirectory(prefix="asckit-bench-") as tmp:
        if "pipeline" not in args.skip:
            _root, store = make_dataset(Path(tmp) / "pipe", args.clips, args.frames)
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # one worker's share of the CPU
            pipe = pipeline_rate(store, args.clips, args.batch, args.frames)
            torch.set_num_threads(threads)
            train_rate = step_rate("fcnn", args.demo_width, args.batch, args.frames, "fp32", args.steps, args.warmup,
                                   torch.device("cpu"))
            verdict = "ok" if pipe >= 5 * train_rate else "BELOW TARGET"
            print(f"\n(2) data pipeline, 1 thread: {pipe:.0f} clips/s; CPU training of the FCNN at width "
                  f"{args.demo_width}: {train_rate:.1f} clips/s; ratio {pipe / train_rate:.1f} × (target ≥ 5 ×: {verdict})")

        if "rss" not in args.skip:
            small = training_peak_rss(Path(tmp) / "rss-small", args.rss_clips, args.frames)
            large = training_peak_rss(Path(tmp) / "rss-large", 4 * args.rss_clips, args.frames)
            growth = large["peak_rss_mb"] - small["peak_rss_mb"]
            store_growth = large["store_mb"] - small["store_mb"]
            print(f"\n(3) peak RSS of one training epoch: {small['peak_rss_mb']:.0f} MB with {args.rss_clips} clips "
                  f"({small['store_mb']:.0f} MB store), {large['peak_rss_mb']:.0f} MB with {4 * args.rss_clips} clips "
                  f"({large['store_mb']:.0f} MB store): +{growth:.0f} MB for +{store_growth:.0f} MB of store "
                  f"({growth / store_growth:.1%} of it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
