"""Export trained models to ONNX, quantize them to int8, account for their size, check parity.

One job: turn PyTorch modules into the deployable bundle (``asckit.deploy.bundle``) that
``asckit.deploy.runtime`` runs.

- **One graph per member.** A member is one model or several snapshots of it (the checkpoints of
  the cosine cycles' ends); its graph returns the mean of the snapshots' softmax outputs, so a
  snapshot average is a single ONNX file. An ensemble of different models (the 1b Mobnet +
  small-FCNN pair) is several members, fused by the bundle (average or logistic regression).
- **fp32 export.** ``torch.onnx.export`` (dynamo) in eval mode with a dynamic batch axis and the
  clip's fixed (channels, 128, frames); single file (``external_data=False``). BatchNorm is folded
  into the preceding convolution (the exporter's optimizer and ORT's basic graph optimizer both do
  it); BatchNorms with no conv before them (the input BN, the head's BN after its ReLU) stay as
  float BatchNormalization nodes. The ONNX output is checked against torch on a test batch.
- **int8.** With ONNX Runtime's tools after ``quant_pre_process`` (run in a temporary folder: it
  leaves temporary files in the working directory):
  ``dynamic`` = ``quantize_dynamic``, weights int8 and activations quantized at run time, the
  paper's TFLite dynamic-range quantization. In ORT it turns Conv into ConvInteger, which makes
  the file about 4× smaller (weights of 8 instead of 32 bits) but runs *slower* than fp32 on CPU.
  ``static`` = ``quantize_static`` in QDQ format with per-channel int8 weights and uint8
  activations calibrated (MinMax) on training clips: beyond the paper; faster than ONNX fp32 for
  the FCNN family on a CPU with VNNI. ``python benchmarks/inference.py`` measures both kinds
  against fp32 on the machine at hand. The Softmax and what follows it stay float, so small
  probabilities (and the log loss) survive. Two rewrites keep every convolution on ONNX Runtime's
  fast int8 kernels, exactly (the int8 outputs are bit-identical without them):
  ``align_conv_channels`` pads convolutions with input channels not a multiple of 4 (the 1b
  models' first convolutions on the 6 feature channels, which otherwise took the generic kernel
  and a quarter of the Mobnet's int8 time) with zero channels, and ``integer_pads`` runs that Pad
  on the uint8 values, which ORT's QDQ fusions would leave in float; the padded weights are stored
  unpadded (``store_weights_unpadded``), so the files do not grow.
- **Compact files.** The exporter stores stack traces and the torch signature as metadata, and
  long tensor names; they are stripped and names shortened, and identical constants (the
  quantizer's per-node zero points and scales) stored once, since bytes on disk are what the
  Task 1b budget counts. Each file carries the model description (task, classes, feature
  settings, window rule) as ONNX metadata, so a single ``.onnx`` is usable on its own.
- **Size and budget.** For every artifact: bytes on disk, parameters, non-zero stored values,
  MACs per clip of the bundle's input (``macs``) and per second of audio (``macs_per_second``,
  counted on a 10 s clip: ``asckit.tasks.MACS_CLIP_SECONDS``), and the DCASE 2020 count
  (non-zero values × bits per value: 32 for fp32, 8 for int8; KB = 1024 B), plus the count by dtype of what the ONNX file actually stores. An
  export whose deployed files exceed the budget (default 500 KB for 1b, none for 1a) is refused
  with the numbers. The report also holds the deployed model against every edition's complexity
  limits (``limits``: 2020's 500 KB in int8, 2022's 128 K parameters, 2023–2025's 128,000 bytes of
  parameters at the bundle's fp32 and int8, 30 M MACs per second of audio;
  ``asckit.models.counting.check_limits``), for information, not refusal.
- **fp16** (TAU22 bundles): the fp32 graph with every weight stored as float16 and cast back to
  float32 where it is used (``store_weights_fp16``): half the file, the baselines' storage
  precision (they ship fp16), computed in float32 (ONNX Runtime folds the casts when it loads).
- **TAU22 runs (DCASE 2024/2025).** The bundle's front end is ``tau22`` (``asckit.deploy.bundle``),
  input (n, 1, 256, 65) per 1 s; a device-specific run gives one member per model (``general`` and
  ``device-<id>``) and the bundle's ``DeviceRouting`` instead of a fusion. The report then holds
  each model's own figures against the task's edition (``DCASE 2023-2025``: 128,000 B of
  parameters at each written precision, 30 M MACs per second, torchinfo's count on the 1 s input;
  ``limits``): asckit's deployment figures. The verdict that counts for a 2025 submission is the
  organizers' count on the torch module the inference package ships (``asckit package``).
- **Parity.** Given evaluation features and labels, the int8 and fp32 bundles' accuracy and log
  loss side by side (each clip classified by its device's model where the bundle routes by device;
  fp16 against fp32 in the same way, ``parity_fp16``), their top-1 agreement, the int8 − fp32 accuracy difference with its 95 %
  paired-bootstrap interval (``asckit.scoring.significance``: the same resampled clips for both) and the
  largest probability difference. int8 matches fp32 when they agree on ≥ 98 % of the clips and the
  interval does not lie wholly below zero. (A fixed drop of 0.5 points would be 3 clips of 630: a
  calibration seed could pass or fail it.)

Command: ``asckit export RUN [RUN ...] [--int8 {static,dynamic}] [--deploy {int8,fp16,fp32}] [--out DIR]``
(``asckit.deploy.commands``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asckit.core.errors import AsckitError
from asckit.core.io_utils import replace_folder, staging_dir
from asckit.core.locking import acquire_writer
from asckit.deploy.bundle import (
    BUNDLE_FILE,
    INPUT_NAME,
    LOGISTIC_FILE,
    MEL_FILE,
    ONNX_METADATA_KEY,
    OUTPUT_NAME,
    REPORT_FILE,
    Bundle,
    BundleMember,
    DeviceRouting,
    ModelInfo,
    WindowRule,
    member_file_name,
)
from asckit.deploy.runtime import ExportedClassifier
from asckit.features.logmel import LogMelSettings, settings_for
from asckit.labels import classes as classes_of
from asckit.tasks import COMPLEXITY_LIMITS, MACS_CLIP_SECONDS, macs_input_shape, task_facts

INT8_MODES = ("static", "dynamic")
#: int8 matches fp32 when their top-1 classes agree on at least this share of the clips (and the
#: accuracy difference's interval does not lie wholly below zero; ``parity_of_predictions``). The
#: interval judges accuracy; the agreement floor catches a quantization that changes the model. Why
#: 98 % and not 99 %: the demo's narrow ensemble (top probability often under 0.3) agreed on 98.6-99.2 %
#: of its 630 clips depending only on the calibration (MinMax with 64 / 256 / 400 clips, Percentile,
#: Entropy; README "Measured"), while its accuracy moved by -0.8 to +0.2 points.
PARITY_AGREEMENT = 0.98
#: torch vs ONNX fp32 on the same input: any larger difference means a broken export.
TORCH_ONNX_TOLERANCE = 1e-4
_BITS = {"float32": 32, "float16": 16, "float64": 64, "int8": 8, "uint8": 8, "int32": 32, "int64": 64}
#: The precisions in the order they are written and reported.
WRITE_ORDER = ("fp32", "fp16", "int8")
#: The largest magnitude float16 holds; a weight beyond it cannot be stored as fp16.
FP16_MAX = float(np.finfo(np.float16).max)


@dataclass
class Member:
    """One ensemble member: a model, or its snapshots averaged into one graph."""

    name: str
    modules: list[Any]  # torch.nn.Module; typed loosely so importing this module needs no torch
    weight: float = 1.0


@dataclass
class Evaluation:
    """Labelled clips for the parity check (e.g. the evaluate split): model inputs
    (n, channels, n_mels, frames), or audio files whose features are computed batch by batch
    (the whole 1b evaluate split as float32 inputs would take 6 GB)."""

    labels: Sequence[str]
    features: np.ndarray | None = None
    paths: Sequence[Path] | None = None
    devices: Sequence[str | None] | None = None
    source: str = "evaluation clips"

    def batches(self, model: ExportedClassifier, size: int = 32) -> Iterator[np.ndarray]:
        """Model inputs in batches of ``size``, in label order (files through ``model``'s front end)."""
        if (self.features is None) == (self.paths is None):
            raise ValueError("give an Evaluation either features or paths")
        count = len(self.features) if self.features is not None else len(self.paths)
        if count != len(self.labels):
            raise ValueError(f"{count} clips but {len(self.labels)} labels")
        for start in range(0, count, size):
            if self.features is not None:
                yield self.features[start : start + size]
            else:
                from asckit.deploy.runtime import first_windows

                yield first_windows(self.paths[start : start + size], model.info)


# ----------------------------------------------------------------------------------------------
# fp32 export


def softmax_average(modules: Sequence[Any]):
    """An ``nn.Module`` returning the mean of the modules' softmax outputs (one graph for K snapshots)."""
    import torch
    from torch import nn

    class SoftmaxAverage(nn.Module):
        def __init__(self, members: Sequence[nn.Module]) -> None:
            super().__init__()
            self.members = nn.ModuleList(members)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            probs = [torch.softmax(m(x), dim=-1) for m in self.members]
            return probs[0] if len(probs) == 1 else torch.stack(probs).mean(dim=0)

    if not modules:
        raise ValueError("softmax_average needs at least one module")
    return SoftmaxAverage(modules).eval()


def export_onnx(
    modules: Any | Sequence[Any],
    path: str | os.PathLike,
    input_shape: Sequence[int],
    description: dict | None = None,
) -> Path:
    """Export a module (or the softmax average of several) to a single-file fp32 ONNX model.

    ``input_shape`` is one clip (channels, n_mels, frames); the batch axis is dynamic. The graph's
    input is ``features`` and its output ``probs`` (softmax probabilities). BatchNorm is folded into
    convolutions, debug metadata stripped, and ``description`` stored as metadata. Raises
    RuntimeError when ONNX Runtime's output differs from torch's by more than 1e-4.
    """
    import torch

    members = list(modules) if isinstance(modules, (list, tuple)) else [modules]
    modes = [m.training for m in members]
    wrapper = softmax_average(members)
    example = torch.rand(2, *[int(s) for s in input_shape], generator=torch.Generator().manual_seed(0))
    path = Path(path)
    try:
        with torch.no_grad():
            expected = wrapper(example).numpy()
        with tempfile.TemporaryDirectory(prefix="asckit-export-") as tmp, _quiet_exporter():
            raw = Path(tmp) / "raw.onnx"
            batch = torch.export.Dim("batch", min=1, max=4096)
            torch.onnx.export(
                wrapper,
                (example,),
                str(raw),
                dynamo=True,
                external_data=False,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch},),
            )
            folded = Path(tmp) / "folded.onnx"
            _ort_basic_optimize(raw, folded)
            _finish(folded, path, description)
    finally:
        for member, mode in zip(members, modes):
            member.train(mode)
    got = _run_onnx(path, example.numpy())
    diff = float(np.max(np.abs(got - expected)))
    if diff > TORCH_ONNX_TOLERANCE:
        raise RuntimeError(f"{path}: ONNX output differs from torch by {diff:.2g} (> {TORCH_ONNX_TOLERANCE}); export is broken")
    return path


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress prints and its harmless 'torchvision is not installed' warnings."""
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _ort_basic_optimize(source: Path, target: Path) -> None:
    """ORT's basic (standard-ONNX-only) optimizations: constant folding and Conv+BN fusion."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    options.log_severity_level = 3
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def _run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)})[0]


