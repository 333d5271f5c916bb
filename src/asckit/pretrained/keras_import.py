"""Import a legacy Keras HDF5 model of the paper's code as an asckit run directory, with h5py only.

One job: ``import_keras(file, out)`` reads a Keras 2.2.x or ≥ 2.3 / TF 2 ``.h5``/``.hdf5`` file
(``model.save`` with its layer graph, or ``save_weights`` without one; ``optimizer_weights`` are
ignored), works out which asckit architecture and widths it is, copies every weight into that
asckit model, and writes a normal run directory that every command taking a run accepts.
TensorFlow is never imported: the weights are plain HDF5 datasets.

How the file is read (reference/keras/README.md):

- **Layers.** ``model_weights`` (or the root, for weights-only files) lists ``layer_names`` in
  topological order; each layer group names its arrays in ``weight_names`` (``conv2d_1/kernel:0``).
  The layer graph comes from the root attribute ``model_config``: each layer's class, config and
  inbound layers. Weights-only files have no graph; a layer's class is read from its default name
  (``conv2d_7`` → Conv2D), which is what the reference code always used.
- **Paths.** In the two-path models (Mobnet, Resnet, fsFCNN-s) the file interleaves the lower- and
  upper-frequency layers. With a graph, each layer belongs to the path whose frequency-split Lambda
  it descends from (layers that descend from both are the head); the Lambda created first
  (the reference's ``My_freq_split1``, mel bins 0..63) is the lower path. Without a graph, the
  head is everything after the Concatenate, and within each layer class the path built first
  (lower numbers: ``conv2d_1..20`` vs ``conv2d_21..40``) is the lower one.
- **Architecture.** From the per-path sequence of weighted layers: depthwise convs → Mobnet; 17
  convs per path → Resnet (num_filters = the stem's filters); 10 → fsFCNN-s. One path: ZeroPadding
  layers → the FCNN family (4 block-3 convs: FCNN, 2: small-FCNN, "shipped" when the widths are
  [6, 12, 16]·6 with two paddings before the last conv), none → fsFCNN. Widths come from the
  kernels' shapes, classes from the class-map conv, the task from the input channels (3 → 1a,
  6 → 1b). ``arch`` only overrides the guess.
- **Weights.** Zipped in order with the asckit model's Conv2d / BatchNorm2d / Linear layers (lower
  path, upper path, the rest), each pair checked for kind, shape, bias, stride and padding, BN
  affine and epsilon; the first pair that does not fit is named in a one-line error. Layouts:
  Conv2D (kh, kw, in, out) → (out, in, kh, kw); DepthwiseConv2D (kh, kw, in, mult) →
  (in·mult, 1, kh, kw); Dense (in, out) → (out, in); BN gamma/beta/mean/variance (gamma and beta
  absent with ``center=scale=False``). asckit's BatchNorm already uses Keras' epsilon 1e-3; a file
  with another epsilon is refused rather than silently changed.

The run directory: ``config.yaml`` (architecture, widths, task, classes and the reference feature
settings of the task), ``checkpoints/last.ckpt`` (the one snapshot; ``state_dict`` as ``asckit
train`` writes it), ``imported.json`` (source file name and SHA-1, Keras version, what was found),
``finished.json``, and an empty feature store ``features/`` that only records the feature settings
the model was trained with (unless ``store`` names the user's store of the same settings).
``asckit train --resume`` refuses an imported run; ``asckit train CONFIG --init-from RUN``
fine-tunes from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asckit.core.errors import AsckitError, first_line
from asckit.core.io_utils import current_umask

#: Folder of an imported run's settings-only feature store.
FEATURES = "features"
#: BatchNorm ``num_batches_tracked`` given to imported statistics: they come from a whole training
#: run, so fine-tuning must treat them as settled (see ``train.module.warm_up_batch_norm_statistics``).
SETTLED_BATCHES = 1_000_000

_WEIGHTED = ("Conv2D", "DepthwiseConv2D", "BatchNormalization", "Dense")
#: Keras default layer names → class (weights-only files carry names, not classes).
_DEFAULT_NAMES = {
    "conv2d": "Conv2D",
    "depthwise_conv2d": "DepthwiseConv2D",
    "batch_normalization": "BatchNormalization",
    "dense": "Dense",
    "lambda": "Lambda",
    "zero_padding2d": "ZeroPadding2D",
    "concatenate": "Concatenate",
    "input": "InputLayer",
}
_NAME_RE = re.compile(r"^(?P<base>.*?)(?:_(?P<index>\d+))?$")


@dataclass(eq=False)
class KerasLayer:
    """One layer of the file: class, config (empty without a graph), inbound layers, arrays."""

    name: str
    kind: str
    config: dict
    inbound: tuple[str, ...] | None
    weights: dict[str, np.ndarray]
    position: int  # in the file's topological layer_names

    @property
    def created(self) -> int:
        """Creation rank among layers of its class, from the default name (``conv2d`` = 0, ``conv2d_7`` = 7)."""
        index = _NAME_RE.match(self.name).group("index")
        return int(index) if index is not None else 0

    def describe(self) -> str:
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in self.weights.items())
        return f"Keras layer {self.name!r} ({self.kind}{': ' + shapes if shapes else ''})"


@dataclass
class KerasFile:
    path: Path
    keras_version: str
    has_graph: bool
    layers: list[KerasLayer]

    def weighted(self) -> list[KerasLayer]:
        return [layer for layer in self.layers if layer.kind in _WEIGHTED]


@dataclass
class Guess:
    """What the file is in asckit terms."""

    arch: str
    task: str
    num_classes: int
    in_channels: int
    params: dict[str, Any] = field(default_factory=dict)
    width: float = 1.0


# ----------------------------------------------------------------------------------------------
# Reading


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes | np.bytes_) else str(value)


def read_keras_file(path: str | os.PathLike) -> KerasFile:
    """The layers of a legacy Keras HDF5 file, in the file's (topological) order."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise AsckitError(f"{path}: file not found; check the path")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise AsckitError(f"{path}: not an HDF5 file ({exc}); give a Keras .h5/.hdf5 model file") from None
    with handle:
        group = handle["model_weights"] if "model_weights" in handle else handle
        if "layer_names" not in group.attrs:
            raise AsckitError(f"{path}: no Keras layer list (attribute layer_names); not a Keras HDF5 model or weights file")
        names = [_text(n) for n in group.attrs["layer_names"]]
        version = _text(group.attrs.get("keras_version", handle.attrs.get("keras_version", "unknown")))
        graph: dict[str, tuple[str, dict, tuple[str, ...]]] = {}
        if "model_config" in handle.attrs:
            for layer in _graph_layers(path, handle.attrs["model_config"]):
                inbound = tuple(node[0] for nodes in layer.get("inbound_nodes", []) for node in _node_list(nodes))
                graph[layer["name"]] = (layer["class_name"], layer.get("config", {}), inbound)
        layers = []
        for position, name in enumerate(names):
            if name not in group:
                raise AsckitError(f"{path}: layer {name} is listed in layer_names but its group is missing; the file is damaged: "
                                  "get it again (or save it again with Keras)")
            layer_group = group[name]
            weights = {}
            for weight_name in (_text(w) for w in layer_group.attrs.get("weight_names", [])):
                if weight_name not in layer_group:
                    raise AsckitError(f"{path}: weight {weight_name} of layer {name} is listed but its dataset is missing; the file "
                                      "is damaged: get it again (or save it again with Keras)")
                key = weight_name.rsplit("/", 1)[-1].split(":", 1)[0]
                weights[key] = np.asarray(layer_group[weight_name], dtype=np.float32)
            if name in graph:
                kind, config, inbound = graph[name]
            else:
                matched = _NAME_RE.match(name)
                base = matched.group("base") if matched else name
                kind, config, inbound = _DEFAULT_NAMES.get(base, base), {}, None
            layers.append(KerasLayer(name, kind, config, inbound, weights, position))
        # Layers without weights (input, activations, pooling) are listed by model.save but some
        # writers leave them out; the graph still has them.
        for name, (kind, config, inbound) in graph.items():
            if name not in names:
                layers.append(KerasLayer(name, kind, config, inbound, {}, len(layers)))
    return KerasFile(path, version, bool(graph), _topological(layers) if graph else layers)


