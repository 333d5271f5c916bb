"""Run an experiment end to end and write its results table beside the paper's figures.

An experiment is a checked-in YAML file (``configs/task1a/table1.yaml``, ``configs/demo.yaml``):
the dataset and the feature stores it needs (with their offline augmentations), the models to
train (a training config plus overrides each), the systems to score (one run, an average
ensemble, or a two-stage 10-class × 3-class fusion) and the published figures to compare with.

The runner is idempotent: a finished run directory is reused, an interrupted one resumed, a
prediction file that exists is not recomputed. Systems are fused by filename
(``asckit.fusion``), scored by ``asckit.evaluate`` and reported as mean ± std over seeds.
``claims`` in the experiment are checked on the measured numbers and reported, whatever they say.

Distillation (``configs/experiments/distill.yaml``): a model with ``teacher: ROW`` is trained with
``distill.teacher`` set to that system's predictions on the student's own training rows (its
``data.kinds``, augmented copies included): each member of the system is predicted with
``predict-split --split train`` and fused as the system fuses them, per seed. ``seeds`` gives the
default of ``--seeds``; ``devices`` adds per-device accuracy columns and ``complexity`` int8 size and
MACs per second (of every network the system averages, snapshots included) to the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from asckit.cli_types import positive_int
from asckit.errors import AsckitError
from asckit.io_utils import atomic_write_text
from asckit.labels import ALL_DEVICES
from asckit.significance import DRAWS
from asckit.table1 import SHORT_HEADINGS as HEADINGS
from asckit.table1 import TABLE1_COLUMNS as COLUMNS

#: Where `asckit reproduce NAME` looks for NAME.yaml, after the path itself.
CONFIG_DIRS = (Path("configs"), Path("configs/task1a"), Path("configs/task1b"))
#: The source checkout this module runs from (src/asckit/reproduce.py → the repository root), so that
#: `asckit reproduce table1` finds the checked-in experiments from any working directory.
REPOSITORY = Path(__file__).resolve().parents[2]


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
    task: Literal["1a", "1b"] = "1a"
    preset: Literal["tiny", "demo", "full"] = "demo"
    seed: int = 0


class DatasetSpec(_Strict):
    root: str
    synth: SynthSpec | None = None
    stores: dict[str, StoreSpec]


class ModelSpec(_Strict):
    config: str
    store: str | None = None  # key in dataset.stores; default: the first one
    set: list[str] = Field(default_factory=list)
    scale_set: dict[str, list[str]] = Field(default_factory=dict, description="extra overrides at one scale")
    teacher: str | None = Field(None, description="row of a system whose train-split predictions are distilled into this model")


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
    paper: list[float | None] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SystemSpec:
        given = [k for k in ("run", "average", "two_stage", "cited") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"system {self.row} needs exactly one of run, average, two_stage, cited (got {given or 'none'})")
        if self.paper is not None and len(self.paper) != len(COLUMNS):
            raise ValueError(f"system {self.row}: paper needs {len(COLUMNS)} figures ({', '.join(COLUMNS)})")
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
    column: Literal["A", "B&C", "s1-s3", "s4-s6", "avg_acc"] = "avg_acc"


class Experiment(_Strict):
    name: str
    title: str
    task: Literal["1a", "1b"] = "1a"
    runs: str = "runs/{name}-{scale}"
    dataset: DatasetSpec
    scales: dict[str, list[str]] = Field(default_factory=lambda: {"full": []})
    models: dict[str, ModelSpec]
    systems: list[SystemSpec]
    claims: list[ClaimSpec] = Field(default_factory=list)
    seeds: int = Field(1, ge=1, description="seeds when --seeds is not given")
    devices: list[str] = Field(default_factory=list, description="extra per-device accuracy columns, e.g. [s4, s5, s6]")
    complexity: bool = Field(False, description="int8 KB and MMACs per second columns")

    def system(self, row: str) -> SystemSpec:
        return next(s for s in self.systems if s.row == row)

    def needed_models(self) -> list[str]:
        """Models the systems use, teachers' members before the students that distil them."""
        used = {m for s in self.systems for m in s.members()}
        for key in list(used):
            teacher = self.models[key].teacher
            if teacher is not None:
                used |= set(self.system(teacher).members())
        ordered = [m for m in self.models if m in used]
        return [m for m in ordered if self.models[m].teacher is None] + [m for m in ordered if self.models[m].teacher]

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
        unknown_devices = sorted(set(self.devices) - set(ALL_DEVICES))
        if unknown_devices:
            raise ValueError(f"devices: {', '.join(unknown_devices)} are not devices ({', '.join(ALL_DEVICES)})")
        for claim in self.claims:
            missing = [r for r in [claim.better, *claim.than] if r not in rows]
            if missing:
                raise ValueError(f"claim {claim.text!r}: unknown row(s) {', '.join(missing)}")
        return self


