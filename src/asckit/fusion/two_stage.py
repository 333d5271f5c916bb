"""The two-stage fusion: 10-class probabilities times the 3-class probability of each scene's
super-class, rows joined by filename (the paper's "Class(x)")."""

from __future__ import annotations

import numpy as np

from asckit.core.errors import AsckitError
from asckit.labels import MAP_10_TO_3, SCENES_3, SCENES_10
from asckit.predictions.reader import Predictions, align


def fuse_two_stage(ten: Predictions, three: Predictions) -> Predictions:
    """The two-stage product: score(x, k) = F1_k(x) · F2_{p(k)}(x), renormalised per clip.

    ``ten`` holds 10-class probabilities F1 and ``three`` the 3-class (super-class) probabilities
    F2 of the same clips; p = ``asckit.labels.MAP_10_TO_3`` maps a scene to its super-class. The
    predicted class argmax_k F1_k · F2_{p(k)} is the paper's "Class(x)". The ten products are
    renormalised to sum to 1 so the output is a probability file like any other and its log loss
    is well defined; the reference multiplied raw ensemble sums without renormalising, and its
    printed log loss (0.936) came from scikit-learn 0.22 clipping those unnormalised products.
    Rows are joined by filename, in the order of ``ten``.
    """
    if ten.classes != SCENES_10:
        raise AsckitError(f"{ten.source}: two-stage fusion needs 10-class predictions first, got {' '.join(ten.classes)}")
    if three.classes != SCENES_3:
        raise AsckitError(
            f"{three.source}: two-stage fusion needs 3-class predictions second, got {' '.join(three.classes)}"
        )
    ten, three = align(ten, three)
    product = ten.probs * three.probs[:, list(MAP_10_TO_3)]
    sums = product.sum(axis=1, keepdims=True)
    empty = np.flatnonzero(sums[:, 0] <= 0)
    if empty.size:
        raise AsckitError(
            f"{ten.source} × {three.source}: clip {ten.filenames[empty[0]]} gets probability 0 for every "
            f"class ({empty.size} clip(s) like this): the 3-class file rules out every scene the 10-class file allows"
        )
    source = f"two_stage({ten.source}, {three.source})"
    return Predictions(ten.filenames, product / sums, ten.classes, ten.task, source)