def _graph_layers(path: Path, attribute: Any) -> list[dict]:
    """The layer list of a file's ``model_config`` attribute (Keras's JSON model description)."""
    fix = "the file is damaged: get it again, or strip model_config to import the weights alone (give --arch)"
    try:
        config = json.loads(_text(attribute))
    except (ValueError, UnicodeDecodeError) as exc:
        raise AsckitError(f"{path}: model_config is not JSON ({first_line(exc, 80)}); {fix}") from None
    layers = config.get("config", {}).get("layers", []) if isinstance(config, dict) and isinstance(config.get("config", {}), dict) else None
    if not isinstance(layers, list) or not all(isinstance(layer, dict) and "name" in layer and "class_name" in layer for layer in layers):
        raise AsckitError(f"{path}: model_config is not a Keras model description (config.layers with name and class_name); {fix}")
    return layers


def _node_list(nodes: Any) -> list:
    """Keras ≤ 2.15 writes inbound nodes as lists ``[[name, node, tensor, kwargs], ...]``."""
    if isinstance(nodes, dict):  # Keras 3 style {"args": ...}: not a legacy file
        raise AsckitError("the layer graph is in the Keras 3 format; asckit reads Keras 2 HDF5 files (save the model with Keras 2)")
    return nodes if nodes and isinstance(nodes[0], list) else [nodes]


