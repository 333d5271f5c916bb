"""Inference speed and size of one model as torch fp32, ONNX fp32 and ONNX int8, measured in one run.

For each model (random weights: speed does not depend on them): per-clip latency at batch 1 on
1 thread (median of ``--runs``), throughput in clips/s at batch ``--batch`` on 2 threads, and the
file size of each ONNX artifact, with ratios to ONNX fp32. int8 comes in two kinds (see
``asckit.deploy.export``): ``static`` (QDQ, per-channel, calibrated) and ``dynamic`` (ConvInteger; smaller
files but slower than fp32). Then the Task 1b two-model ensembles (Mobnet + small-FCNN, static
int8) are exported as bundles against the 500 KB budget and their bytes on disk printed.

Last, the authors' published Task 1b models (``--published DIR``, default the shared Keras
fixtures beside the repository): their dynamic-range int8 ``.tflite`` files run by the LiteRT
interpreter (``pip install asckit[benchmark]``; the lines are skipped when it is not installed),
beside asckit's ONNX fp32 and static int8 of the *same weights* (the ``.hdf5`` imported with
``asckit.pretrained.keras_import``), batch 1 on 1 thread, with latency and size ratios to the TFLite;
the three are timed interleaved, one run of each per round, so load from other processes falls on
all three alike.

Targets: static int8 ≤ 0.5× the ONNX fp32 latency for the FCNN family; the 1b two-model ensemble
≤ 500 KB on disk; asckit int8 ≤ 0.5× the published TFLite's latency, its file no larger.

    python benchmarks/inference.py                                   # reference widths
    python benchmarks/inference.py --models fcnn small_fcnn --width 0.25 --runs 5 --no-ensemble   # smoke
    python benchmarks/inference.py --models --no-ensemble            # only the published TFLite comparison
    python benchmarks/inference.py --models --no-ensemble --profile  # ... with the int8 time by op type
"""

from __future__ import annotations

import argparse
import importlib.util
import os
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


