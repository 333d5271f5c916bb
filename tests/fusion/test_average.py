"""The weighted average of prediction sets, joined by filename."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import clip_names, random_predictions, shuffled

from asckit.core.errors import AsckitError
from asckit.fusion.average import fuse_average
from asckit.labels import SCENES_3, SCENES_10


def test_average_is_the_weighted_mean_joined_by_filename():
    names = clip_names(30)
    a = random_predictions(names, SCENES_10, "1a", 1, "a.tsv")
    b = random_predictions(names, SCENES_10, "1a", 2, "b.tsv")
    np.testing.assert_allclose(fuse_average([a, shuffled(b, 7)]).probs, (a.probs + b.probs) / 2)
    weighted = fuse_average([a, shuffled(b, 8)], weights=[3, 1])
    np.testing.assert_allclose(weighted.probs, 0.75 * a.probs + 0.25 * b.probs)
    assert weighted.filenames == a.filenames


@pytest.mark.parametrize("weights", [[1.0], [1.0, -1.0], [0.0, 0.0]])
def test_bad_weights_are_user_errors(weights):
    names = clip_names(4)
    a, b = (random_predictions(names, SCENES_10, "1a", s, f"{s}.tsv") for s in (1, 2))
    with pytest.raises(AsckitError, match="weight"):
        fuse_average([a, b], weights=weights)


def test_average_refuses_to_mix_tasks():
    names = clip_names(4)
    with pytest.raises(AsckitError, match="different tasks"):
        fuse_average([random_predictions(names, SCENES_10, "1a", 1, "a"), random_predictions(names, SCENES_3, "1b", 2, "b")])