def _topological(layers: list[KerasLayer]) -> list[KerasLayer]:
    """Kahn's order of the graph, ties broken by the file's order (so each path stays a chain)."""
    import heapq

    names = {layer.name for layer in layers}
    waiting = {layer.name: {n for n in (layer.inbound or ()) if n in names} for layer in layers}
    users: dict[str, list[KerasLayer]] = {}
    for layer in layers:
        for source in waiting[layer.name]:
            users.setdefault(source, []).append(layer)
    ready = [(layer.position, index, layer) for index, layer in enumerate(layers) if not waiting[layer.name]]
    heapq.heapify(ready)
    done: list[KerasLayer] = []
    while ready:
        *_, layer = heapq.heappop(ready)
        done.append(layer)
        for user in users.get(layer.name, []):
            waiting[user.name].discard(layer.name)
            if not waiting[user.name]:
                heapq.heappush(ready, (user.position, layers.index(user), user))
    if len(done) != len(layers):
        raise AsckitError("the layer graph in model_config has a cycle; the file is damaged")
    return done


# ----------------------------------------------------------------------------------------------
# Paths and architecture


def split_paths(model: KerasFile) -> tuple[list[KerasLayer], list[KerasLayer], list[KerasLayer]] | None:
    """(lower path, upper path, head) weighted layers of a two-path model, or None for one path.

    The frequency splits are the two Lambda layers fed by the input (without a graph: the first
    two Lambdas of the topological list, which is where Keras puts them).
    """
    inputs = {layer.name for layer in model.layers if layer.kind == "InputLayer"}
    lambdas = [layer for layer in model.layers if layer.kind == "Lambda"]
    if model.has_graph:
        lambdas = [layer for layer in lambdas if layer.inbound and set(layer.inbound) <= inputs]
    if len(lambdas) < 2:
        return None
    lower_split, upper_split = sorted(lambdas[:2], key=_split_rank)
    if model.has_graph:
        descends: dict[str, set[str]] = {}
        for layer in model.layers:  # topological: inbound layers come first
            marks = set().union(*(descends.get(n, set()) for n in layer.inbound or ()))
            if layer.name in (lower_split.name, upper_split.name):
                marks = {layer.name}
            descends[layer.name] = marks
        pick = lambda marks: [l for l in model.weighted() if descends[l.name] == marks]  # noqa: E731
        return pick({lower_split.name}), pick({upper_split.name}), pick({lower_split.name, upper_split.name})
    # No graph: the head follows the last Concatenate (the paths' join). Keras lists the two paths'
    # layers of equal depth next to each other; the paths are copies, so the path layers come in
    # pairs of one kind, and in each pair the lower path's layer was created first.
    concat = [layer.position for layer in model.layers if layer.kind == "Concatenate"]
    if not concat:
        raise AsckitError(f"{model.path}: two frequency-split Lambda layers but no Concatenate; not an asckit two-path model")
    paths = [l for l in model.weighted() if l.position < concat[-1]]
    head = [l for l in model.weighted() if l.position > concat[-1]]
    lower, upper = [], []
    for first, second in zip(paths[::2], paths[1::2]):
        if first.kind != second.kind or {k: v.shape for k, v in first.weights.items()} != {
            k: v.shape for k, v in second.weights.items()
        }:
            raise AsckitError(
                f"{model.path}: {first.describe()} and {second.describe()} should be the same layer of the two "
                "frequency paths; without a layer graph (a weights-only file) give the full model file"
            )
        a, b = sorted((first, second), key=lambda l: l.created)
        lower.append(a)
        upper.append(b)
    if len(paths) % 2:
        raise AsckitError(f"{model.path}: {paths[-1].describe()} has no twin in the other frequency path")
    return lower, upper, head


