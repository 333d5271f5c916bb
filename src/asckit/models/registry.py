"""The model registry: architecture names → builders, task defaults, and the paper's configs.

Listing names and reference configurations needs no torch; ``build`` imports the architecture's
module only when it is called.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

from asckit.core.errors import AsckitError
from asckit.tasks import MACS_CLIP_SECONDS, TASKS_TAU22, model_input_shape, task_facts


@dataclass(frozen=True)
class Architecture:
    """A registered architecture; ``factory`` is "module:callable", imported on first build."""

    name: str
    factory: str
    task: str
    description: str


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("fcnn", "asckit.models.fcnn:FCNN", "1a", "FCNN with channel attention on the class maps"),
        Architecture("fsfcnn", "asckit.models.fsfcnn:FsFCNN", "1a", "frequency-sub-sampling-controlled FCNN"),
        Architecture(
            "fsfcnn_split", "asckit.models.fsfcnn_split:FsFCNNSplit", "1a", "fsFCNN-s: two fsFCNN trunks on mel halves"
        ),
        Architecture("resnet", "asckit.models.resnet:Resnet", "1a", "two-path frequency-split pre-activation ResNet"),
        Architecture("mobnet", "asckit.models.mobnet:Mobnet", "1b", "two-path MobileNetV2"),
        Architecture("small_fcnn", "asckit.models.small_fcnn:small_fcnn", "1b", "Task 1b FCNN (train/shipped)"),
        Architecture("cp_mobile", "asckit.models.cp_mobile:CPMobile", "2024", "simplified CP-Mobile (CPJKU's 2024/2025 baseline)"),
    )
}


@dataclass(frozen=True)
class ReferenceConfig:
    """One model of the paper or its code: which row it is and how ``build`` makes it."""

    label: str
    paper_row: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    task: str | None = None  # the task whose input it is measured on; default: its architecture's

    def build_kwargs(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}


#: The models of the paper's tables, in the paper's order; ``asckit models`` lists these.
REFERENCE_CONFIGS: tuple[ReferenceConfig, ...] = (
    ReferenceConfig("fcnn", "1a FCNN (Table 1 rows 6-7)", "fcnn"),
    ReferenceConfig("fcnn-3class", "1a 3-class FCNN (two-stage fusion)", "fcnn", {"num_classes": 3}),
    ReferenceConfig("fsfcnn", "1a fsFCNN (Table 1 row 8)", "fsfcnn"),
    ReferenceConfig("fsfcnn_split", "1a fsFCNN-s (submissions; not in the code)", "fsfcnn_split"),
    ReferenceConfig("resnet", "1a Resnet (Table 1 rows 1-3); the code's 3-class model", "resnet", {"num_filters": 24}),
    ReferenceConfig("resnet-d", "1a Resnet-d (Table 1 rows 4-5)", "resnet", {"num_filters": 48}),
    ReferenceConfig("mobnet", "1b Mobnet (Table 2)", "mobnet"),
    ReferenceConfig("small_fcnn", "1b small-FCNN, train-script config", "small_fcnn", {"variant": "train"}),
    ReferenceConfig(
        "small_fcnn-shipped", "1b small-FCNN, shipped pretrained model", "small_fcnn", {"variant": "shipped"}
    ),
    # Beyond the paper: the distillation student of configs/task1a/student.yaml, within DCASE 2022-2025's limits.
    ReferenceConfig(
        "mobnet-student", "1a KD student (beyond the paper)", "mobnet",
        {"width": 0.75, "num_classes": 10, "in_channels": 3}, task="1a",
    ),
    # The TAU22 protocols: the baseline of DCASE 2024 and 2025 (one per device model in 2025).
    ReferenceConfig("cp_mobile", "2024/2025 baseline (CPJKU models/net.py)", "cp_mobile"),
)


def names() -> list[str]:
    """Registered architecture names, in the order of the paper's list."""
    return list(ARCHITECTURES)


def architecture(name: str) -> Architecture:
    """The registered ``Architecture`` called ``name``, or a one-line AsckitError."""
    if name not in ARCHITECTURES:
        raise AsckitError(f"unknown model {name!r}; use one of: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def clip_shape(name: str, in_channels: int | None = None, task: str | None = None) -> tuple[int, int, int]:
    """(channels, mel, frames) of the clip on which MACs are counted for ``task`` (default: the task
    of architecture ``name``): a 10 s clip of the 2020 log-mel features, a 1 s clip of the TAU22
    frontend (``asckit.features.tau22_frontend``: 1 × 256 × 65)."""
    task = task or architecture(name).task
    if task in TASKS_TAU22:
        from asckit.features import tau22_frontend

        facts = task_facts(task)
        samples = int(round(facts.clip_seconds * tau22_frontend.SAMPLE_RATE))
        channels, mels, frames = facts.input_channels, tau22_frontend.N_MELS, tau22_frontend.frames(samples)
    else:
        from asckit.features.logmel import settings_for

        channels, mels, frames = model_input_shape(settings_for(task))
    return (in_channels or channels, mels, frames)


def clip_seconds(name: str, task: str | None = None) -> float:
    """Seconds of the clip of ``clip_shape(name, task=task)``: 1 s for the TAU22 protocols,
    ``asckit.tasks.MACS_CLIP_SECONDS`` (10 s) for the 2020 ones."""
    task = task or architecture(name).task
    return task_facts(task).clip_seconds if task in TASKS_TAU22 else MACS_CLIP_SECONDS


def build(name: str, num_classes: int | None = None, in_channels: int | None = None, **params: Any):
    """Build architecture ``name``; unset ``num_classes``/``in_channels`` take its task's defaults
    (1a: 10 classes, 3 channels; 1b: 3 classes, 6 channels; 2024/2025: 10 classes, 1 channel). The returned model carries
    ``build_kwargs``, with which ``build(**model.build_kwargs)`` makes the same graph again."""
    arch = architecture(name)
    task = task_facts(arch.task)
    num_classes = len(task.classes) if num_classes is None else int(num_classes)
    in_channels = task.input_channels if in_channels is None else int(in_channels)
    if num_classes < 1 or in_channels < 1:
        raise AsckitError(f"model {name!r}: num_classes and in_channels must be positive, fix the model config")
    width = params.get("width", 1.0)
    if not float(width) > 0:
        raise AsckitError(f"model {name!r}: width must be > 0, got {width}; fix the model config")

    module_name, attribute = arch.factory.split(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    accepted = set(inspect.signature(factory).parameters) - {"num_classes", "in_channels"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise AsckitError(
            f"model {name!r} has no parameter {', '.join(unknown)}; it takes: {', '.join(sorted(accepted))}"
        )

    model = factory(num_classes=num_classes, in_channels=in_channels, **params)
    model.build_kwargs = {"name": name, "num_classes": num_classes, "in_channels": in_channels, **params}
    return model
