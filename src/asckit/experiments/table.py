"""The results table of an experiment, formatted from data alone: nothing here reads a file.

``format_table`` writes markdown: each system's measured Table 1 columns with the paper's figure in
brackets (mean ± std over seeds), per-device accuracies and complexity where the experiment asks,
then notes (dataset, seeds, RIR banks, every model as trained) and the paper's claims with their
verdicts (``claim_verdict``: paired-bootstrap intervals over the evaluate clips). What the table
needs from disk comes in ``TableFacts``, which the runner reads first
(``asckit.experiments.reproduce.read_table_facts``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asckit.experiments.spec import ClaimSpec, Experiment, SystemSpec
from asckit.scoring.significance import DRAWS
from asckit.scoring.table1_columns import SHORT_HEADINGS, TAU22_HEADINGS

if TYPE_CHECKING:
    from asckit.experiments.reproduce import Context


def _headings(experiment: Experiment) -> dict[str, str]:
    return TAU22_HEADINGS if experiment.task in ("2024", "2025") else SHORT_HEADINGS


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


@dataclass(frozen=True)
class ModelFacts:
    """What the table says of one model: the config its first seed's run was trained with."""

    config: Any  # asckit.train.config.TrainConfig
    precision: str  # the training precision, as the run records it


@dataclass(frozen=True)
class TableFacts:
    """Everything the table reads from disk, read before it is formatted (``read_table_facts``)."""

    dataset: str  # the dataset's description (``asckit.data.tau.describe_version``)
    rir_notes: list[str]  # ``rir_bank_notes``
    models: dict[str, ModelFacts]  # every model a system uses, by key, sorted


def format_table(
    ctx: Context, facts: TableFacts, rows: dict[str, list[dict]], claims: list[str] | None = None, complexity: dict | None = None
) -> str:
    """Markdown: our rows with the paper's figure in brackets, then notes and the claims. Reads nothing:
    what it needs from disk is in ``facts``."""
    lines = _table_heading(ctx, complexity is not None)
    lines += [_system_line(ctx.experiment, system, rows[system.row], complexity) for system in ctx.experiment.systems]
    lines += _table_notes(ctx, facts, complexity is not None)
    lines += _claims_section(claims, "The paper's claims" if ctx.experiment.task in ("1a", "1b") else "The claims")
    lines.append("")
    return "\n".join(lines)


def _table_heading(ctx: Context, complexity: bool) -> list[str]:
    """Title, the reading guide and the header of the table."""
    experiment = ctx.experiment
    columns, headings = experiment.columns, _headings(experiment)
    extra = [f"{d} acc" for d in experiment.devices] + (["int8 KB", "params", "MMACs/s"] if complexity else [])
    head = "| Idx | System | Recipe | " + " | ".join([*(headings[c] for c in columns), *extra]) + " |"
    if experiment.task in ("2024", "2025"):
        guide = [
            "Each cell: asckit's measured value, mean ± std over seeds (in brackets the published figure: the",
            "baseline's fp16 result on the real TAU22 dev-test, mean of its runs; NOT comparable to numbers on",
            "another dataset, the synthetic one included). Accuracies in %, macro over classes (the primary",
            "figure); real = a, b, c; seen = s1–s3; unseen = s4–s6, each the mean of its devices' accuracies.",
        ]
    else:
        guide = [
            "Each cell: asckit's measured value (the paper's figure in brackets). Accuracies in %, macro over",
            "classes; group columns are the mean of their devices' accuracies, as the paper's; val loss is",
            "the log loss on the evaluate split (probabilities renormalised).",
        ]
    return [
        f"# {experiment.title}: asckit ({ctx.scale} scale)",
        "",
        *guide,
        "",
        head,
        "|" + "---|" * (3 + len(columns) + len(extra)),
    ]


def _system_line(experiment: Experiment, system: SystemSpec, values: list[dict], complexity: dict | None) -> str:
    """One system's row: the Table 1 columns beside the paper's, per-device accuracies, complexity."""
    cells = []
    for i, column in enumerate(experiment.columns):
        ours = "cited" if system.cited else _cell([v[column] for v in values], column)
        paper = _paper_cell(system.paper[i], column) if system.paper else "–"
        cells.append(f"{ours} ({paper})")
    for device in experiment.devices:
        cells.append("cited" if system.cited else _cell([v[device] for v in values], device))
    if complexity is not None:
        c = complexity.get(system.row)
        cells += ["–"] * 3 if c is None else [f"{c['kb_int8']:,.1f}", f"{c['params']:,}", f"{c['macs_per_second'] / 1e6:,.2f}"]
    return f"| {system.row} | {system.name} | {system.recipe} | " + " | ".join(cells) + " |"


def _table_notes(ctx: Context, facts: TableFacts, complexity: bool) -> list[str]:
    """The notes: dataset, seeds, RIR banks, each model as trained, and what the columns and rows mean."""
    experiment = ctx.experiment
    lines = ["", "## Notes", ""]
    split = "dev-test split (split_setup/test.csv)" if experiment.task in ("2024", "2025") else "fold1 evaluate split"
    lines.append(f"- Dataset: `{ctx.root}`: {facts.dataset}; scored on its {split}.")
    lines.append(f"- Seeds: {', '.join(str(s) for s in ctx.seeds)} (mean ± sample std where more than one).")
    lines += facts.rir_notes
    lines += [_model_note(key, model, experiment.models[key].teacher) for key, model in facts.models.items()]
    if complexity:
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
    return lines


def _model_note(key: str, model: ModelFacts, teacher: str | None) -> str:
    """One model as trained: architecture, widths, classes, schedule, data kinds, precision, distillation."""
    config = model.config
    params = f" {config.model.params}" if config.model.params else ""
    data = f"split {config.data.split or 100} %" if config.is_tau22 else f"kinds {', '.join(config.data.kinds)}"
    devices = f", device models {', '.join(config.model.devices)} (from {config.init_from.name})" if config.model.devices else ""
    return (
        f"- `{key}`: {config.model.name}{params} width {config.model.width:g}, "
        f"{config.num_classes} classes, {config.optim.epochs} epochs, snapshots {config.snapshots}, "
        f"{data}, precision {model.precision}{devices}"
        + (f", distilled from row {teacher} (τ {config.distill.temperature:g}, "
           f"λ {config.distill.label_weight:g})" if config.distill.teacher else "")
        + (f", Freq-MixStyle p {fms.p:g} α {fms.alpha:g}" if (fms := config.batch_augment.freq_mixstyle) else "")
    )


def _claims_section(claims: list[str] | None, heading: str = "The paper's claims") -> list[str]:
    """The paper's claims with their verdicts, and how to read the intervals (nothing without claims)."""
    if not claims:
        return []
    return [
        "",
        f"## {heading}, checked on these numbers",
        "",
        "Each difference comes with its 95 % paired-bootstrap interval over the evaluate split's 10 s segments",
        f"({DRAWS} resamples, `asckit.scoring.significance`): \"reproduced\" when every interval lies above zero,",
        "\"NOT reproduced\" when one lies below zero, \"within noise\" when one reaches zero (whichever way it leans).",
        "The interval covers which clips were drawn, not how training went: `--seeds N` averages N",
        "trainings per model, and a claim is only settled when it holds across seeds too.",
        "",
        *(f"- {claim}" for claim in claims),
    ]


def claim_verdict(claim: ClaimSpec, rows: dict[str, list[dict]], clips: dict[str, list] | None = None) -> str:
    """The claim, the measured values and the verdict; with per-clip scores, a paired bootstrap too."""
    from asckit.scoring.significance import paired_difference, verdict

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
