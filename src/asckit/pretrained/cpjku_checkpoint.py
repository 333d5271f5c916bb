"""Read a CPJKU CP-Mobile checkpoint (DCASE 2024/2025 baselines and systems built on them) into asckit's models.

One job: ``read_cpjku_checkpoint(path)`` turns a checkpoint file into an asckit ``cp_mobile`` model
(a general model) or a ``DeviceSpecificModel`` (2025: a general model and one per device), with the
widths worked out from the tensors, and checks the frontend buffers the file carries against
asckit's own frontend; ``import_cpjku_checkpoint(path, out)`` (``asckit import-ckpt``) writes that
as an imported run directory, as ``keras_import`` does for the 2020 Keras files.

Layouts accepted (reference/dcase2025 README §3, §5, §7), read with
``torch.load(path, map_location="cpu", weights_only=True)``, so a file can hold tensors and plain
values only, never code:

- a Lightning checkpoint (``{"state_dict": …}``) of the 2024 / 2025 base training: ``model.*``;
- one of the 2025 device-specific training: ``multi_device_model.base_model.*`` and
  ``multi_device_model.device_models.<dev>.*``;
  both also carry the frontend buffers ``mel.0.kernel`` (320, 1, 459: the 44.1 → 32 kHz resampling
  kernel), ``mel.1.spectrogram.window`` (3072: the STFT window) and ``mel.1.mel_scale.fb``
  (2049, 256: the mel filterbank);
- the organizers' ``model_state_dict.pt`` (a bare state_dict): ``base_model.*`` and
  ``device_models.<dev>.*``, no frontend buffers (then a note says so).

Any other key is refused in one line that names it; so is a device other than those of
``asckit.labels.KNOWN_DEVICES_2025``, a missing key, or a shape no CP-Mobile has.

How the widths are inferred (every model of a file must have the same ones):

- ``in_channels`` = ``in_c.0.0.weight``'s input channels, ``num_classes`` = ``feed_forward.0.weight``'s
  outputs, ``base_channels`` = ``in_c.1.0.weight``'s outputs (the reference rounds it to a multiple
  of 8 before use, so the rounded value is the one to build with);
- ``channels_multiplier``: the stage widths are ``make_divisible(base·m^i, 8)`` (i = 1, 2: the outputs
  of ``stages.s2`` and ``stages.s3``), ``expansion_rate``: each block's expansion is
  ``make_divisible(in·r, 8)`` (``block.0.0.weight``'s outputs). Many values give the same rounded
  widths, so the value reported is the one with the fewest decimals (then the smallest, from 0.1 to
  ``_MAX_FACTOR``) that reproduces every width: 1.8 and 2.1 for the baselines' (56, 104) stages and
  (64, 120) expansions. Any value that reproduces them builds the same network.
- Then a CP-Mobile of those widths is built and every key and shape of the file compared with
  it; the first difference is refused (``no CP-Mobile has this shape set``).

Tensors stored in float16 are loaded into the float32 model (``stored_dtype`` says what they were).

The run directory (``import_cpjku_checkpoint``): ``config.yaml`` (task 2024, or 2025 with
``model.devices`` for a device-specific file; ``model.params`` the inferred widths; ``data.split`` the
split the weights were trained on, as the user says; unknown, it is 100 for 2024 — the largest, so
that the protocol guard treats the run as having seen every training clip — and 25 for 2025, the only
one its rules allow), ``checkpoints/last.ckpt`` (``state_dict`` as ``asckit train`` writes it:
``model.*``, or ``model.base_model.*`` and ``model.device_models.<dev>.*`` as
``asckit.train.device_specific`` assembles it; float32), ``imported.json`` (source file and SHA-1,
layout, stored dtype, the frontend check, notes), ``finished.json``, and a settings-only waveform store
``features/`` (unless ``store`` names the user's waveform store of the same settings).
"""

from __future__ import annotations

import json
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asckit.core.errors import AsckitError
from asckit.labels import KNOWN_DEVICES_2025