def _split_rank(layer: KerasLayer) -> tuple[int, int]:
    """Lower split first: the reference names its split functions My_freq_split1 / 2 (found in the
    marshalled bytecode Keras stores); else the Lambda created first."""
    import base64
    import binascii

    function = layer.config.get("function")
    raw = b""
    if isinstance(function, list) and function and isinstance(function[0], str):
        try:
            raw = base64.b64decode(function[0])
        except (binascii.Error, ValueError):
            raw = b""
    rank = 1 if b"split2" in raw else 0
    return (rank, layer.created)


def _convs(layers: list[KerasLayer]) -> list[KerasLayer]:
    return [layer for layer in layers if layer.kind == "Conv2D"]


def _out(layer: KerasLayer) -> int:
    return int(layer.weights["kernel"].shape[-1])


def _input_channels(first: KerasLayer) -> int:
    if first.kind == "BatchNormalization":
        return int(first.weights["moving_mean"].shape[0])
    return int(first.weights.get("kernel", first.weights.get("depthwise_kernel")).shape[2])


def _padding_before(model: KerasFile, conv: KerasLayer) -> int:
    """Zero padding in front of ``conv``: ZeroPadding2D layers feeding it (each 1 without a graph)."""
    by_name = {layer.name: layer for layer in model.layers}
    total = 0
    if model.has_graph:
        node = conv
        while node.inbound and len(node.inbound) == 1 and by_name.get(node.inbound[0]) is not None:
            node = by_name[node.inbound[0]]
            if node.kind != "ZeroPadding2D":
                break
            pad = node.config.get("padding", 1)
            total += int(pad if isinstance(pad, int) else np.ravel(pad)[0])
        return total
    index = model.layers.index(conv) - 1
    while index >= 0 and model.layers[index].kind == "ZeroPadding2D":
        total += 1
        index -= 1
    return total


@dataclass
class _Layout:
    """What the architecture guess reads from the file: the paths, the input and the class map."""

    model: KerasFile
    weighted: list[KerasLayer]
    two_paths: tuple[list[KerasLayer], list[KerasLayer], list[KerasLayer]] | None
    per_path: list[KerasLayer]  # one path's weighted layers (all of them for one-path models)
    in_channels: int
    classes_conv: KerasLayer
    num_classes: int

    @classmethod
    def of(cls, model: KerasFile) -> _Layout:
        weighted = model.weighted()
        if not weighted:
            raise AsckitError(f"{model.path}: the file holds no weights")
        two_paths = split_paths(model)
        per_path = two_paths[0] if two_paths else weighted
        classes_conv = _convs(weighted)[-1] if _convs(weighted) else weighted[-1]
        num_classes = _out(classes_conv) if "kernel" in classes_conv.weights else 0
        return cls(model, weighted, two_paths, per_path, _input_channels(per_path[0]), classes_conv, num_classes)

    @property
    def path_convs(self) -> list[KerasLayer]:
        return _convs(self.per_path)