def find_experiment(name_or_path: str) -> Path:
    """The experiment file: a path, or NAME looked up as configs[/task1a|/task1b]/NAME.yaml."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bases = (Path(), REPOSITORY) if Path.cwd().resolve() != REPOSITORY else (Path(),)
    for base in bases:
        for folder in CONFIG_DIRS:
            candidate = base / folder / f"{name_or_path}.yaml"
            if candidate.is_file():
                return candidate
    raise AsckitError(
        f"{name_or_path}: no such experiment file (looked in {', '.join(str(d) for d in CONFIG_DIRS)} here and in "
        f"{REPOSITORY}); pass the path of its YAML file"
    )


def load_experiment(path: str | Path) -> Experiment:
    path = Path(path)
    if not path.is_file():
        raise AsckitError(f"{path}: experiment file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Experiment.model_validate(raw)
    except yaml.YAMLError as exc:
        raise AsckitError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise AsckitError(f"{path}: {where + ': ' if where else ''}{message}") from None


# ----------------------------------------------------------------------------- running


@dataclass
class Context:
    experiment: Experiment
    root: Path
    scale: str
    runs_dir: Path
    stores: dict[str, Path]
    seeds: list[int]
    progress: bool = True
    rir_root: Path | None = None  # None: asckit.audio.rir.DEFAULT_RIR_ROOT
    log: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        print(f"[reproduce {self.experiment.name}] {message}", flush=True)


def check_measured_rirs(ctx: Context) -> None:
    """Refuse to start when a store's reverb-drc needs the reference's measured RIRs and they are missing."""
    from asckit.audio.rir import download_hint, missing_reference_rirs

    for key, store in ctx.experiment.dataset.stores.items():
        rir_set = store.rir_set.get(ctx.scale)
        uses_reverb = "reverb-drc" in store.augment or "all" in store.augment
        if rir_set is None or not uses_reverb:
            continue
        missing = missing_reference_rirs(rir_set, ctx.rir_root)
        if missing:
            raise AsckitError(
                f"{ctx.rir_root / missing[0]}: store {key!r} at scale {ctx.scale} uses the reference's measured "
                f"{rir_set} RIRs and {len(missing)} are missing; {download_hint(rir_set, ctx.rir_root)} "
                "(or pass --rir-root)"
            )


def prepare_data(ctx: Context) -> None:
    """Synthesise the dataset if asked and missing, extract each store, add its augmentations."""
    from asckit.features.augmented import AugmentOptions, augment_dataset
    from asckit.features.extraction import extract_dataset

    spec = ctx.experiment.dataset
    if not ctx.root.exists():
        if spec.synth is None:
            raise AsckitError(f"{ctx.root}: dataset root not found; pass --root or download it (`asckit data download`)")
        from asckit.data.synth import synthesize

        ctx.say(f"synthesising {ctx.root} (task {spec.synth.task}, preset {spec.synth.preset}, seed {spec.synth.seed})")
        synthesize(ctx.root, task=spec.synth.task, preset=spec.synth.preset, seed=spec.synth.seed, progress=ctx.progress)
    for key, store in spec.stores.items():
        path = ctx.stores[key]
        ctx.say(f"features → {path}")
        extract_dataset(ctx.root, path, scale=store.scale, progress=ctx.progress, front_end=store.front_end)
        if store.augment:
            ctx.say(f"offline augmentation ({', '.join(store.augment)}) → {path}")
            rir_set = store.rir_set.get(ctx.scale)
            options = AugmentOptions(
                seed=store.augment_seed, rir_set=rir_set, rir_root=str(ctx.rir_root) if rir_set else None
            )
            augment_dataset(ctx.root, path, store.augment, options, progress=ctx.progress)


def run_dir_of(ctx: Context, model: str, seed: int) -> Path:
    return ctx.runs_dir / (model if len(ctx.seeds) == 1 else f"{model}-seed{seed}")


def train_and_predict(ctx: Context, model_key: str, seed: int) -> Path:
    """Train (or reuse, or resume) one model and return its evaluate-split prediction file."""
    from asckit.train.config import load_config
    from asckit.train.predict import predict_split
    from asckit.train.run import train
    from asckit.train.run_dir import RunDir

    spec = ctx.experiment.models[model_key]
    run_dir = run_dir_of(ctx, model_key, seed)
    run = RunDir(run_dir)
    predictions = run.predictions("evaluate")
    store_key = spec.store or next(iter(ctx.experiment.dataset.stores))
    overrides = [
        f"name={run_dir.name}",
        f"runs_dir={ctx.runs_dir}",
        f"seed={seed}",
        f"data.root={ctx.root}",
        f"data.store={ctx.stores[store_key]}",
        *ctx.experiment.scales[ctx.scale],
        *spec.set,
        *spec.scale_set.get(ctx.scale, []),
    ]
    config = load_config(spec.config, overrides)
    if spec.teacher is not None:
        teacher = teacher_file(ctx, spec.teacher, seed, config.data.kinds, ctx.stores[store_key])
        overrides.append(f"distill.teacher={teacher}")
        config = load_config(spec.config, overrides)
    if not run.is_finished():
        resume = run.has_config()
        ctx.say(f"{'resuming' if resume else 'training'} {model_key} (seed {seed}) → {run_dir}")
        start = time.perf_counter()
        result = train(config, resume=resume)
        if not result.finished:
            raise AsckitError(f"{run_dir}: training stopped before its last epoch; rerun to resume it")
        ctx.say(f"trained {model_key} in {time.perf_counter() - start:.0f} s")
    else:
        _check_finished_run(run_dir, config)
        if predictions.is_file():
            return predictions
    predict_split(run_dir, "evaluate", progress=False)
    return predictions


def teacher_file(ctx: Context, row: str, seed: int, kinds: list[str], store: Path) -> Path:
    """System ``row``'s fused predictions on the training rows of ``kinds`` in ``store`` (one seed)."""
    from asckit.prediction_file import write_provenance
    from asckit.predictions import write_predictions
    from asckit.train.predict import predict_split

    system = ctx.experiment.system(row)
    suffix = "" if len(ctx.seeds) == 1 else f"-seed{seed}"
    kinds_slug = "+".join(kinds)
    folder = ctx.runs_dir / "teachers"
    files = {}
    for member in system.members():
        path = folder / f"{member}{suffix}-train-{kinds_slug}.tsv"
        if not path.is_file():
            ctx.say(f"teacher member {member} (seed {seed}) on the training rows ({kinds_slug}) → {path}")
            predict_split(run_dir_of(ctx, member, seed), "train", store_path=store, out=path, progress=False, kinds=list(kinds))
        files[member] = path
    out = folder / f"row{_slug(system)}{suffix}-train-{kinds_slug}.tsv"
    if not out.is_file():
        preds = system_predictions(system, files)
        write_predictions(out, preds.filenames, preds.probs, preds.task)
        write_provenance(out, {"made_by": f"asckit reproduce {ctx.experiment.name}: system {row} ({preds.source})",
                               "inputs": [str(files[m]) for m in system.members()]})
    return out


