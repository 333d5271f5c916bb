"""Tests for asckit.fusion.logistic and ``asckit fuse --logistic``.

Two synthetic 3-class members: A is sharp but calls every true "transportation" clip "indoor";
B only recognises "transportation". Averaging cannot undo A's systematic confusion; a logistic
regression fitted on held-out outputs can.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from asckit.cli import main
from asckit.core.errors import AsckitError
from asckit.fusion.average import fuse_average
from asckit.fusion.logistic import LogisticFusion, fit_logistic, fuse_logistic
from asckit.labels import SCENES_3, SCENES_10, SUPERCLASS
from asckit.predictions.reader import Predictions, read_predictions, write_predictions


def normalised(x: np.ndarray) -> np.ndarray:
    return x / x.sum(axis=1, keepdims=True)


def members(n: int, seed: int, prefix: str) -> tuple[Predictions, Predictions, list[str]]:
    """Predictions of members A and B on n clips named <prefix>-<i>.wav, and the true labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    names = [f"audio/{prefix}-{i}.wav" for i in range(n)]
    a_target = np.where(y == 2, 0, y)  # A: transportation -> indoor
    a = normalised(np.eye(3)[a_target] * 3 + rng.random((n, 3)))
    b = normalised(np.where(y[:, None] == 2, [0.1, 0.1, 0.8], [0.4, 0.4, 0.2]) + 0.3 * rng.random((n, 3)))
    labels = [SCENES_3[k] for k in y]
    return (Predictions(names, a, SCENES_3, "1b", f"{prefix}_a.tsv"), Predictions(names, b, SCENES_3, "1b", f"{prefix}_b.tsv"), labels)


def accuracy(preds: Predictions, labels: list[str]) -> float:
    return float(np.mean([p == t for p, t in zip(preds.labels, labels)]))


def test_logistic_fusion_learns_what_averaging_cannot():
    val_a, val_b, val_labels = members(300, seed=0, prefix="val")
    test_a, test_b, test_labels = members(300, seed=1, prefix="test")
    fusion = fit_logistic([val_a, val_b], val_labels)
    fused = fuse_logistic([test_a, test_b], fusion)
    averaged = fuse_average([test_a, test_b])
    assert np.allclose(fused.probs.sum(axis=1), 1.0)
    assert accuracy(fused, test_labels) > accuracy(averaged, test_labels) + 0.1
    assert accuracy(fused, test_labels) > 0.9


def test_numpy_application_equals_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    val_a, val_b, val_labels = members(200, seed=2, prefix="val")
    test_a, test_b, _ = members(50, seed=3, prefix="test")
    fusion = fit_logistic([val_a, val_b], val_labels)
    reference = LogisticRegression(max_iter=1000).fit(
        np.hstack([val_a.probs, val_b.probs]), [SCENES_3.index(label) for label in val_labels]
    )
    expected = reference.predict_proba(np.hstack([test_a.probs, test_b.probs]))
    np.testing.assert_allclose(fusion.apply([test_a.probs, test_b.probs]), expected, atol=1e-6)


def test_members_are_joined_by_filename_not_position():
    val_a, val_b, val_labels = members(120, seed=4, prefix="val")
    test_a, test_b, _ = members(40, seed=5, prefix="test")
    fusion = fit_logistic([val_a, val_b], val_labels)
    reversed_b = test_b.take(np.arange(len(test_b))[::-1])
    np.testing.assert_allclose(fuse_logistic([test_a, reversed_b], fusion).probs, fuse_logistic([test_a, test_b], fusion).probs)


def test_never_scores_the_clips_it_was_fitted_on():
    val_a, val_b, val_labels = members(60, seed=6, prefix="val")
    fusion = fit_logistic([val_a, val_b], val_labels)
    with pytest.raises(AsckitError, match=r"60 clip\(s\) were used to fit the fusion"):
        fuse_logistic([val_a, val_b], fusion)
    # The same clips under another folder are the same clips.
    moved = [Predictions([n.replace("audio/", "") for n in p.filenames], p.probs, SCENES_3, "1b", p.source) for p in (val_a, val_b)]
    with pytest.raises(AsckitError, match="used to fit"):
        fuse_logistic(moved, fusion)