def _finish(source: Path, target: Path, description: dict | None) -> None:
    """Strip debug metadata, shorten names, attach ``description``; write ``target`` atomically."""
    import onnx

    from asckit.core.io_utils import atomic_path

    model = onnx.load(str(source))
    compact_onnx(model)
    if description is not None:
        kept = [p for p in model.metadata_props if p.key != ONNX_METADATA_KEY]
        del model.metadata_props[:]
        model.metadata_props.extend(kept)
        entry = model.metadata_props.add()
        entry.key, entry.value = ONNX_METADATA_KEY, json.dumps(description, sort_keys=True)
    with atomic_path(target) as tmp:
        onnx.save(model, str(tmp))


def compact_onnx(model) -> None:
    """Drop what inference does not need (stack traces, torch signature, value_info) and give
    tensors and nodes short names; graph inputs and outputs keep theirs. Edits ``model`` in place."""
    graph = model.graph
    for node in graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    del graph.metadata_props[:]
    del graph.value_info[:]
    graph.doc_string = ""
    _share_identical_initializers(graph)
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    names: dict[str, str] = {}

    # Names end in "_": ORT's quantizer names a duplicated shared bias <name><digit>, which for
    # plain "t10" would be "t100", the name of another tensor.
    def short(name: str) -> str:
        if not name or name in keep:
            return name
        return names.setdefault(name, f"t{len(names)}_")

    for tensor in graph.initializer:
        tensor.name = short(tensor.name)
    for index, node in enumerate(graph.node):
        node.name = f"n{index}_"
        node.input[:] = [short(n) for n in node.input]
        node.output[:] = [short(n) for n in node.output]


def _share_identical_initializers(graph) -> None:
    """Store each distinct constant once: the quantizer writes one zero-point and scale tensor per
    node even where they are equal (16 KB of a 236 KB int8 Mobnet)."""
    import onnx

    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for a in n.attribute):
        return  # subgraphs may name outer constants; the exported models have none
    first: dict[bytes, str] = {}
    rename: dict[str, str] = {}
    kept = []
    for tensor in graph.initializer:
        bare = onnx.TensorProto()
        bare.CopyFrom(tensor)
        bare.name = ""
        key = bare.SerializeToString(deterministic=True)
        if key in first:
            rename[tensor.name] = first[key]
        else:
            first[key] = tensor.name
            kept.append(tensor)
    if not rename:
        return
    del graph.initializer[:]
    graph.initializer.extend(kept)
    for node in graph.node:
        node.input[:] = [rename.get(name, name) for name in node.input]


