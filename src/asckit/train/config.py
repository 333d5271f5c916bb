"""The training configuration: one validated YAML file (plus ``--set key=value`` overrides) per run.

Its one job: turn ``CONFIG.yaml`` and ``--set`` overrides into a :class:`TrainConfig` whose every
value is concrete, or fail with one line that names the file (or ``--set``), the key and the fix.
It imports neither torch nor Lightning, so the CLI can validate a config instantly.

Layout (every key is optional except ``name`` and ``data.root`` / ``data.store``)::

    name: fcnn_demo            # run directory: <runs_dir>/<name>/
    task: 1a                   # 1a (10 scenes, mono) or 1b (3 classes, stereo)
    labels: scene              # 1a only: scene (10 classes) or superclass (3 classes, for two-stage fusion)
    seed: 0
    snapshots: 3               # predictions average the softmax of the last K snapshots (cycle ends, then a cut final epoch)
    runs_dir: runs
    data:    {root: data/demo, store: stores/demo, train_split: train, kinds: [original],
              validation: {fraction: 0.0, by: location}, balance_classes: reference, balance: keep_all,
              store_in_memory: auto}
    model:   {name: fcnn, width: 1.0, params: {}, bn_warmup: true}   # params go to asckit.models.build
    batch_augment: {spec_augment: reference, crop_frames: reference, channel_swap: reference, mixup_alpha: 0.4,
                    freq_mixstyle: null}       # or {p: 0.4, alpha: 0.3, form: sample}
    distill: {teacher: null, temperature: 2.0, label_weight: 0.5,   # knowledge distillation (off without a teacher)
              kl_reduction: batchmean}
    optim:   {lr_max: 0.1, lr_min: 1.0e-5, momentum: 0.9, weight_decay: reference, keras_decay: reference,
              sgd: keras, batch_size: 32, epochs: reference, first_cycle: 2, cycle_mult: 2}
    trainer: {accelerator: auto, devices: 1, num_nodes: 1, strategy: auto, precision: 32-true,
              channels_last: auto, deterministic: true, num_workers: 0, pin_memory: auto,
              persistent_workers: true, prefetch_factor: 2, progress_bar: false}
    debug:   {record_batches: false, step_delay: 0.0}

``reference`` means "what the paper's code used for this model and task" (docs/reference-code.md §3.1,
§5) and is replaced by the concrete value on loading, so the ``config.yaml`` saved in a run
directory shows exactly what ran:

- ``batch_augment.spec_augment``: on, except for ``resnet``; ``batch_augment.crop_frames``: 400
  for 1a (of the 423 frames of a 10 s clip; set it lower, or null, for shorter clips), none for
  1b; ``batch_augment.channel_swap``: 1b only; ``data.balance_classes``: 1b only.
- ``data.balance`` (how balancing draws; ``asckit.train.datamodule``): ``reference``, the
  reference's draw with replacement of every class, which leaves about 37 % of the largest
  class's clips unseen for the whole run, or ``keep_all`` (the default, a fix: every clip kept,
  the smaller classes topped up).
- ``optim.weight_decay``: 1e-3 for ``resnet`` and ``mobnet``, else 0. It is Keras'
  ``kernel_regularizer=l2(wd)`` on the kernels of the reference's ``resnet_layer`` convs (every
  conv of the Resnet, the two head convs of the Mobnet): Keras adds ``wd·Σw²`` to the loss, whose
  gradient is ``2·wd·w``, so asckit gives exactly those kernels SGD ``weight_decay = 2·wd``
  (coupled L2, through the momentum, as in Keras) and every other parameter none.
- ``optim.keras_decay``: 1e-6 for ``fcnn`` and ``resnet`` (Keras SGD ``decay``), else 0.
- ``optim.sgd`` (not a ``reference`` value: every reference model used it): ``keras``, the
  reference's momentum update with the lr inside the velocity (``asckit.train.optim``); ``torch``
  scales the whole momentum buffer by the current lr, which differs for the first steps after
  every warm restart.
- ``optim.epochs``: 254 for the 1a FCNN family, 126 for ``resnet``, 500 for 1b.

``distill.teacher`` is a prediction TSV of a teacher on the training rows (``asckit predict-split RUN
--split train``, or a fusion of several such files by ``asckit fuse``); with it the loss is
``label_weight·CE(labels) + (1 − label_weight)·temperature²·KL(teacher_τ ‖ softmax(student/τ))``
(``asckit.train.module``), the KL averaged per sample (``kl_reduction: batchmean``) or, as the CP-JKU
code, over samples and classes (``batch_and_classes``: a K-th of it). The file is read by filename = feature-store row key, so every training
row, augmented copies included, needs its own teacher row.

``batch_augment`` is the on-the-fly augmentation of training batches (``asckit.train.batch_augment``);
offline augmentation adds rows to the feature store instead (``asckit augment``, ``data.kinds``).
Configs written before the section had this name call it ``augment:``; it is still read, with a
note on stderr asking to rename it.
``trainer.precision: fast`` is not: it stays ``fast`` in the saved config, so that a run compares
equal on every machine (a project copied to a GPU or AMX machine reuses its finished runs and resumes
its unfinished ones), and each machine resolves it when it trains (:func:`run_precision`); the run
directory records what each part of the run trained with (``asckit.train.run_dir``). How batches
reach the device (``data.store_in_memory``, the ``trainer`` loader keys) never changes what is
trained, so those keys may change on resume; ``asckit.train.datamodule`` documents them.
``trainer.progress_bar`` (off by default) shows Lightning's per-step progress bar and model summary
instead of asckit's one line per epoch; ``asckit train --verbose`` shows them too.

Paths (:data:`PATH_KEYS`) are stored absolute. A relative path written in a config file is read
from the file's project (:func:`config_base`): the folder that holds the ``configs`` folder the file
lies in (``data/demo`` in ``configs/task1a/fcnn.yaml`` is ``<project>/data/demo`` from any working
directory), or the file's own folder when it lies in no ``configs`` folder; so is the default
``runs_dir`` (``<project>/runs``). A relative path given with ``--set`` is read from the current
directory, as any command-line path is.
``optim.batch_size`` is per process: under DDP a step sees ``batch_size × devices × num_nodes``
clips (see ``asckit.train.datamodule`` for how an epoch is split).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from asckit.core.errors import AsckitError
from asckit.labels import classes as classes_of
from asckit.tasks import task_facts

REFERENCE = "reference"
Reference = Literal["reference"]

#: Keys that may differ between a run's saved config and the one it is resumed with: they change
#: neither the data, the model nor the schedule (``optim.epochs`` only extends or shortens the run).
RESUMABLE_CHANGES: frozenset[str] = frozenset(
    {
        "optim.epochs",
        "data.store_in_memory",
        "trainer.num_workers",
        "trainer.pin_memory",
        "trainer.persistent_workers",
        "trainer.prefetch_factor",
        "trainer.progress_bar",
        "trainer.log_every_n_steps",
        "debug.record_batches",
        "debug.step_delay",
    }
)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Reference values per model (docs/reference-code.md §5).
_L2_MODELS = {"resnet": 1e-3, "mobnet": 1e-3}
_KERAS_DECAY_MODELS = {"fcnn": 1e-6, "resnet": 1e-6}
_NO_SPEC_AUGMENT_MODELS = {"resnet"}


def _allows_bool(annotation: Any) -> bool:
    """Whether a field may be given a YAML yes/no: bool fields, and Literal choices (which never
    read a bool as a number; ``data.store_in_memory`` reads a bare ``off`` itself)."""
    import typing

    if typing.get_origin(annotation) is Literal:  # the field itself is a choice (not int | "reference")
        return True

    def boolish(a: Any) -> bool:
        return a is bool or a is Any or any(boolish(b) for b in typing.get_args(a))

    return boolish(annotation)


class _Section(BaseModel):
    """A config section: unknown keys are errors, values are checked on assignment too."""

    # allow_inf_nan=False: `.inf` or `.nan` for any number is refused, never trained with.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, data: Any) -> Any:
        """``epochs: true`` is refused: pydantic would read it as 1."""
        if isinstance(data, dict):
            for key, value in data.items():
                field = cls.model_fields.get(key)
                if isinstance(value, bool) and field is not None and not _allows_bool(field.annotation):
                    raise ValueError(f"{key}: {value!r} is a yes/no value, not a number; give a number")
        return data


class ValidationConfig(_Section):
    """A monitoring split carved out of the training split, never the split results are reported on."""

    fraction: float = Field(0.0, ge=0.0, lt=1.0, description="share of training clips held out (0 = none)")
    by: Literal["location"] = "location"


class DataConfig(_Section):
    root: Path = Field(description="dataset root in the TAU layout")
    store: Path = Field(description="feature store made by `asckit features ROOT --out STORE` (TAU22: a waveform store)")
    train_split: Literal["train", "evaluate"] = "train"
    # TAU22 (task 2024/2025): the training subset in % (the 2024 data-efficient splits,
    # split_setup/split{N}.csv; 2025 trains on 25 only); null = split 100 (fold 1's training list).
    split: int | None = None
    # Train on the clips of these devices only (a device-specific model's fine-tuning); null = all.
    devices: list[str] | None = None
    kinds: list[str] = Field(default_factory=lambda: ["original"], min_length=1)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    balance_classes: bool | Reference = REFERENCE
    # Where the float16 rows of the run's clips live during training (asckit.train.datamodule):
    # read from the store file per batch (off), held in (pinned) host memory, or on the training
    # device; auto = device, else host, when they fit, on CUDA; off on a CPU.
    store_in_memory: Literal["auto", "host", "device", "off"] = "auto"

    @field_validator("store_in_memory", mode="before")
    @classmethod
    def _yaml_off(cls, value):
        # YAML reads a bare `off` as false (and `on` as true).
        if value is False:
            return "off"
        if value is True:
            raise ValueError("use auto, host, device or off")
        return value
    balance: Literal["reference", "keep_all"] = Field(
        "keep_all", description="how classes are balanced: the reference's draw, or every clip kept (datamodule)"
    )


class ModelConfig(_Section):
    name: str = "fcnn"
    width: float = Field(1.0, gt=0.0)
    params: dict[str, Any] = Field(default_factory=dict)
    bn_warmup: bool = Field(True, description="BatchNorm running statistics start as plain means (see train.module)")
    # DCASE 2025 device-specific models: a copy of the general model per listed device, each fine-tuned
    # on its own clips (asckit.train.device_specific); every other device id uses the general model.
    devices: list[str] = Field(default_factory=list)

    @field_validator("devices")
    @classmethod
    def _known_devices(cls, devices: list[str]) -> list[str]:
        from asckit.labels import KNOWN_DEVICES_2025

        unknown = [d for d in devices if d not in KNOWN_DEVICES_2025]
        if unknown:
            raise ValueError(f"{unknown[0]!r} has no training clips in TAU22's splits; use some of {', '.join(KNOWN_DEVICES_2025)}")
        if len(set(devices)) != len(devices):
            raise ValueError("a device is listed twice")
        return devices

    @field_validator("params")
    @classmethod
    def _no_reserved_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted({"width", "num_classes", "in_channels"} & set(params))
        if reserved:
            raise ValueError(f"{', '.join(reserved)} are set by the run (model.width, labels, task), not model.params")
        return params


#: The forms of Freq-MixStyle (``asckit.train.batch_augment.freq_mixstyle`` documents them).
FreqMixStyleForm = Literal["sample", "batch"]
#: How the distillation loss averages its KL term (``asckit.train.module.distillation_loss``).
KlReduction = Literal["batchmean", "batch_and_classes"]


class DirConfig(_Section):
    """Device impulse responses ([CP23]): device-A waves convolved with a MicIRP response (``asckit.train.wave_augment``)."""

    p: float = Field(0.6, ge=0.0, le=1.0, description="probability that a device-A clip is convolved (run_training.py's default 0.6)")
    folder: Path = Field(description="the MicIRP responses: `asckit data download micirp --root FOLDER`")


class FreqMixStyleConfig(_Section):
    """Freq-MixStyle (``asckit.train.batch_augment.freq_mixstyle``): probability, Beta α and form."""

    p: float = Field(0.4, ge=0.0, le=1.0, description="probability that a sample's (form batch: the batch's) statistics are mixed")
    alpha: float = Field(0.3, gt=0.0, description="mixing weights ~ Beta(alpha, alpha)")
    # sample (asckit's, the default of every existing config): a coin per sample, partners never the
    # sample itself, biased variance. batch: the CP-JKU baselines' helpers/utils.py mixstyle, exactly
    # (one coin for the whole batch, unbiased variance, partners by randperm, so a clip may be its own).
    form: FreqMixStyleForm = "sample"


class BatchAugmentConfig(_Section):
    spec_augment: bool | Reference = REFERENCE
    crop_frames: int | None | Reference = Field(REFERENCE, description="null = no crop")
    channel_swap: bool | Reference = REFERENCE
    mixup_alpha: float | None = Field(0.4, ge=0.0, description="null or 0 = no mixup")
    freq_mask_max: int = Field(12, ge=0)
    time_mask_max: int = Field(39, ge=0)
    freq_mixstyle: FreqMixStyleConfig | None = Field(None, description="null = off")
    # TAU22 only (waves): circular shift of each stored 32 kHz wave by up to ±roll_seconds (the
    # reference rolls the raw 44.1 kHz wave before resampling, by ±4,410 samples for 0.1 s; asckit
    # rolls the stored 32 kHz wave by ±3,200 samples, the same 0.1 s: the one departure from its order).
    roll_seconds: float = Field(0.0, ge=0.0)
    dir: DirConfig | None = Field(None, description="TAU22 only: device impulse responses on device-A waves; null = off")

    @field_validator("crop_frames")
    @classmethod
    def _positive_crop(cls, value):
        if isinstance(value, int) and value < 1:
            raise ValueError("use a positive number of frames, or null for no crop")
        return value


class DistillConfig(_Section):
    """Knowledge distillation from a teacher's predictions on the training rows (off while ``teacher`` is null)."""

    teacher: Path | None = Field(None, description="prediction TSV of the teacher on every training row")
    temperature: float = Field(2.0, gt=0.0, description="τ: teacher and student distributions are softened by 1/τ")
    label_weight: float = Field(0.5, ge=0.0, le=1.0, description="λ: weight of the label cross-entropy; 1 − λ goes to the KL term")
    # How the KL term is averaged (asckit.train.module.distillation_loss). batchmean (the default of every
    # existing config): the per-sample KL, averaged over the batch. batch_and_classes: the CP-JKU code's
    # KLDivLoss(reduction="none")(...).mean() [CP23 run_training.py], a mean over batch AND classes, i.e.
    # the per-sample KL / K. So with 10 classes batchmean weights distillation 10× more against the labels;
    # CP-JKU's label_weight 0.02 was tuned with batch_and_classes.
    kl_reduction: KlReduction = "batchmean"


