"""The DCASE 2025 Task 1 inference API of this package (the four functions of the organizers'
template), shared by its submission modules ``<package>_1`` … ``_4``: each passes its own label,
which names its checkpoint files ``ckpts/<label>.pt`` and ``ckpts/<label>.json``.

Written by ``asckit package`` (asckit's ``submission/package_template/inference.py``, copied as it
is). The model and frontend code is asckit's own, copied verbatim into ``asckit_vendored/`` with only
its ``from asckit...`` imports made relative, so this package runs without asckit and computes what
asckit computes.

- ``load_model``: ``ckpts/<label>.json`` (architecture, its settings, the devices with a model of
  their own, the precision) and a plain state_dict read with ``torch.load(weights_only=True)``:
  ``ckpts/<label>.pt``, or ``model_file_path`` (another state_dict of the same model, e.g. the
  organizers' ``model_state_dict.pt``). Its ``.model`` is a ``DeviceSpecificModel``: ``base_model``
  (the general model) and ``device_models[<dev>]``, state_dict keys ``base_model.*`` and
  ``device_models.<dev>.*``; a general-only system has no device models, so every device uses the
  general one.
- Inputs: each file is read at its own rate (WAV or FLAC), its channels averaged, its first second
  taken (a shorter file is repeated to 1 s), resampled to 32 kHz with torchaudio's windowed-sinc
  formula (rates reduced by their gcd, so any rate): the wave asckit's waveform store holds
  (``asckit_vendored.features.tau22_wave``). The log-mel (256 bands, 65 frames) is computed by torch
  (``asckit_vendored.features.tau22_torch.MelFrontend``). ``load_inputs`` returns one float32 tensor
  (1, 1, 256, 65) per file on the CPU: every input has the shape the complexity is counted on.
- Precision: the parameters are stored, and counted by the organizers' ``complexity.py``, as shipped
  (``ckpts/<label>.json``: float16, or int8 convolution weights with float16 scales;
  ``asckit_vendored.models.weight_precision``). ``predict`` computes in float32 with exactly those
  values (a float32 copy of each model while it predicts): the logits of the shipped weights with
  float32 activations, the same on the CPU and the GPU.
- ``predict`` groups the clips by the model that classifies them (their device's own, or the
  general one for any other id), reads ``batch_size`` files at a time, runs them on the GPU when
  ``use_cuda`` and one is available, and returns float32 [10] logits on the CPU in input order.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import Executor, ThreadPoolExecutor
from importlib import resources

import torch
from torch import nn

from .asckit_vendored.features.tau22_torch import MelFrontend
from .asckit_vendored.features.tau22_wave import clip_wave
from .asckit_vendored.labels import classes
from .asckit_vendored.models.cp_mobile import CPMobile
from .asckit_vendored.models.device_specific import DeviceSpecificModel
from .asckit_vendored.models.weight_precision import compute_copy, to_shipped

#: The task whose classes the logits follow, in this order.
TASK = "2025"
#: The architectures a checkpoint's ``architecture`` may name.
ARCHITECTURES = {"cp_mobile": CPMobile}
#: Files read at once (reading and resampling spend most of their time outside the GIL).
READERS = min(8, os.cpu_count() or 1)
#: Files ``load_inputs`` turns into log-mel at a time.
LOAD_BATCH = 64


class LoadedSubmission:
    """What ``load_model`` returns: ``model`` (the ``DeviceSpecificModel`` as shipped), ``settings``
    (``ckpts/<label>.json``) and ``class_order`` (the names of the 10 logits)."""

    def __init__(self, model: DeviceSpecificModel, settings: dict) -> None:
        self.model = model
        self.settings = settings
        self.class_order = list(classes(TASK))

    def __repr__(self) -> str:
        devices = ", ".join(self.model.devices) or "none"
        return f"LoadedSubmission({self.settings['architecture']}, {self.settings['precision']}, device models: {devices})"


def _checkpoint(label: str, suffix: str):
    return resources.files(__package__) / "ckpts" / (label + suffix)


def load_model(label: str, model_file_path: str | os.PathLike | None = None) -> LoadedSubmission:
    """The model of submission ``label``, with its packaged weights or those of ``model_file_path``."""
    settings = json.loads(_checkpoint(label, ".json").read_text(encoding="utf-8"))
    base = ARCHITECTURES[settings["architecture"]](**settings["build_kwargs"])
    model = to_shipped(DeviceSpecificModel(base, settings["devices"]), settings["precision"]).eval()
    if model_file_path is None:
        with resources.as_file(_checkpoint(label, ".pt")) as path:
            state = torch.load(path, map_location="cpu", weights_only=True)
    else:
        state = torch.load(model_file_path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return LoadedSubmission(model, settings)


def _same_length(file_paths: list, device_ids: list) -> None:
    if len(file_paths) != len(device_ids):
        raise ValueError(f"{len(file_paths)} files but {len(device_ids)} device ids; give one device id per file")


def _log_mel(file_paths: list, frontend: MelFrontend, device: torch.device, pool: Executor) -> torch.Tensor:
    """The model inputs (n, 1, 256, 65) float32 of ``file_paths`` on ``device``."""
    waves = [torch.from_numpy(wave[0]) for wave in pool.map(clip_wave, file_paths)]
    return frontend.log(frontend(torch.stack(waves).to(device)))


def load_inputs(file_paths: list, device_ids: list, model: LoadedSubmission) -> list[torch.Tensor]:  # noqa: ARG001 (the organizers' signature)
    """One float32 log-mel tensor (1, 1, 256, 65) per file, in order, on the CPU (the module docstring);
    the inputs depend neither on the device nor on the model."""
    file_paths, device_ids = list(file_paths), list(device_ids)
    _same_length(file_paths, device_ids)
    frontend, inputs = MelFrontend(), []
    with ThreadPoolExecutor(READERS) as pool, torch.no_grad():
        for start in range(0, len(file_paths), LOAD_BATCH):
            inputs += [x[None] for x in _log_mel(file_paths[start : start + LOAD_BATCH], frontend, torch.device("cpu"), pool)]
    return inputs


def get_model_for_device(model: LoadedSubmission, device_id: str) -> nn.Module:
    """The module, as shipped, that classifies clips of ``device_id``: its own model, or the general one."""
    return model.model.for_device(device_id if isinstance(device_id, str) else None)


def predict(
    file_paths: list, device_ids: list, model: LoadedSubmission, use_cuda: bool = True, batch_size: int = 64
) -> tuple[list[torch.Tensor], list[str]]:
    """(logits, class_order): one float32 [10] tensor per file, in input order, and the class names."""
    file_paths, device_ids = list(file_paths), list(device_ids)
    _same_length(file_paths, device_ids)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size {batch_size}: use 1 or more")
    device = torch.device("cuda" if use_cuda and torch.cuda.is_available() else "cpu")
    groups: dict[int, tuple[nn.Module, list[int]]] = {}
    for index, device_id in enumerate(device_ids):
        net = get_model_for_device(model, device_id)
        groups.setdefault(id(net), (net, []))[1].append(index)
    logits: list[torch.Tensor | None] = [None] * len(file_paths)
    frontend = MelFrontend().to(device)
    with ThreadPoolExecutor(READERS) as pool, torch.no_grad():
        for net, indices in groups.values():
            computing = compute_copy(net).to(device).eval()
            for start in range(0, len(indices), int(batch_size)):
                chunk = indices[start : start + int(batch_size)]
                out = computing(_log_mel([file_paths[i] for i in chunk], frontend, device, pool)).float().cpu()
                for index, row in zip(chunk, out):
                    logits[index] = row.clone()
    return logits, list(model.class_order)