# ----------------------------------------------------------------------------------------------
# int8


def quantize_onnx(
    fp32_path: str | os.PathLike,
    out_path: str | os.PathLike,
    mode: str = "static",
    calibration: np.ndarray | None = None,
    description: dict | None = None,
    calibration_batch: int = 8,
    pools_as_convs: bool = False,
) -> Path:
    """Quantize an fp32 model exported by ``export_onnx`` to int8 with ONNX Runtime's tools.

    ``mode`` 'static' (QDQ, per-channel int8 weights, uint8 activations calibrated with MinMax on
    ``calibration``, model inputs (n, channels, n_mels, frames)) or 'dynamic' (int8 weights,
    activations quantized at run time: ConvInteger, smaller but slower than fp32). With
    ``pools_as_convs`` (the TAU22 exports) a static model's padded average pools become depthwise
    convolutions first (``average_pools_as_convs``). Everything ONNX Runtime writes along the way
    stays in a temporary folder that is removed.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class FeatureBatches(CalibrationDataReader):
        """Calibration features in batches, as ``quantize_static`` asks for them."""

        def __init__(self, features: np.ndarray) -> None:
            chunks = [features[i : i + calibration_batch] for i in range(0, len(features), calibration_batch)]
            self.batches = iter(chunks)

        def get_next(self) -> dict | None:
            chunk = next(self.batches, None)
            return None if chunk is None else {INPUT_NAME: np.ascontiguousarray(chunk)}

    _check_int8_mode(mode, calibration)
    fp32_path = Path(fp32_path).resolve()
    out_path = Path(out_path).resolve()
    with tempfile.TemporaryDirectory(prefix="asckit-quant-") as tmp, contextlib.chdir(tmp), _quiet_quantizer():
        prepared = Path(tmp) / "prepared.onnx"
        # auto_merge: the symbolic shape inference cannot otherwise reconcile the dynamic batch axis
        # with the attention head's pooled shapes (FCNN family).
        quant_pre_process(str(fp32_path), str(prepared), auto_merge=True)
        quantized = Path(tmp) / "quantized.onnx"
        if mode == "static" and pools_as_convs:
            average_pools_as_convs(prepared)
        keep_float = _float_nodes(prepared)
        padded = align_conv_channels(prepared, skip=set(keep_float)) if mode == "static" else {}
        if mode == "static":
            quantize_static(
                str(prepared),
                str(quantized),
                FeatureBatches(np.asarray(calibration, dtype=np.float32)),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=keep_float,
            )
            integer_pads(quantized)
            store_weights_unpadded(quantized, padded)
        else:
            quantize_dynamic(str(prepared), str(quantized), weight_type=QuantType.QInt8, nodes_to_exclude=keep_float)
        _finish(quantized, out_path, description)
    return out_path


#: ONNX Runtime's fast int8 convolution on x86 (MLAS's symmetric "ConvSym" kernels, used for int8
#: weights with zero point 0) takes only convolutions whose input channels are a multiple of this;
#: others fall back to a generic im2col kernel (MLAS convsym.cpp, ``KernelInputChannelAlignment``).
CONV_CHANNEL_ALIGNMENT = 4


def align_conv_channels(path: Path, skip: set[str] = frozenset()) -> dict[str, int]:
    """Give every ungrouped convolution (but those named in ``skip``: the ones that stay float, which
    padding would only slow down) a multiple of ``CONV_CHANNEL_ALIGNMENT`` input channels.

    The 1b models' first convolutions read the 6 feature channels; in int8 they ran on ONNX
    Runtime's generic kernel at a fifth of the speed of the others and took a quarter of the
    Mobnet's time. Zero channels are added to the weights and a ``Pad`` with zeros in front of
    the convolution, so the float result is exactly the same (and so is the int8 one: a zero
    input quantizes to the zero point, a zero weight to 0). Edits the model file in place and
    returns the convolutions changed: name → their original input channels (for
    ``store_weights_unpadded``).
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    nodes: list = []
    changed: dict[str, int] = {}
    for index, node in enumerate(graph.node):
        node.name = node.name or f"conv{index}"
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        weight = weights.get(node.input[1]) if node.op_type == "Conv" else None
        if weight is not None and group == 1 and weight.dims[1] % CONV_CHANNEL_ALIGNMENT and node.name not in skip:
            array = numpy_helper.to_array(weight)
            extra = -array.shape[1] % CONV_CHANNEL_ALIGNMENT
            padded = np.concatenate([array, np.zeros((array.shape[0], extra, *array.shape[2:]), array.dtype)], axis=1)
            weight.CopyFrom(numpy_helper.from_array(padded, weight.name))
            pads = numpy_helper.from_array(np.array([0, 0] + [0] * (array.ndim - 2) + [0, extra] + [0] * (array.ndim - 2), np.int64))
            pads.name = f"{node.name}_channel_pads"
            graph.initializer.append(pads)
            aligned = f"{node.input[0]}_aligned_{len(changed)}"
            nodes.append(helper.make_node("Pad", [node.input[0], pads.name], [aligned], name=f"{pads.name}_node"))
            node.input[0] = aligned
            changed[node.name] = int(array.shape[1])
        nodes.append(node)
    if changed:
        del graph.node[:]
        graph.node.extend(nodes)
        onnx.save(model, str(path))
    return changed


