"""Training-step speed of the paper's models: fp32 vs fp32 + channels_last vs bf16 autocast +
channels_last, measured in the same run and printed as ratios to fp32.

A step is forward + cross-entropy + backward on a random batch (features are random: speed does
not depend on them). 1a models get the 400-frame training crop, 1b models the full 461 frames.

    python benchmarks/models.py                                 # every reference model, full width
    python benchmarks/models.py --models fcnn mobnet --batch 32 --device cuda
    python benchmarks/models.py --width 0.125 --steps 2         # smoke run
    python benchmarks/models.py --models fcnn --batch 32 --modes fp32 --profile   # where an fp32 step's time goes

Full width on a 2-core CPU takes minutes per model (FCNN: about 3.5 clips/s): use a GPU or a
quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import functools

import torch
import torch.nn.functional as F
from timing import clips_per_second

from asckit.models import ARCHITECTURES, REFERENCE_CONFIGS, build

TRAIN_FRAMES = {"1a": 400, "1b": 461}  # 1a trains on random 400-frame crops of the 423 frames
MODES = ("fp32", "fp32+channels_last", "bf16+channels_last")


def step_rate(
    model: torch.nn.Module, batch: torch.Tensor, labels: torch.Tensor, mode: str, steps: int, warmup: int
) -> float:
    """Clips per second of forward + backward in ``mode``."""
    device = batch.device
    channels_last = mode != "fp32"
    model = model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    batch = batch.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    autocast = (
        torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        if mode.startswith("bf16")
        else contextlib.nullcontext()
    )

    def one_step() -> None:
        with autocast:
            loss = F.cross_entropy(model(batch), labels)
        loss.backward()
        model.zero_grad(set_to_none=True)

    return clips_per_second(one_step, steps, warmup, batch.shape[0], device)


def main(argv: list[str] | None = None) -> int:
    labels = [config.label for config in REFERENCE_CONFIGS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=labels, choices=labels, metavar="MODEL", help=f"from {labels}")
    parser.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1.0 = reference)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per mode")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per mode")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES, help="the first is the ratios' reference")
    parser.add_argument("--profile", action="store_true",
                        help="after the timing, one profiled step per mode: self time per op type, largest first")
    args = parser.parse_args(argv)
    modes = list(dict.fromkeys(args.modes))
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    print(f"device {device}, threads {torch.get_num_threads()}, batch {args.batch}, width {args.width}, "
          f"{args.steps} timed steps after {args.warmup} warm-up, torch {torch.__version__}")
    header = f"{'model':<20}{'params':>12}{modes[0] + ' clips/s':>24}" + "".join(f"{m + ' ×':>22}" for m in modes[1:])
    print(header)
    configs = {config.label: config for config in REFERENCE_CONFIGS}
    for label in args.models:
        config = configs[label]
        torch.manual_seed(0)
        model = build(config.name, width=args.width, **config.params).to(device).train()
        frames = TRAIN_FRAMES[ARCHITECTURES[config.name].task]
        batch = torch.randn(args.batch, model.in_channels, 128, frames, device=device)
        targets = torch.randint(0, model.num_classes, (args.batch,), device=device)
        rates = {mode: step_rate(model, batch, targets, mode, args.steps, args.warmup) for mode in modes}
        params = sum(p.numel() for p in model.parameters())
        ratios = "".join(f"{rates[mode] / rates[modes[0]]:>22.2f}" for mode in modes[1:])
        print(f"{label:<20}{params:>12,}{rates[modes[0]]:>24.1f}{ratios}", flush=True)
        if args.profile:
            for mode in modes:
                print_profile(label, mode, functools.partial(step_rate, model, batch, targets, mode, 1, 0))
    return 0


def print_profile(label: str, mode: str, one_step, rows: int = 15) -> None:
    """Self CPU time per op type of one step (forward, backward and the ops they call), largest first."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        one_step()
    ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ops)
    print(f"  {label}, {mode}: one step, {total / 1e3:.0f} ms of self CPU time (all threads)")
    for e in ops[:rows]:
        print(f"    {e.key:<46}{e.count:>6} calls{e.self_cpu_time_total / 1e3:>10.1f} ms{100 * e.self_cpu_time_total / total:>7.1f} %")


if __name__ == "__main__":
    raise SystemExit(main())
