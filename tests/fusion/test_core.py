"""Tests for asckit.fusion.core: the fusion arithmetic shared by `asckit fuse` and the deployed bundle."""

from __future__ import annotations

import numpy as np
import pytest

from asckit.core.errors import AsckitError
from asckit.fusion.core import apply_logistic, normalised_weights, softmax, weighted_average


def test_weights_are_normalised_and_bad_ones_refused():
    np.testing.assert_allclose(normalised_weights([1, 3], 2), [0.25, 0.75])
    np.testing.assert_allclose(normalised_weights(None, 4), [0.25] * 4)
    for bad in ([1.0], [1.0, -1.0], [0.0, 0.0], [np.nan, 1.0]):
        with pytest.raises(AsckitError, match="weight"):
            normalised_weights(bad, 2, "test")


def test_weighted_average_on_a_hand_checked_row_sums_to_exactly_one():
    a = np.array([[0.8, 0.2], [0.1, 0.9]])
    b = np.array([[0.2, 0.8], [0.5, 0.5]])
    fused = weighted_average([a, b], np.array([0.75, 0.25]))
    np.testing.assert_allclose(fused, [[0.65, 0.35], [0.2, 0.8]])
    # inputs summing to 1 only within a file's tolerance still give rows of exactly 1
    np.testing.assert_array_equal(weighted_average([a * 1.0004], np.array([1.0])).sum(axis=1), [1.0, 1.0])


def test_logistic_forward_pass_is_softmax_of_the_affine_map():
    member = [np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])]
    model = {"coef": [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]], "intercept": [0.0, -1.0], "members": ["a", "b"]}
    # z = [1, 2 - 1] = [1, 1] → equal probabilities
    np.testing.assert_allclose(apply_logistic(model, member), [[0.5, 0.5]])
    np.testing.assert_allclose(softmax(np.array([[1000.0, 1000.0 + np.log(3)]])), [[0.25, 0.75]])  # no overflow
    with pytest.raises(AsckitError, match="expects 4 inputs"):
        apply_logistic(model, member[:1])