class OptimConfig(_Section):
    # sgd: the 2020 reference's SGD (see ``sgd``); adamw: torch's AdamW (the CPJKU baselines of 2024/2025),
    # with weight_decay as AdamW's decoupled decay on every parameter.
    optimizer: Literal["sgd", "adamw"] = "sgd"
    # warm_restarts: the 2020 reference's cosine with warm restarts (first_cycle, cycle_mult, snapshots at
    # cycle ends); cosine: linear warm-up over warmup_steps, then one cosine to 0 over the rest of the
    # run's steps, stepped per batch (transformers' get_cosine_schedule_with_warmup, as the baselines).
    schedule: Literal["warm_restarts", "cosine"] = "warm_restarts"
    warmup_steps: int = Field(0, ge=0)
    # When set, the warm-up is this share of the run's optimizer steps instead of warmup_steps: a run
    # scaled down keeps the reference's proportion (e.g. 2,000 of the 20,550 steps of split 25 = 0.0973).
    warmup_fraction: float | None = Field(None, ge=0.0, lt=1.0)
    lr_max: float = Field(0.1, gt=0.0)
    lr_min: float = Field(1e-5, ge=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float | Reference = REFERENCE
    keras_decay: float | Reference = REFERENCE
    sgd: Literal["keras", "torch"] = Field(
        "keras", description="keras: v ← m·v − lr·g, w ← w + v (the reference); torch: torch.optim.SGD"
    )
    batch_size: int = Field(32, ge=1)
    epochs: int | Reference = REFERENCE
    first_cycle: int = Field(2, ge=1)
    cycle_mult: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _check_values(self) -> OptimConfig:
        for key in ("weight_decay", "keras_decay"):
            value = getattr(self, key)
            if value != REFERENCE and value < 0:
                raise ValueError(f"{key} must be ≥ 0, got {value}")
        if self.epochs != REFERENCE and self.epochs < 1:
            raise ValueError(f"epochs must be ≥ 1, got {self.epochs}")
        if self.lr_min > self.lr_max:
            raise ValueError(f"lr_min ({self.lr_min}) must not exceed lr_max ({self.lr_max})")
        return self


class TrainerConfig(_Section):
    """Handed to ``lightning.Trainer``; ``devices``, ``num_nodes`` and ``strategy`` scale a run out."""

    accelerator: str = "auto"
    devices: int | str | list[int] = 1
    num_nodes: int = Field(1, ge=1)
    strategy: str = "auto"
    # "fast": bf16-mixed where the hardware runs it faster (CUDA, or a CPU with AMX / AVX512-BF16),
    # else 32-true; kept as "fast" in the config and resolved by each machine that trains (run_precision).
    precision: Literal["32-true", "bf16-mixed", "16-mixed", "fast"] = "32-true"
    channels_last: bool | Literal["auto"] = "auto"  # auto = on for CUDA, off on CPU
    deterministic: bool = True
    num_workers: int = Field(0, ge=0)
    pin_memory: bool | Literal["auto"] = "auto"  # page-locked batches for asynchronous copies; auto = on for CUDA
    persistent_workers: bool = True  # keep loader workers between epochs (with num_workers > 0)
    prefetch_factor: int = Field(2, ge=1)  # batches each worker reads ahead (with num_workers > 0)
    progress_bar: bool = False  # Lightning's per-step progress bar and model summary (else one line per epoch)
    log_every_n_steps: int = Field(10, ge=1)


class DebugConfig(_Section):
    """For tests of the training machinery; off in real runs."""

    record_batches: bool = Field(False, description="write each rank's clips per epoch and final weight hash to RUN/debug/")
    step_delay: float = Field(0.0, ge=0.0, description="seconds to sleep after each step (to kill a run mid-epoch)")


class TrainConfig(_Section):
    name: str
    task: Literal["1a", "1b", "2024", "2025"] = "1a"
    labels: Literal["scene", "superclass"] = "scene"
    seed: int = 0
    snapshots: int = Field(3, ge=1)
    runs_dir: Path = Path("runs")
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    batch_augment: BatchAugmentConfig = Field(default_factory=BatchAugmentConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    # Start from the final weights of this run (fine-tuning; the 2025 device-specific models start from the
    # general run). The same as `asckit train --init-from RUN`, kept in the config so an experiment can say it.
    init_from: Path | None = None
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    debug: DebugConfig = Field(default_factory=DebugConfig)

    @field_validator("task", mode="before")
    @classmethod
    def _year_as_text(cls, task: Any) -> Any:
        # YAML reads `task: 2024` as a number; the task names are text.
        return str(task) if isinstance(task, int) and not isinstance(task, bool) else task

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not _NAME_RE.match(name):
            raise ValueError("use letters, digits, '.', '_' or '-' (it names the run directory)")
        return name

    @model_validator(mode="after")
    def _check_labels(self) -> TrainConfig:
        if self.task == "1b" and self.labels == "superclass":
            raise ValueError("labels: superclass is for task 1a; 1b labels already are the 3 super-classes: use labels: scene")
        facts = task_facts(self.task)
        tau22 = facts.frontend == "tau22"
        if self.data.split is not None:
            if not tau22:
                raise ValueError(f"data.split: the training splits in % are TAU22's (task 2024 or 2025), not task {self.task}'s; remove it")
            if self.data.split not in facts.train_percentages:
                raise ValueError(
                    f"data.split: {self.data.split} is not a task {self.task} training split; use one of "
                    f"{', '.join(map(str, facts.train_percentages))}"
                )
        if not tau22:
            for key, value in (("batch_augment.roll_seconds", self.batch_augment.roll_seconds), ("batch_augment.dir", self.batch_augment.dir),
                               ("model.devices", self.model.devices)):
                if value:
                    raise ValueError(f"{key} is for the TAU22 tasks (2024, 2025) that train on waves; remove it for task {self.task}")
        elif self.labels != "scene":
            raise ValueError(f"labels: task {self.task} has the ten scenes only; use labels: scene")
        if tau22 and self.batch_augment.spec_augment is True and self.batch_augment.time_mask_max:
            raise ValueError(
                "batch_augment.time_mask_max: the TAU22 frontend masks frequencies only (the baselines' TimeMasking 0); set it to 0"
            )
        if self.optim.schedule == "cosine" and self.snapshots != 1:
            raise ValueError("snapshots: the cosine schedule has no cycle ends to take snapshots at; set snapshots: 1")
        if self.optim.schedule != "cosine" and (self.optim.warmup_steps or self.optim.warmup_fraction):
            raise ValueError("optim.warmup_steps/warmup_fraction belong to optim.schedule: cosine; remove them or set the schedule")
        if self.model.devices and not facts.device_specific:
            raise ValueError(f"model.devices: device-specific models are DCASE 2025's; use task: 2025 (this is task {self.task})")
        return self

    # ---------------------------------------------------------------- derived values
    @property
    def run_dir(self) -> Path:
        return self.runs_dir / self.name

    @property
    def num_classes(self) -> int:
        return len(classes_of(self.prediction_task))

    @property
    def is_tau22(self) -> bool:
        """A TAU22 run (task 2024/2025): waves stored, the CPJKU frontend in the training step."""
        return task_facts(self.task).frontend == "tau22"

    @property
    def prediction_task(self) -> str:
        """The task whose class columns the run's prediction files have (1a super-classes → '1b')."""
        return "1b" if self.task == "1b" or self.labels == "superclass" else "1a"

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------- loading
#: The dotted keys whose values are paths: stored absolute, read as :func:`config_base` says.
PATH_KEYS: tuple[str, ...] = ("runs_dir", "data.root", "data.store", "distill.teacher", "batch_augment.dir.folder", "init_from")


def config_base(config_file: str | os.PathLike) -> Path:
    """The folder that the relative paths written in ``config_file`` are read from: its project.

    That is the folder holding the nearest ``configs`` folder the file lies in (for
    ``/repo/configs/task1a/fcnn.yaml``, ``/repo``), so the checked-in configs' ``data/demo`` means
    ``/repo/data/demo`` whatever the working directory; a file in no ``configs`` folder reads its
    paths from its own folder. The one rule for every YAML file that names a training config's paths.
    """
    folder = _absolute(Path(config_file)).parent
    for candidate in (folder, *folder.parents):
        if candidate.name == "configs":
            return candidate.parent
    return folder


def _paths_from(raw: dict, base: Path) -> None:
    """Make the relative :data:`PATH_KEYS` values of a raw config absolute under ``base``, in place."""
    for key in PATH_KEYS:
        *sections, last = key.split(".")
        node: Any = raw
        for section in sections:
            node = node.get(section) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(last), str) and node[last] and not Path(node[last]).is_absolute():
            node[last] = str(_absolute(base / node[last]))


def load_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read ``path``, apply ``key=value`` overrides (dotted keys, YAML-typed values), validate,
    fill in the reference values, and make paths absolute: those written in the file under its
    project (:func:`config_base`), as is the default ``runs_dir`` (``runs``), those given as overrides
    under the current directory."""
    path = Path(path)
    if not path.is_file():
        raise AsckitError(f"{path}: config file not found; check the path")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise AsckitError(f"{path}: not a text file (not UTF-8); give the YAML config") from None
    except yaml.YAMLError as exc:
        raise AsckitError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}); fix the syntax") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise AsckitError(f"{path}: the config must be a mapping of keys (name, task, data, model, ...)")
    raw.setdefault("runs_dir", str(TrainConfig.model_fields["runs_dir"].default))  # the default too: runs/ of the project
    _paths_from(raw, config_base(path))
    set_keys = apply_overrides(raw, overrides)
    return config_from_dict(raw, source=str(path), set_keys=set_keys)


def apply_overrides(raw: dict, overrides: list[str] | tuple[str, ...]) -> set[str]:
    """Apply ``a.b=value`` overrides to ``raw`` in place; returns the dotted keys set."""
    keys = set()
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise AsckitError(f"--set {item!r}: use --set key=value, e.g. --set model.width=0.25")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text  # not YAML: take it as a plain string
        node = raw
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                parent = ".".join(parts[: depth + 1])
                raise AsckitError(f"--set {key}: {parent} is a value, not a section; fix the key")
            node = child
        node[parts[-1]] = value
        keys.add(key)
    return keys


#: The training config's earlier name of ``batch_augment``, still read (with a note).
LEGACY_BATCH_AUGMENT_KEY = "augment"
_noted_legacy: set[str] = set()


def _rename_legacy_keys(raw: dict, source: str, set_keys: set[str] | frozenset[str]) -> dict:
    """``augment:`` → ``batch_augment:``, with a one-line note per source; both at once is an error."""
    if LEGACY_BATCH_AUGMENT_KEY not in raw:
        return raw
    legacy_from_set = any(k.split(".")[0] == LEGACY_BATCH_AUGMENT_KEY for k in set_keys)
    where = "--set" if legacy_from_set else source
    if "batch_augment" in raw:
        raise AsckitError(
            f"{where}: both `augment` and `batch_augment` are given; `augment` is the old name of "
            "`batch_augment` (the on-the-fly batch augmentation): keep only `batch_augment`"
        )
    if where not in _noted_legacy:
        _noted_legacy.add(where)
        print(
            f"asckit: note: {where}: the training config's `augment` section is now called `batch_augment` "
            "(on-the-fly batch augmentation); rename it (the old name is still read)",
            file=sys.stderr,
        )
    return {("batch_augment" if k == LEGACY_BATCH_AUGMENT_KEY else k): v for k, v in raw.items()}


def config_from_dict(raw: dict, source: str = "config", set_keys: set[str] | frozenset[str] = frozenset()) -> TrainConfig:
    """Validate a config mapping; errors name ``source`` (or ``--set``) and the key."""
    raw = _rename_legacy_keys(raw, source, set_keys)
    try:
        config = TrainConfig.model_validate(raw)
    except ValidationError as exc:
        raise AsckitError(_describe_error(exc, source, set_keys)) from None
    return resolve(config)


def _describe_error(exc: ValidationError, source: str, set_keys: set[str] | frozenset[str]) -> str:
    errors = exc.errors()
    keys = [_error_key(e["loc"]) for e in errors]
    error, key = errors[0], keys[0]
    others = len(set(keys) - {key})  # a union type reports one error per member: count keys, not errors
    more = f" (and {others} more problem(s))" if others else ""
    from_set = any(key == k or key.startswith(k + ".") or k.startswith(key + ".") for k in set_keys)
    where = "--set" if from_set and key else source
    if error["type"] == "extra_forbidden":
        section = _section_of(key.split(".")[:-1])
        valid = ", ".join(section.model_fields) if section else ""
        return f"{where}: unknown key {key!r}; valid keys here: {valid}{more}"
    if error["type"] == "missing":
        return f"{where}: key {key!r} is required; add it to the config{more}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error" and _section_of(key.split(".") if key else []) is not None:
        # A whole-section check (model validator): its message names the keys itself.
        return f"{where}: {key + ': ' if key else ''}{message}{more}"
    return f"{where}: {key}: {message} (got {error.get('input')!r}); fix this value{more}"


def _section_type(annotation: Any) -> type[BaseModel] | None:
    """The section class of a field's annotation: the class itself, or the one section of an optional
    section (``FreqMixStyleConfig | None``); None for a plain value."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    members = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return members[0] if len(members) == 1 else None


def _error_key(loc: tuple) -> str:
    """The dotted config key of a pydantic error location, without union-member tags ('int', ...)."""
    parts: list[str] = []
    node: Any = TrainConfig
    for part in map(str, loc):
        if node is None:
            break
        parts.append(part)
        if part not in node.model_fields:
            break  # an unknown key
        node = _section_type(node.model_fields[part].annotation)
    return ".".join(parts)


def _section_of(parts: list[str]) -> type[BaseModel] | None:
    node: Any = TrainConfig
    for part in parts:
        field = node.model_fields.get(part) if node is not None else None
        if field is None:
            return None
        node = _section_type(field.annotation)
    return node


# --------------------------------------------------------------------- reference values
def resolve(config: TrainConfig) -> TrainConfig:
    """A copy with every ``reference`` value replaced and paths absolute."""
    c = config.model_copy(deep=True)
    model = c.model.name
    if task_facts(c.task).frontend == "tau22":
        _resolve_tau22(c)
    if c.batch_augment.spec_augment == REFERENCE:
        c.batch_augment.spec_augment = model not in _NO_SPEC_AUGMENT_MODELS
    if c.batch_augment.crop_frames == REFERENCE:
        c.batch_augment.crop_frames = task_facts(c.task).crop_frames
    if c.batch_augment.channel_swap == REFERENCE:
        c.batch_augment.channel_swap = c.task == "1b"
    if c.data.balance_classes == REFERENCE:
        c.data.balance_classes = c.task == "1b"
    if c.optim.weight_decay == REFERENCE:
        c.optim.weight_decay = _L2_MODELS.get(model, 0.0)
    if c.optim.keras_decay == REFERENCE:
        c.optim.keras_decay = _KERAS_DECAY_MODELS.get(model, 0.0)
    if c.optim.epochs == REFERENCE:
        c.optim.epochs = 500 if c.task == "1b" else (126 if model == "resnet" else 254)
    _map_paths(c, _absolute)
    return c


#: The CPJKU baselines' values of the settings ``reference`` stands for, on the TAU22 tasks
#: (reference/dcase2025/README.md §4): frequency masking on (48 bins of the power mel), no crop, no
#: channel swap or class balancing, AdamW's weight decay 1e-4, no Keras decay, 150 epochs.
TAU22_REFERENCE = {"spec_augment": True, "crop_frames": None, "channel_swap": False, "balance_classes": False,
                   "weight_decay": 1e-4, "keras_decay": 0.0, "epochs": 150}


def _resolve_tau22(c: TrainConfig) -> None:
    a, o = c.batch_augment, c.optim
    for section, key in ((a, "spec_augment"), (a, "crop_frames"), (a, "channel_swap"), (c.data, "balance_classes"),
                         (o, "weight_decay"), (o, "keras_decay"), (o, "epochs")):
        if getattr(section, key) == REFERENCE:
            setattr(section, key, TAU22_REFERENCE[key])


def _map_paths(config: TrainConfig, change) -> None:
    """Replace every set :data:`PATH_KEYS` value of ``config`` by ``change(value)``, in place."""
    for key in PATH_KEYS:
        *sections, last = key.split(".")
        node: Any = config
        for section in sections:
            node = getattr(node, section, None)
        if node is not None and getattr(node, last) is not None:
            setattr(node, last, change(getattr(node, last)))


def relocated(saved: TrainConfig, run_dir: Path) -> TrainConfig:
    """``saved`` (a run's config, with the absolute paths it was made with) as seen from where the
    run directory is now, so that a moved or renamed project folder still finds its own data.

    When ``run_dir`` is not where ``saved`` says the run was made, the parts the two paths end
    with in common are taken off both; what is left is the old and the new project folder (e.g.
    ``/old/proj`` and ``/new/proj`` for ``runs/demo/fcnn``). Every path of the config under the old
    folder is read under the new one where it exists there (a copied project uses its own copy of
    the data); paths elsewhere (a dataset kept outside the project) stay as they are.
    """
    current = _absolute(run_dir)
    if current == saved.run_dir or current.name != saved.name:
        return saved  # in place, or the run folder itself renamed: its config names the run, keep it
    old_parts, new_parts = saved.run_dir.parts, current.parts
    common = 0
    while common < min(len(old_parts), len(new_parts)) - 1 and old_parts[-1 - common] == new_parts[-1 - common]:
        common += 1
    old_base, new_base = Path(*old_parts[: len(old_parts) - common]), Path(*new_parts[: len(new_parts) - common])

    def moved(path: Path) -> Path:
        if not path.is_relative_to(old_base):
            return path
        candidate = new_base / path.relative_to(old_base)
        return candidate if candidate.exists() else path

    config = saved.model_copy(deep=True)
    _map_paths(config, moved)
    config.runs_dir = current.parent
    return config


def cpu_flags() -> set[str]:
    """The CPU feature flags of this machine (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@dataclass(frozen=True)
class Hardware:
    """What :func:`fast_precision` decides on: the CUDA device (if any) and the CPU's flags."""

    cuda_capability: tuple[int, int] | None  # compute capability of CUDA device 0; None without CUDA
    cpu_flags: frozenset[str]

    @classmethod
    def detect(cls, accelerator: str) -> Hardware:
        capability = None
        if accelerator in ("auto", "gpu", "cuda"):
            import torch

            if torch.cuda.is_available():
                capability = tuple(torch.cuda.get_device_capability(0))
        return cls(capability, frozenset(cpu_flags()))


#: Compute capability from which CUDA GPUs run bf16 natively (Ampere); older ones only emulate it.
CUDA_NATIVE_BF16 = (8, 0)


def fast_precision(accelerator: str, hardware: Hardware | None = None) -> str:
    """The precision ``fast`` stands for with ``accelerator`` on this machine (or on ``hardware``).

    On CUDA (``accelerator`` auto, gpu or cuda, and a CUDA device present): bf16-mixed from
    compute capability 8.0 (A100, H100, RTX 30xx and later), 16-mixed on older GPUs, which
    ``torch.cuda.is_bf16_supported()`` also accepts but only emulate bf16 slowly. On a CPU: bf16
    autocast is 2-3x faster than fp32 for convolutions with AMX or AVX512-BF16
    (reference/platform-notes.md; ``python benchmarks/train.py`` measures it) and slower without, where it stays 32-true.
    """
    hardware = hardware or Hardware.detect(accelerator)
    if accelerator in ("auto", "gpu", "cuda") and hardware.cuda_capability is not None:
        return "bf16-mixed" if hardware.cuda_capability >= CUDA_NATIVE_BF16 else "16-mixed"
    if accelerator in ("auto", "cpu"):
        return "bf16-mixed" if hardware.cpu_flags & {"amx_bf16", "avx512_bf16"} else "32-true"
    return "32-true"  # another accelerator (mps, tpu, ...): no measured reason to leave fp32


def run_precision(trainer: TrainerConfig, hardware: Hardware | None = None) -> str:
    """The Lightning precision a run of ``trainer`` trains with on this machine (or on ``hardware``):
    ``trainer.precision``, with ``fast`` resolved by :func:`fast_precision`."""
    if trainer.precision == "fast":
        return fast_precision(trainer.accelerator, hardware)
    return trainer.precision


def _absolute(path: Path) -> Path:
    # abspath, not resolve(): keep symlinked folders as the user named them.
    return Path(os.path.abspath(path))


def config_differences(saved: TrainConfig, current: TrainConfig) -> list[str]:
    """Dotted keys whose values differ between two resolved configs.

    ``trainer.precision`` compares the values asked for, so ``fast`` matches ``fast`` on any
    machine. A saved concrete precision also matches a ``fast`` that resolves to it here: runs
    made before ``fast`` was kept in the saved config hold the precision it resolved to.
    """
    changed = _diff(saved.model_dump(mode="json"), current.model_dump(mode="json"), "")
    if (
        "trainer.precision" in changed
        and current.trainer.precision == "fast"
        and saved.trainer.precision == run_precision(current.trainer)
    ):
        changed.discard("trainer.precision")
    return sorted(changed)


def _diff(a: Any, b: Any, prefix: str) -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in set(a) | set(b):
            out |= _diff(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return set() if a == b else {prefix.rstrip(".")}


__all__ = [
    "BatchAugmentConfig",
    "DataConfig",
    "DebugConfig",
    "DirConfig",
    "DistillConfig",
    "FreqMixStyleConfig",
    "FreqMixStyleForm",
    "Hardware",
    "KlReduction",
    "ModelConfig",
    "OptimConfig",
    "RESUMABLE_CHANGES",
    "TrainConfig",
    "TrainerConfig",
    "ValidationConfig",
    "apply_overrides",
    "config_differences",
    "config_from_dict",
    "fast_precision",
    "relocated",
    "load_config",
    "PATH_KEYS",
    "config_base",
    "resolve",
    "run_precision",
]