#: The frontend buffers of a CPJKU Lightning checkpoint → the names of asckit's own values
#: (``asckit_frontend``) they are compared with, and the shape each has in the checkpoint.
FRONTEND_BUFFERS: dict[str, tuple[str, tuple[int, ...]]] = {
    "mel.0.kernel": ("resample_kernel", (320, 1, 459)),
    "mel.1.spectrogram.window": ("window", (3072,)),
    "mel.1.mel_scale.fb": ("mel_fb", (2049, 256)),
}

#: Largest absolute difference between a checkpoint's frontend buffer and asckit's value that still
#: counts as the same frontend, per value (all lie in [−1, 1]). 1e-6 for the resampling kernel and
#: the window (float32 copies of the same values: measured 3e-8 and 2e-7 on the reference checkpoints).
#: The mel filter bank gets 2e-5, not 1e-6: torch's vectorised float32 ``pow`` is not correctly rounded,
#: so torchaudio's bank differs from asckit's numpy one by up to 1e-5 at a few band edges
#: (``asckit.features.tau22_frontend``; measured 9.1e-6 at 68 of 524,544 weights of the reference
#: checkpoints), where any other mel setting (bands, range, scale) moves weights by 1e-2 and more.
FRONTEND_TOLERANCE: dict[str, float] = {"resample_kernel": 1e-6, "window": 1e-6, "mel_fb": 2e-5}

#: The key prefixes of the layouts (device models have ``<dev>.`` after theirs).
_LIGHTNING_BASE = "model."
_LIGHTNING_CONTAINER = "multi_device_model."
_BASE = "base_model."
_DEVICES = "device_models."

#: The names a CP-Mobile's tensors can have (any widths and block count): stem, blocks, head.
_CP_MOBILE_KEY = re.compile(
    r"(in_c\.[01]\.[01]|stages\.s\d+\.b\d+\.block\.[012]\.[01]|feed_forward\.[01])"
    r"\.(weight|bias|running_mean|running_var|num_batches_tracked)"
)

#: The largest channels multiplier or expansion rate looked for.
_MAX_FACTOR = 8.0


@dataclass(frozen=True)
class CPJKUCheckpoint:
    """A CPJKU checkpoint as asckit models.

    Attributes:
        model: a ``cp_mobile`` model (a general model) or a ``DeviceSpecificModel``, in eval mode, float32.
        devices: the devices with a model of their own (empty for a general model).
        params: the ``cp_mobile`` build arguments: num_classes, in_channels, base_channels,
            channels_multiplier, expansion_rate.
        frontend: the frontend buffers (name → array, as stored), or None where the file has none.
        source_sha1: SHA-1 of the file.
        layout: "lightning" (``model.*``), "lightning-devices" (``multi_device_model.*``) or
            "state_dict" (the organizers' ``base_model.*`` / ``device_models.*``).
        stored_dtype: the dtype of the file's parameters, e.g. "float32" or "float16".
        notes: what the reader could not check, e.g. a file without frontend buffers.
    """

    model: Any
    devices: tuple[str, ...]
    params: dict[str, Any]
    frontend: dict[str, np.ndarray] | None
    source_sha1: str
    layout: str
    stored_dtype: str
    notes: tuple[str, ...] = field(default=())


