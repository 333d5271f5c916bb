"""The experiment file: its schema, where ``asckit reproduce NAME`` finds it, and how it is loaded.

An experiment is a checked-in YAML file (``configs/task1a/table1.yaml``, ``configs/demo.yaml``):
the dataset and the feature stores it needs (with their offline augmentations), the models to
train (a training config plus overrides each), the systems to score (one run, an average
ensemble, or a two-stage 10-class × 3-class fusion), the claims to check and the published figures
to compare with. ``Experiment`` validates it (pydantic; every reference between its parts checked).

`asckit reproduce NAME` runs the experiment NAME shipped with asckit (``SHIPPED_CONFIGS``: the
repository's ``configs/``, package data in an install); a path runs that file. Model configs are read
from the experiment's project (``project_of``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

import asckit
from asckit.core.errors import AsckitError
from asckit.labels import ALL_DEVICES
from asckit.scoring.table1_columns import table_columns

#: Tasks an experiment may be of: the 2020 subtasks and the TAU22 protocols of 2024 and 2025.
ExperimentTask = Literal["1a", "1b", "2024", "2025"]

#: The experiments and training configs shipped with asckit: the repository's ``configs/`` folder, which
#: the package holds as ``asckit/configs`` (a link to ../../configs in a clone, package data in a wheel).
SHIPPED_CONFIGS = (Path(asckit.__file__).parent / "configs").resolve()
#: The folders of ``SHIPPED_CONFIGS`` where `asckit reproduce NAME` looks for the experiment NAME.yaml.
EXPERIMENT_DIRS = (".", "task1a", "task1b", "experiments", "dcase2024", "dcase2025")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreSpec(_Strict):
    path: str = Field(description="store folder; {root_name} is the dataset folder's name")
    scale: bool = True
    augment: list[str] = Field(default_factory=list, description="offline augmentation kinds to add")
    augment_seed: int = 0
    front_end: dict = Field(default_factory=dict, description="log-mel settings changed for an ablation, e.g. {n_mels: 256}")
    rir_set: dict[str, Literal["mardy", "2003", "reverb"]] = Field(
        default_factory=dict,
        description="reverb-drc with the reference's measured RIR set at these scales, e.g. {full: mardy}; "
        "other scales use the simulated bank",
    )


class SynthSpec(_Strict):
    task: ExperimentTask = "1a"
    preset: Literal["tiny", "demo", "full"] = "demo"
    seed: int = 0


class DatasetSpec(_Strict):
    root: str
    synth: SynthSpec | None = None
    stores: dict[str, StoreSpec]


class ModelSpec(_Strict):
    config: str  # relative: to the experiment's project (``project_of``), made absolute by ``load_experiment``
    _written: str = PrivateAttr("")  # ``config`` as the experiment wrote it
    store: str | None = None  # key in dataset.stores; default: the first one
    set: list[str] = Field(default_factory=list)
    scale_set: dict[str, list[str]] = Field(default_factory=dict, description="extra overrides at one scale")
    teacher: str | None = Field(None, description="row of a system whose train-split predictions are distilled into this model")
    init_from: str | None = Field(None, description="model whose run (same seed) this one starts from (2025 device-specific models)")


class TwoStageSpec(_Strict):
    ten: list[str]
    three: list[str]


class SystemSpec(_Strict):
    row: str
    name: str
    recipe: str = ""
    run: str | None = None
    average: list[str] | None = None
    two_stage: TwoStageSpec | None = None
    cited: str | None = None  # a published figure only, not run here
    paper: list[float | None] | None = None  # the published figures, one per table column (spec.table_columns)

    @model_validator(mode="after")
    def _one_kind(self) -> SystemSpec:
        given = [k for k in ("run", "average", "two_stage", "cited") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"system {self.row} needs exactly one of run, average, two_stage, cited (got {given or 'none'})")
        return self

    def members(self) -> list[str]:
        if self.run:
            return [self.run]
        if self.average:
            return list(self.average)
        if self.two_stage:
            return list(self.two_stage.ten) + list(self.two_stage.three)
        return []


class ClaimSpec(_Strict):
    text: str
    better: str
    than: list[str]
    column: str = "avg_acc"  # an accuracy column of the experiment's table (Table 1's, or the 2024/2025 ones)


class Experiment(_Strict):
    name: str
    title: str
    task: ExperimentTask = "1a"
    runs: str = "runs/{name}-{scale}"
    dataset: DatasetSpec
    scales: dict[str, list[str]] = Field(default_factory=lambda: {"full": []})
    models: dict[str, ModelSpec]
    systems: list[SystemSpec]
    claims: list[ClaimSpec] = Field(default_factory=list)
    seeds: int = Field(1, ge=1, description="seeds when --seeds is not given")
    devices: list[str] = Field(default_factory=list, description="extra per-device accuracy columns, e.g. [s4, s5, s6]")
    complexity: bool = Field(False, description="int8 KB and MMACs per second columns")
    jobs: int = Field(1, ge=1, description="trainings run at once when --jobs is not given (each with cores / jobs threads)")

    def system(self, row: str) -> SystemSpec:
        return next(s for s in self.systems if s.row == row)

    def needed_models(self) -> list[str]:
        """Models the systems use, teachers' members before the students that distil them and runs before
        the models that start from them."""
        used = {m for s in self.systems for m in s.members()}
        for key in list(used):
            teacher = self.models[key].teacher
            if teacher is not None:
                used |= set(self.system(teacher).members())
            if self.models[key].init_from is not None:
                used.add(self.models[key].init_from)
        ordered = [m for m in self.models if m in used]
        return [m for m in ordered if not self.waits(m)] + [m for m in ordered if self.waits(m)]

    def waits(self, key: str) -> bool:
        """Whether a model needs another one trained first (a teacher, or the run it starts from)."""
        return self.models[key].teacher is not None or self.models[key].init_from is not None

    @property
    def columns(self) -> tuple[str, ...]:
        """The result columns of the experiment's table (``asckit.scoring.table1_columns.table_columns``)."""
        return table_columns(self.task)

    @model_validator(mode="after")
    def _references_exist(self) -> Experiment:
        for key, model in self.models.items():
            if model.store is not None and model.store not in self.dataset.stores:
                raise ValueError(f"model {key}: store {model.store!r} is not in dataset.stores")
        rows = {s.row for s in self.systems}
        for system in self.systems:
            unknown = [m for m in system.members() if m not in self.models]
            if unknown:
                raise ValueError(f"system {system.row}: unknown model(s) {', '.join(unknown)}")
        for key, model in self.models.items():
            if model.teacher is None:
                continue
            if model.teacher not in rows:
                raise ValueError(f"model {key}: teacher {model.teacher!r} is not a system row")
            if any(self.models[m].teacher for m in self.system(model.teacher).members()):
                raise ValueError(f"model {key}: teacher {model.teacher!r} has a distilled member; distil from trained models only")
        for key, model in self.models.items():
            if model.init_from is not None and (model.init_from not in self.models or self.waits(model.init_from)):
                raise ValueError(f"model {key}: init_from {model.init_from!r} must be a model of the experiment that waits for none")
        columns = self.columns
        for system in self.systems:
            if system.paper is not None and len(system.paper) != len(columns):
                raise ValueError(f"system {system.row}: paper needs {len(columns)} figures ({', '.join(columns)})")
        unknown_devices = sorted(set(self.devices) - set(ALL_DEVICES))
        if unknown_devices:
            raise ValueError(f"devices: {', '.join(unknown_devices)} are not devices ({', '.join(ALL_DEVICES)})")
        for claim in self.claims:
            if claim.column not in columns or claim.column == "val_loss":
                raise ValueError(f"claim {claim.text!r}: column {claim.column!r} is not an accuracy column ({', '.join(columns)})")
            missing = [r for r in [claim.better, *claim.than] if r not in rows]
            if missing:
                raise ValueError(f"claim {claim.text!r}: unknown row(s) {', '.join(missing)}")
        return self