def average_pools_as_convs(path: Path) -> int:
    """Turn every 2-D ``AveragePool`` that counts its zero padding (``count_include_pad`` 1, no ceil
    mode, explicit pads) into the depthwise ``Conv`` it equals: one 1/(kh·kw) weight per channel and
    tap, the pool's pads and strides, ``group`` = channels (cp_mobile's shortcut ``AvgPool2d(3,
    stride, padding=1)``). The same computation in float; in int8 it runs as a QLinearConv, where
    ONNX Runtime's QLinearAveragePool took 19 % of the static-int8 cp_mobile's time (issue 23's
    inference benchmark, benchmarks/inference.py --tau22 --profile: 0.49 → 0.38 ms alone). Channels come
    from the shapes ``quant_pre_process`` infers; a pool whose channel count is unknown is kept.
    Edits the model file in place and returns the number of pools changed.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    shapes = {v.name: v.type.tensor_type.shape for v in [*graph.input, *graph.value_info, *graph.output]}
    done = 0
    for node in graph.node:
        if node.op_type != "AveragePool":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        kernel = list(attrs.get("kernel_shape", []))
        shape = shapes.get(node.input[0])
        channels = shape.dim[1].dim_value if shape is not None and len(shape.dim) == 4 else 0
        if (
            len(kernel) != 2 or not channels or attrs.get("count_include_pad", 0) != 1 or attrs.get("ceil_mode", 0)
            or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or any(d != 1 for d in attrs.get("dilations", [1, 1]))
        ):
            continue
        weight = numpy_helper.from_array(np.full((channels, 1, *kernel), 1.0 / (kernel[0] * kernel[1]), np.float32),
                                         f"{node.name or f'pool{done}'}_as_conv_weight")
        graph.initializer.append(weight)
        conv = helper.make_node("Conv", [node.input[0], weight.name], list(node.output), name=node.name, group=channels,
                                kernel_shape=kernel, strides=list(attrs.get("strides", [1, 1])), pads=list(attrs.get("pads", [0] * 4)))
        node.CopyFrom(conv)
        done += 1
    if done:
        onnx.save(model, str(path))
    return done


def store_weights_unpadded(path: Path, original_channels: dict[str, int]) -> None:
    """Store the int8 weights of the convolutions ``align_conv_channels`` padded without their zero
    channels, padded back by a ``Pad`` node on the constant, which ONNX Runtime folds when it loads
    the model: the same computation, and the file does not grow (bytes on disk are the budget).
    The Pad reuses the activation Pad's ``pads`` tensor (both add the same channels on axis 1).
    Edits the quantized model file in place."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    nodes = list(graph.node)
    convs = [n for n in graph.node if n.op_type == "Conv" and n.name in original_channels]
    if len(convs) != len(original_channels):
        raise RuntimeError(f"{path}: the quantizer renamed padded convolutions {sorted(original_channels)}")
    for conv in convs:
        dq = producer.get(conv.input[1])
        pad = producer.get(conv.input[0])
        weight = weights.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        while pad is not None and pad.op_type != "Pad":  # the activation Pad, behind its QuantizeLinear/DequantizeLinear
            pad = producer.get(pad.input[0])
        if weight is None or pad is None:
            raise RuntimeError(f"{path}: cannot find the quantized weight or the Pad of {conv.name}")
        array = numpy_helper.to_array(weight)
        keep = original_channels[conv.name]
        if np.any(array[:, keep:]):
            raise RuntimeError(f"{path}: padded weight channels of {conv.name} are not zero")
        weight.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array[:, :keep]), weight.name))
        padded = f"{weight.name}_padded"
        nodes.insert(nodes.index(dq), helper.make_node("Pad", [weight.name, pad.input[1]], [padded], name=f"{padded}_node"))
        dq.input[0] = padded
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(path))


def integer_pads(path: Path) -> int:
    """Run QDQ-wrapped ``Pad`` nodes on the quantized values: Dequantize → Pad → Quantize with
    the same scale and zero point becomes one ``Pad`` of the uint8 tensor filled with its zero point.

    ONNX Runtime's QDQ fusions leave such a Pad in float (a dequantize, a float pad and a
    quantize of the whole input per path: 20 % of the Mobnet's int8 time, measured); the integer
    Pad is the same computation, since 0.0 quantizes to the zero point. Edits the model file in
    place and returns the number of Pads changed.
    """
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    outputs = {out.name for out in graph.output}
    done = 0
    while True:
        producer = {out: node for node in graph.node for out in node.output}
        consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                consumers.setdefault(name, []).append(node)
        for pad in graph.node:
            dq = producer.get(pad.input[0]) if pad.op_type == "Pad" else None
            after = consumers.get(pad.output[0], [])
            mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
            if (
                dq is None or dq.op_type != "DequantizeLinear" or mode != b"constant" or len(dq.input) < 3
                or (len(pad.input) > 2 and pad.input[2]) or len(pad.input) > 3  # a fill value other than 0, or axes
                or not after or any(q.op_type != "QuantizeLinear" or list(q.input[1:3]) != list(dq.input[1:3]) for q in after)
                or any(q.output[0] in outputs for q in after)
            ):
                continue
            pad.input[:] = [dq.input[0], pad.input[1], dq.input[2]]
            for q in after:
                for user in consumers.get(q.output[0], []):
                    user.input[:] = [pad.output[0] if name == q.output[0] else name for name in user.input]
            gone = {id(q) for q in after} | ({id(dq)} if len(consumers[dq.output[0]]) == 1 else set())
            kept = [node for node in graph.node if id(node) not in gone]
            del graph.node[:]
            graph.node.extend(kept)
            done += 1
            break
        else:
            break
    if done:
        onnx.save(model, str(path))
    return done


def _float_nodes(path: Path) -> list[str]:
    """Nodes that stay float in the int8 graph (names; nodes without one are named first):

    - the BatchNorms left after folding (no conv before them): they run in float anyway, int8
      copies of their parameters would only lose precision (and ORT cannot quantize a rank-1
      scale per channel);
    - ungrouped convolutions of a single input channel (the TAU22 models' first, on the one log-mel
      channel): in int8 ONNX Runtime runs them on its slow path even when padded to 4 channels
      (130–145 µs of cp_mobile's 0.49 ms, against 18 µs in float: issue 23's inference benchmark);
      their few weights (72 for cp_mobile) stay float32;
    - the Softmax and everything after it (the snapshot mean): probabilities quantized to steps
      of 1/255 turn every small probability into 0, and the log loss into ~34 for each such clip.
    """
    import onnx

    model = onnx.load(str(path))
    nodes = model.graph.node
    if any(not node.name for node in nodes):
        for index, node in enumerate(nodes):
            node.name = node.name or f"node{index}"
        onnx.save(model, str(path))
    consumers: dict[str, list] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    tail = [node for node in nodes if node.op_type == "Softmax"]
    seen = {node.name for node in tail}
    while tail:
        for output in tail.pop().output:
            for consumer in consumers.get(output, []):
                if consumer.name not in seen:
                    seen.add(consumer.name)
                    tail.append(consumer)
    batchnorms = {node.name for node in nodes if node.op_type == "BatchNormalization"}
    weights = {t.name: t for t in model.graph.initializer}
    single_channel = {
        node.name for node in nodes
        if node.op_type == "Conv" and node.input[1] in weights and len(weights[node.input[1]].dims) > 1
        and weights[node.input[1]].dims[1] == 1 and next((a.i for a in node.attribute if a.name == "group"), 1) == 1
    }
    return sorted(seen | batchnorms | single_channel)


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    # ORT's quantizer logs a recommendation to run pre-processing, which we do, via the root logger.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


# ----------------------------------------------------------------------------------------------
# fp16 storage