def load_state_dict_file(path: str | os.PathLike) -> tuple[dict[str, Any], str]:
    """The flat state_dict of the checkpoint at ``path`` and its layout ("lightning" for a
    ``{"state_dict": …}`` file, "state_dict" for a bare one), read with ``weights_only=True``."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise AsckitError(f"{path}: file not found; check the path")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load's unpickler raises whatever the bytes provoke (IndexError, EOFError, ...)
        if isinstance(exc, pickle.UnpicklingError) and "Unsupported global" in str(exc):  # a pickled class: code
            raise AsckitError(
                f"{path}: holds Python objects other than tensors and plain values, which asckit does not load "
                "(weights_only); save the model's state_dict alone"
            ) from None
        raise AsckitError(f"{path}: not a PyTorch checkpoint ({type(exc).__name__}); give a .ckpt or .pt file, or get it again") from None
    if isinstance(loaded, Mapping) and "state_dict" in loaded:
        state, layout = loaded["state_dict"], "lightning"
    else:
        state, layout = loaded, "state_dict"
    if not isinstance(state, Mapping) or not state:
        raise AsckitError(f"{path}: holds no state_dict (a mapping of names to tensors); give a checkpoint of CPJKU's models/net.py")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise AsckitError(f"{path}: entry {key!r} of the state_dict is not a tensor; give a checkpoint of CPJKU's models/net.py")
    return dict(state), layout


def split_models(state: Mapping[str, Any], layout: str, path: str | os.PathLike) -> tuple[dict[str | None, dict], dict, str]:
    """The file's tensors sorted by model: {None: general model, device: its model} (keys without
    prefix), the frontend buffers, and the layout ("lightning", "lightning-devices", "state_dict")."""
    models: dict[str | None, dict] = {}
    frontend: dict[str, Any] = {}
    prefixes = set()

    def refuse(key: str) -> AsckitError:
        return AsckitError(
            f"{path}: key {key!r} is not part of a CP-Mobile checkpoint (model.*, multi_device_model.base_model.*, "
            "multi_device_model.device_models.DEV.*, base_model.*, device_models.DEV.*, mel.*); give a checkpoint of CPJKU's models/net.py"
        )

    for key, tensor in state.items():
        if key in FRONTEND_BUFFERS and layout == "lightning":
            frontend[key] = tensor
            continue
        rest = key
        if layout == "lightning":
            if rest.startswith(_LIGHTNING_BASE):
                prefixes.add("lightning")
                models.setdefault(None, {})[rest[len(_LIGHTNING_BASE):]] = tensor
                continue
            if not rest.startswith(_LIGHTNING_CONTAINER):
                raise refuse(key)
            prefixes.add("lightning-devices")
            rest = rest[len(_LIGHTNING_CONTAINER):]
        else:
            prefixes.add("state_dict")
        if rest.startswith(_BASE):
            models.setdefault(None, {})[rest[len(_BASE):]] = tensor
        elif rest.startswith(_DEVICES) and rest.count(".") >= 2:
            device, name = rest[len(_DEVICES):].split(".", 1)
            if device not in KNOWN_DEVICES_2025:
                raise AsckitError(
                    f"{path}: key {key!r} holds a model for device {device!r}, which cannot have its own model in DCASE 2025 "
                    f"(only {', '.join(KNOWN_DEVICES_2025)}); remove it from the checkpoint"
                )
            models.setdefault(device, {})[name] = tensor
        else:
            raise refuse(key)
    if len(prefixes) > 1:
        raise AsckitError(
            f"{path}: mixes a general model (model.*) with a device-specific container (multi_device_model.*); "
            "give the checkpoint of one training"
        )
    if None not in models:
        raise AsckitError(f"{path}: has device models but no general model (base_model.*); give the whole checkpoint")
    return models, frontend, prefixes.pop()


def _fewest_decimals(fits) -> float | None:
    """The factor with the fewest decimals (then the smallest) in 0.1 … ``_MAX_FACTOR`` for which ``fits(factor)``."""
    for decimals in (1, 2, 3):
        step = 10**decimals
        for scaled in range(step // 10, int(_MAX_FACTOR * step) + 1):
            factor = round(scaled / step, decimals)
            if fits(factor):
                return factor
    return None


def infer_params(state: Mapping[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """The ``cp_mobile`` build arguments of one model's state_dict (keys without prefix; module docstring)."""
    from asckit.models.blocks import make_divisible
    from asckit.models.cp_mobile import BLOCKS_PER_STAGE, stage_widths

    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise AsckitError(f"{path}: has no {key}, which every CP-Mobile has; give a checkpoint of CPJKU's models/net.py")
        return tuple(state[key].shape)

    in_channels = shape("in_c.0.0.weight")[1]
    base = shape("in_c.1.0.weight")[0]
    num_classes = shape("feed_forward.0.weight")[0]
    blocks = [(stage + 1, sum(BLOCKS_PER_STAGE[:stage]) + index + 1) for stage, count in enumerate(BLOCKS_PER_STAGE) for index in range(count)]
    outputs = [shape(f"stages.s{stage}.b{block}.block.2.0.weight")[0] for stage, block in blocks]
    stage_outputs = [outputs[sum(BLOCKS_PER_STAGE[: i + 1]) - 1] for i in range(len(BLOCKS_PER_STAGE))]
    inputs = [base, *outputs[:-1]]
    expansions = [shape(f"stages.s{stage}.b{block}.block.0.0.weight")[0] for stage, block in blocks]

    multiplier = _fewest_decimals(lambda m: stage_widths(base, m)[1:] == stage_outputs)
    rate = _fewest_decimals(lambda r: [make_divisible(c * r, 8) for c in inputs] == expansions)
    if multiplier is None or rate is None or make_divisible(base, 8) != base:
        raise AsckitError(
            f"{path}: stage widths {[base, *stage_outputs]} and expansions {expansions} fit no CP-Mobile "
            "(no channels_multiplier or expansion_rate gives them); no CP-Mobile has this shape set"
        )
    return {
        "num_classes": num_classes,
        "in_channels": in_channels,
        "base_channels": base,
        "channels_multiplier": multiplier,
        "expansion_rate": rate,
    }