#: Two-path architectures, checked in order: the first whose signature one path's layers match.
_TWO_PATH_SIGNATURES: tuple[tuple[str, Any], ...] = (
    ("mobnet", lambda path: any(layer.kind == "DepthwiseConv2D" for layer in path)),
    ("resnet", lambda path: len(_convs(path)) == 17),
    ("fsfcnn_split", lambda path: len(_convs(path)) == 10),
)


def _guess_arch(layout: _Layout) -> str:
    """The architecture name from the layer sequence (module docstring, "Architecture")."""
    if layout.two_paths:
        return _guess_two_path_arch(layout)
    if any(layer.kind == "ZeroPadding2D" for layer in layout.model.layers):  # the FCNN family
        return "small_fcnn" if len(_convs(layout.weighted)) == 7 else "fcnn"
    return "fsfcnn"


def _guess_two_path_arch(layout: _Layout) -> str:
    for arch, matches in _TWO_PATH_SIGNATURES:
        if matches(layout.per_path):
            return arch
    convs = layout.path_convs
    raise AsckitError(
        f"{layout.model.path}: two frequency paths of {len(convs)} convs each, after "
        f"{convs[-1].describe() if convs else 'no conv'}; asckit's two-path "
        "models have 17 (resnet), 10 (fsfcnn_split) or depthwise convs (mobnet)"
    )


# Widths of each architecture: (arch, params, width) read from the kernels' shapes. The FCNN
# family may change the name (a small-FCNN whose widths match no variant is an FCNN).


def _mobnet_widths(layout: _Layout, arch: str) -> tuple[str, dict[str, Any], float]:
    width = _out(layout.path_convs[0]) / 32
    head = layout.two_paths[2] if layout.two_paths else layout.weighted
    return arch, {"num_filters": int(round(_out(_convs(head)[0]) / 2 / width))}, width


def _resnet_widths(layout: _Layout, arch: str) -> tuple[str, dict[str, Any], float]:
    return arch, {"num_filters": _out(layout.path_convs[0])}, 1.0


def _fsfcnn_widths(layout: _Layout, arch: str) -> tuple[str, dict[str, Any], float]:
    return arch, {"num_filters": [_out(layout.path_convs[i]) for i in (0, 2, 4, 8)]}, 1.0