def shipped_experiments() -> dict[str, Path]:
    """NAME → file of every experiment shipped with asckit (a YAML file with ``systems``, in ``EXPERIMENT_DIRS``)."""
    found: dict[str, Path] = {}
    for folder in EXPERIMENT_DIRS:
        for path in sorted((SHIPPED_CONFIGS / folder).glob("*.yaml")):
            try:
                raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue
            if isinstance(raw, dict) and "systems" in raw:
                found.setdefault(path.stem, path)
    return found


def is_short_name(name_or_path: str) -> bool:
    """``table1`` is a name; ``./table1``, ``configs/table1.yaml`` and ``table1.yaml`` are paths."""
    return "/" not in name_or_path and os.sep not in name_or_path and Path(name_or_path).suffix not in (".yaml", ".yml")


def find_experiment(name_or_path: str) -> Path:
    """The experiment file. A path (with a folder or a .yaml suffix) is used as given; a short name means
    the experiment of that name shipped with asckit, and one stderr line says which file that is, and
    which file of the working directory with that name it does not use."""
    if not is_short_name(name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise AsckitError(f"{path}: experiment file not found; give the path of an experiment YAML or the name of a shipped one")
        return path
    shipped = shipped_experiments()
    if not shipped:
        raise AsckitError(
            f"{name_or_path}: this install has no shipped experiments ({SHIPPED_CONFIGS} is missing); "
            "pass the path of the experiment's YAML file from a clone of the asckit repository"
        )
    if name_or_path not in shipped:
        raise AsckitError(
            f"{name_or_path}: no experiment of that name ships with asckit (shipped: {', '.join(shipped)}); "
            "for your own experiment pass the path of its YAML file"
        )
    path = shipped[name_or_path]
    lookalikes = [Path(name_or_path)] + [Path("configs") / folder / f"{name_or_path}.yaml" for folder in EXPERIMENT_DIRS]
    unused = [str(p) for p in dict.fromkeys(Path(os.path.normpath(p)) for p in lookalikes) if p.is_file() and p.resolve() != path]
    print(
        f"asckit: note: {name_or_path} is the experiment shipped with asckit: {path}"
        + (f" (not {', '.join(unused)} here: pass a path to run that)" if unused else ""),
        file=sys.stderr,
    )
    return path


def project_of(experiment_file: str | Path) -> Path:
    """The folder an experiment's relative model-config paths are read from: the one holding the
    ``configs/`` folder the experiment file is in (a clone's root; the installed package for the
    shipped ones), else the experiment file's own folder."""
    path = Path(os.path.abspath(experiment_file))
    return next((parent.parent for parent in path.parents if parent.name == "configs"), path.parent)


def load_experiment(path: str | Path) -> Experiment:
    """The validated experiment, its relative model-config paths made absolute (see ``project_of``)."""
    path = Path(path)
    if not path.is_file():
        raise AsckitError(f"{path}: experiment file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise AsckitError(f"{path}: holds a YAML {type(raw).__name__}, not an experiment; an experiment file is a mapping "
                              "of name, title, dataset, models and systems (see `asckit reproduce demo --dry-run` for a shipped one)")
        experiment = Experiment.model_validate(raw)
    except yaml.YAMLError as exc:
        raise AsckitError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise AsckitError(f"{path}: {where + ': ' if where else ''}{message}") from None
    project = project_of(path)
    for model in experiment.models.values():
        model._written, written = model.config, Path(model.config).expanduser()
        model.config = str(written if written.is_absolute() else project / written)
    return experiment
