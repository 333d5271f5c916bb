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

``--tau22`` runs only the DCASE 2024/2025 comparison (issue 23): one 1 s clip at 44.1 kHz, batch 1,
1 thread, from audio to probabilities. The reference path is the CPJKU baseline's written as
explicit torch ops (``tau22_reference.py``: dense resampling convolution, ``torch.stft``, dense mel
matrix, log) and its model (``cp_mobile`` at full width = ``models/net.py``, 61,148 parameters,
random weights) in fp32 and in fp16 (model and input ``.half()``, as the 2025 template runs it);
asckit's path is the bundle ``asckit export`` writes for such a model (fp32, fp16-storage and static
int8 files), run as a user runs it: the torch-free runtime (``asckit.deploy.runtime``: numpy
frontend ``tau22_frontend``, the bundle's ONNX graph in ONNX Runtime on 1 thread); ``--bundle DIR``
adds a bundle of yours. Frontends, models and whole clips are timed in one interleaved run; each
timed run follows an untimed one of the same path (``--cold``: not). Target: asckit's int8 clip ≤
0.5× the faster reference clip path.
``--graph-variants`` adds other int8 quantization options, the fp16 graphs and ORT's 'extended' level.

    python benchmarks/inference.py                                   # reference widths
    python benchmarks/inference.py --models fcnn small_fcnn --width 0.25 --runs 5 --no-ensemble   # smoke
    python benchmarks/inference.py --models --no-ensemble            # only the published TFLite comparison
    python benchmarks/inference.py --models --no-ensemble --profile  # ... with the int8 time by op type
    python benchmarks/inference.py --tau22                           # TAU22: one 1 s clip, asckit vs the reference
    python benchmarks/inference.py --tau22 --graph-variants --profile   # ... every int8/fp16 variant, ORT op profiles
    python benchmarks/inference.py --tau22 --bundle DIR              # ... and an export bundle through the runtime
    python benchmarks/inference.py --tau22 --smoke                   # wiring only: seconds
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


def interleaved_medians(runners: dict, runs: int, warmup: int, settle: int = 0) -> dict:
    """Median seconds of each runner, timed in rounds of one run each (order rotating per round),
    so that load from other processes falls on all of them alike. ``settle`` untimed runs of the same
    runner right before each timed one time it with its own data in the caches, as when one path
    classifies clip after clip (without them, each timed run follows the other paths' runs, which
    evict its kernels and buffers: the numpy TAU22 frontend measured 0.60 ms alone, 0.75 after the
    reference's torch frontend, 1.6 in the whole TAU22 round)."""
    for run in runners.values():
        for _ in range(warmup):
            run()
    names = list(runners)
    times: dict = {name: [] for name in names}
    for round_ in range(runs):
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            for _ in range(settle):
                runners[name]()
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


# ----------------------------------------------------------------------------------------------
# TAU22 (DCASE 2024/2025): one 1 s clip end to end, asckit against the reference's ops

#: The rate TAU22 clips arrive at; both paths resample them to 32 kHz (tau22_frontend.SAMPLE_RATE).
TAU22_RAW_RATE = 44100
#: The int8 graphs ``--graph-variants`` compares besides the export's own (``asckit.deploy.export.
#: quantize_onnx`` with ``pools_as_convs``, as ``asckit export`` builds TAU22 models): name →
#: ``quantize_variant`` options that differ from the export's.
INT8_VARIANTS: dict[str, dict] = {
    "int8 depthwise float": {"float_depthwise": True},
    "int8 per-tensor": {"per_channel": False},
    "int8 reduce_range": {"reduce_range": True},
    "int8 int8 activations": {"activation": "int8"},
}
#: The int8 graph the export builds (``asckit.deploy.export.quantize_onnx``).
EXPORT_INT8 = "int8 export"


def tau22_clips(count: int, seed: int = 0) -> np.ndarray:
    """(count, 44,100) float32 1 s clips at 44.1 kHz: brown noise plus a tone, peaks from −40 to −3 dBFS,
    so that calibration log-mels span the range of recordings (speed does not depend on the content)."""
    rng = np.random.default_rng(seed)
    t = np.arange(TAU22_RAW_RATE) / TAU22_RAW_RATE
    brown = np.cumsum(rng.standard_normal((count, TAU22_RAW_RATE)), axis=1)
    brown -= brown.mean(axis=1, keepdims=True)
    tone = np.sin(2 * np.pi * rng.uniform(100, 8000, (count, 1)) * t) * rng.uniform(0, 0.5, (count, 1))
    clips = brown / np.abs(brown).max(axis=1, keepdims=True) + tone
    peaks = 10 ** (rng.uniform(-40, -3, (count, 1)) / 20)
    return (clips / np.abs(clips).max(axis=1, keepdims=True) * peaks).astype(np.float32)


def tau22_model(width: float) -> torch.nn.Module:
    """``cp_mobile`` (full width: the reference's net, 61,148 parameters) in eval mode with random
    weights and BatchNorm statistics moved away from identity, so that its folded convolutions carry
    biases as a trained model's do; ReLUs out of place, as the reference's."""
    from tau22_reference import relu_in_place

    torch.manual_seed(0)
    model = build("cp_mobile", width=width)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
                module.weight.copy_(1 + 0.1 * torch.randn(n, generator=generator))
                module.bias.copy_(0.1 * torch.randn(n, generator=generator))
    relu_in_place(model, False)
    return model.eval()


def quantize_variant(
    fp32_path: Path,
    out_path: Path,
    calibration: np.ndarray,
    float_depthwise: bool = False,
    per_channel: bool = True,
    activation: str = "uint8",
    reduce_range: bool = False,
) -> Path:
    """``asckit.deploy.export.quantize_onnx``'s static int8 of a TAU22 model (pools as depthwise convs,
    QDQ, MinMax calibration, the same float nodes, ``align_conv_channels``, ``integer_pads``, weights
    stored unpadded) with one of its options varied (the export's: per-channel, uint8 activations,
    int8 weights, no reduce_range), or ``float_depthwise`` (every grouped convolution stays float)."""
    import contextlib

    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from asckit.deploy.export import (
        _finish,
        _float_nodes,
        _quiet_quantizer,
        align_conv_channels,
        average_pools_as_convs,
        integer_pads,
        store_weights_unpadded,
    )

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(calibration[i : i + 8] for i in range(0, len(calibration), 8))

        def get_next(self) -> dict | None:
            chunk = next(self.batches, None)
            return None if chunk is None else {"features": np.ascontiguousarray(chunk)}

    fp32_path, out_path = Path(fp32_path).resolve(), Path(out_path).resolve()
    with tempfile.TemporaryDirectory(prefix="asckit-variant-") as tmp, contextlib.chdir(tmp), _quiet_quantizer():
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), auto_merge=True)
        average_pools_as_convs(prepared)
        keep_float = _float_nodes(prepared)
        if float_depthwise:
            convs = [n for n in onnx.load(str(prepared)).graph.node if n.op_type == "Conv"]
            keep_float += [n.name for n in convs if next((a.i for a in n.attribute if a.name == "group"), 1) > 1]
        padded = align_conv_channels(prepared, skip=set(keep_float))
        quantized = Path(tmp) / "quantized.onnx"
        quantize_static(
            str(prepared), str(quantized), Batches(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
            activation_type=QuantType.QInt8 if activation == "int8" else QuantType.QUInt8, weight_type=QuantType.QInt8,
            nodes_to_exclude=keep_float, reduce_range=reduce_range,
        )
        integer_pads(quantized)
        store_weights_unpadded(quantized, padded)
        _finish(quantized, out_path, None)
    return out_path


def fp16_graphs(fp32_path: Path, folder: Path) -> dict[str, Path]:
    """The fp32 graph in two fp16 forms: ``onnx fp16 ops`` (onnxruntime's float16 converter, inputs and
    outputs kept float32: ORT's CPU kernels mostly lack fp16 and run between Casts) and ``onnx fp16
    storage`` (``asckit.deploy.export.store_weights_fp16``, as the bundle's fp16 files: weights stored
    as fp16, each cast to float32 by a Cast that ORT folds at load: the fp32 graph's speed at half its bytes)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    from asckit.deploy.export import store_weights_fp16

    ops = folder / "fp16-ops.onnx"
    onnx.save(convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True), str(ops))
    return {"onnx fp16 ops": ops, "onnx fp16 storage": store_weights_fp16(fp32_path, folder / "fp16-storage.onnx")}


def asckit_whole_clip(bundle: Path, precision: str | None = None):
    """asckit's path for one clip, 44.1 kHz audio → class probabilities, as a user runs it: the export
    bundle through the torch-free runtime, ``load_exported_model(DIR, precision, threads=1)
    .predict_audio(audio, 44100)`` (numpy frontend, the bundle's ONNX graph on 1 thread)."""
    from asckit.deploy.runtime import load_exported_model

    classifier = load_exported_model(bundle, precision, threads=1)
    return lambda audio: classifier.predict_audio(audio, TAU22_RAW_RATE).probs


def onnx_session(path: Path, level: str = "all"):
    """An ONNX Runtime session on 1 thread (intra- and inter-op) with graph optimizations ``level``:
    'all' is ORT's default, whose NCHWc layout for float convolutions made cp_mobile's fp32 graph 4×
    faster than 'extended' (``--graph-variants`` times both)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
                                        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED}[level]
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def frontend_breakdown(audio: np.ndarray, runs: int, warmup: int) -> dict[str, float]:
    """Median ms of the numpy frontend's steps on one clip: resampling, the STFT's FFTs alone, the
    power mel (padding, frames × window, FFT, |·|², mel projection), the log-mel from 32 kHz, and all."""
    from asckit.features import tau22_frontend as fe
    from asckit.features.fft import real_fft

    wave = fe.resample(audio, TAU22_RAW_RATE)
    frames = np.random.default_rng(0).random((fe.frames(wave.shape[-1]), fe.N_FFT), dtype=np.float32)
    fft = real_fft()
    runners = {
        "resample": lambda: fe.resample(audio, TAU22_RAW_RATE),
        "FFTs": lambda: fft(frames.copy()),
        "power mel": lambda: fe.power_mel(wave),
        "log-mel": lambda: fe.log_mel(wave),
        "all": lambda: fe.log_mel(fe.resample(audio, TAU22_RAW_RATE)),
    }
    return {name: 1000 * s for name, s in interleaved_medians(runners, runs, warmup, settle=1).items()}


def tau22(args) -> int:
    """The TAU22 comparison (module docstring): build, time interleaved, print."""
    import copy

    import onnxruntime
    from tau22_reference import ReferenceFrontend

    from asckit.deploy.export import Member, export_bundle, export_onnx, quantize_onnx
    from asckit.features import tau22_frontend as fe
    from asckit.train.config import cpu_flags

    runs, warmup, count, settle = (args.runs or 100, args.warmup, args.calibration, 0 if args.cold else 1)
    if args.smoke:
        runs, warmup, count = 3, 1, 4
    flags = cpu_flags()
    shown = [f for f in sorted(flags) if f.startswith("amx") or f in ("avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "avx512f")]
    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; CPU flags: {' '.join(shown) or 'none of AVX-512/VNNI/AMX'}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    torch.set_num_threads(1)
    clips = tau22_clips(count + 1)
    audio = clips[0]
    calibration = fe.log_mel(fe.resample(clips[1:], TAU22_RAW_RATE))[:, None]
    model = tau22_model(args.width)
    reference_frontend = ReferenceFrontend(TAU22_RAW_RATE).eval()
    model_fp16 = copy.deepcopy(model).half()
    wave = torch.from_numpy(audio)[None]
    with torch.inference_mode():
        features = reference_frontend(wave)
    features_fp16 = features.half()

    def torch_run(function):
        def run():
            with torch.inference_mode():
                return function()
        return run

    with tempfile.TemporaryDirectory(prefix="asckit-tau22-") as tmp:
        folder = Path(tmp)
        shape = tuple(features.shape[1:])
        graphs = {"onnx fp32": export_onnx(model, folder / "fp32.onnx", shape)}
        graphs[EXPORT_INT8] = quantize_onnx(graphs["onnx fp32"], folder / "int8-export.onnx", "static", calibration, pools_as_convs=True)
        if args.graph_variants:
            graphs.update(fp16_graphs(graphs["onnx fp32"], folder))
            for name, options in INT8_VARIANTS.items():
                graphs[name] = quantize_variant(graphs["onnx fp32"], folder / f"{name.replace(' ', '-')}.onnx", calibration, **options)
        # The bundle `asckit export` writes for such a run (fp32, fp16 storage and static int8 files).
        bundle = folder / "bundle"
        export_bundle(bundle, [Member("general", [model])], "2025", calibration=calibration)
        x = calibration[:1]
        runners = {
            "reference frontend": torch_run(lambda: reference_frontend(wave)),
            "reference model fp32": torch_run(lambda: model(features)),
            "reference model fp16": torch_run(lambda: model_fp16(features_fp16)),
            "reference clip fp32": torch_run(lambda: model(reference_frontend(wave))),
            "reference clip fp16": torch_run(lambda: model_fp16(reference_frontend(wave).half())),
            "asckit frontend (numpy)": lambda: fe.log_mel(fe.resample(audio, TAU22_RAW_RATE)),
        }
        sessions = {name: onnx_session(path) for name, path in graphs.items()}
        for name, session in sessions.items():
            runners[f"asckit model {name}"] = lambda s=session: s.run(None, {"features": x})
        if args.graph_variants:
            for name in ("onnx fp32", EXPORT_INT8):
                extended = onnx_session(graphs[name], "extended")
                runners[f"asckit model {name}, ORT extended"] = lambda s=extended: s.run(None, {"features": x})
        for precision in ("int8", "fp16", "fp32"):
            classify = asckit_whole_clip(bundle, precision)
            runners[f"asckit clip bundle {precision}"] = lambda f=classify: f(audio)
        if args.bundle is not None:
            classify_given = asckit_whole_clip(args.bundle)
            runners["asckit clip --bundle"] = lambda: classify_given(audio)
        print(f"TAU22 one 1 s clip at 44.1 kHz, batch 1, 1 thread, width {args.width} "
              f"({sum(p.numel() for p in model.parameters()):,} parameters); {runs} interleaved rounds after {warmup} warm-up, median; "
              + ("cold: each timed run follows the other paths' runs" if args.cold else "warm: each timed run follows an untimed one of its path"),
              flush=True)
        medians = {name: 1000 * s for name, s in interleaved_medians(runners, runs, warmup, settle).items()}
        breakdown = frontend_breakdown(audio, runs, warmup)
        with torch.inference_mode():
            expected = torch.softmax(model(torch.from_numpy(calibration)), dim=-1).numpy()
        graph_notes = {
            name: f"{path.stat().st_size:>9,} B, max |Δp| {np.abs(sessions[name].run(None, {'features': calibration})[0] - expected).max():.1e}"
            for name, path in graphs.items()
        }
        fastest = min(medians["reference clip fp32"], medians["reference clip fp16"])
        print(f"\n{'path':<40}{'ms':>9}{'ratio':>8}   graph: bytes, largest probability difference from torch fp32 "
              f"on the {len(calibration)} calibration clips")
        for name, ms in medians.items():
            print(f"{name:<40}{ms:>9.3f}{ms / fastest:>7.2f}×   {graph_notes.get(name.removeprefix('asckit model '), '')}")
        print(f"(ratio: to the faster reference clip path, {fastest:.3f} ms)")
        print("asckit frontend steps (ms): " + ", ".join(f"{k} {v:.3f}" for k, v in breakdown.items()))
        clip = "asckit clip bundle int8"
        ratio = medians[clip] / fastest
        verdict = "smoke run: not a measurement" if args.smoke else ("meets" if ratio <= 0.5 else "misses")
        print(f"goal {clip} ≤ 0.5× the faster reference clip path: {ratio:.2f}× ({verdict}); "
              f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.profile:
            for name in ("onnx fp32", EXPORT_INT8):
                print_op_profile(name, graphs[name], x, runs)
    return 0


def main(argv: list[str] | None = None) -> int:
    labels = [c.label for c in REFERENCE_CONFIGS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(DEFAULT_MODELS), choices=labels, metavar="MODEL", help=f"from {labels}")
    parser.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1.0 = reference)")
    parser.add_argument("--batch", type=int, default=8, help="batch of the 2-thread throughput runs")
    parser.add_argument("--runs", type=int, default=None, help="timed batch-1 runs per kind (median; default 20, --tau22 100 rounds)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--calibration", type=int, default=16, help="random clips for static calibration")
    parser.add_argument("--no-ensemble", action="store_true", help="skip the 1b ensemble size check")
    parser.add_argument("--profile", action="store_true", help="also print the published models' int8 time by op type (ORT profiler)")
    parser.add_argument("--published", type=Path, default=DEFAULT_PUBLISHED, help="folder of the authors' 1b .hdf5 + .tflite files")
    parser.add_argument("--tau22", action="store_true", help="only the TAU22 comparison: one 1 s clip, asckit against the reference's ops")
    parser.add_argument("--bundle", type=Path, help="--tau22: also time this export bundle end to end (asckit.deploy.runtime)")
    parser.add_argument("--graph-variants", action="store_true", help="--tau22: also time the int8 quantization variants and the fp16 graphs")
    parser.add_argument("--cold", action="store_true", help="--tau22: no untimed run before each timed one (caches hold the other paths' data)")
    parser.add_argument("--smoke", action="store_true", help="--tau22: 3 rounds, 4 calibration clips (checks the wiring, not the speed)")
    args = parser.parse_args(argv)
    if args.tau22:
        return tau22(args)
    args.runs = args.runs or 20

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
