"""Logistic-regression fusion of ensemble members: the paper's Task 1b "LR" fusion, fitted honestly.

One job: fit, save, load and apply a multinomial logistic regression that maps the members'
concatenated probabilities ``[p_1 | p_2 | … | p_M]`` (M × C inputs) to C class probabilities.

- The meta-learner is scikit-learn's ``LogisticRegression`` with its defaults (L2, C = 1), as in
  the reference code (``max_iter`` raised so that it converges).
- **Fitted on held-out data.** The reference fitted it on the members' outputs on fold1_evaluate,
  the split it then reported (docs/reference-code.md §6). asckit fits it on a validation split held
  out of fold1_train, and refuses to score any clip the fusion was fitted on: the saved model
  keeps a 48-bit hash of every fitting clip's name.
- Inputs are concatenated member by member (the reference interleaved them class by class: the
  same model up to a permutation of the inputs). The reference fitted on the float models' outputs
  and applied the result to the quantized ones; any member precision can be used here.
- The saved JSON holds the coefficients, intercepts, classes and member names; applying it needs
  numpy only (``asckit.fusion.core.apply_logistic``), so an export bundle can carry it.

Command: ``asckit fuse --logistic A.tsv B.tsv --fit-on A_val.tsv B_val.tsv --truth meta.csv
--out OUT.tsv [--save-fusion FUSION.json]``, or ``--fusion-model FUSION.json`` instead of
``--fit-on``/``--truth`` to apply a saved one (see ``asckit.fusion.commands``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_write_text, read_json_object
from asckit.fusion.core import apply_logistic
from asckit.labels import classes as classes_of
from asckit.predictions.reader import Predictions, align, clip_key

FORMAT = "asckit-logistic-fusion"
#: Iterations for lbfgs; scikit-learn's default 100 does not always converge on M × C inputs.
MAX_ITER = 1000


@dataclass(frozen=True, eq=False)
class LogisticFusion:
    """A fitted fusion: ``probs = softmax([p_1 … p_M] · coefᵀ + intercept)``."""

    task: str
    members: tuple[str, ...]
    coef: np.ndarray  # (classes, members × classes)
    intercept: np.ndarray  # (classes,)
    fit_source: str = ""
    fit_clip_hashes: frozenset[str] = field(default_factory=frozenset)

    @property
    def classes(self) -> tuple[str, ...]:
        return classes_of(self.task)

    def apply(self, member_probs: Sequence[np.ndarray]) -> np.ndarray:
        """Fused probabilities (n, classes) from each member's (n, classes), in ``members`` order."""
        if len(member_probs) != len(self.members):
            raise AsckitError(
                f"logistic fusion was fitted on {len(self.members)} members ({', '.join(self.members)}), "
                f"got {len(member_probs)}; give the same members in the same order"
            )
        return apply_logistic(self.to_dict(with_clips=False), member_probs)

    def fitted_on(self, filenames: Sequence[str]) -> list[str]:
        """The ``filenames`` that were among the clips this fusion was fitted on."""
        return [name for name in filenames if _clip_hash(name) in self.fit_clip_hashes]

    def to_dict(self, with_clips: bool = True) -> dict:
        data = {
            "format": FORMAT,
            "task": self.task,
            "classes": list(self.classes),
            "members": list(self.members),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "fit_source": self.fit_source,
        }
        if with_clips:
            data["fit_clip_hashes"] = sorted(self.fit_clip_hashes)
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str = "fusion model") -> LogisticFusion:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise AsckitError(f"{source}: not a logistic fusion model; fit one with `asckit fuse --logistic ... --save-fusion`")
        try:
            task = str(data["task"])
            coef = np.asarray(data["coef"], dtype=np.float64)
            intercept = np.asarray(data["intercept"], dtype=np.float64)
            members = tuple(str(m) for m in data["members"])
            n_classes = len(classes_of(task))
        except (KeyError, TypeError, ValueError) as exc:
            raise AsckitError(f"{source}: incomplete logistic fusion model ({exc}); fit it again") from None
        if coef.shape != (n_classes, n_classes * len(members)) or intercept.shape != (n_classes,):
            raise AsckitError(f"{source}: coefficient shapes {coef.shape}, {intercept.shape} do not fit {len(members)} members of task {task}")
        return cls(task, members, coef, intercept, str(data.get("fit_source", "")), frozenset(data.get("fit_clip_hashes", [])))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fusion as JSON (atomically)."""
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> LogisticFusion:
        path = Path(path)
        if not path.is_file():
            raise AsckitError(f"{path}: fusion model not found; check the path")
        return cls.from_dict(read_json_object(path, "not a readable fusion model: fit it again"), str(path))


def _clip_hash(filename: str) -> str:
    # 48 bits: a false "already fitted on" among thousands of clips has odds of about 1e-8.
    return hashlib.blake2b(clip_key(filename).encode("utf-8"), digest_size=6).hexdigest()


def fit_logistic(
    member_preds: Sequence[Predictions],
    labels: Sequence[str],
    members: Sequence[str] | None = None,
    source: str = "",
) -> LogisticFusion:
    """Fit the fusion on held-out member outputs.

    ``member_preds`` are the members' predictions on the same clips (joined by filename, in the
    order of the first); ``labels`` the true class of each clip of the first, in its row order.
    ``members`` name the members (default: their sources' file stems). Every class must occur.
    """
    from sklearn.linear_model import LogisticRegression

    member_preds = list(member_preds)
    if len(member_preds) < 2:
        raise AsckitError("logistic fusion needs two or more members")
    aligned = _aligned_same_task(member_preds)
    first = aligned[0]
    if len(labels) != len(first):
        raise ValueError(f"{len(labels)} labels for {len(first)} clips")
    index = {name: k for k, name in enumerate(first.classes)}
    unknown = sorted({label for label in labels if label not in index})
    if unknown:
        raise AsckitError(f"{first.source}: labels {unknown[:3]} are not classes of task {first.task}")
    y = np.array([index[label] for label in labels])
    missing = [name for name, k in index.items() if not np.any(y == k)]
    if missing:
        raise AsckitError(
            f"{first.source}: no fitting clip of class {', '.join(missing)}; fit on a validation split that holds every class"
        )
    x = np.concatenate([p.probs for p in aligned], axis=1)
    model = LogisticRegression(max_iter=MAX_ITER).fit(x, y)
    names = tuple(members) if members is not None else tuple(Path(p.source).stem for p in member_preds)
    if len(names) != len(member_preds):
        raise ValueError("one member name per prediction set")
    return LogisticFusion(
        task=first.task,
        members=names,
        coef=np.asarray(model.coef_, dtype=np.float64),
        intercept=np.asarray(model.intercept_, dtype=np.float64),
        fit_source=source or ", ".join(p.source for p in member_preds),
        fit_clip_hashes=frozenset(_clip_hash(f) for f in first.filenames),
    )


def fuse_logistic(member_preds: Sequence[Predictions], fusion: LogisticFusion) -> Predictions:
    """Apply ``fusion`` to the members' predictions (joined by filename, in the order of the first).

    Refuses clips the fusion was fitted on: a fusion is never scored on its own fitting data.
    """
    member_preds = list(member_preds)
    aligned = _aligned_same_task(member_preds)
    first = aligned[0]
    if first.task != fusion.task:
        raise AsckitError(f"{first.source}: task {first.task} predictions, but the fusion was fitted on task {fusion.task}")
    seen = fusion.fitted_on(first.filenames)
    if seen:
        shown = ", ".join(seen[:3]) + (f", ... ({len(seen)} in all)" if len(seen) > 3 else "")
        raise AsckitError(
            f"{first.source}: {len(seen)} clip(s) were used to fit the fusion ({shown}); "
            "fit it on a held-out validation split, never on the split it is scored on"
        )
    probs = fusion.apply([p.probs for p in aligned])
    source = f"logistic({', '.join(p.source for p in member_preds)})"
    return Predictions(first.filenames, probs, first.classes, first.task, source)


def _aligned_same_task(member_preds: Sequence[Predictions]) -> tuple[Predictions, ...]:
    tasks = {p.task for p in member_preds}
    if len(tasks) > 1:
        raise AsckitError(
            f"logistic fusion of different tasks: {', '.join(f'{p.source} ({p.task})' for p in member_preds)}; "
            "fuse members with the same classes"
        )
    return align(*member_preds)


def labels_for(truth_csv: str | os.PathLike, preds: Predictions) -> list[str]:
    """True labels of ``preds``' clips, in its row order, from a TAB CSV with ``filename`` and
    ``scene_label`` columns (the dataset's meta.csv or a split CSV); 10-class labels become
    super-classes for 3-class predictions."""
    import pandas as pd

    from asckit.scoring.metrics import join_ground_truth

    path = Path(truth_csv)
    if not path.is_file():
        raise AsckitError(f"{path}: ground-truth CSV not found; give the dataset's meta.csv or a split CSV")
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise AsckitError(f"{path}: not a readable TAB-separated CSV ({' '.join(str(exc).split())})") from None
    # Only the fitting clips are needed; the CSV may list many more (meta.csv lists all).
    keys = {clip_key(f) for f in preds.filenames}
    subset = frame[frame["filename"].map(clip_key).isin(keys)] if "filename" in frame else frame
    labels, _ = join_ground_truth(subset, preds, truth_source=str(path))
    return labels