def _file_prefix(layout: str, device: str | None) -> str:
    """How the file names the keys of the general model (``device`` None) or of a device model."""
    if layout == "lightning":
        return _LIGHTNING_BASE
    inner = _BASE if device is None else f"{_DEVICES}{device}."
    return (_LIGHTNING_CONTAINER if layout == "lightning-devices" else "") + inner


def _check_against(model, state: Mapping[str, Any], params: dict, path: str | os.PathLike, prefix: str) -> None:
    """Every key and shape of ``state`` as ``model`` (a CP-Mobile of ``params``) has them; else one line naming the first difference."""
    expected = model.state_dict()
    widths = ", ".join(f"{k}={v}" for k, v in params.items())
    for key, tensor in state.items():
        if key not in expected:
            raise AsckitError(
                f"{path}: key {prefix + key!r} is not part of a CP-Mobile ({widths}); give a checkpoint of CPJKU's models/net.py"
            )
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise AsckitError(
                f"{path}: {prefix + key} has shape {tuple(tensor.shape)}, a CP-Mobile ({widths}) has {tuple(expected[key].shape)}; "
                "no CP-Mobile has this shape set"
            )
    missing = [key for key in expected if key not in state]
    if missing:
        raise AsckitError(f"{path}: {prefix + missing[0]} is missing ({len(missing)} keys); the checkpoint is incomplete: get it again")


def asckit_frontend() -> dict[str, np.ndarray]:
    """asckit's own values of the frontend buffers: resampling kernel (320, 459), window (3072,),
    mel filterbank (2049, 256), from ``asckit.features.tau22_frontend``."""
    from asckit.features import tau22_frontend

    return {
        "resample_kernel": np.asarray(tau22_frontend.resample_kernel(44100).kernel),
        "window": np.asarray(tau22_frontend.window()),
        "mel_fb": np.asarray(tau22_frontend.mel_filterbank()),
    }


def check_frontend(buffers: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], path: str | os.PathLike) -> None:
    """Refuse (one line) a frontend buffer whose shape differs from its ``FRONTEND_BUFFERS`` shape or
    whose values differ from ``expected`` (``asckit_frontend``'s names) by more than its ``FRONTEND_TOLERANCE``."""
    for name, (value_name, stored_shape) in FRONTEND_BUFFERS.items():
        if name not in buffers:
            continue
        stored = np.asarray(buffers[name], dtype=np.float64)
        if stored.shape != stored_shape:
            raise AsckitError(
                f"{path}: frontend buffer {name} has shape {stored.shape}, the CPJKU frontend's is {stored_shape}; "
                "this model was trained on other features than asckit's tau22 frontend computes"
            )
        reference = np.asarray(expected[value_name], dtype=np.float64).reshape(stored_shape)
        difference = float(np.max(np.abs(stored - reference)))
        if not difference <= FRONTEND_TOLERANCE[value_name]:
            raise AsckitError(
                f"{path}: frontend buffer {name} differs from asckit's {value_name} by up to {difference:.3g} "
                f"(> {FRONTEND_TOLERANCE[value_name]:g}); "
                "this model was trained on other features than asckit's tau22 frontend computes"
            )


