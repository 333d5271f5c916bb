"""The ``asckit models`` command: the paper's models with parameters, sizes and MACs per clip.

The same table, as markdown, is the model card in docs/models.md (``asckit models --markdown``).
Models are built on PyTorch's meta device, so listing even the 38 M-parameter fsFCNN-s takes no
memory and about a second.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from asckit.core.cli_types import positive_float
from asckit.models.registry import REFERENCE_CONFIGS


@dataclass(frozen=True)
class ModelRow:
    """One line of the table: a reference config and its measured complexity."""

    label: str
    build_args: str
    paper_row: str
    params: int
    stored_values: int
    kb_fp32: float
    kb_fp16: float
    kb_int8: float
    mmacs: float
    mmacs_per_second: float
    clip_shape: tuple[int, int, int]
    fits: tuple[str, ...]  # the editions (asckit.tasks.COMPLEXITY_LIMITS) whose every limit it meets


def model_rows(width: float = 1.0) -> list[ModelRow]:
    """Build every reference config (at ``width``) on the meta device and measure it."""
    import torch

    from asckit.models.counting import check_limits, complexity, macs_per_second
    from asckit.models.registry import build, clip_shape
    from asckit.tasks import MACS_CLIP_SECONDS

    rows = []
    for config in REFERENCE_CONFIGS:
        params = dict(config.params)
        if width != 1.0:
            params["width"] = width
        with torch.device("meta"):
            model = build(config.name, **params)
        shape = clip_shape(config.name, model.in_channels, config.task)
        counts = complexity(model, shape)
        seconds = MACS_CLIP_SECONDS  # clip_shape is the task's 10 s clip
        checks = check_limits(counts, seconds)
        editions = dict.fromkeys(c.limit for c in checks)
        fits = tuple(e for e in editions if all(c.ok for c in checks if c.limit == e))
        args = ", ".join(f"{key}={value!r}" for key, value in params.items())
        rows.append(
            ModelRow(
                label=config.label,
                build_args=f"{config.name}({args})",
                paper_row=config.paper_row,
                params=counts.params,
                stored_values=counts.stored_values,
                kb_fp32=counts.size_kb(32),
                kb_fp16=counts.size_kb(16),
                kb_int8=counts.size_kb(8),
                mmacs=counts.macs / 1e6,
                mmacs_per_second=macs_per_second(counts, seconds) / 1e6,
                clip_shape=shape,
                fits=fits,
            )
        )
    return rows


_HEADER = ("model", "build", "params", "params+BN stats", "KB fp32", "KB fp16", "KB int8", "MMACs/clip", "MMACs/s", "fits")


def _cells(row: ModelRow) -> tuple[str, ...]:
    return (
        row.label,
        row.build_args,
        f"{row.params:,}",
        f"{row.stored_values:,}",
        f"{row.kb_fp32:,.0f}",
        f"{row.kb_fp16:,.0f}",
        f"{row.kb_int8:,.0f}",
        f"{row.mmacs:,.0f}",
        f"{row.mmacs_per_second:,.2f}",
        ", ".join(row.fits) or "none",
    )


def format_text(rows: list[ModelRow]) -> str:
    """A fixed-width table for the terminal."""
    table = [_HEADER, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(_HEADER))]
    # Names and build calls left-aligned, numbers right-aligned.
    aligned = [
        "  ".join(cell.ljust(w) if i < 2 or i == len(_HEADER) - 1 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        for line in table
    ]
    return "\n".join(aligned)


def format_markdown(rows: list[ModelRow]) -> str:
    """The model-card table: one row per reference model, with the paper row it reproduces."""
    header = ("model", "paper row", "build", "params", "KB fp32", "KB fp16", "KB int8", "MMACs per 10 s clip", "MMACs/s", "fits")
    alignment = ["---"] * 3 + ["---:"] * (len(header) - 4) + ["---"]  # text left, numbers right
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(alignment) + "|"]
    for row in rows:
        label, build_args, params, _, kb32, kb16, kb8, mmacs, per_second, fits = _cells(row)
        cells = (label, row.paper_row, f"`{build_args}`", params, kb32, kb16, kb8, mmacs, per_second, fits)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_models(args: argparse.Namespace) -> int:
    rows = model_rows(args.width)
    print(format_markdown(rows) if args.markdown else format_text(rows))
    if not args.markdown:
        print(
            "\nKB = (parameters + BatchNorm statistics) × bits / 8 / 1024, as DCASE 2020 counts model size; "
            "MMACs/clip: millions of multiply-accumulates for one 10 s clip (1a: 3×128×423, 1b: 6×128×461); "
            "MMACs/s: per second of audio (that clip's ÷ 10, as `asckit export` and `reproduce` count it).\n"
            "fits: the editions whose limits the model meets: " + limits_text()
        )
    return 0


def limits_text() -> str:
    """The complexity limits of ``asckit.tasks.COMPLEXITY_LIMITS`` in words."""
    from asckit.tasks import COMPLEXITY_LIMITS

    parts = []
    for limit in COMPLEXITY_LIMITS:
        rules = [f"≤ {limit.max_kb:g} KB in int8" if limit.max_kb else "",
                 f"≤ {limit.max_params:,} parameters" if limit.max_params else "",
                 f"≤ {limit.max_macs_per_second / 1e6:g} M MACs per second" if limit.max_macs_per_second else ""]
        parts.append(f"{limit.name} ({', '.join(r for r in rules if r)})")
    return "; ".join(parts)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the model architectures with parameters, size and MACs",
        description="List the paper's models (asckit.models reference configs) with trainable parameters, "
        "model size in KB at float32/float16/int8 and multiply-accumulates per 10 s clip.",
    )
    parser.add_argument("--markdown", action="store_true", help="print the model-card table as markdown")
    parser.add_argument("--width", type=positive_float, default=1.0, help="width multiplier for every model (default 1.0)")
    parser.set_defaults(func=run_models)
