"""Fusion: averaging and the two-stage product, always joined by filename; the `asckit fuse` command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from asckit.cli import main
from asckit.core.errors import AsckitError
from asckit.fusion import fuse_average, fuse_two_stage
from asckit.labels import MAP_10_TO_3, SCENES_3, SCENES_10, SUPERCLASS
from asckit.metrics import compute_metrics
from asckit.predictions.reader import Predictions, read_predictions, write_predictions


def _names(n: int) -> list[str]:
    return [f"audio/{SCENES_10[i % 10]}-lisbon-{1000 + i}-{40000 + i}-a.wav" for i in range(n)]


def _random(names, classes, task, seed, source):
    probs = np.random.default_rng(seed).dirichlet(np.ones(len(classes)), size=len(names))
    return Predictions(names, probs, classes, task, source)


def _shuffled(preds: Predictions, seed: int) -> Predictions:
    return preds.take(np.random.default_rng(seed).permutation(len(preds)))


def test_two_stage_result_does_not_depend_on_the_row_order_of_the_inputs():
    names = _names(40)
    ten = _random(names, SCENES_10, "1a", 1, "ten.tsv")
    three = _random(names, SCENES_3, "1b", 2, "three.tsv")
    same_order = fuse_two_stage(ten, three)
    other_order = fuse_two_stage(ten, _shuffled(three, 3))
    assert other_order.filenames == same_order.filenames
    np.testing.assert_allclose(other_order.probs, same_order.probs)
    # And when the 10-class file is the shuffled one, every clip keeps its own fused row.
    both_shuffled = fuse_two_stage(_shuffled(ten, 4), three)
    index = {f: i for i, f in enumerate(both_shuffled.filenames)}
    np.testing.assert_allclose(both_shuffled.probs[[index[f] for f in names]], same_order.probs)


def test_two_stage_product_on_a_hand_checkable_clip():
    ten = np.zeros(10)
    ten[SCENES_10.index("bus")] = 0.40
    ten[SCENES_10.index("airport")] = 0.35
    ten[SCENES_10.index("park")] = 0.25
    three = np.array([0.7, 0.2, 0.1])  # indoor, outdoor, transportation
    fused = fuse_two_stage(
        Predictions(["x.wav"], ten[None], SCENES_10, "1a", "ten"),
        Predictions(["x.wav"], three[None], SCENES_3, "1b", "three"),
    )
    # airport 0.35·0.7 = 0.245, bus 0.40·0.1 = 0.04, park 0.25·0.2 = 0.05; sum 0.335
    expected = {"airport": 0.245 / 0.335, "bus": 0.04 / 0.335, "park": 0.05 / 0.335}
    for k, name in enumerate(SCENES_10):
        assert fused.probs[0, k] == pytest.approx(expected.get(name, 0.0))
    assert fused.labels == ("airport",)  # the 3-class stage overturns the 10-class favourite


def test_two_stage_product_uses_each_scenes_super_class():
    names = _names(15)
    ten = _random(names, SCENES_10, "1a", 5, "ten.tsv")
    three = _random(names, SCENES_3, "1b", 6, "three.tsv")
    fused = fuse_two_stage(ten, three)
    expected = np.array(
        [[ten.probs[i, k] * three.probs[i, SCENES_3.index(SUPERCLASS[s])] for k, s in enumerate(SCENES_10)]
         for i in range(len(names))]
    )
    np.testing.assert_allclose(fused.probs, expected / expected.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(fused.probs.sum(axis=1), 1.0)


def _misalignment_case(files_per_class: int = 8):
    """Clips where only the right clip's 3-class scores rescue the 10-class decision.

    In each class block, the first half are "hard" clips: the 10-class model prefers a decoy scene of
    another super-class (0.55 vs 0.45) but the 3-class model is sure of the true super-class. The
    second half are "easy": the 10-class model is sure (0.9) while the 3-class model leans to the
    decoy's super-class, which does not matter. Joined by filename every clip comes out right.
    """
    names, labels, ten_rows, three_rows = [], [], [], []
    for c, scene in enumerate(SCENES_10):
        decoy = next(s for s in SCENES_10[c + 1:] + SCENES_10[:c] if SUPERCLASS[s] != SUPERCLASS[scene])
        true_super, decoy_super = SCENES_3.index(SUPERCLASS[scene]), SCENES_3.index(SUPERCLASS[decoy])
        for j in range(files_per_class):
            hard = j < files_per_class // 2
            ten = np.zeros(10)
            ten[c], ten[SCENES_10.index(decoy)] = (0.45, 0.55) if hard else (0.9, 0.1)
            three = np.full(3, 0.05)
            if hard:
                three[true_super] = 0.9
            else:
                three[decoy_super], three[true_super] = 0.75, 0.2
            names.append(f"audio/{scene}-lisbon-{c}-{j}-a.wav")
            labels.append(scene)
            ten_rows.append(ten)
            three_rows.append(three)
    truth = pd.DataFrame({"filename": names, "scene_label": labels, "device": "a"})
    ten = Predictions(names, np.array(ten_rows), SCENES_10, "1a", "ten.tsv")
    three = Predictions(names, np.array(three_rows), SCENES_3, "1b", "three.tsv")
    # The 3-class file lists every class block in reverse order, as the reference's 3-class CSV
    # listed the same blocks in another order (spec §4).
    order = np.concatenate([np.arange(b, b + files_per_class)[::-1] for b in range(0, len(names), files_per_class)])
    return truth, ten, three.take(order)


def test_fusing_by_position_would_pair_other_clips_and_score_wrongly():
    truth, ten, three_reordered = _misalignment_case()
    by_filename = compute_metrics(truth, fuse_two_stage(ten, three_reordered))
    # What the reference did: multiply row i of one file with row i of the other.
    positional = ten.probs * three_reordered.probs[:, list(MAP_10_TO_3)]
    by_position = compute_metrics(truth, Predictions(ten.filenames, positional, SCENES_10, "1a", "by position"))
    ten_alone = compute_metrics(truth, ten)
    assert by_filename["macro_accuracy"] == 1.0
    assert ten_alone["macro_accuracy"] == pytest.approx(0.5)
    # Every hard clip got an easy clip's 3-class row, which points at the decoy.
    assert by_position["macro_accuracy"] == pytest.approx(0.5)
    assert by_position["macro_accuracy"] < by_filename["macro_accuracy"] - 0.4


def test_mismatched_clip_sets_are_refused():
    names = _names(12)
    ten = _random(names, SCENES_10, "1a", 1, "ten.tsv")
    three = _random(names[:10] + ["audio/other-1.wav", "audio/other-2.wav"], SCENES_3, "1b", 2, "three.tsv")
    with pytest.raises(AsckitError, match=r"ten\.tsv and three\.tsv list different clips: 2 only in ten\.tsv"):
        fuse_two_stage(ten, three)
    with pytest.raises(AsckitError, match="more than once"):
        fuse_average([ten, ten.take(list(range(12)) + [0])])


def test_two_stage_needs_ten_then_three_classes():
    names = _names(5)
    ten = _random(names, SCENES_10, "1a", 1, "ten.tsv")
    three = _random(names, SCENES_3, "1b", 2, "three.tsv")
    with pytest.raises(AsckitError, match="10-class"):
        fuse_two_stage(three, three)
    with pytest.raises(AsckitError, match="3-class"):
        fuse_two_stage(ten, ten)


def test_average_is_the_weighted_mean_joined_by_filename():
    names = _names(30)
    a = _random(names, SCENES_10, "1a", 1, "a.tsv")
    b = _random(names, SCENES_10, "1a", 2, "b.tsv")
    np.testing.assert_allclose(fuse_average([a, _shuffled(b, 7)]).probs, (a.probs + b.probs) / 2)
    weighted = fuse_average([a, _shuffled(b, 8)], weights=[3, 1])
    np.testing.assert_allclose(weighted.probs, 0.75 * a.probs + 0.25 * b.probs)
    assert weighted.filenames == a.filenames


@pytest.mark.parametrize("weights", [[1.0], [1.0, -1.0], [0.0, 0.0]])
def test_bad_weights_are_user_errors(weights):
    names = _names(4)
    a, b = (_random(names, SCENES_10, "1a", s, f"{s}.tsv") for s in (1, 2))
    with pytest.raises(AsckitError, match="weight"):
        fuse_average([a, b], weights=weights)


def test_average_refuses_to_mix_tasks():
    names = _names(4)
    with pytest.raises(AsckitError, match="different tasks"):
        fuse_average([_random(names, SCENES_10, "1a", 1, "a"), _random(names, SCENES_3, "1b", 2, "b")])


def _write(path, preds: Predictions):
    return write_predictions(path, preds.filenames, preds.probs, preds.task)


def test_fuse_command_average_and_two_stage(tmp_path, capsys):
    names = _names(20)
    a = _random(names, SCENES_10, "1a", 1, "a")
    b = _random(names, SCENES_10, "1a", 2, "b")
    three = _random(names, SCENES_3, "1b", 3, "three")
    pa, pb, p3 = _write(tmp_path / "a.tsv", a), _write(tmp_path / "b.tsv", _shuffled(b, 1)), _write(tmp_path / "3.tsv", three)

    out = tmp_path / "avg.tsv"
    assert main(["fuse", "--average", str(pa), str(pb), "--weights", "1", "3", "--out", str(out)]) == 0
    np.testing.assert_allclose(read_predictions(out).probs, 0.25 * a.probs + 0.75 * b.probs)

    out2 = tmp_path / "two.tsv"
    assert main(["fuse", "--two-stage", str(out), str(p3), "--out", str(out2)]) == 0
    expected = fuse_two_stage(read_predictions(out), three)
    np.testing.assert_allclose(read_predictions(out2).probs, expected.probs)
    assert "two-stage" in capsys.readouterr().out


def test_fuse_command_reports_user_errors_in_one_line(tmp_path, capsys):
    names = _names(6)
    pa = _write(tmp_path / "a.tsv", _random(names, SCENES_10, "1a", 1, "a"))
    pb = _write(tmp_path / "b.tsv", _random(names[:5], SCENES_10, "1a", 2, "b"))
    p3 = _write(tmp_path / "3.tsv", _random(names, SCENES_3, "1b", 3, "three"))
    out = tmp_path / "out.tsv"
    assert main(["fuse", "--average", str(pa), str(pb), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(pb) in err and names[5] in err
    assert not out.exists()
    assert main(["fuse", "--two-stage", str(pa), str(p3), "--weights", "1", "2", "--out", str(out)]) == 2
    assert main(["fuse", "--average", str(pa), "--out", str(out)]) == 2
    with pytest.raises(SystemExit):  # the two modes exclude each other
        main(["fuse", "--average", str(pa), str(pa), "--two-stage", str(pa), str(p3), "--out", str(out)])