def _fcnn_widths(layout: _Layout, arch: str) -> tuple[str, dict[str, Any], float]:
    convs, in_channels = layout.path_convs, layout.in_channels
    widths = [_out(convs[i]) for i in (0, 2, 4)]
    if any(w % in_channels for w in widths):
        bad = convs[(0, 2, 4)[[w % in_channels != 0 for w in widths].index(True)]]
        raise AsckitError(
            f"{layout.model.path}: {bad.describe()} has a width that is not a multiple of the {in_channels} input "
            "channels, which every FCNN-family width is"
        )
    num_filters = [w // in_channels for w in widths]
    block3 = len(convs) - 5
    last_padding = _padding_before(layout.model, convs[-2])
    from asckit.models.small_fcnn import VARIANTS

    variant = next(
        (v for v, (nf, pad) in VARIANTS.items() if list(nf) == num_filters and pad == last_padding and block3 == 2),
        None,
    )
    if arch == "small_fcnn" and variant is not None:
        return arch, {"variant": variant}, 1.0
    params: dict[str, Any] = {"num_filters": num_filters}
    if block3 != 4:  # the FCNN's own
        params["block3_convs"] = block3
    if last_padding != 1:
        params["block3_last_padding"] = last_padding
    return "fcnn", params, 1.0


_WIDTHS = {
    "mobnet": _mobnet_widths,
    "resnet": _resnet_widths,
    "fsfcnn": _fsfcnn_widths,
    "fsfcnn_split": _fsfcnn_widths,
    "fcnn": _fcnn_widths,
    "small_fcnn": _fcnn_widths,
}


def _read_widths(layout: _Layout, arch: str) -> tuple[str, dict[str, Any], float]:
    """(arch, params, width) of ``arch``; other registered architectures get their defaults."""
    read = _WIDTHS.get(arch)
    if read is None:
        from asckit.models.registry import architecture

        architecture(arch)  # a one-line error for unknown names
        return arch, {}, 1.0
    try:
        return read(layout, arch)
    except IndexError:
        convs = layout.path_convs
        raise AsckitError(
            f"{layout.model.path}: too few conv layers for {arch} (the last is {convs[-1].describe() if convs else 'none'}); "
            "check --arch"
        ) from None


def _check_task(layout: _Layout, task: str | None) -> str:
    """``task`` or the one the input channels say (3 → 1a, 6 → 1b); the class count must fit it."""
    task = task or {3: "1a", 6: "1b"}.get(layout.in_channels)
    if task not in ("1a", "1b"):
        raise AsckitError(
            f"{layout.model.path}: {layout.per_path[0].describe()} takes {layout.in_channels} input channels; give --task 1a (3) or 1b (6)"
        )
    num_classes = layout.num_classes
    if (task == "1b" and num_classes != 3) or (task == "1a" and num_classes not in (3, 10)):
        raise AsckitError(
            f"{layout.model.path}: {layout.classes_conv.describe()} gives {num_classes} classes, which task {task} has no labels for "
            "(1a: 10 scenes or 3 super-classes, 1b: 3)"
        )
    return task


def guess_architecture(model: KerasFile, arch: str | None = None, task: str | None = None) -> Guess:
    """The asckit architecture, widths, classes and task of ``model`` (``arch``/``task`` override)."""
    layout = _Layout.of(model)
    arch, params, width = _read_widths(layout, arch or _guess_arch(layout))
    task = _check_task(layout, task)
    return Guess(arch, task, layout.num_classes, layout.in_channels, params, width)


# ----------------------------------------------------------------------------------------------
# Weights


def _units(module) -> list[tuple[str, Any]]:
    from torch import nn

    return [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Conv2d | nn.BatchNorm2d | nn.Linear)]


def asckit_units(model) -> list[tuple[str, Any]]:
    """The asckit model's weighted layers in the Keras file's canonical order: lower path, upper
    path, then the rest (or all, in order, for one-path models)."""
    if hasattr(model, "lower") and hasattr(model, "upper"):
        lower = [(f"lower.{n}", m) for n, m in _units(model.lower)]
        upper = [(f"upper.{n}", m) for n, m in _units(model.upper)]
        rest = [(n, m) for n, m in _units(model) if not n.startswith(("lower.", "upper."))]
        return lower + upper + rest
    return _units(model)


def keras_units(model: KerasFile) -> list[KerasLayer]:
    paths = split_paths(model)
    return paths[0] + paths[1] + paths[2] if paths else model.weighted()


def _expected(module) -> str:
    return f"{type(module).__name__} with weight {tuple(module.weight.shape) if getattr(module, 'weight', None) is not None else ()}"