def store_weights_fp16(fp32_path: str | os.PathLike, out_path: str | os.PathLike, description: dict | None = None) -> Path:
    """Write ``fp32_path``'s graph with its float32 weights stored as float16, each cast back to float32.

    Every float32 initializer of more than one value (the convolutions' weights and biases after
    BatchNorm folding, the BatchNorms left) becomes a float16 initializer and a ``Cast`` to float32
    in front of its users; scalars stay float32 (they save nothing and may be epsilons). The graph
    computes in float32 on the fp16-rounded weights: the storage the baselines deploy (fp16), not
    fp16 arithmetic, which ONNX Runtime's CPU provider lacks for most operators. Written here with
    ``onnx.helper`` (a few lines) rather than with a converter: ``onnxconverter-common`` is no
    dependency, and it and ONNX Runtime's transformers ``float16`` module convert the computation too.
    A weight beyond float16's range (±65,504) is an AsckitError.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    model = onnx.load(str(fp32_path))
    graph = model.graph
    casts = []
    for tensor in graph.initializer:
        if tensor.data_type != TensorProto.FLOAT or int(np.prod(tensor.dims)) < 2:
            continue
        array = numpy_helper.to_array(tensor)
        if np.max(np.abs(array)) > FP16_MAX:
            raise AsckitError(
                f"{fp32_path}: weight {tensor.name} reaches {np.max(np.abs(array)):.3g}, beyond float16's ±{FP16_MAX:g}; "
                "deploy int8 or fp32 (--deploy) or retrain with weight decay"
            )
        name = tensor.name
        tensor.CopyFrom(numpy_helper.from_array(array.astype(np.float16), f"{name}_fp16"))
        casts.append(helper.make_node("Cast", [tensor.name], [name], to=TensorProto.FLOAT, name=f"{name}_cast"))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    with tempfile.TemporaryDirectory(prefix="asckit-fp16-") as tmp:
        half = Path(tmp) / "fp16.onnx"
        onnx.save(model, str(half))
        _finish(half, out_path, description)
    return out_path


# ----------------------------------------------------------------------------------------------
# Size, complexity, budget


def onnx_size(path: str | os.PathLike) -> dict:
    """What an ONNX file stores: bytes on disk, and its initializers' values, non-zero values and
    KB by dtype (non-zero values × dtype bits / 8 / 1024)."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    model = onnx.load(str(path))
    values: dict[str, int] = {}
    nonzero: dict[str, int] = {}
    bits_total = 0
    for tensor in model.graph.initializer:
        array = numpy_helper.to_array(tensor)
        dtype = str(array.dtype)
        count = int(np.count_nonzero(array))
        values[dtype] = values.get(dtype, 0) + int(array.size)
        nonzero[dtype] = nonzero.get(dtype, 0) + count
        bits_total += count * _BITS.get(dtype, 8 * array.dtype.itemsize)
    return {
        "file": path.name,
        "file_bytes": path.stat().st_size,
        "graph_values": values,
        "graph_nonzero": nonzero,
        "graph_kb": bits_total / 8 / 1024,
    }


def model_counts(modules: Sequence[Any], input_shape: Sequence[int], macs_by: str = "asckit") -> dict:
    """Parameters, stored values (with BN statistics), non-zero values and MACs per clip of the
    graph that averages ``modules`` (the sum over the snapshots it holds); ``macs_by`` the MAC
    counter (``asckit.models.counting.complexity``: torchinfo's for the TAU22 models)."""
    from asckit.models import complexity

    totals = {"params": 0, "stored_values": 0, "nonzero": 0, "macs": 0}
    for module in modules:
        counts = complexity(module, tuple(input_shape), macs_by=macs_by)
        totals["params"] += counts.params
        totals["stored_values"] += counts.stored_values
        totals["nonzero"] += counts.stored_values if counts.nonzero is None else counts.nonzero
        totals["macs"] += counts.macs
    return totals


def artifact_report(path: Path, counts: dict, precision: str) -> dict:
    """One artifact's line of the export report (see the module docstring): ``param_bytes`` is the
    parameter memory of DCASE 2023–2025 with every parameter at ``precision``."""
    from asckit.models.counting import PRECISION_BYTES  # bytes per parameter at each precision: the one table

    bits = 8 * PRECISION_BYTES[precision]
    return {
        **onnx_size(path),
        "precision": precision,
        **counts,
        "bits": bits,
        "dcase_kb": counts["nonzero"] * bits / 8 / 1024,
        "param_bytes": counts["params"] * bits // 8,
    }


def check_budget(artifacts: Sequence[dict], budget_kb: float | None, what: str = "ensemble") -> None:
    """Raise AsckitError, with the numbers, when the files' bytes exceed ``budget_kb`` (1 KB = 1024 B)."""
    if budget_kb is None:
        return
    total = sum(a["file_bytes"] for a in artifacts)
    if total > budget_kb * 1024:
        parts = ", ".join(f"{a['file']} {a['file_bytes'] / 1024:.1f} KB" for a in artifacts)
        raise AsckitError(
            f"{what} files total {total / 1024:.1f} KB ({total:,} B: {parts}), over the {budget_kb:g} KB budget; "
            "use fewer or narrower members, fewer snapshots, or raise --budget-kb"
        )


# ----------------------------------------------------------------------------------------------
# Parity


def parity(fp32: ExportedClassifier, int8: ExportedClassifier, evaluation: Evaluation) -> dict:
    """The int8 model against the fp32 one on ``evaluation`` (``parity_of_predictions``)."""
    return parities(fp32, {"int8": int8}, evaluation)["int8"]


def parities(fp32: ExportedClassifier, others: dict[str, ExportedClassifier], evaluation: Evaluation) -> dict[str, dict]:
    """Each of ``others`` (by name) against ``fp32`` on ``evaluation``, the inputs computed once.

    A model with device routing classifies each clip with its device's model (``evaluation.devices``)."""
    probs: dict[str, list[np.ndarray]] = {name: [] for name in ("fp32", *others)}
    done = 0
    for batch in evaluation.batches(fp32):
        devices = None
        if fp32.routing is not None and evaluation.devices is not None:
            devices = list(evaluation.devices[done : done + len(batch)])
        done += len(batch)
        for name, model in (("fp32", fp32), *others.items()):
            probs[name].append(model.predict_features(batch, devices))
    p32 = np.concatenate(probs["fp32"])
    return {
        name: {
            "source": evaluation.source,
            **parity_of_predictions(evaluation.labels, p32, np.concatenate(probs[name]), fp32.classes, evaluation.devices, fp32.task),
        }
        for name in others
    }


def parity_of_predictions(
    labels: Sequence[str],
    p32: np.ndarray,
    p8: np.ndarray,
    classes: Sequence[str],
    devices: Sequence[str | None] | None = None,
    task: str | None = None,
) -> dict:
    """Accuracy and log loss of fp32 and int8 side by side, their top-1 agreement, the int8 − fp32
    accuracy difference with its 95 % paired-bootstrap interval, and whether int8 matches fp32:
    ``holds`` when the agreement is at least ``PARITY_AGREEMENT`` and the interval does not lie
    wholly below zero; ``problems`` says what failed."""
    from asckit.scoring.metrics import metrics_from_arrays
    from asckit.scoring.significance import ClipScores, paired_difference

    p32, p8 = np.asarray(p32), np.asarray(p8)
    devices = list(devices) if devices is not None else [None] * len(labels)
    scores, clips = {}, {}
    keys = [f"{i:09d}" for i in range(len(labels))]  # rows pair up by position
    for name, probs in (("fp32", p32), ("int8", p8)):
        metrics = metrics_from_arrays(labels, probs, classes, devices, task)
        scores[name] = {
            "accuracy": metrics["macro_accuracy"],
            "micro_accuracy": metrics["micro_accuracy"],
            "log_loss": metrics["log_loss"],
        }
        clips[name] = ClipScores.from_predictions(keys, labels, probs, classes, devices)
    difference = paired_difference([clips["int8"]], [clips["fp32"]], "avg_acc")
    agreement = float(np.mean(p32.argmax(axis=1) == p8.argmax(axis=1)))
    problems = []
    if agreement < PARITY_AGREEMENT:
        problems.append(
            f"int8 and fp32 agree on the top class of {100 * agreement:.1f} % of the clips (target ≥ {100 * PARITY_AGREEMENT:g} %)"
        )
    if difference.high < 0:
        problems.append(f"int8 is less accurate than fp32 beyond the noise (int8 − fp32 {difference.describe()})")
    return {
        "clips": int(len(p32)),
        **scores,
        "agreement": agreement,
        "agreement_target": PARITY_AGREEMENT,
        "difference": {
            "points": 100 * difference.observed,
            "low_points": 100 * difference.low,
            "high_points": 100 * difference.high,
            "level": difference.level,
            "text": difference.describe(),
        },
        "holds": not problems,
        "problems": problems,
        "max_abs_prob_diff": float(np.max(np.abs(p32 - p8))),
    }