def read_cpjku_checkpoint(path: str | os.PathLike, expected_frontend: Mapping[str, np.ndarray] | None = None) -> CPJKUCheckpoint:
    """The CP-Mobile model(s) of the checkpoint at ``path`` (module docstring).

    ``expected_frontend`` holds the values the frontend buffers are compared with (keys
    ``resample_kernel``, ``window``, ``mel_fb``); by default asckit's own (``asckit_frontend()``).
    """
    from asckit.models import build
    from asckit.models.device_specific import DeviceSpecificModel
    from asckit.pretrained.keras_import import sha1_of

    state, file_layout = load_state_dict_file(path)
    models, buffers, layout = split_models(state, file_layout, path)
    for device, model_state in models.items():
        foreign = next((key for key in model_state if not _CP_MOBILE_KEY.fullmatch(key)), None)
        if foreign is not None:
            key = _file_prefix(layout, device) + foreign
            raise AsckitError(f"{path}: key {key!r} is not part of a CP-Mobile; give a checkpoint of CPJKU's models/net.py")
    params = infer_params(models[None], path)
    general = build("cp_mobile", **params)
    notes: list[str] = []
    for device, model_state in models.items():
        _check_against(general, model_state, params, path, _file_prefix(layout, device))
    devices = tuple(d for d in KNOWN_DEVICES_2025 if d in models)
    if devices:
        model = DeviceSpecificModel(general, devices)
        combined = {f"base_model.{k}": v for k, v in models[None].items()}
        combined |= {f"device_models.{d}.{k}": v for d in devices for k, v in models[d].items()}
    else:
        model, combined = general, models[None]
    model.load_state_dict(combined, strict=True)  # float16 values are copied into the float32 parameters
    stored = {str(t.dtype).removeprefix("torch.") for t in combined.values() if t.is_floating_point()}

    frontend = {name: buffers[name].detach().cpu().numpy() for name in FRONTEND_BUFFERS if name in buffers} or None
    if frontend is None:
        notes.append("no frontend buffers (mel.*) in the file: the frontend it was trained with cannot be checked")
    else:
        check_frontend(frontend, asckit_frontend() if expected_frontend is None else expected_frontend, path)
        absent = [name for name in FRONTEND_BUFFERS if name not in frontend]
        if absent:
            notes.append(f"frontend buffers {', '.join(absent)} absent: not compared")
    model.eval()
    return CPJKUCheckpoint(
        model=model,
        devices=devices,
        params=params,
        frontend=frontend,
        source_sha1=sha1_of(path),
        layout=layout,
        stored_dtype="/".join(sorted(stored)) or "none",
        notes=tuple(notes),
    )


# ----------------------------------------------------------------------------------------------
# The run directory


@dataclass(frozen=True)
class CPJKUImportResult:
    run_dir: Path
    checkpoint: CPJKUCheckpoint
    task: str
    split: int


