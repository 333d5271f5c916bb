"""The ``asckit models`` command: the reference models with parameters, sizes, parameter bytes,
MACs per clip and per second, and the verdict of every edition's complexity limits.

The same table, as markdown, is the model card in docs/models.md (``asckit models --markdown``).
Models are built on PyTorch's meta device, so listing even the 38 M-parameter fsFCNN-s takes no
memory and about a second. The 2020 models' MACs are asckit's counter on a 10 s clip; the TAU22
models' (2024/2025) torchinfo's on their 1 s input, as the organizers count them
(``asckit.models.counting``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from asckit.core.cli_types import positive_float
from asckit.core.errors import AsckitError, first_line
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
    param_bytes: dict[str, int]  # DCASE 2023-2025 parameter memory at each of counting.PRECISION_BYTES
    mmacs: float
    mmacs_per_second: float
    clip_shape: tuple[int, int, int]
    clip_seconds: float
    macs_by: str  # the MAC counter: "asckit" (2020 models) or "torchinfo" (TAU22 models)
    verdicts: dict[str, bool]  # counting.verdicts: per edition (2023-2025 per deploy precision)

    @property
    def fits(self) -> tuple[str, ...]:
        """The editions (and precisions) whose every limit the model meets."""
        return tuple(edition for edition, ok in self.verdicts.items() if ok)


def model_rows(width: float = 1.0) -> list[ModelRow]:
    """Build every reference config (at ``width``) on the meta device and measure it."""
    import torch

    from asckit.models.counting import PRECISION_BYTES, check_limits, complexity, macs_per_second, verdicts
    from asckit.models.registry import architecture, build, clip_seconds, clip_shape
    from asckit.tasks import TASKS_TAU22

    rows = []
    for config in REFERENCE_CONFIGS:
        params = dict(config.params)
        if width != 1.0:
            params["width"] = width
        try:
            with torch.device("meta"):
                model = build(config.name, **params)
        except RuntimeError as exc:  # torch refuses tensors whose byte size overflows 64 bits
            raise AsckitError(
                f"--width {width:g} makes {config.label} too large to build ({first_line(exc, 80)}); use a smaller --width"
            ) from None
        shape = clip_shape(config.name, model.in_channels, config.task)
        seconds = clip_seconds(config.name, config.task)  # 10 s (2020 tasks) or 1 s (TAU22)
        tau22 = (config.task or architecture(config.name).task) in TASKS_TAU22
        counts = complexity(model, shape, macs_by="torchinfo" if tau22 else "asckit")
        checks = check_limits(counts, seconds)
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
                param_bytes={precision: counts.param_bytes(precision) for precision in PRECISION_BYTES},
                mmacs=counts.macs / 1e6,
                mmacs_per_second=macs_per_second(counts, seconds) / 1e6,
                clip_shape=shape,
                clip_seconds=seconds,
                macs_by=counts.macs_by,
                verdicts=verdicts(checks),
            )
        )
    return rows


_HEADER = (
    "model", "build", "params", "params+BN stats", "KB fp32", "KB fp16", "KB int8",
    "param B fp32", "param B fp16", "param B int8", "clip", "MMACs/clip", "MMACs/s", "fits",
)


def _cells(row: ModelRow) -> tuple[str, ...]:
    return (
        row.label,
        row.build_args,
        f"{row.params:,}",
        f"{row.stored_values:,}",
        f"{row.kb_fp32:,.0f}",
        f"{row.kb_fp16:,.0f}",
        f"{row.kb_int8:,.0f}",
        *(f"{row.param_bytes[precision]:,}" for precision in ("fp32", "fp16", "int8")),
        f"{row.clip_seconds:g} s",
        f"{row.mmacs:,.2f}",
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
    header = (
        "model", "paper row", "build", "params", "KB fp32", "KB fp16", "KB int8",
        "param bytes fp32", "param bytes fp16", "param bytes int8", "clip", "MMACs per clip", "MMACs/s", "fits",
    )
    alignment = ["---"] * 3 + ["---:"] * (len(header) - 4) + ["---"]  # text left, numbers right
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(alignment) + "|"]
    for row in rows:
        label, build_args, params, _, *numbers, fits = _cells(row)
        cells = (label, row.paper_row, f"`{build_args}`", params, *numbers, fits)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_models(args: argparse.Namespace) -> int:
    rows = model_rows(args.width)
    print(format_markdown(rows) if args.markdown else format_text(rows))
    if not args.markdown:
        print(
            "\nKB = (parameters + BatchNorm statistics) × bits / 8 / 1024, as DCASE 2020 counts model size; "
            "param B = parameters × bytes at that precision, buffers excluded, as DCASE 2023-2025 count parameter memory; "
            "MMACs/clip: millions of multiply-accumulates for one clip: 2020 models a 10 s clip (1a: 3×128×423, 1b: 6×128×461) "
            "by asckit's counter, 2024/2025 models the 1 s input (1×256×65) by torchinfo, as the organizers count it; "
            "MMACs/s: per second of audio (the clip's ÷ its seconds, as `asckit export` and `reproduce` count it).\n"
            "fits: the editions whose limits the model meets (2023-2025 at the precision named): " + limits_text()
        )
    return 0


def limits_text() -> str:
    """The complexity limits of ``asckit.tasks.COMPLEXITY_LIMITS`` in words."""
    from asckit.tasks import COMPLEXITY_LIMITS

    parts = []
    for limit in COMPLEXITY_LIMITS:
        rules = [f"≤ {limit.max_kb:g} KB in int8" if limit.max_kb else "",
                 f"≤ {limit.max_params:,} parameters (int8)" if limit.max_params else "",
                 f"≤ {limit.max_param_bytes:,} bytes of parameters at their precision" if limit.max_param_bytes else "",
                 f"≤ {limit.max_macs_per_second / 1e6:g} M MACs per second" if limit.max_macs_per_second else ""]
        parts.append(f"{limit.name} ({', '.join(r for r in rules if r)})")
    return "; ".join(parts)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the model architectures with parameters, size, parameter bytes, MACs and the limits they meet",
        description="List the reference models (asckit.models reference configs) with trainable parameters, "
        "model size in KB and parameter bytes at float32/float16/int8, multiply-accumulates per clip and per second, "
        "and the complexity limits of each DCASE edition they meet.",
    )
    parser.add_argument("--markdown", action="store_true", help="print the model-card table as markdown")
    parser.add_argument("--width", type=positive_float, default=1.0, help="width multiplier for every model (default 1.0)")
    parser.set_defaults(func=run_models)