# ----------------------------------------------------------------------------------------------
# The bundle


def export_bundle(
    out_dir: str | os.PathLike,
    members: Sequence[Member],
    task: str,
    settings: LogMelSettings | None = None,
    *,
    int8: str | None = "static",
    classes: Sequence[str] | None = None,
    calibration: np.ndarray | None = None,
    logistic: dict | None = None,
    budget_kb: float | None | str = "default",
    evaluation: Evaluation | None = None,
    window: WindowRule | None = None,
    fp16: bool | None = None,
    deploy: str | None = None,
    routing: DeviceRouting | None = None,
) -> dict:
    """Write an export bundle (see ``asckit.deploy.runtime``) into ``out_dir`` and return its report.

    ``task`` ('1a', '1b', or a TAU22 protocol '2024'/'2025') fixes the front end, the audio format
    and the default budget; ``classes`` default to the task's (a 1a super-class model passes the 3
    super-classes). Each member becomes ``<name>.fp32.onnx``, with ``fp16`` (default: for TAU22
    tasks) ``<name>.fp16.onnx``, and with ``int8`` 'static' or 'dynamic' ``<name>.int8.onnx``.
    ``deploy`` is the precision the bundle deploys (default int8, fp32 when ``int8`` is None).
    ``calibration`` holds model inputs of training clips for static quantization
    (``features_of_files``). ``logistic`` is a fitted ``asckit.fusion.logistic`` model (its dict) used
    instead of the weighted average. ``routing`` (TAU22 device-specific runs) classifies each recording
    with one member chosen by its device id instead of fusing them; each member is then held
    against the task's complexity limits on its own. ``budget_kb`` 'default' means the task's
    budget (``asckit.tasks``); the deployed files must fit or nothing is written. With
    ``evaluation``, the report holds the int8-vs-fp32 parity (and fp16-vs-fp32's).

    The steps: every input is checked (members, int8 mode and calibration, precisions, the output
    folder, the logistic fusion's members and classes, the routing) before anything is exported;
    then each member is exported and quantized, the deployed files held against the budget, the
    bundle described, the complexity limits and the parity measured, and the report written. The
    bundle is assembled in a temporary folder beside ``out_dir`` and renamed into place; an existing
    bundle there is replaced, any other existing non-empty folder is an error.
    """
    out_dir = Path(out_dir)
    plan = _plan_export(out_dir, members, task, settings, int8, classes, calibration, budget_kb, window, fp16, deploy, routing)
    _check_logistic_fusion(logistic, members, plan.classes)
    if logistic is not None and routing is not None:
        raise AsckitError("export: a bundle with device models classifies each recording with one of them; it takes no fusion")

    lock = acquire_writer(out_dir, "export bundle")  # one exporter at a time; released below
    staging = staging_dir(out_dir)  # also removes what a killed export left
    try:
        _write_front_end(staging, plan)
        artifacts: list[dict] = []
        entries: list[BundleMember] = []
        for member in members:
            member_artifacts, entry = _export_member(staging, member, plan, calibration)
            artifacts += member_artifacts
            entries.append(entry)
        fusion, fusion_files = _write_fusion(staging, logistic)
        deployed = [a for a in artifacts if a["precision"] == plan.deployed]
        check_budget(deployed + fusion_files, plan.budget, what=f"the {plan.deployed} {'ensemble' if len(members) > 1 else 'model'}")
        Bundle(
            info=plan.info,
            members=tuple(entries),
            precision=plan.deployed,
            int8_mode=plan.int8,
            fusion=fusion,
            complexity=_routed_complexity_summary(deployed, plan) if routing is not None else _complexity_summary(deployed, logistic),
            mel=MEL_FILE if plan.settings is not None else None,
            routing=routing,
        ).write(staging)
        report = _report(plan, members, artifacts)
        if evaluation is not None and len(plan.precisions) > 1:
            report.update(_bundle_parity(staging, evaluation, plan))
        _publish(staging, out_dir, report)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        lock.release()
    return report


@dataclass(frozen=True)
class _ExportPlan:
    """What an export makes, decided and checked before any file is written."""

    task: str
    settings: LogMelSettings | None  # None for the TAU22 front end
    classes: tuple[str, ...]
    info: ModelInfo
    int8: str | None  # the int8 mode, None for an export without int8 files
    budget: float | None  # KB the deployed files may take
    macs_shape: tuple[int, ...]  # the model input on which MACs per second are counted
    macs_seconds: float  # the seconds of audio that input holds
    macs_by: str  # the MAC counter (asckit.models.counting.MAC_COUNTERS)
    precisions: tuple[str, ...]  # the precisions written, in WRITE_ORDER
    deployed: str  # the precision the bundle deploys
    routing: DeviceRouting | None


