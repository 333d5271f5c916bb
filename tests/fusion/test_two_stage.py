"""The two-stage product of 10-class and 3-class predictions, always joined by filename."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import clip_names, random_predictions, shuffled

from asckit.core.errors import AsckitError
from asckit.fusion.average import fuse_average
from asckit.fusion.two_stage import fuse_two_stage
from asckit.labels import MAP_10_TO_3, SCENES_3, SCENES_10, SUPERCLASS
from asckit.predictions.reader import Predictions
from asckit.scoring.metrics import compute_metrics


def test_two_stage_result_does_not_depend_on_the_row_order_of_the_inputs():
    names = clip_names(40)
    ten = random_predictions(names, SCENES_10, "1a", 1, "ten.tsv")
    three = random_predictions(names, SCENES_3, "1b", 2, "three.tsv")
    same_order = fuse_two_stage(ten, three)
    other_order = fuse_two_stage(ten, shuffled(three, 3))
    assert other_order.filenames == same_order.filenames
    np.testing.assert_allclose(other_order.probs, same_order.probs)
    # And when the 10-class file is the shuffled one, every clip keeps its own fused row.
    both_shuffled = fuse_two_stage(shuffled(ten, 4), three)
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
    names = clip_names(15)
    ten = random_predictions(names, SCENES_10, "1a", 5, "ten.tsv")
    three = random_predictions(names, SCENES_3, "1b", 6, "three.tsv")
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
    names = clip_names(12)
    ten = random_predictions(names, SCENES_10, "1a", 1, "ten.tsv")
    three = random_predictions(names[:10] + ["audio/other-1.wav", "audio/other-2.wav"], SCENES_3, "1b", 2, "three.tsv")
    with pytest.raises(AsckitError, match=r"ten\.tsv and three\.tsv list different clips: 2 only in ten\.tsv"):
        fuse_two_stage(ten, three)
    with pytest.raises(AsckitError, match="more than once"):
        fuse_average([ten, ten.take(list(range(12)) + [0])])


def test_two_stage_needs_ten_then_three_classes():
    names = clip_names(5)
    ten = random_predictions(names, SCENES_10, "1a", 1, "ten.tsv")
    three = random_predictions(names, SCENES_3, "1b", 2, "three.tsv")
    with pytest.raises(AsckitError, match="10-class"):
        fuse_two_stage(three, three)
    with pytest.raises(AsckitError, match="3-class"):
        fuse_two_stage(ten, ten)