def _convert(layer: KerasLayer, _name: str, module, model: KerasFile) -> dict[str, np.ndarray]:
    """Arrays of ``layer`` in the layout of asckit ``module``; None when they do not fit."""
    from torch import nn

    w = layer.weights
    if layer.kind in ("Conv2D", "DepthwiseConv2D") and isinstance(module, nn.Conv2d):
        depthwise = layer.kind == "DepthwiseConv2D"
        if depthwise != (module.groups > 1 and module.groups == module.in_channels):
            return None
        kernel = w.get("depthwise_kernel" if depthwise else "kernel")
        if kernel is None or kernel.ndim != 4:
            return None
        if depthwise:
            kh, kw, cin, mult = kernel.shape
            weight = kernel.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None]
        else:
            weight = kernel.transpose(3, 2, 0, 1)
        if ("bias" in w) != (module.bias is not None):
            return None
        if layer.config and not _same_geometry(layer, module, model):
            return None
        out = {"weight": weight}
        if "bias" in w:
            out["bias"] = w["bias"]
        return out
    if layer.kind == "BatchNormalization" and isinstance(module, nn.BatchNorm2d):
        affine = "gamma" in w
        if affine != ("beta" in w) or affine != module.affine:
            return None
        epsilon = float(layer.config.get("epsilon", module.eps))
        if abs(epsilon - module.eps) > 1e-12:
            raise AsckitError(
                f"{model.path}: {layer.describe()} has BatchNorm epsilon {epsilon:g}, asckit's BatchNorm uses Keras' "
                f"default {module.eps:g}; this file was not built with the reference code's BatchNorm"
            )
        out = {"running_mean": w.get("moving_mean"), "running_var": w.get("moving_variance")}
        if affine:
            out.update(weight=w["gamma"], bias=w["beta"])
        return out if out["running_mean"] is not None and out["running_var"] is not None else None
    if layer.kind == "Dense" and isinstance(module, nn.Linear):
        if "kernel" not in w or ("bias" in w) != (module.bias is not None):
            return None
        out = {"weight": w["kernel"].T}
        if "bias" in w:
            out["bias"] = w["bias"]
        return out
    return None


