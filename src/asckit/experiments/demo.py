"""`make demo` (``python -m asckit.demo``): the whole pipeline on the embedded synthetic dataset, with what it runs printed.

1. ``asckit reproduce demo``: synthesise the multi-device set, extract features, add the
   reverb+DRC rows, train three 10-class and two 3-class narrow models, predict the evaluate
   split, fuse (ensemble and two-stage, joined by filename), evaluate, print the Table-1 rows;
2. ``asckit export``: the 10-class ensemble as one int8 ONNX bundle in ``runs/demo/export``;
3. ``asckit predict``: classify a recording the models never trained on (an evaluate-split clip of
   a device unseen in training) with that bundle.

Every step skips what an earlier run finished, so a second ``make demo`` is quick.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from asckit.cli import main as asckit
from asckit.deploy.bundle import BUNDLE_FILE

EXPERIMENT = Path("configs/demo.yaml")
RUNS = Path("runs/demo")
ENSEMBLE = ("resnet_d", "fcnn", "fsfcnn")


def step(title: str, argv: list[str]) -> None:
    print(f"\n=== {title}\n$ asckit {' '.join(argv)}", flush=True)
    status = asckit(argv)
    if status != 0:
        sys.exit(status)


def held_out_clip(root: Path) -> Path:
    """The first evaluate-split clip of s5, a device no model saw in training."""
    from asckit.data.tau import load_split

    frame = load_split(root, "evaluate")
    unseen = frame[frame["device"] == "s5"]
    return root / (unseen if len(unseen) else frame)["filename"].iloc[0]


def print_probabilities(path: Path) -> None:
    """Every class's probability for the one classified file, most likely first."""
    from asckit.predictions.reader import read_predictions

    predictions = read_predictions(path)
    ranked = sorted(zip(predictions.classes, predictions.probs[0]), key=lambda item: -item[1])
    print(f"{predictions.filenames[0]}: {ranked[0][0]}")
    for name, probability in ranked:
        print(f"  {name:<18} {probability:6.3f}")


def run() -> int:
    if not EXPERIMENT.is_file():
        print(f"asckit demo: {EXPERIMENT} not found; run `make demo` from the repository root", file=sys.stderr)
        return 2
    started = time.perf_counter()
    step("Train, fuse and evaluate the two-stage system", ["reproduce", str(EXPERIMENT), "--quiet"])
    export = RUNS / "export"
    if not (export / BUNDLE_FILE).is_file():
        step(
            "Export the 10-class ensemble to int8 ONNX",
            ["export", *(str(RUNS / m) for m in ENSEMBLE), "--int8", "static", "--out", str(export)],
        )
    from asckit.experiments.spec import load_experiment

    clip = held_out_clip(Path(load_experiment(EXPERIMENT).dataset.root))
    step("Classify a held-out recording", ["predict", str(export), str(clip), "--out", str(RUNS / "predict.tsv")])
    print_probabilities(RUNS / "predict.tsv")
    print(
        f"\nDone in {time.perf_counter() - started:.0f} s. Results table: {RUNS / 'demo.md'}; per-system reports "
        f"and plots: {RUNS / 'systems'}/*/report.md, confusion_matrix.png, per_device_accuracy.png; "
        f"int8 bundle: {export}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(run())