def import_cpjku_checkpoint(
    file: str | os.PathLike,
    out: str | os.PathLike,
    task: str | None = None,
    split: int | None = None,
    root: str | os.PathLike | None = None,
    store: str | os.PathLike | None = None,
) -> CPJKUImportResult:
    """Import the CPJKU checkpoint ``file`` into the new run directory ``out`` (module docstring).

    ``task``: "2024" or "2025" (default: 2025 for a device-specific file, else 2024); ``split``: the
    training split in % the weights were trained on (default: 100 for 2024, 25 for 2025); ``root`` /
    ``store``: the TAU22 dataset and waveform store the run is used with (default: none, and a
    settings-only store in the run).
    """
    import shutil
    import tempfile

    import torch

    from asckit.core.io_utils import atomic_write_text, current_umask
    from asckit.features.store import FeatureStore
    from asckit.features.waves import WaveformSettings
    from asckit.pretrained.keras_import import FEATURES, require_new_run_folder
    from asckit.tasks import TASKS_TAU22, task_facts
    from asckit.train.config import config_from_dict
    from asckit.train.run_dir import RunDir

    out = require_new_run_folder(out)
    if task is not None and task not in TASKS_TAU22:
        raise AsckitError(f"--task {task}: a CP-Mobile checkpoint is a TAU22 model; use --task {' or '.join(TASKS_TAU22)}")
    loaded = read_cpjku_checkpoint(file)
    task = task or ("2025" if loaded.devices else "2024")
    facts = task_facts(task)
    if loaded.devices and not facts.device_specific:
        raise AsckitError(
            f"{file}: holds device models ({', '.join(loaded.devices)}), which only DCASE 2025 has; use --task 2025"
        )
    if loaded.params["num_classes"] != len(facts.classes) or loaded.params["in_channels"] != facts.channels:
        raise AsckitError(
            f"{file}: a CP-Mobile with {loaded.params['num_classes']} classes on {loaded.params['in_channels']} input channel(s); "
            f"task {task} has {len(facts.classes)} classes on {facts.channels} log-mel channel; give a model of the TAU22 scenes"
        )
    split = split if split is not None else max(facts.train_percentages)
    if split not in facts.train_percentages:
        raise AsckitError(f"--split {split}: task {task} trains on split {', '.join(map(str, facts.train_percentages))} (in %); use one of them")
    settings = WaveformSettings()
    if store is not None:
        theirs = FeatureStore.open(store)
        if not theirs.holds_waves or theirs.settings != settings:
            raise AsckitError(
                f"{store}: not a TAU22 waveform store of the default settings (32 kHz mono 1 s waves); "
                "make one with `asckit features TAU22_ROOT --out STORE`, or leave --store out"
            )

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    os.chmod(staging, 0o777 & ~current_umask())  # the run folder gets the user's permissions, not 0700
    run = RunDir(staging)
    try:
        store_path = Path(store) if store is not None else out / FEATURES
        if store is None:
            FeatureStore.create(staging / FEATURES, settings, dataset={"imported": True}).close()
        widths = {key: loaded.params[key] for key in ("base_channels", "channels_multiplier", "expansion_rate")}
        raw = {
            "name": out.name,
            "task": task,
            "snapshots": 1,
            "runs_dir": str(out.parent),
            "data": {"root": str(root if root is not None else out), "store": str(store_path), "split": split},
            "model": {"name": "cp_mobile", "params": widths, "devices": list(loaded.devices)},
            "batch_augment": {"time_mask_max": 0},  # the TAU22 frontend masks frequencies only
        }
        config = config_from_dict(raw, source=str(RunDir(out).config_file))
        run.write_config(config)
        run.checkpoints.mkdir()
        state = {f"model.{k}": v for k, v in loaded.model.state_dict().items()}
        torch.save({"state_dict": state, "asckit_imported": True}, run.last_checkpoint)
        record = {
            "imported": True,
            "format": "cpjku-checkpoint",
            "source_file": Path(file).name,
            "source_sha1": loaded.source_sha1,
            "layout": loaded.layout,
            "stored_dtype": loaded.stored_dtype,
            "architecture": "cp_mobile",
            "params": widths,
            "devices": list(loaded.devices),
            "task": task,
            "split": split,
            "frontend": "checked: asckit.features.tau22_frontend" if loaded.frontend is not None else "not in the file",
            "notes": list(loaded.notes),
        }
        atomic_write_text(run.imported_file, json.dumps(record, indent=2) + "\n")
        finished = {"imported": True, "epochs": 0, "snapshots": [run.last_checkpoint.name]}
        atomic_write_text(run.finished_file, json.dumps(finished, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return CPJKUImportResult(out, loaded, task, split)


__all__ = [
    "CPJKUCheckpoint",
    "CPJKUImportResult",
    "FRONTEND_BUFFERS",
    "FRONTEND_TOLERANCE",
    "asckit_frontend",
    "check_frontend",
    "import_cpjku_checkpoint",
    "infer_params",
    "load_state_dict_file",
    "read_cpjku_checkpoint",
    "split_models",
]