def _plan_export(
    out_dir: Path,
    members: Sequence[Member],
    task: str,
    settings: LogMelSettings | None,
    int8: str | None,
    classes: Sequence[str] | None,
    calibration: np.ndarray | None,
    budget_kb: float | None | str,
    window: WindowRule | None,
    fp16: bool | None = None,
    deploy: str | None = None,
    routing: DeviceRouting | None = None,
) -> _ExportPlan:
    """The export's settings, once the members, the int8 mode (and its calibration), the precisions,
    the routing and the output folder are checked."""
    if not members:
        raise AsckitError("export: no members to export")
    names = [m.name for m in members]
    if len(set(names)) != len(names) or any(not n or Path(n).name != n for n in names):
        raise AsckitError(f"export: member names {names} must be distinct plain file names")
    if int8 is not None:
        _check_int8_mode(int8, calibration)
    if out_dir.exists() and not out_dir.is_dir():
        raise AsckitError(f"{out_dir}: is a file; --out names the bundle folder")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / BUNDLE_FILE).is_file():
        raise AsckitError(f"{out_dir}: exists and is not an export bundle; choose another --out folder")
    tau22 = task_facts(task).frontend == "tau22"
    classes = tuple(classes) if classes is not None else classes_of(task)
    if tau22:
        if settings is not None or window is not None:
            raise ValueError("a TAU22 export takes neither log-mel settings nor a window rule: they are the task's facts")
        info = ModelInfo.for_tau22(task, classes)
        macs_shape, macs_seconds, macs_by = info.input_shape, info.window.seconds, "torchinfo"
    else:
        settings = settings or settings_for(task)
        info = ModelInfo.for_features(task, classes, settings, window)
        macs_shape, macs_seconds, macs_by = tuple(macs_input_shape(settings)), MACS_CLIP_SECONDS, "asckit"
    fp16 = tau22 if fp16 is None else fp16
    precisions = tuple(p for p in WRITE_ORDER if p == "fp32" or (p == "fp16" and fp16) or (p == "int8" and int8 is not None))
    deploy = deploy or ("int8" if int8 is not None else "fp32")
    if deploy not in precisions:
        raise AsckitError(
            f"--deploy {deploy}: this export writes {', '.join(precisions)} files only; deploy one of them"
            + (" (fp16 files are written for TAU22 runs)" if deploy == "fp16" else " (leave out --fp32-only)")
        )
    if routing is not None:
        unknown = sorted({routing.general, *routing.devices.values()} - set(names))
        if unknown:
            raise ValueError(f"the device routing names {unknown}, which are not members {names}")
    budget = task_facts(task).budget_kb if budget_kb == "default" else budget_kb
    return _ExportPlan(task, settings, classes, info, int8, budget, tuple(macs_shape), macs_seconds, macs_by, precisions, deploy, routing)


def _check_int8_mode(mode: str, calibration: np.ndarray | None) -> None:
    """A known int8 mode, and calibration clips for the static one."""
    if mode not in INT8_MODES:
        raise AsckitError(f"unknown --int8 mode {mode!r}; use one of {', '.join(INT8_MODES)}")
    if mode == "static" and (calibration is None or len(calibration) == 0):
        raise AsckitError("static int8 quantization needs calibration clips (training features); pass calibration=")


def _check_logistic_fusion(logistic: dict | None, members: Sequence[Member], classes: tuple[str, ...]) -> None:
    """A logistic fusion must have been fitted on these members, in this order, and these classes."""
    if logistic is None:
        return
    fitted = list(logistic.get("members", []))
    if len(fitted) != len(members) or tuple(logistic.get("classes", ())) != classes:
        raise AsckitError(
            f"the logistic fusion was fitted on {len(fitted)} members ({', '.join(fitted)}) of classes "
            f"{' '.join(logistic.get('classes', ()))}; this export has {len(members)} ({', '.join(m.name for m in members)}) of "
            f"{' '.join(classes)}: fit it on the same members, in the same order"
        )


def _write_front_end(staging: Path, plan: _ExportPlan) -> None:
    """The mel filterbank the runtime's numpy log-mel front end applies (the TAU22 one computes its own)."""
    from asckit.features.logmel import mel_of

    if plan.settings is not None:
        np.save(staging / MEL_FILE, np.asarray(mel_of(plan.settings), dtype=np.float32))


def _export_member(staging: Path, member: Member, plan: _ExportPlan, calibration: np.ndarray | None) -> tuple[list[dict], BundleMember]:
    """One member's fp32 graph and its fp16 and int8 copies as the plan asks: their report lines and bundle entry."""
    counts = model_counts(member.modules, plan.info.input_shape, plan.macs_by)
    macs_counts = counts if tuple(plan.macs_shape) == tuple(plan.info.input_shape) else model_counts(member.modules, plan.macs_shape, plan.macs_by)
    counts["macs_per_second"] = macs_counts["macs"] / plan.macs_seconds
    description = {**plan.info.to_dict(), "member": member.name, "snapshots": len(member.modules)}
    fp32_path = staging / member_file_name(member.name, "fp32")
    export_onnx(member.modules, fp32_path, plan.info.input_shape, {**description, "precision": "fp32"})
    files = {"fp32": fp32_path.name}
    artifacts = [{"member": member.name, **artifact_report(fp32_path, counts, "fp32")}]
    if "fp16" in plan.precisions:
        fp16_path = store_weights_fp16(fp32_path, staging / member_file_name(member.name, "fp16"), {**description, "precision": "fp16"})
        files["fp16"] = fp16_path.name
        artifacts.append({"member": member.name, **artifact_report(fp16_path, counts, "fp16")})
    if plan.int8 is not None:
        int8_path = _quantize_member(staging, member, fp32_path, plan.int8, calibration, description, plan.settings is None)
        files["int8"] = int8_path.name
        artifacts.append({"member": member.name, **artifact_report(int8_path, counts, "int8"), "int8_mode": plan.int8})
    return artifacts, BundleMember(member.name, files, float(member.weight), len(member.modules))


def _quantize_member(
    staging: Path, member: Member, fp32_path: Path, mode: str, calibration: np.ndarray | None, description: dict, tau22: bool = False
) -> Path:
    int8_path = staging / member_file_name(member.name, "int8")
    return quantize_onnx(fp32_path, int8_path, mode, calibration, {**description, "precision": f"int8-{mode}"}, pools_as_convs=tau22)


def _write_fusion(staging: Path, logistic: dict | None) -> tuple[dict, list[dict]]:
    """The bundle's fusion entry and the files it adds (a logistic fusion's weights) for the budget."""
    if logistic is None:
        return {"method": "average"}, []
    # The clip hashes only guard scoring in `asckit fuse`; the deployed copy needs the weights.
    deployed_fusion = {k: v for k, v in logistic.items() if k != "fit_clip_hashes"}
    (staging / LOGISTIC_FILE).write_text(json.dumps(deployed_fusion, indent=1) + "\n", encoding="utf-8")
    return {"method": "logistic", "file": LOGISTIC_FILE}, [{"file": LOGISTIC_FILE, "file_bytes": (staging / LOGISTIC_FILE).stat().st_size}]


#: What the report says about whose complexity verdict counts for a submission of each TAU22 task.
DEPLOYMENT_FIGURES_NOTE = {
    "2025": (
        "asckit deployment figures: torchinfo's MACs and the parameter memory of each exported model at each precision; "
        "the verdict that counts for a DCASE 2025 submission is the organizers' count (test_complexity.py: torchinfo and "
        "the parameters' own dtype) on the torch module the inference package ships (`asckit package`)"
    ),
    "2024": (
        "asckit deployment figures: torchinfo's MACs and the parameter memory of the exported model at each precision; "
        "a DCASE 2024 submission states them in its meta.yaml (`asckit submission --task 2024 --model BUNDLE` takes "
        "those of the deployed precision)"
    ),
}


