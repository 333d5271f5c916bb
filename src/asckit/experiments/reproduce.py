"""Run an experiment end to end and write its results table beside the paper's figures.

The experiment (``asckit.experiments.spec``: dataset, stores, models, systems, claims) is planned
(``plan``: every path resolved, every model config validated), its data made, its models trained
and predicted, its systems fused and scored per seed; then what the table needs is read from disk
(``read_table_facts``) and the table formatted from that data (``asckit.experiments.table``).

The runner is idempotent: a finished run directory is reused, an interrupted one resumed, a
prediction file that exists is not recomputed. Systems are fused by filename
(``asckit.fusion``), scored by ``asckit.scoring.evaluate`` and reported as mean ± std over seeds.
``claims`` in the experiment are checked on the measured numbers and reported, whatever they say.

Model configs are read from the experiment's project (``asckit.experiments.spec.project_of``) and
all validated before any data is made; data, stores and runs go under the working directory.

Distillation (``configs/experiments/distill.yaml``): a model with ``teacher: ROW`` is trained with
``distill.teacher`` set to that system's predictions on the student's own training rows (its
``data.kinds``, augmented copies included): each member of the system is predicted with
``predict-split --split train`` and fused as the system fuses them, per seed. ``seeds`` gives the
default of ``--seeds``; ``devices`` adds per-device accuracy columns and ``complexity`` int8 size and
MACs per second (of every network the system averages, snapshots included) to the table.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_write_text
from asckit.experiments.spec import SHIPPED_CONFIGS, Experiment, SystemSpec, load_experiment, project_of
from asckit.experiments.table import ModelFacts, TableFacts, claim_verdict, format_table


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
    jobs: int = 1
    log: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        print(f"[reproduce {self.experiment.name}] {message}", flush=True)


def check_dataset_root(ctx: Context) -> None:
    """Refuse to start when the dataset root is missing and the experiment cannot synthesise it."""
    if not ctx.root.exists() and ctx.experiment.dataset.synth is None:
        raise AsckitError(f"{ctx.root}: dataset root not found; pass --root or download it (`asckit data download`)")


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


def store_of(ctx: Context, model_key: str) -> str:
    """The key of the store a model trains on (its ``store``, else the experiment's first)."""
    return ctx.experiment.models[model_key].store or next(iter(ctx.experiment.dataset.stores))


def model_overrides(ctx: Context, model_key: str, seed: int) -> list[str]:
    """The ``--set`` values that make a model config this experiment's model: its run, seed, data (the
    paths absolute: they are the working directory's, whatever the config's own are relative to), the
    scale's settings, then the model's own."""
    spec = ctx.experiment.models[model_key]
    return [
        f"name={run_dir_of(ctx, model_key, seed).name}",
        f"runs_dir={ctx.runs_dir.absolute()}",
        f"seed={seed}",
        f"data.root={ctx.root.absolute()}",
        f"data.store={ctx.stores[store_of(ctx, model_key)].absolute()}",
        *ctx.experiment.scales[ctx.scale],
        *spec.set,
        *spec.scale_set.get(ctx.scale, []),
    ]


def check_models(ctx: Context, experiment_path: str | Path) -> dict:
    """Load and validate every model config of the experiment with its overrides (key → TrainConfig),
    so that a broken one stops the run before any data is synthesised, extracted or augmented."""
    from asckit.train.config import load_config

    configs = {}
    for key, spec in ctx.experiment.models.items():
        path = Path(spec.config)
        if not path.is_file():
            hint = ""
            if not Path(spec._written).expanduser().is_absolute():
                shipped = SHIPPED_CONFIGS.parent / spec._written
                hint = f" (an experiment's relative config paths are read from {project_of(experiment_path)})" + (
                    f"; asckit ships {shipped}: write that path in the experiment" if shipped.is_file() else "")
            raise AsckitError(f"{experiment_path}: model {key}: config {path} not found{hint}")
        try:
            configs[key] = load_config(path, model_overrides(ctx, key, ctx.seeds[0]))
        except AsckitError as exc:
            message = str(exc)
            if message.startswith("--set"):  # the values the experiment sets, not the user's command line
                message = "its scale and set values" + message.removeprefix("--set")
            raise AsckitError(f"{experiment_path}: model {key}: {message}") from None
    return configs


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
    store_key = store_of(ctx, model_key)
    overrides = model_overrides(ctx, model_key, seed)
    config = load_config(spec.config, overrides)
    if spec.teacher is not None:
        teacher = teacher_file(ctx, spec.teacher, seed, config.data.kinds, ctx.stores[store_key])
        overrides.append(f"distill.teacher={teacher.absolute()}")
        config = load_config(spec.config, overrides)
    if spec.init_from is not None:
        overrides.append(f"init_from={run_dir_of(ctx, spec.init_from, seed).absolute()}")
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


def train_all(ctx: Context, models: list[str], seed: int) -> dict[str, Path]:
    """``train_and_predict`` for each model; with ``ctx.jobs`` > 1 the models without a teacher train
    ``jobs`` at a time, each in its own process with ``cores // jobs`` threads.

    Why: a narrow model's step on a CPU is partly single-threaded (Python, Lightning, batch
    augmentation), so two one-thread trainings finish sooner than the same two one after another with
    two threads each (README "Measured"). Distilled models wait for their teachers, so they train
    after the others, one at a time. A run's weights do not depend on how many run at once.
    """
    if ctx.jobs == 1:
        return {m: train_and_predict(ctx, m, seed) for m in models}
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    independent = [m for m in models if not ctx.experiment.waits(m)]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = max(1, cores // ctx.jobs)
    files: dict[str, Path] = {}
    # spawn: a forked child of a process that has used OpenMP can hang in its first parallel region
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(ctx.jobs, mp_context=context, initializer=_quiet_interrupt_when_idle) as pool:
        try:
            futures = {m: pool.submit(_train_in_worker, ctx, m, seed, threads) for m in independent}
            for m, future in futures.items():
                files[m] = future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    for m in models:
        if m not in files:
            files[m] = train_and_predict(ctx, m, seed)
    return {m: files[m] for m in models}


_WORKER_BUSY = False


def _quiet_interrupt_when_idle() -> None:
    """Ctrl-C reaches the workers too: a busy one stops its training as ``asckit train`` does (the run
    stays resumable); an idle one leaves without a traceback. The parent says "interrupted" once."""
    import os
    import signal

    def on_interrupt(_signum, _frame):
        if _WORKER_BUSY:
            raise KeyboardInterrupt
        os._exit(130)

    signal.signal(signal.SIGINT, on_interrupt)


def _train_in_worker(ctx: Context, model_key: str, seed: int, threads: int) -> Path:
    """One ``train_and_predict`` in a worker process of ``train_all``, with ``threads`` torch threads."""
    global _WORKER_BUSY
    import torch

    torch.set_num_threads(threads)
    _WORKER_BUSY = True
    try:
        return train_and_predict(ctx, model_key, seed)
    finally:
        _WORKER_BUSY = False


def teacher_file(ctx: Context, row: str, seed: int, kinds: list[str], store: Path) -> Path:
    """System ``row``'s fused predictions on the training rows of ``kinds`` in ``store`` (one seed)."""
    from asckit.predictions.file_format import write_provenance
    from asckit.predictions.reader import write_predictions
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
    from asckit.fusion.average import fuse_average
    from asckit.fusion.two_stage import fuse_two_stage
    from asckit.predictions.reader import read_predictions

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
    from asckit.data.tau import load_split, split_path
    from asckit.predictions.reader import write_predictions
    from asckit.scoring.evaluate import evaluate
    from asckit.scoring.significance import ClipScores

    slug = _slug(system)
    suffix = "" if len(ctx.seeds) == 1 else f"-seed{seed}"
    out = ctx.runs_dir / "systems" / f"row{slug}{suffix}.tsv"
    preds = system_predictions(system, files)
    write_predictions(out, preds.filenames, preds.probs, preds.task)
    metrics = evaluate(out, ctx.root, "evaluate", out_dir=out.with_suffix(""), title=f"{system.row} {system.name}")
    truth_source = str(split_path(ctx.root, "evaluate"))
    return metrics, ClipScores.from_ground_truth(load_split(ctx.root, "evaluate"), preds, truth_source)


def plan(
    experiment_path: str | Path,
    root: str | Path | None = None,
    scale: str | None = None,
    seeds: int | None = None,
    runs_dir: str | Path | None = None,
    progress: bool = True,
    rir_root: str | Path | None = None,
    jobs: int | None = None,
) -> Context:
    """The run's context with the experiment and every model config (with its overrides) validated.

    The dataset, stores and runs the experiment names (and ``root``, ``runs_dir``) are relative to the
    working directory: the user's project. Nothing is read or made beyond the config files.
    """
    from asckit.audio.rir import DEFAULT_RIR_ROOT

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
    jobs = experiment.jobs if jobs is None else jobs
    if jobs < 1:
        raise AsckitError("--jobs must be at least 1")
    ctx = Context(
        experiment, root, scale, runs, stores, list(range(seeds)), progress, Path(rir_root or DEFAULT_RIR_ROOT), jobs=jobs
    )
    check_models(ctx, experiment_path)
    return ctx


def reproduce(experiment_path: str | Path, *, dry_run: bool = False, **options) -> Path | None:
    """Run the experiment and write ``<runs>/<name>.md`` (and ``results.json``); returns the table path.

    ``options`` are ``plan``'s (root, scale, seeds, runs_dir, progress, rir_root). Everything that can
    be checked is checked before anything is made (``plan``, the dataset root, the measured RIRs);
    ``dry_run`` stops there, prints the plan and returns None.
    ``rir_root`` holds the reference's measured RIRs (``asckit data download rirs``; default
    ``asckit.audio.rir.DEFAULT_RIR_ROOT``), needed by stores whose ``rir_set`` names this scale;
    without them the run refuses to start.
    """
    from asckit.scoring.metrics import table1_row, tau22_row

    ctx = plan(experiment_path, **options)
    experiment, root, scale, runs = ctx.experiment, ctx.root, ctx.scale, ctx.runs_dir
    check_dataset_root(ctx)
    check_measured_rirs(ctx)
    if dry_run:
        print_plan(ctx, experiment_path)
        return None
    started = time.perf_counter()
    prepare_data(ctx)

    needed = experiment.needed_models()
    rows: dict[str, list[dict]] = {s.row: [] for s in experiment.systems}
    clips: dict[str, list] = {s.row: [] for s in experiment.systems}
    for seed in ctx.seeds:
        files = train_all(ctx, needed, seed)
        for system in experiment.systems:
            if system.cited is None:
                metrics, scores = score_system(ctx, system, seed, files)
                columns = tau22_row(metrics) if experiment.task in ("2024", "2025") else table1_row(metrics)
                rows[system.row].append({**columns, **device_columns(metrics, experiment.devices)})
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
    table = format_table(ctx, read_table_facts(ctx), rows, claims, results.get("complexity"))
    path = runs / f"{experiment.name}.md"
    atomic_write_text(path, table)
    print(table)
    return path


def print_plan(ctx: Context, experiment_path: str | Path) -> None:
    """What the experiment would read, make and train, every path absolute (``--dry-run``)."""
    spec = ctx.experiment.dataset
    synth = f"; synthesised when missing (task {spec.synth.task}, preset {spec.synth.preset})" if spec.synth else ""
    ctx.say(f"experiment {Path(experiment_path).absolute()}, scale {ctx.scale}, seeds {', '.join(map(str, ctx.seeds))}")
    ctx.say(f"dataset {ctx.root.absolute()}{' (exists)' if ctx.root.exists() else synth}")
    for key, store in spec.stores.items():
        augment = f" + {', '.join(store.augment)}" if store.augment else ""
        ctx.say(f"store {key}: {ctx.stores[key].absolute()}{augment}")
    for key in ctx.experiment.needed_models():
        ctx.say(f"model {key}: {ctx.experiment.models[key].config} → {run_dir_of(ctx, key, ctx.seeds[0]).absolute()}")
    ctx.say(f"table {(ctx.runs_dir / f'{ctx.experiment.name}.md').absolute()}")
    ctx.say("dry run: the experiment and every model config are valid; nothing was made")


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


# ----------------------------------------------------------------------------- what the table reads


def read_table_facts(ctx: Context) -> TableFacts:
    """The dataset's description, the stores' RIR banks and the configs of the models the systems use."""
    from asckit.data.tau import describe_version
    from asckit.train.run_dir import RunDir

    models = {}
    for model in sorted({m for s in ctx.experiment.systems for m in s.members()}):
        run = RunDir(run_dir_of(ctx, model, ctx.seeds[0]))
        config = run.load_config()
        models[model] = ModelFacts(config, run.describe_precision(config.trainer.precision))
    return TableFacts(describe_version(ctx.root), rir_bank_notes(ctx), models)


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