def _slug(system: SystemSpec) -> str:
    return "".join(ch for ch in system.row if ch.isalnum()) or system.name


def _check_finished_run(run_dir: Path, config) -> None:
    """A finished run is reused only when it was trained with what the experiment asks for now."""
    from asckit.train.config import RESUMABLE_CHANGES, config_differences
    from asckit.train.run_dir import RunDir

    # Changes that only say how training ran are fine; more epochs than it ran are not.
    ignored = RESUMABLE_CHANGES - {"optim.epochs"}
    changed = [k for k in config_differences(RunDir(run_dir).load_config(), config) if k not in ignored]
    if changed:
        raise AsckitError(
            f"{run_dir}: this finished run was trained with other values of {', '.join(changed)} than the "
            f"experiment now asks for; delete {run_dir} to retrain it, or pass --runs-dir to keep both"
        )


def system_predictions(system: SystemSpec, files: dict[str, Path]):
    """The fused Predictions of one system for one seed (rows joined by filename)."""
    from asckit.fusion import fuse_average, fuse_two_stage
    from asckit.predictions import read_predictions

    def ensemble(keys: list[str]):
        members = [read_predictions(files[k]) for k in keys]
        return members[0] if len(members) == 1 else fuse_average(members)

    if system.run:
        return ensemble([system.run])
    if system.average:
        return ensemble(system.average)
    return fuse_two_stage(ensemble(system.two_stage.ten), ensemble(system.two_stage.three))