def test_save_and_load_keep_the_fusion(tmp_path):
    val_a, val_b, val_labels = members(90, seed=7, prefix="val")
    test_a, test_b, _ = members(30, seed=8, prefix="test")
    fusion = fit_logistic([val_a, val_b], val_labels, members=["mobnet", "small_fcnn"])
    loaded = LogisticFusion.load(fusion.save(tmp_path / "fusion.json"))
    assert loaded.members == ("mobnet", "small_fcnn")
    np.testing.assert_array_equal(loaded.apply([test_a.probs, test_b.probs]), fusion.apply([test_a.probs, test_b.probs]))
    assert loaded.fitted_on(val_a.filenames) == list(val_a.filenames)
    assert "fit_clip_hashes" not in fusion.to_dict(with_clips=False)


def test_fitting_needs_every_class_and_two_members():
    val_a, val_b, val_labels = members(60, seed=9, prefix="val")
    keep = [i for i, label in enumerate(val_labels) if label != "outdoor"]
    with pytest.raises(AsckitError, match="no fitting clip of class outdoor"):
        fit_logistic([val_a.take(keep), val_b.take(keep)], [val_labels[i] for i in keep])
    with pytest.raises(AsckitError, match="two or more members"):
        fit_logistic([val_a], val_labels)


def test_a_broken_fusion_file_is_a_one_line_error(tmp_path):
    (tmp_path / "f.json").write_text(
        json.dumps({"format": "asckit-logistic-fusion", "task": "1b", "members": ["a", "b"], "coef": [[1.0]], "intercept": [0.0]})
    )
    with pytest.raises(AsckitError, match="do not fit 2 members"):
        LogisticFusion.load(tmp_path / "f.json")


# ------------------------------------------------------------------------------------ command


def write_member_files(tmp_path, n: int, seed: int, prefix: str) -> tuple[list, list[str]]:
    a, b, labels = members(n, seed, prefix)
    paths = []
    for preds, member in ((a, "a"), (b, "b")):
        path = tmp_path / f"{prefix}_{member}.tsv"
        write_predictions(path, preds.filenames, preds.probs, "1b")
        paths.append(path)
    return paths, labels


def test_fuse_logistic_command_fits_saves_and_reapplies(tmp_path):
    val_paths, val_labels = write_member_files(tmp_path, 150, seed=10, prefix="val")
    test_paths, _ = write_member_files(tmp_path, 40, seed=11, prefix="test")
    # Ground truth as in a 1a meta.csv: 10-class scenes, mapped to super-classes for 3-class predictions.
    scene_of = {superclass: next(s for s in SCENES_10 if SUPERCLASS[s] == superclass) for superclass in SCENES_3}
    val_names = read_predictions(val_paths[0]).filenames
    rows = ["filename\tscene_label\tidentifier\tsource_label"]
    rows += [f"{name}\t{scene_of[label]}\tx-1\ta" for name, label in zip(val_names, val_labels)]
    rows += ["audio/unrelated-1.wav\tbus\tx-2\ta"]
    (tmp_path / "meta.csv").write_text("\n".join(rows) + "\n")

    out, saved = tmp_path / "fused.tsv", tmp_path / "fusion.json"
    code = main([
        "fuse", "--logistic", *map(str, test_paths), "--fit-on", *map(str, val_paths),
        "--truth", str(tmp_path / "meta.csv"), "--out", str(out), "--save-fusion", str(saved),
    ])
    assert code == 0
    fused = read_predictions(out)
    expected = fuse_logistic([read_predictions(p) for p in test_paths], LogisticFusion.load(saved))
    np.testing.assert_allclose(fused.probs, expected.probs, atol=1e-12)

    again = tmp_path / "again.tsv"
    assert main(["fuse", "--logistic", *map(str, test_paths), "--fusion-model", str(saved), "--out", str(again)]) == 0
    np.testing.assert_allclose(read_predictions(again).probs, fused.probs, atol=1e-12)


def test_fuse_logistic_command_errors(tmp_path, capsys):
    val_paths, _ = write_member_files(tmp_path, 30, seed=12, prefix="val")
    test_paths, _ = write_member_files(tmp_path, 10, seed=13, prefix="test")
    out = str(tmp_path / "o.tsv")
    assert main(["fuse", "--average", *map(str, test_paths), "--fit-on", *map(str, val_paths), "--out", out]) == 2
    assert "only apply to --logistic" in capsys.readouterr().err
    assert main(["fuse", "--logistic", *map(str, test_paths), "--out", out]) == 2
    assert "--fit-on" in capsys.readouterr().err
    assert main(["fuse", "--logistic", *map(str, test_paths), "--fit-on", str(val_paths[0]), "--truth", "x.csv", "--out", out]) == 2
    assert "one validation file per member" in capsys.readouterr().err
