"""Human-readable evaluation report: markdown tables and PNG plots from a metrics dict.

``write_report(metrics, out_dir, title)`` takes the dict of ``asckit.scoring.metrics.compute_metrics`` and
writes ``report.md`` (first the paper's Table 1 columns, then per-device, per-group and per-class
tables and the confusion matrix), ``confusion_matrix.png`` and ``per_device_accuracy.png``.
matplotlib is imported inside the plotting functions, with the Agg canvas, so importing this module
stays cheap and no display is needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from asckit.core.io_utils import atomic_path, atomic_write_text
from asckit.labels import DEVICE_GROUPS, device_group
from asckit.scoring.metrics import table1_row
from asckit.scoring.table1_columns import HEADINGS as TABLE1_HEADINGS
from asckit.scoring.table1_columns import TABLE1_COLUMNS

REPORT_NAME = "report.md"
CONFUSION_PNG = "confusion_matrix.png"
DEVICE_PNG = "per_device_accuracy.png"


_GROUP_COLOURS = {"A": "#1f77b4", "B&C": "#2ca02c", "s1-s3": "#ff7f0e", "s4-s6": "#d62728", None: "#7f7f7f"}


def write_report(metrics: dict, out_dir: str | os.PathLike, title: str) -> dict[str, Path]:
    """Write report.md, confusion_matrix.png and per_device_accuracy.png into ``out_dir``.

    Returns the three paths keyed ``report``, ``confusion_matrix``, ``per_device_accuracy``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "report": out_dir / REPORT_NAME,
        "confusion_matrix": out_dir / CONFUSION_PNG,
        "per_device_accuracy": out_dir / DEVICE_PNG,
    }
    plot_confusion_matrix(metrics, paths["confusion_matrix"], title)
    plot_device_accuracy(metrics, paths["per_device_accuracy"], title)
    atomic_write_text(paths["report"], render_markdown(metrics, title))
    return paths


def render_markdown(metrics: dict, title: str) -> str:
    """The markdown text of the report (images referenced by their file names in the same folder)."""
    row = table1_row(metrics)
    lines = [f"# {title}", ""]
    lines += _table(
        ["System"] + [TABLE1_HEADINGS[c] for c in TABLE1_COLUMNS],
        [[_cell(title)] + [_loss(row[c]) if c == "val_loss" else _pct(row[c]) for c in TABLE1_COLUMNS]],
    )
    lines += [
        "",
        "Columns as in Table 1 of Hu et al. (2020). Accuracies are macro (class-wise average) accuracies; "
        "each group column is the mean of its devices' accuracies (the paper's \"B & C (mean of 2)\"), "
        "not the accuracy of the pooled clips (that is in the group table below). val loss is the "
        "multi-class log loss on the scored split; Avg acc. is the overall macro accuracy.",
        "",
        f"Overall: {metrics['n']} clips, macro accuracy {_pct(metrics['macro_accuracy'])} %, "
        f"micro accuracy {_pct(metrics['micro_accuracy'])} %, log loss {_loss(metrics['log_loss'])}.",
        "",
        "## Per device",
        "",
    ]
    if metrics["per_device"]:
        lines += _table(
            ["Device", "Group", "Clips", "Accuracy %", "Micro acc. %", "Log loss"],
            [
                [d, device_group(d) or "–", str(s["n"]), _pct(s["accuracy"]), _pct(s["micro_accuracy"]), _loss(s["log_loss"])]
                for d, s in metrics["per_device"].items()
            ],
        )
        lines += ["", f"![per-device accuracy]({DEVICE_PNG})", "", "## Per device group", ""]
        lines += _table(
            ["Group", "Devices", "Clips", "Mean of devices %", "Pooled acc. %", "Pooled micro %", "Log loss"],
            [
                [g, " ".join(s["devices"]), str(s["n"]), _pct(s["mean_device_accuracy"]), _pct(s["accuracy"]),
                 _pct(s["micro_accuracy"]), _loss(s["log_loss"])]
                for g, s in metrics["per_group"].items()
            ],
        )
    else:
        lines.append("The ground truth names no devices.")
    lines += ["", "## Per class", ""]
    lines += _table(
        ["Class", "Clips", "Accuracy %", "Log loss"],
        [[c, str(s["n"]), _pct(s["accuracy"]), _loss(s["log_loss"])] for c, s in metrics["per_class"].items()],
    )
    confusion = metrics["confusion_matrix"]
    lines += ["", "## Confusion matrix", "", "Rows: true class; columns: predicted class.", ""]
    lines += _table(
        ["true \\ predicted"] + confusion["classes"],
        [[c] + [str(v) for v in counts] for c, counts in zip(confusion["classes"], confusion["matrix"])],
    )
    lines += ["", f"![confusion matrix]({CONFUSION_PNG})", ""]
    return "\n".join(lines)


def plot_confusion_matrix(metrics: dict, path: Path, title: str) -> None:
    """Confusion matrix PNG: colour = share of the true class (row), text = clip count."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    confusion = metrics["confusion_matrix"]
    names = confusion["classes"]
    counts = np.asarray(confusion["matrix"], dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)

    size = 2.5 + 0.6 * len(names)
    fig = Figure(figsize=(size + 1.5, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of the true class")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{title}\nmacro accuracy {_pct(metrics['macro_accuracy'])} %")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=8,
                    color="white" if shares[i, j] > 0.5 else "black")
    fig.tight_layout()
    _save(fig, path)


def plot_device_accuracy(metrics: dict, path: Path, title: str) -> None:
    """Bar chart of per-device macro accuracy, coloured by device group, with the overall figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(7, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    devices = list(metrics["per_device"])
    if devices:
        values = [100 * metrics["per_device"][d]["accuracy"] for d in devices]
        groups = [device_group(d) for d in devices]
        bars = ax.bar(devices, values, color=[_GROUP_COLOURS[g] for g in groups])
        ax.bar_label(bars, labels=[f"{v:.1f}" for v in values], fontsize=8)
        ax.axhline(100 * metrics["macro_accuracy"], color="black", linestyle="--", linewidth=1)
        handles = [Patch(color=_GROUP_COLOURS[g], label=g) for g in DEVICE_GROUPS if g in groups]
        handles.append(Patch(facecolor="none", edgecolor="black", linestyle="--", label="overall"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    else:
        ax.text(0.5, 0.5, "no device information in the ground truth", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_ylim(0, 108)  # headroom for the value label of a 100 % bar
    ax.set_xlabel("device")
    ax.set_ylabel("macro accuracy %")
    ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _loss(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _cell(text: str) -> str:
    # A '|' inside a cell would split the markdown table.
    return text.replace("|", "\\|")