def _report(plan: _ExportPlan, members: Sequence[Member], artifacts: list[dict]) -> dict:
    """The export report: every artifact, the complexity limits and the totals per precision; with
    device routing, the limits of each member on its own and the devices each member answers for."""
    report = {
        "task": plan.task,
        "int8_mode": plan.int8,
        "deployed": plan.deployed,
        "precisions": list(plan.precisions),
        "budget_kb": plan.budget,
        "artifacts": artifacts,
        "macs_per_second_clip_seconds": plan.macs_seconds,
        "macs_by": plan.macs_by,
    }
    if plan.routing is None:
        report["limits"] = _limit_checks(members, plan.macs_shape, plan.macs_seconds, plan.macs_by)
        report["totals"] = {p: _complexity_summary([a for a in artifacts if a["precision"] == p]) for p in plan.precisions}
        return report
    answers = {m.name: [d for d, name in plan.routing.devices.items() if name == m.name] for m in members}
    report["routing"] = {**plan.routing.to_dict(), "answers": answers}
    report["limits"] = _member_limit_checks(plan, artifacts)
    report["totals"] = {p: _routed_complexity_summary([a for a in artifacts if a["precision"] == p], plan) for p in plan.precisions}
    report["figures_note"] = DEPLOYMENT_FIGURES_NOTE.get(plan.task, DEPLOYMENT_FIGURES_NOTE["2025"])
    return report


def _bundle_parity(staging: Path, evaluation: Evaluation, plan: _ExportPlan) -> dict:
    """The staged bundle's int8 (``parity``) and fp16 (``parity_fp16``) models against its fp32 ones on ``evaluation``."""
    from asckit.deploy.runtime import load_exported_model

    others = {p: load_exported_model(staging, p) for p in plan.precisions if p != "fp32"}
    found = parities(load_exported_model(staging, "fp32"), others, evaluation)
    return {("parity" if p == "int8" else f"parity_{p}"): value for p, value in found.items()}


def _publish(staging: Path, out_dir: Path, report: dict) -> None:
    """Write the report into the staged bundle and move it into place."""
    (staging / REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    replace_folder(staging, out_dir)


def _limit_checks(members: Sequence[Member], input_shape: Sequence[int], clip_seconds: float, macs_by: str = "asckit") -> list[dict]:
    """The deployed members together (every snapshot counted) against ``asckit.tasks.COMPLEXITY_LIMITS``."""
    from asckit.models.counting import Complexity, check_limits

    counts = [model_counts(member.modules, input_shape, macs_by) for member in members]
    total = {key: sum(c[key] for c in counts) for key in ("params", "stored_values", "nonzero", "macs")}
    together = Complexity(
        params=total["params"], bn_statistics=total["stored_values"] - total["params"], nonzero=total["nonzero"], macs=total["macs"]
    )
    return [
        {"limit": c.limit, "quantity": c.quantity, "value": c.value, "bound": c.bound, "ok": c.ok, "text": c.describe()}
        # Parameter memory (DCASE 2023-2025) at the two precisions a bundle deploys.
        for c in check_limits(together, clip_seconds, precisions=("fp32", "int8"))
    ]


def _member_limit_checks(plan: _ExportPlan, artifacts: Sequence[dict]) -> list[dict]:
    """Each member (a model of its own: the general or a device model) against the task's edition of
    ``asckit.tasks.COMPLEXITY_LIMITS`` (all editions for a task without one), its parameter memory
    at every written precision; ``verdict`` per member and precision (``asckit.models.counting.verdicts``)."""
    from asckit.models.counting import Complexity, check_limits

    edition = task_facts(plan.task).complexity_edition
    limits = [limit for limit in COMPLEXITY_LIMITS if edition is None or limit.name == edition]
    checks = []
    for line in artifacts:
        if line["precision"] != "fp32":
            continue  # the counts are those of the torch module, the same for every precision
        counts = Complexity(params=line["params"], bn_statistics=line["stored_values"] - line["params"], nonzero=line["nonzero"],
                            macs=int(round(line["macs_per_second"] * plan.macs_seconds)))
        for c in check_limits(counts, plan.macs_seconds, limits=limits, precisions=plan.precisions):
            checks.append({"member": line["member"], "limit": c.limit, "quantity": c.quantity, "precision": c.precision, "value": c.value,
                           "bound": c.bound, "ok": c.ok, "text": f"{line['member']}: {c.describe()}"})
    return checks


def _complexity_summary(artifacts: Sequence[dict], logistic: dict | None = None) -> dict:
    """Totals over the given artifacts (and a logistic fusion's float32 weights), as the DCASE
    meta.yaml asks for them."""
    if not artifacts:
        return {}
    fusion_values = 0
    if logistic is not None:
        fusion_values = int(np.size(logistic["coef"]) + np.size(logistic["intercept"]))
    return {
        "files": [a["file"] for a in artifacts],
        "file_bytes": sum(a["file_bytes"] for a in artifacts),
        "total_parameters": sum(a["params"] for a in artifacts) + fusion_values,
        "total_parameters_non_zero": sum(a["nonzero"] for a in artifacts) + fusion_values,
        "dcase_kb": sum(a["dcase_kb"] for a in artifacts) + fusion_values * 4 / 1024,
        "macs": sum(a["macs"] for a in artifacts),
        "macs_per_second": sum(a["macs_per_second"] for a in artifacts),
        "bits": artifacts[0]["bits"],
        "fusion_parameters": fusion_values,
    }


def _routed_complexity_summary(artifacts: Sequence[dict], plan: _ExportPlan) -> dict:
    """The figures of a bundle whose members are alternatives (one model per device): each model's
    own (``models``), and the largest of each figure over them, which the per-model limits bind
    (``total_parameters``, ``param_bytes``, ``macs``, ``macs_per_second``); ``file_bytes`` is all the files."""
    if not artifacts:
        return {}
    models = {
        a["member"]: {
            "file": a["file"], "file_bytes": a["file_bytes"], "params": a["params"], "param_bytes": a["param_bytes"],
            "macs": a["macs"], "macs_per_second": a["macs_per_second"],
            "devices": sorted(d for d, name in plan.routing.devices.items() if name == a["member"]),
        }
        for a in artifacts
    }
    return {
        "precision": artifacts[0]["precision"],
        "bits": artifacts[0]["bits"],
        "files": [a["file"] for a in artifacts],
        "file_bytes": sum(a["file_bytes"] for a in artifacts),
        "total_parameters": max(m["params"] for m in models.values()),
        "param_bytes": max(m["param_bytes"] for m in models.values()),
        "macs": max(m["macs"] for m in models.values()),
        "macs_per_second": max(m["macs_per_second"] for m in models.values()),
        "models": models,
    }


def features_of_files(paths: Sequence[str | os.PathLike], task: str, settings: LogMelSettings | None = None) -> np.ndarray:
    """Model inputs (n, channels, n_mels, frames) of clips, with the deployed numpy front end of
    ``task`` (the 2020 log-mel of ``settings``, or the TAU22 frontend for 2024/2025).

    The first window of each file (the whole clip for clips of the model's length), exactly as
    ``asckit predict`` computes it, so calibration and parity see what deployment sees.
    """
    from asckit.deploy.runtime import first_windows

    if task_facts(task).frontend == "tau22":
        info = ModelInfo.for_tau22(task, classes_of(task))
    else:
        info = ModelInfo.for_features(task, classes_of(task), settings or settings_for(task))
    return first_windows(paths, info)