def _same_geometry(layer: KerasLayer, module, model: KerasFile) -> bool:
    """Whether Keras conv ``layer`` (its strides, padding and the ZeroPadding2D in front of it)
    slides over the same positions as asckit conv ``module``."""
    if tuple(layer.config.get("strides", module.stride)) != tuple(module.stride):
        return False
    kernel, stride = tuple(module.kernel_size), tuple(module.stride)
    dynamic_same = getattr(module, "static_padding", True) is False  # a strided Conv2dSame
    ours: Any = "same" if dynamic_same else tuple(module.padding)
    zeros = _padding_before(model, layer)
    theirs: Any = (zeros, zeros)
    if layer.config.get("padding") == "same":
        if stride == (1, 1) and all(k % 2 for k in kernel):
            theirs = (kernel[0] // 2 + zeros, kernel[1] // 2 + zeros)
        else:
            theirs = "same" if zeros == 0 else "same after zero padding"
    return ours == theirs


def transfer_weights(model: KerasFile, net, arch: str) -> None:
    """Copy every weight of ``model`` into ``net`` (an asckit model), checking each layer."""
    import torch

    ours, theirs = asckit_units(net), keras_units(model)
    for _index, (layer, (name, module)) in enumerate(zip(theirs, ours)):
        arrays = _convert(layer, name, module, model)
        if arrays is not None:
            for key, value in arrays.items():
                target = getattr(module, key)
                if tuple(target.shape) != tuple(value.shape):
                    arrays = None
                    break
        if arrays is None:
            raise AsckitError(
                f"{model.path}: {layer.describe()} does not fit asckit {arch} layer {name} ({_expected(module)}); "
                "the file is another architecture or width (try --arch)"
            )
        with torch.no_grad():
            for key, value in arrays.items():
                getattr(module, key).copy_(torch.from_numpy(np.ascontiguousarray(value)))
        if isinstance(module, torch.nn.BatchNorm2d):
            module.num_batches_tracked.fill_(SETTLED_BATCHES)
    if len(theirs) > len(ours):
        raise AsckitError(f"{model.path}: {theirs[len(ours)].describe()} has no counterpart in asckit {arch}; try --arch")
    if len(ours) > len(theirs):
        raise AsckitError(
            f"{model.path}: asckit {arch} layer {ours[len(theirs)][0]} has no Keras layer (the file ends after "
            f"{theirs[-1].name!r}); try --arch"
        )


def build_imported(model: KerasFile, guess: Guess):
    """The asckit network of ``guess`` holding the weights of ``model``, in eval mode."""
    from asckit.models import build

    net = build(guess.arch, num_classes=guess.num_classes, in_channels=guess.in_channels, width=guess.width, **guess.params)
    transfer_weights(model, net, guess.arch)
    return net.eval()


# ----------------------------------------------------------------------------------------------
# The run directory


def sha1_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ImportResult:
    run_dir: Path
    guess: Guess
    source_sha1: str


def require_new_run_folder(out: str | os.PathLike) -> Path:
    """``out`` as a Path when it can become a new run folder (absent or an empty folder)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AsckitError(f"{out}: is a file; --out names the new run folder (absent or empty)")
    if out.exists() and any(out.iterdir()):
        raise AsckitError(f"{out}: folder exists and is not empty; choose a new --out")
    return out


def import_keras(
    file: str | os.PathLike,
    out: str | os.PathLike,
    arch: str | None = None,
    task: str | None = None,
    root: str | os.PathLike | None = None,
    store: str | os.PathLike | None = None,
    provenance: dict | None = None,
) -> ImportResult:
    """Import Keras ``file`` into the new run directory ``out`` (see the module docstring).

    ``root`` / ``store`` are the dataset and feature store the run is used with (predict-split,
    export's calibration); by default the run's own settings-only store and no dataset.
    ``provenance`` (e.g. the registry entry it was downloaded for) is recorded in ``imported.json``.
    """
    import torch

    from asckit.features.logmel import settings_for
    from asckit.features.store import FeatureStore
    from asckit.train.config import config_from_dict
    from asckit.train.run_dir import RunDir

    out = require_new_run_folder(out)
    model = read_keras_file(file)
    guess = guess_architecture(model, arch, task)
    net = build_imported(model, guess)
    settings = settings_for(guess.task)
    if store is not None:
        theirs = FeatureStore.open(store).settings
        if theirs.to_dict() != {**settings.to_dict(), "clip_seconds": theirs.clip_seconds}:
            raise AsckitError(
                f"{store}: features were made with other settings than the reference's task {guess.task} features "
                "this model was trained on; extract a store with the default settings"
            )
    source_sha1 = sha1_of(file)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    os.chmod(staging, 0o777 & ~current_umask())  # the run folder gets the user's permissions, not 0700
    run = RunDir(staging)
    try:
        store_path = Path(store) if store is not None else out / FEATURES
        if store is None:
            FeatureStore.create(staging / FEATURES, settings, frames=settings.frames(), dataset={"imported": True})
        raw = {
            "name": out.name,
            "task": guess.task,
            "labels": "superclass" if guess.task == "1a" and guess.num_classes == 3 else "scene",
            "snapshots": 1,
            "runs_dir": str(out.parent),
            "data": {"root": str(root if root is not None else out), "store": str(store_path)},
            "model": {"name": guess.arch, "width": guess.width, "params": guess.params},
        }
        config = config_from_dict(raw, source=str(RunDir(out).config_file))
        run.write_config(config)
        run.checkpoints.mkdir()
        state = {f"model.{k}": v for k, v in net.state_dict().items()}
        torch.save({"state_dict": state, "asckit_imported": True}, run.last_checkpoint)
        record = {
            "imported": True,
            "source_file": Path(file).name,
            "source_sha1": source_sha1,
            "keras_version": model.keras_version,
            "layer_graph": model.has_graph,
            "architecture": guess.arch,
            "params": guess.params,
            "width": guess.width,
            "task": guess.task,
            "num_classes": guess.num_classes,
            **({"provenance": provenance} if provenance else {}),
        }
        run.mark_imported(record)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ImportResult(out, guess, source_sha1)


__all__ = [
    "Guess",
    "ImportResult",
    "KerasFile",
    "KerasLayer",
    "build_imported",
    "guess_architecture",
    "import_keras",
    "read_keras_file",
    "sha1_of",
]