def interleaved_medians(runners: dict, runs: int, warmup: int) -> dict:
    """Median seconds of each runner, timed in rounds of one run each (order rotating per round),
    so that load from other processes falls on all of them alike."""
    for run in runners.values():
        for _ in range(warmup):
            run()
    names = list(runners)
    times: dict = {name: [] for name in names}
    for round_ in range(runs):
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            start = time.perf_counter()
            runners[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


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
    from asckit.core.errors import AsckitError
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


#: The published 1b models: (Keras file, the authors' TFLite of it).
PUBLISHED_1B = (
    ("mobnet-model-0.9517.hdf5", "mobnet-model-0.9517-quantized.tflite"),
    ("smallfcnn-model-0.9618.hdf5", "smallfcnn-model-0.9618-quantized.tflite"),
)
DEFAULT_PUBLISHED = Path(os.environ.get("ASCKIT_SHARED") or Path(__file__).resolve().parents[2] / "shared") / "reference" / "keras"


def op_profile(path: Path, x: np.ndarray, runs: int) -> list[tuple[str, float, int]]:
    """Where one batch-1, 1-thread run of an ONNX file spends its time, by op type (as ONNX Runtime
    runs it, after its fusions): (op type, ms, nodes), from ORT's profiler, each node's median over
    ``runs`` runs (medians resist the load from other processes), largest first."""
    import json

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_profiling = True
    with tempfile.TemporaryDirectory(prefix="asckit-profile-") as tmp:
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for _ in range(runs + 3):
            session.run(None, {"features": x})
        events = json.loads(Path(session.end_profiling()).read_text())
    per_node: dict[tuple[str, str], list[float]] = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_node.setdefault((event["name"], event["args"]["op_name"]), []).append(event["dur"])
    by_op: dict[str, list[float]] = {}
    for (_, op), durations in per_node.items():
        by_op.setdefault(op, []).append(statistics.median(durations[3:] or durations) / 1000)
    return sorted(((op, sum(ms), len(ms)) for op, ms in by_op.items()), key=lambda row: -row[1])


def print_op_profile(label: str, path: Path, x: np.ndarray, runs: int) -> None:
    rows = op_profile(path, x, runs)
    total = sum(ms for _, ms, _ in rows)
    shown = ", ".join(f"{op} {ms:.2f} ms {100 * ms / total:.0f}% ({n})" for op, ms, n in rows if ms >= 0.01 * total)
    print(f"    profile {label}: {total:.2f} ms in kernels: {shown}")


def tflite_runner(path: Path, x: np.ndarray):
    """The published TFLite file in LiteRT's interpreter on 1 thread; input is channels-last."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))

    def run() -> None:
        interpreter.set_tensor(index, nhwc)
        interpreter.invoke()

    return run


def published(folder: Path, args, tmp: Path) -> None:
    """The authors' TFLite files against asckit ONNX fp32 / static int8 of the same weights."""
    from asckit.deploy.export import export_onnx, quantize_onnx
    from asckit.pretrained.keras_import import build_imported, guess_architecture, read_keras_file

    have = [(h5, tfl) for h5, tfl in PUBLISHED_1B if (folder / h5).is_file() and (folder / tfl).is_file()]
    if not have:
        print(f"\npublished TFLite comparison skipped: the published files are not in {folder} (--published DIR)")
        return
    litert = importlib.util.find_spec("ai_edge_litert") is not None
    print("\nthe authors' published 1b models: TFLite (dynamic-range int8, LiteRT) vs asckit ONNX of the same weights")
    print("batch 1, 1 thread; latency ms (ratio to TFLite), file bytes (ratio to TFLite)")
    rng = np.random.default_rng(0)
    calibration = rng.random((args.calibration, *clip_shape("mobnet")), dtype=np.float32)
    one = calibration[:1]
    totals: dict[str, float] = {}
    for h5, tfl in have:
        keras = read_keras_file(folder / h5)
        model = build_imported(keras, guess_architecture(keras))
        fp32 = export_onnx(model, tmp / f"{h5}.fp32.onnx", one.shape[1:])
        files = {"tflite (published)": folder / tfl, "onnx fp32": fp32,
                 "onnx int8 static": quantize_onnx(fp32, tmp / f"{h5}.int8.onnx", "static", calibration)}
        runners = {kind: onnx_runner(files[kind], one, 1) for kind in ("onnx fp32", "onnx int8 static")}
        if litert:
            runners["tflite (published)"] = tflite_runner(folder / tfl, one)
        latency = interleaved_medians(runners, args.runs, args.warmup)
        base_t, base_b = latency.get("tflite (published)"), files["tflite (published)"].stat().st_size
        for kind, path in files.items():
            size = path.stat().st_size
            totals[kind + " bytes"] = totals.get(kind + " bytes", 0) + size
            if kind not in latency:
                print(f"  {h5:<30} {kind:<20} {'(LiteRT not installed: pip install ai-edge-litert)':>28} {size:>10,} B ({size / base_b:.2f}×)")
                continue
            ratio = f" ({latency[kind] / base_t:.2f}×)" if base_t else ""
            print(f"  {h5:<30} {kind:<20} {1000 * latency[kind]:>9.2f} ms{ratio:<9} {size:>10,} B ({size / base_b:.2f}×)")
            totals[kind] = totals.get(kind, 0) + latency[kind]
        if args.profile:
            print_op_profile(f"{h5} int8 static", files["onnx int8 static"], one, args.runs)
    if litert and len(have) == len(PUBLISHED_1B):
        t = totals["tflite (published)"]
        for kind in ("onnx fp32", "onnx int8 static"):
            print(f"  both models, {kind:<18}: {1000 * totals[kind]:.2f} ms vs TFLite {1000 * t:.2f} ms ({totals[kind] / t:.2f}×), "
                  f"{totals[kind + ' bytes']:,.0f} B vs {totals['tflite (published)' + ' bytes']:,.0f} B "
                  f"({totals[kind + ' bytes'] / totals['tflite (published)' + ' bytes']:.2f}×)")
        ratio = totals["onnx int8 static"] / t
        small = totals["onnx int8 static bytes"] <= totals["tflite (published) bytes"]
        print(f"target asckit int8 ≤ 0.5× TFLite latency and no larger: {ratio:.2f}×, "
              f"{'no larger' if small else 'larger'} ({'meets' if ratio <= 0.5 and small else 'misses'})")


def main(argv: list[str] | None = None) -> int:
    labels = [c.label for c in REFERENCE_CONFIGS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(DEFAULT_MODELS), choices=labels, metavar="MODEL", help=f"from {labels}")
    parser.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1.0 = reference)")
    parser.add_argument("--batch", type=int, default=8, help="batch of the 2-thread throughput runs")
    parser.add_argument("--runs", type=int, default=20, help="timed batch-1 runs per kind (median)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--calibration", type=int, default=16, help="random clips for static calibration")
    parser.add_argument("--no-ensemble", action="store_true", help="skip the 1b ensemble size check")
    parser.add_argument("--profile", action="store_true", help="also print the published models' int8 time by op type (ORT profiler)")
    parser.add_argument("--published", type=Path, default=DEFAULT_PUBLISHED, help="folder of the authors' 1b .hdf5 + .tflite files")
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
        if results:
            print_results(results)
        if not args.no_ensemble:
            ensembles(args.width, args.calibration, Path(tmp))
        published(args.published, args, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
