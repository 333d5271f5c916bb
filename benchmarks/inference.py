"""Inference speed and size of one model as torch fp32, ONNX fp32 and ONNX int8, measured in one run.

For each model (random weights: speed does not depend on them): per-clip latency at batch 1 on
1 thread (median of ``--runs``), throughput in clips/s at batch ``--batch`` on 2 threads, and the
file size of each ONNX artifact, with ratios to ONNX fp32. int8 comes in two kinds (see
``asckit.deploy.export``): ``static`` (QDQ, per-channel, calibrated) and ``dynamic`` (ConvInteger; smaller
files but slower than fp32). Then the Task 1b two-model ensembles (Mobnet + small-FCNN, static
int8) are exported as bundles against the 500 KB budget and their bytes on disk printed.

Targets: static int8 ≤ 0.5× the ONNX fp32 latency for the FCNN family; the 1b two-model ensemble
≤ 500 KB on disk.

    python benchmarks/inference.py                                   # reference widths
    python benchmarks/inference.py --models fcnn small_fcnn --width 0.25 --runs 5 --no-ensemble   # smoke
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from asckit.models import REFERENCE_CONFIGS, build
from asckit.models.registry import clip_shape

DEFAULT_MODELS = ("fcnn", "resnet", "small_fcnn", "small_fcnn-shipped", "mobnet")
KINDS = ("torch fp32", "onnx fp32", "onnx int8 static", "onnx int8 dynamic")


def median_seconds(run, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_runner(model: torch.nn.Module, x: np.ndarray, threads: int):
    """A batch through the model; sets torch's (process-wide) thread count for the runs that follow."""
    tensor = torch.from_numpy(x)
    torch.set_num_threads(threads)

    def run() -> None:
        with torch.inference_mode():
            model(tensor)

    return run


def onnx_runner(path: Path, x: np.ndarray, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"features": x})


