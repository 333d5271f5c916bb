"""TAU22 training-step speed: asckit's step against the CPJKU reference's order, measured in one run.

Both arms train the simplified CP-Mobile (``cp_mobile``) with AdamW (lr 0.005, weight decay 1e-4) on
random waves (decoding excluded from both), every augmentation of the 2024/2025 recipe on:

* **reference**: the baselines' order as explicit ops, in fp32 and torch's default memory format:
  44.1 kHz waves (B, 44100) → roll of the raw wave (±4,410 samples) → the dense resampling
  convolution (kernel (320, 1, 459), stride 441; ``Resample`` of torchaudio) → ``torch.stft`` →
  ``|·|``² → the dense (2049 × 256) mel matrix → FrequencyMasking(48) → log(x + 1e-5) →
  Freq-MixStyle (form batch) → forward, cross-entropy, backward, AdamW step.
* **asckit**: stored 32 kHz waves (B, 1, 32000) → ``WaveInput.for_training`` (roll ±3,200,
  ``MelFrontend``, frequency masking, log, Freq-MixStyle) → the step of ``asckit.train.module``
  (soft cross-entropy on one-hot labels), with the settings of configs/dcase2024/cp_mobile.yaml
  (memory format and determinism as ``asckit train`` resolves them on this device).

Freq-MixStyle mixes every batch in both arms (p 1.0 instead of the recipe's 0.4, whose coin would
make steps differ); DIR is off in both (the reference's 2024/2025 recipes have none). Arms alternate
within each repetition (A B, then B A), so load that drifts hits both; the ratio is of medians.
A second phase runs one thread and measures ``time.process_time()`` per clip (less sensitive to
other processes than wall time). ``--profile`` adds a table of self CPU time per op of one step of
each arm: what bounds the step.

    python benchmarks/train_tau22.py                              # the issue's settings: batch 256, full width, 2 threads
    python benchmarks/train_tau22.py --profile --out tau22.json   # + per-op profile, JSON report
    python benchmarks/train_tau22.py --arms reference asckit asckit-contiguous asckit-stft-frontend   # attribution
    THP_MEM_ALLOC_ENABLE=1 python benchmarks/train_tau22.py       # torch's huge-page allocations (both arms)
    python benchmarks/train_tau22.py --smoke                      # tiny sizes: seconds

Extra arms, for attribution: ``asckit-contiguous`` (asckit without channels_last),
``asckit-stft-frontend`` (asckit with the reference's frontend ops on its 32 kHz waves: stft, abs,
pow, dense mel matrix), ``asckit-relu-copies`` (ReLUs not in place, as the reference's), ``asckit-nan-fill``
(torch's default under deterministic algorithms: every new tensor filled with NaN).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from tau22_reference import ReferenceMel, dense_resample, relu_in_place
from timing import clips_per_second

from asckit.core.io_utils import atomic_write_text
from asckit.features import tau22_frontend as fe
from asckit.features import tau22_torch
from asckit.features.tau22_torch import Resampler
from asckit.models import build
from asckit.train import batch_augment, wave_augment
from asckit.train.config import cpu_flags, load_config
from asckit.train.module import soft_cross_entropy
from asckit.train.wave_input import WaveInput

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "dcase2024" / "cp_mobile.yaml"
RAW_RATE = 44100
CLIP_SECONDS = 1
MIXSTYLE_P = 1.0  # every step mixes (module docstring)
ARMS = ("reference", "asckit", "asckit-contiguous", "asckit-stft-frontend", "asckit-relu-copies", "asckit-nan-fill")
NUM_CLASSES = 10


# ----------------------------------------------------------------------------- arms
class Arm:
    """One training step of one arm on a fixed random batch: ``step()``; ``model`` for inspection."""

    def __init__(self, name: str, args: argparse.Namespace, config) -> None:
        self.name = name
        self.batch = args.batch
        torch.manual_seed(0)
        self.model = build(config.model.name, num_classes=NUM_CLASSES, in_channels=1, width=args.width,
                           **config.model.params).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.optim.lr_max,
                                           weight_decay=config.optim.weight_decay)
        self.generator = torch.Generator().manual_seed(1)
        data = torch.Generator().manual_seed(2)
        self.labels = torch.randint(0, NUM_CLASSES, (args.batch,), generator=data)
        a = config.batch_augment
        self.freq_mask_max, self.alpha = a.freq_mask_max, a.freq_mixstyle.alpha
        if name in ("reference", "asckit-relu-copies"):
            relu_in_place(self.model, False)  # the reference's Conv2dNormActivation(inplace=False) and nn.ReLU()
        if name == "reference":
            self.waves = 0.1 * torch.randn(args.batch, RAW_RATE * CLIP_SECONDS, generator=data)
            resampler = Resampler(RAW_RATE)
            self.kernel, self.orig, self.width = resampler.kernel_tensor(), resampler.plan.orig, resampler.plan.width
            self.mel = ReferenceMel()
            self.channels_last, self.deterministic = False, False  # the reference's Lightning defaults
            self.step = self._reference_step
            return
        self.waves = 0.1 * torch.randn(args.batch, 1, fe.SAMPLE_RATE * CLIP_SECONDS, generator=data)
        self.devices = torch.zeros(args.batch, dtype=torch.int64)
        self.wave_input = WaveInput(config)
        if name == "asckit-stft-frontend":
            self.wave_input.mel = ReferenceMel()
        wanted = config.trainer.channels_last  # as asckit.train.module resolves it on the CPU
        self.channels_last = name != "asckit-contiguous" and (wanted is True)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.deterministic = config.trainer.deterministic
        self.nan_fill = name == "asckit-nan-fill"
        self.step = self._asckit_step

    def _update(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def _reference_step(self) -> None:
        x = wave_augment.roll(self.waves, int(0.1 * RAW_RATE), self.generator)  # roll_sec 0.1 on the raw wave
        x = dense_resample(x, self.kernel, self.orig, self.width)
        x = batch_augment.frequency_masking(self.mel(x), self.freq_mask_max, self.generator)
        x = self.mel.log(x)
        x = batch_augment.freq_mixstyle(x, self.generator, MIXSTYLE_P, self.alpha, form="batch")
        self._update(F.cross_entropy(self.model(x), self.labels))

    def _asckit_step(self) -> None:
        with deterministic_algorithms(self.deterministic, self.nan_fill):
            x = self.wave_input.for_training(self.waves, self.devices, self.generator)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = F.one_hot(self.labels, NUM_CLASSES).float()
            self._update(soft_cross_entropy(self.model(x), y))


@contextlib.contextmanager
def deterministic_algorithms(on: bool, nan_fill: bool = False):
    """``torch.use_deterministic_algorithms(on)`` for the block (Lightning's ``deterministic``), without
    filling new tensors with NaN (as ``asckit.train.run`` trains) unless ``nan_fill`` (torch's default)."""
    before = torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(on)
    torch.utils.deterministic.fill_uninitialized_memory = nan_fill
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.utils.deterministic.fill_uninitialized_memory = before[1]


def benchmark_config():
    """configs/dcase2024/cp_mobile.yaml with Freq-MixStyle on every batch (and roll, masking, as shipped)."""
    config = load_config(CONFIG, [f"batch_augment.freq_mixstyle.p={MIXSTYLE_P}"])
    a = config.batch_augment
    assert a.spec_augment and a.freq_mask_max and a.roll_seconds and a.freq_mixstyle and a.dir is None, a
    return config


# ----------------------------------------------------------------------------- measurements
def interleaved(arms: list[Arm], reps: int, measure: Callable[[Arm], float]) -> dict[str, list[float]]:
    """``measure(arm)`` for every arm, ``reps`` times, the order reversed every other repetition."""
    values: dict[str, list[float]] = {arm.name: [] for arm in arms}
    for rep in range(reps):
        for arm in arms if rep % 2 == 0 else arms[::-1]:
            values[arm.name].append(measure(arm))
    return values


def wall_rates(arms: list[Arm], reps: int, warmup: int) -> dict[str, list[float]]:
    """Clips/s of one step, per arm and repetition (``timing.clips_per_second``)."""
    for arm in arms:
        for _ in range(warmup):
            arm.step()
    return interleaved(arms, reps, lambda arm: clips_per_second(arm.step, 1, 0, arm.batch, torch.device("cpu")))


def cpu_ms_per_clip(arms: list[Arm], reps: int, warmup: int) -> dict[str, list[float]]:
    """``time.process_time()`` per clip of one step (ms), per arm and repetition, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for arm in arms:
            for _ in range(warmup):
                arm.step()

        def one(arm: Arm) -> float:
            start = time.process_time()
            arm.step()
            return 1e3 * (time.process_time() - start) / arm.batch

        return interleaved(arms, reps, one)
    finally:
        torch.set_num_threads(threads)


def profile_step(arm: Arm, rows: int) -> dict:
    """Self CPU time per op of one step (all threads), largest first."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        arm.step()
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ops)
    return {"total_ms": total / 1e3, "ops": [
        {"op": e.key, "calls": e.count, "self_ms": e.self_cpu_time_total / 1e3, "share": e.self_cpu_time_total / total}
        for e in ops[:rows]
    ]}


def environment() -> dict:
    flags = cpu_flags()
    model = next((line.split(":", 1)[1].strip() for line in _read_lines("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor() or "unknown")
    thp = next(iter(_read_lines("/sys/kernel/mm/transparent_hugepage/enabled")), "unknown").strip()
    return {
        "cpu": model, "cores": os.cpu_count(), "amx": sorted(f for f in flags if f.startswith("amx")),
        "avx512_bf16": "avx512_bf16" in flags, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE", ""), "transparent_hugepage": thp,
        "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_") or k == "LD_PRELOAD"},
        "load_average": os.getloadavg(),
    }


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def report_arm(entry: dict, key: str, ratio_key: str, values: dict[str, list[float]], arm: str, base: str, unit: str,
               fmt: str, higher_is_faster: bool) -> None:
    """Record one arm's repetitions and median under ``key``, its ratio to ``base`` under ``ratio_key``,
    and print its line."""
    ratio = median_ratio(values, arm, base, higher_is_faster=higher_is_faster)
    entry[key] = values[arm]
    entry[f"{key}_median"] = statistics.median(values[arm])
    entry[ratio_key] = ratio
    print(f"  {arm:<24}{fmt.format(statistics.median(values[arm])):>10} {unit}{ratio:>8.2f} ×   "
          f"({' '.join(fmt.format(v) for v in values[arm])})", flush=True)


def median_ratio(values: dict[str, list[float]], arm: str, base: str, higher_is_faster: bool) -> float:
    ratio = statistics.median(values[arm]) / statistics.median(values[base])
    return ratio if higher_is_faster else 1.0 / ratio


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256, help="clips per step (the recipe's 256)")
    parser.add_argument("--width", type=float, default=1.0, help="cp_mobile width multiplier (1.0 = the baseline)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the wall-clock phase")
    parser.add_argument("--reps", type=int, default=5, help="timed steps per arm, wall clock, arms interleaved; 0 skips")
    parser.add_argument("--cpu-reps", type=int, default=3, help="timed steps per arm on one thread (process time); 0 skips")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per arm before each phase")
    parser.add_argument("--arms", nargs="+", default=["reference", "asckit"], choices=ARMS,
                        help="the first is the ratios' base")
    parser.add_argument("--mel-chunk", type=int, default=None,
                        help=f"clips per chunk of MelFrontend's CPU path (default {tau22_torch.CPU_CHUNK})")
    parser.add_argument("--profile", action="store_true", help="one profiled step per arm: self CPU time per op")
    parser.add_argument("--profile-rows", type=int, default=15)
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (batch 4, width 0.25, one repetition)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.batch, args.width, args.reps, args.cpu_reps, args.warmup, args.threads = 4, 0.25, 1, 1, 1, 1
    torch.set_num_threads(args.threads)
    if args.mel_chunk:
        tau22_torch.CPU_CHUNK = args.mel_chunk
    arm_names = list(dict.fromkeys(args.arms))
    env = environment()
    amx = f"AMX {','.join(env['amx'])}" if env["amx"] else "no AMX"
    print(f"{env['cpu']} ({env['cores']} cores, {amx}, AVX512-BF16 {'yes' if env['avx512_bf16'] else 'no'}, "
          f"{env['cpu_capability']}), torch {env['torch']}, {env['threads']} threads, THP_MEM_ALLOC_ENABLE="
          f"{env['THP_MEM_ALLOC_ENABLE'] or 'unset'} (system THP: {env['transparent_hugepage']}), "
          f"load average {env['load_average'][0]:.2f}")
    print(f"batch {args.batch}, width {args.width}, {CLIP_SECONDS} s clips, fp32, MelFrontend CPU chunk "
          f"{tau22_torch.CPU_CHUNK}, arms {arm_names}")
    config = benchmark_config()
    arms = [Arm(name, args, config) for name in arm_names]
    base = arm_names[0]
    report: dict = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                    "environment": env, "arms": {a.name: {"channels_last": a.channels_last} for a in arms}}

    rates = wall_rates(arms, args.reps, args.warmup) if args.reps else {}
    if rates:
        print(f"\nwall clock, {args.threads} threads, {args.reps} interleaved steps per arm (clips/s, median; × = vs {base})")
    for arm in arm_names if rates else ():
        report_arm(report["arms"][arm], "wall_clips_s", "wall_ratio", rates, arm, base, "clips/s", "{:.1f}", higher_is_faster=True)

    if args.cpu_reps:
        cpu = cpu_ms_per_clip(arms, args.cpu_reps, args.warmup)
        print(f"\nprocess time on 1 thread, {args.cpu_reps} interleaved steps per arm (ms per clip, median; × = vs {base})")
        for arm in arm_names:
            report_arm(report["arms"][arm], "cpu_ms_per_clip", "cpu_ratio", cpu, arm, base, "ms/clip", "{:.2f}", higher_is_faster=False)

    if args.profile:
        for arm in arms:
            table = profile_step(arm, args.profile_rows)
            report["arms"][arm.name]["profile"] = table
            print(f"\n{arm.name}: one profiled step, {table['total_ms']:.0f} ms self CPU time ({args.threads} threads)")
            for row in table["ops"]:
                print(f"  {row['op']:<52}{row['calls']:>6} calls{row['self_ms']:>10.1f} ms{100 * row['share']:>7.1f} %")

    report["environment"]["load_average_end"] = os.getloadavg()
    if args.out is not None:
        atomic_write_text(args.out, json.dumps(report, indent=2))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