def score_system(ctx: Context, system: SystemSpec, seed: int, files: dict[str, Path]):
    """(metrics, per-clip scores) of one system for one seed on the evaluate split."""
    from asckit.data.tau import SPLIT_FILES, load_split
    from asckit.evaluate import evaluate
    from asckit.predictions import write_predictions
    from asckit.significance import ClipScores

    slug = _slug(system)
    suffix = "" if len(ctx.seeds) == 1 else f"-seed{seed}"
    out = ctx.runs_dir / "systems" / f"row{slug}{suffix}.tsv"
    preds = system_predictions(system, files)
    write_predictions(out, preds.filenames, preds.probs, preds.task)
    metrics = evaluate(out, ctx.root, "evaluate", out_dir=out.with_suffix(""), title=f"{system.row} {system.name}")
    truth_source = str(ctx.root / "evaluation_setup" / SPLIT_FILES["evaluate"])
    return metrics, ClipScores.from_ground_truth(load_split(ctx.root, "evaluate"), preds, truth_source)


def reproduce(
    experiment_path: str | Path,
    root: str | Path | None = None,
    scale: str | None = None,
    seeds: int | None = None,
    runs_dir: str | Path | None = None,
    progress: bool = True,
    rir_root: str | Path | None = None,
) -> Path:
    """Run the experiment and write ``<runs>/<name>.md`` (and ``results.json``); returns the table path.

    ``rir_root`` holds the reference's measured RIRs (``asckit data download rirs``; default
    ``asckit.audio.rir.DEFAULT_RIR_ROOT``), needed by stores whose ``rir_set`` names this scale;
    without them the run refuses to start.
    """
    from asckit.audio.rir import DEFAULT_RIR_ROOT
    from asckit.metrics import table1_row

    experiment = load_experiment(experiment_path)
    scale = scale or next(iter(experiment.scales))
    if scale not in experiment.scales:
        raise AsckitError(f"{experiment_path}: scale {scale!r} is not defined (it has {', '.join(experiment.scales)})")
    seeds = experiment.seeds if seeds is None else seeds
    if seeds < 1:
        raise AsckitError("--seeds must be at least 1")
    root = Path(root or experiment.dataset.root)
    runs = Path(runs_dir) if runs_dir else Path(experiment.runs.format(name=experiment.name, scale=scale))
    stores = {k: Path(s.path.format(root_name=root.name)) for k, s in experiment.dataset.stores.items()}
    ctx = Context(experiment, root, scale, runs, stores, list(range(seeds)), progress, Path(rir_root or DEFAULT_RIR_ROOT))
    check_measured_rirs(ctx)
    started = time.perf_counter()
    prepare_data(ctx)

    needed = experiment.needed_models()
    rows: dict[str, list[dict]] = {s.row: [] for s in experiment.systems}
    clips: dict[str, list] = {s.row: [] for s in experiment.systems}
    for seed in ctx.seeds:
        files = {m: train_and_predict(ctx, m, seed) for m in needed}
        for system in experiment.systems:
            if system.cited is None:
                metrics, scores = score_system(ctx, system, seed, files)
                rows[system.row].append({**table1_row(metrics), **device_columns(metrics, experiment.devices)})
                clips[system.row].append(scores)
    claims = [claim_verdict(claim, rows, clips) for claim in experiment.claims]
    results = {
        "experiment": experiment.name,
        "scale": scale,
        "root": str(root),
        "seeds": ctx.seeds,
        "rows": {row: values for row, values in rows.items() if values},
        "claims": claims,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if experiment.complexity:
        results["complexity"] = {s.row: system_complexity(ctx, s) for s in experiment.systems if not s.cited}
    runs.mkdir(parents=True, exist_ok=True)
    atomic_write_text(runs / "results.json", json.dumps(results, indent=2) + "\n")
    table = format_table(ctx, rows, claims, results.get("complexity"))
    path = runs / f"{experiment.name}.md"
    atomic_write_text(path, table)
    print(table)
    return path


def device_columns(metrics: dict, devices: list[str]) -> dict:
    """Macro accuracy on each of ``devices`` (None where the split has none of its clips)."""
    return {d: (metrics["per_device"][d]["accuracy"] if d in metrics["per_device"] else None) for d in devices}


def system_complexity(ctx: Context, system: SystemSpec) -> dict:
    """int8 KB (DCASE 2020 count), parameters and MACs per second of every network the system
    averages (each member's snapshots); MACs per second of audio counted on a 10 s clip of the store's
    features (``asckit.tasks.MACS_CLIP_SECONDS``), whatever the clip length of the experiment's data."""
    import torch

    from asckit.features.store import FeatureStore
    from asckit.models import build
    from asckit.models.counting import complexity, macs_per_second
    from asckit.tasks import MACS_CLIP_SECONDS, macs_input_shape, stored_to_input_shape
    from asckit.train.run_dir import RunDir

    total = {"kb_int8": 0.0, "params": 0, "macs_per_second": 0.0}
    for member in system.members():
        config = RunDir(run_dir_of(ctx, member, ctx.seeds[0])).load_config()
        store = FeatureStore.open(config.data.store)
        shape = stored_to_input_shape(store.shape)
        with torch.device("meta"):
            model = build(config.model.name, num_classes=config.num_classes, in_channels=shape[0],
                          width=config.model.width, **config.model.params)
        counts = complexity(model, macs_input_shape(store.settings))
        networks = config.snapshots
        total["kb_int8"] += networks * counts.size_kb(8)
        total["params"] += networks * counts.params
        total["macs_per_second"] += networks * macs_per_second(counts, MACS_CLIP_SECONDS)
    return total


# ----------------------------------------------------------------------------- the table


def _cell(values: list[float | None], column: str) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "–"
    factor, digits = (1.0, 3) if column == "val_loss" else (100.0, 1)
    mean = factor * statistics.fmean(present)
    if len(present) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {factor * statistics.stdev(present):.{digits}f}"


def _paper_cell(value: float | None, column: str) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if column == "val_loss" else f"{value:.1f}"


def format_table(
    ctx: Context, rows: dict[str, list[dict]], claims: list[str] | None = None, complexity: dict | None = None
) -> str:
    """Markdown: our rows with the paper's figure in brackets, then notes and the claims."""
    from asckit.data.tau import describe_version
    from asckit.train.run_dir import RunDir

    experiment = ctx.experiment
    devices = list(experiment.devices)
    extra = [f"{d} acc" for d in devices] + (["int8 KB", "params", "MMACs/s"] if complexity is not None else [])
    head = "| Idx | System | Recipe | " + " | ".join([*(HEADINGS[c] for c in COLUMNS), *extra]) + " |"
    lines = [
        f"# {experiment.title}: asckit ({ctx.scale} scale)",
        "",
        "Each cell: asckit's measured value (the paper's figure in brackets). Accuracies in %, macro over",
        "classes; group columns are the mean of their devices' accuracies, as the paper's; val loss is",
        "the log loss on the evaluate split (probabilities renormalised).",
        "",
        head,
        "|" + "---|" * (3 + len(COLUMNS) + len(extra)),
    ]
    for system in experiment.systems:
        values = rows[system.row]
        cells = []
        for i, column in enumerate(COLUMNS):
            ours = "cited" if system.cited else _cell([v[column] for v in values], column)
            paper = _paper_cell(system.paper[i], column) if system.paper else "–"
            cells.append(f"{ours} ({paper})")
        for device in devices:
            cells.append("cited" if system.cited else _cell([v[device] for v in values], device))
        if complexity is not None:
            c = complexity.get(system.row)
            cells += ["–"] * 3 if c is None else [f"{c['kb_int8']:,.1f}", f"{c['params']:,}", f"{c['macs_per_second'] / 1e6:,.2f}"]
        lines.append(f"| {system.row} | {system.name} | {system.recipe} | " + " | ".join(cells) + " |")

    lines += ["", "## Notes", ""]
    lines.append(f"- Dataset: `{ctx.root}`: {describe_version(ctx.root)}; scored on its fold1 evaluate split.")
    lines.append(f"- Seeds: {', '.join(str(s) for s in ctx.seeds)} (mean ± sample std where more than one).")
    lines += rir_bank_notes(ctx)
    used = sorted({m for s in experiment.systems for m in s.members()})
    for model in used:
        config = RunDir(run_dir_of(ctx, model, ctx.seeds[0])).load_config()
        params = f" {config.model.params}" if config.model.params else ""
        lines.append(
            f"- `{model}`: {config.model.name}{params} width {config.model.width:g}, "
            f"{config.num_classes} classes, {config.optim.epochs} epochs, snapshots {config.snapshots}, "
            f"kinds {', '.join(config.data.kinds)}, precision {config.trainer.precision}"
            + (f", distilled from row {experiment.models[model].teacher} (τ {config.distill.temperature:g}, "
               f"λ {config.distill.label_weight:g})" if config.distill.teacher else "")
            + (f", Freq-MixStyle p {fms.p:g} α {fms.alpha:g}" if (fms := config.batch_augment.freq_mixstyle) else "")
        )
    if complexity is not None:
        lines.append(
            "- int8 KB (DCASE 2020 count: parameters + BN statistics, 1 byte each), parameters and MACs per second "
            "of audio are of every network a system averages (members × snapshots); the DCASE 2022-2025 limits "
            "are 128,000 parameters and 30 M MACs per second (`asckit models`)."
        )
    for system in experiment.systems:
        if system.cited:
            lines.append(f"- Row {system.row} is the published figure only: {system.cited}.")
    if any(system.two_stage for system in experiment.systems):
        lines.append(
            "- Fusion joins prediction files by filename. The paper's two-stage 81.9 % came from fusing "
            "misaligned rows; aligned, its own scores give about 79.4 % (docs/reference-code.md §4)."
        )
    if claims:
        lines += [
            "",
            "## The paper's claims, checked on these numbers",
            "",
            "Each difference comes with its 95 % paired-bootstrap interval over the evaluate clips",
            f"({DRAWS} resamples, `asckit.significance`): \"reproduced\" when every interval lies above zero,",
            "\"NOT reproduced\" when one lies below zero, \"within noise\" when one reaches zero (whichever way it leans).",
            "The interval covers which clips were drawn, not how training went: `--seeds N` averages N",
            "trainings per model, and a claim is only settled when it holds across seeds too.",
            "",
        ]
        lines += [f"- {claim}" for claim in claims]
    lines.append("")
    return "\n".join(lines)


def rir_bank_notes(ctx: Context) -> list[str]:
    """One note per store with reverb-drc rows: which RIR bank they were made with."""
    from asckit.audio.rir import describe_bank
    from asckit.features.augmented import kind_record

    notes = []
    for key, path in ctx.stores.items():
        record = kind_record(path, "reverb-drc")
        if record is not None:
            notes.append(f"- reverb-drc rows of store `{key}` (`{path}`): {describe_bank(record)}.")
    return notes


def claim_verdict(claim: ClaimSpec, rows: dict[str, list[dict]], clips: dict[str, list] | None = None) -> str:
    """The claim, the measured values and the verdict; with per-clip scores, a paired bootstrap too."""
    from asckit.significance import paired_difference, verdict

    def mean(row: str) -> float | None:
        values = [v[claim.column] for v in rows.get(row, []) if v[claim.column] is not None]
        return statistics.fmean(values) if values else None

    better = mean(claim.better)
    others = {row: mean(row) for row in claim.than}
    if better is None or any(v is None for v in others.values()):
        return f"{claim.text}: not measured"
    if clips and clips.get(claim.better) and all(clips.get(row) for row in claim.than):
        differences = {row: paired_difference(clips[claim.better], clips[row], claim.column) for row in claim.than}
        against = "; ".join(f"{row} {100 * others[row]:.1f} ({d.describe()})" for row, d in differences.items())
        return (
            f"{claim.text} ({claim.column}: {claim.better} {100 * better:.1f} vs {against}): "
            f"{verdict(list(differences.values()))}"
        )
    holds = all(better > v for v in others.values())
    against = ", ".join(f"{row} {100 * v:.1f}" for row, v in others.items())
    return f"{claim.text} ({claim.column}: {claim.better} {100 * better:.1f} vs {against}): " + (
        "reproduced" if holds else "NOT reproduced"
    )


# ----------------------------------------------------------------------------- CLI


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="run an experiment (e.g. the paper's Table 1) end to end and write its table",
        description="Train what is missing (finished runs are reused, interrupted ones resumed), predict the "
        "evaluate split, fuse by filename, score, and write <runs>/<name>.md with the paper's figures beside ours.",
    )
    parser.add_argument("experiment", help="experiment name (table1, demo, ...) or path to its YAML")
    parser.add_argument("--root", help="dataset root (default: the experiment's; synthesised when missing)")
    parser.add_argument("--scale", help="a scale defined by the experiment (table1: demo or full)")
    parser.add_argument(
        "--seeds", type=positive_int, default=None,
        help="train every model with seeds 0..N-1; report mean ± std (default: the experiment's seeds, else 1)",
    )
    parser.add_argument("--runs-dir", help="where runs go (default: the experiment's runs/<name>-<scale>)")
    parser.add_argument("--rir-root", default=None,
                        help="the reference's measured RIRs, for scales that use them (table1 --scale full); "
                        "fetch with `asckit data download rirs --root DIR` (default data/rirs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    path = reproduce(
        find_experiment(args.experiment),
        root=args.root,
        scale=args.scale,
        seeds=args.seeds,
        runs_dir=args.runs_dir,
        progress=not args.quiet,
        rir_root=args.rir_root,
    )
    print(f"table written to {path}")
    return 0