def benchmark_model(label: str, params: dict, width: float, args, folder: Path) -> dict:
    from asckit.deploy.export import export_onnx, quantize_onnx

    name = params.pop("name")
    frames = clip_shape(name)[2]
    torch.manual_seed(0)
    model = build(name, width=width, **params).eval()
    shape = (model.in_channels, 128, frames)
    rng = np.random.default_rng(0)
    calibration = rng.random((args.calibration, *shape), dtype=np.float32)
    files = {
        "onnx fp32": export_onnx(model, folder / f"{label}.fp32.onnx", shape),
    }
    files["onnx int8 static"] = quantize_onnx(files["onnx fp32"], folder / f"{label}.static.onnx", "static", calibration)
    files["onnx int8 dynamic"] = quantize_onnx(files["onnx fp32"], folder / f"{label}.dynamic.onnx", "dynamic")

    one = rng.random((1, *shape), dtype=np.float32)
    many = rng.random((args.batch, *shape), dtype=np.float32)
    latency, throughput = {}, {}
    for kind in KINDS:
        make = (lambda x, t: torch_runner(model, x, t)) if kind == "torch fp32" else (lambda x, t, p=files[kind]: onnx_runner(p, x, t))
        latency[kind] = median_seconds(make(one, 1), args.runs, args.warmup)
        throughput[kind] = args.batch / median_seconds(make(many, 2), max(1, args.runs // 2), 1)
    sizes = {kind: path.stat().st_size for kind, path in files.items()}
    return {"label": label, "params": sum(p.numel() for p in model.parameters()), "latency": latency, "throughput": throughput, "sizes": sizes}


def print_results(results: list[dict]) -> None:
    print("\nper-clip latency, batch 1, 1 thread (ms); in brackets: ratio to ONNX fp32")
    print(f"{'model':<20}{'params':>11}" + "".join(f"{k:>24}" for k in KINDS))
    for r in results:
        base = r["latency"]["onnx fp32"]
        cells = "".join(f"{1000 * r['latency'][k]:>14.2f} ({r['latency'][k] / base:>5.2f}×)" for k in KINDS)
        print(f"{r['label']:<20}{r['params']:>11,}{cells}")
    print("\nthroughput, 2 threads (clips/s); in brackets: ratio to ONNX fp32")
    print(f"{'model':<20}{'':>11}" + "".join(f"{k:>24}" for k in KINDS))
    for r in results:
        base = r["throughput"]["onnx fp32"]
        cells = "".join(f"{r['throughput'][k]:>14.1f} ({r['throughput'][k] / base:>5.2f}×)" for k in KINDS)
        print(f"{r['label']:<20}{'':>11}{cells}")
    print("\nfile size (bytes); in brackets: ratio to ONNX fp32")
    print(f"{'model':<20}{'':>11}" + "".join(f"{k:>24}" for k in KINDS[1:]))
    for r in results:
        base = r["sizes"]["onnx fp32"]
        cells = "".join(f"{r['sizes'][k]:>14,} ({r['sizes'][k] / base:>5.2f}×)" for k in KINDS[1:])
        print(f"{r['label']:<20}{'':>11}{cells}")
    fcnn_family = [r for r in results if r["label"].split("-")[0] in ("fcnn", "small_fcnn", "fsfcnn", "fsfcnn_split")]
    for r in fcnn_family:
        ratio = r["latency"]["onnx int8 static"] / r["latency"]["onnx fp32"]
        verdict = "meets" if ratio <= 0.5 else "misses"
        print(f"target static int8 ≤ 0.5× ONNX fp32 latency: {r['label']} {ratio:.2f}× ({verdict})")


def ensembles(width: float, calibration: int, folder: Path) -> None:
    """Export the 1b Mobnet + small-FCNN pairs as static-int8 bundles against the default 500 KB."""
    from asckit.errors import AsckitError
    from asckit.deploy.export import Member, export_bundle

    configs = {c.label: c for c in REFERENCE_CONFIGS}
    shape = clip_shape("mobnet")  # a 10 s 1b clip: (6, 128, 461)
    data = np.random.default_rng(1).random((calibration, *shape), dtype=np.float32)
    print("\nTask 1b two-model ensembles, static int8, budget 500 KB (1 KB = 1024 B)")
    for partner in ("small_fcnn", "small_fcnn-shipped"):
        members = []
        for label in ("mobnet", partner):
            params = dict(configs[label].params)
            torch.manual_seed(0)
            members.append(Member(label, [build(configs[label].name, width=width, **params).eval()]))
        try:
            report = export_bundle(folder / f"ensemble-{partner}", members, "1b", int8="static", calibration=data)
        except AsckitError as exc:
            print(f"mobnet + {partner}: refused: {exc}")
            continue
        total = report["totals"]["int8"]["file_bytes"]
        parts = ", ".join(f"{a['file']} {a['file_bytes']:,} B" for a in report["artifacts"] if a["precision"] == "int8")
        print(f"mobnet + {partner}: {total:,} B = {total / 1024:.1f} KB on disk ({parts}) — within budget")


def main(argv: list[str] | None = None) -> int:
    labels = [c.label for c in REFERENCE_CONFIGS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), choices=labels, metavar="MODEL", help=f"from {labels}")
    parser.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1.0 = reference)")
    parser.add_argument("--batch", type=int, default=8, help="batch of the 2-thread throughput runs")
    parser.add_argument("--runs", type=int, default=20, help="timed batch-1 runs per kind (median)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--calibration", type=int, default=16, help="random clips for static calibration")
    parser.add_argument("--no-ensemble", action="store_true", help="skip the 1b ensemble size check")
    args = parser.parse_args(argv)

    import onnxruntime

    print(
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, width {args.width}, "
        f"{args.runs} timed runs (median) after {args.warmup} warm-up"
    )
    configs = {c.label: c for c in REFERENCE_CONFIGS}
    results = []
    with tempfile.TemporaryDirectory(prefix="asckit-bench-") as tmp:
        for label in args.models:
            params = {"name": configs[label].name, **configs[label].params}
            results.append(benchmark_model(label, params, args.width, args, Path(tmp)))
            print(f"measured {label}", flush=True)
        print_results(results)
        if not args.no_ensemble:
            ensembles(args.width, args.calibration, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
