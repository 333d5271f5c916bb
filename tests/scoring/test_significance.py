"""Bootstrap intervals and paired differences: the uncertainty behind Table 1's claims."""

import numpy as np
import pytest

from asckit.core.errors import AsckitError
from asckit.labels import SCENES_10
from asckit.scoring.metrics import metrics_from_arrays, table1_row
from asckit.scoring.significance import (
    ACCURACY_COLUMNS,
    ClipScores,
    Difference,
    column_values,
    confidence_interval,
    paired_difference,
    verdict,
)

DEVICES = ("a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6")


def _split(per_cell: int = 7, seed: int = 0):
    """A balanced split: every class × device `per_cell` times, filenames shuffled."""
    labels, devices = [], []
    for device in DEVICES:
        for scene in SCENES_10:
            labels += [scene] * per_cell
            devices += [device] * per_cell
    order = np.random.default_rng(seed).permutation(len(labels))
    labels = [labels[i] for i in order]
    devices = [devices[i] for i in order]
    filenames = [f"audio/clip-{i:05d}-{d}.wav" for i, d in enumerate(devices)]
    return filenames, labels, devices


def _probs(labels, right: np.ndarray) -> np.ndarray:
    """One-hot on the true class where `right`, else on the next class."""
    y = np.array([SCENES_10.index(label) for label in labels])
    guess = np.where(right, y, (y + 1) % 10)
    probs = np.full((len(y), 10), 0.01)
    probs[np.arange(len(y)), guess] = 0.91
    return probs


def _scores(filenames, labels, devices, right) -> ClipScores:
    return ClipScores.from_predictions(filenames, labels, _probs(labels, right), SCENES_10, devices)


def test_unresampled_columns_equal_the_table1_row():
    filenames, labels, devices = _split()
    right = np.random.default_rng(1).random(len(labels)) < np.linspace(0.3, 0.9, len(labels))
    probs = _probs(labels, right)
    row = table1_row(metrics_from_arrays(labels, probs, SCENES_10, devices))
    scores = ClipScores.from_predictions(filenames, labels, probs, SCENES_10, devices)
    for column in ACCURACY_COLUMNS:
        value = column_values(scores, column, np.ones((1, len(labels)), dtype=np.float32))[0]
        assert value == pytest.approx(row[column], abs=1e-6), column


def test_interval_holds_the_observed_accuracy_with_the_binomial_width():
    filenames, labels, devices = _split(per_cell=7)  # 630 clips, as the demo's evaluate split
    right = np.random.default_rng(2).random(len(labels)) < 0.6
    scores = _scores(filenames, labels, devices, right)
    observed = column_values(scores, "avg_acc", np.ones((1, len(labels)), dtype=np.float32))[0]
    low, high = confidence_interval(scores)
    assert low < observed < high
    binomial = 2 * 1.96 * np.sqrt(0.6 * 0.4 / len(labels))  # about 7.7 points
    assert 0.7 * binomial < high - low < 1.3 * binomial
    assert confidence_interval(scores) == (low, high)  # fixed seed: reproducible


def test_a_system_against_itself_differs_by_nothing():
    filenames, labels, devices = _split()
    right = np.random.default_rng(3).random(len(labels)) < 0.5
    scores = _scores(filenames, labels, devices, right)
    difference = paired_difference([scores], [scores])
    assert (difference.observed, difference.low, difference.high) == (0.0, 0.0, 0.0)
    assert verdict([difference]) == "within noise"


def test_ten_points_better_on_the_same_clips_is_reproduced():
    filenames, labels, devices = _split()
    rng = np.random.default_rng(4)
    base = rng.random(len(labels)) < 0.5
    better = base | (rng.random(len(labels)) < 0.2)  # fixes a fifth of the errors
    difference = paired_difference([_scores(filenames, labels, devices, better)], [_scores(filenames, labels, devices, base)])
    assert difference.observed > 0.05 and difference.low > 0
    assert verdict([difference]) == "reproduced"
    worse = paired_difference([_scores(filenames, labels, devices, base)], [_scores(filenames, labels, devices, better)])
    assert worse.high < 0 and verdict([worse]) == "NOT reproduced"


def test_a_two_clip_edge_is_within_noise():
    filenames, labels, devices = _split()
    base = np.random.default_rng(5).random(len(labels)) < 0.5
    wrong = np.flatnonzero(~base)
    better = base.copy()
    better[wrong[:3]] = True  # right on three more clips
    better[np.flatnonzero(base)[:1]] = False  # and wrong on one
    difference = paired_difference([_scores(filenames, labels, devices, better)], [_scores(filenames, labels, devices, base)])
    assert difference.observed > 0 and difference.low <= 0 <= difference.high
    assert verdict([difference]) == "within noise"
    assert "points, 95 % CI" in difference.describe()


def _interval(observed: float, low: float, high: float) -> Difference:
    """A difference in points, as the claims table prints it."""
    return Difference(column="avg_acc", observed=observed / 100, low=low / 100, high=high / 100, level=0.95)


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        ([(2.5, 0.4, 4.6)], "reproduced"),
        ([(2.5, 0.4, 4.6), (6.0, 3.1, 8.8)], "reproduced"),
        ([(0.5, -0.8, 1.8)], "within noise"),  # the distillation row that used to read "reproduced (within noise)"
        ([(-0.5, -1.8, 0.8)], "within noise"),  # behind, but not significantly
        ([(2.5, 0.4, 4.6), (0.5, -0.8, 1.8)], "within noise"),  # one comparison of two reaches zero
        ([(0.0, 0.0, 0.0)], "within noise"),  # an interval touching zero is not above it
        ([(-2.5, -4.6, -0.4)], "NOT reproduced"),
        ([(2.5, 0.4, 4.6), (-2.5, -4.6, -0.4)], "NOT reproduced"),  # beats one member, loses to another
        ([(0.5, -0.8, 1.8), (-2.5, -4.6, -0.4)], "NOT reproduced"),
    ],
)
def test_verdict_of_constructed_intervals(intervals, expected):
    assert verdict([_interval(*i) for i in intervals]) == expected


def test_verdict_needs_a_difference():
    with pytest.raises(ValueError):
        verdict([])


def test_seeds_average_and_pairing_follows_filenames_not_row_order():
    filenames, labels, devices = _split()
    rng = np.random.default_rng(6)
    runs = [rng.random(len(labels)) < p for p in (0.4, 0.6, 0.5)]
    a1, a2, b = (_scores(filenames, labels, devices, r) for r in runs)
    difference = paired_difference([a1, a2], [b])
    ones = np.ones((1, len(labels)), dtype=np.float32)
    expected = np.mean([column_values(s, "avg_acc", ones)[0] for s in (a1, a2)]) - column_values(b, "avg_acc", ones)[0]
    assert difference.observed == pytest.approx(expected)
    reverse = slice(None, None, -1)
    shuffled = ClipScores.from_predictions(
        filenames[reverse], labels[reverse], _probs(labels, runs[2])[reverse], SCENES_10, devices[reverse]
    )
    assert paired_difference([a1, a2], [shuffled]) == difference


def test_systems_scored_on_other_clips_cannot_be_paired():
    filenames, labels, devices = _split()
    right = np.ones(len(labels), dtype=bool)
    other = [f"x{f}" for f in filenames]
    with pytest.raises(AsckitError, match="scored on different clips"):
        paired_difference([_scores(filenames, labels, devices, right)], [_scores(other, labels, devices, right)])


def test_compare_command_prints_each_column_with_its_interval(tmp_path, capsys):
    """`asckit compare A.tsv B.tsv --root R`: a clearly better file wins, itself ties."""
    from conftest import write_scoring_root

    from asckit.cli import main
    from asckit.predictions.reader import write_predictions

    truth = write_scoring_root(tmp_path / "data", clips_per_class_and_device=4)
    labels = truth["scene_label"].tolist()
    rng = np.random.default_rng(7)
    good = rng.random(len(labels)) < 0.9
    poor = good & (rng.random(len(labels)) < 0.5)
    for name, right in (("good", good), ("poor", poor)):
        write_predictions(tmp_path / f"{name}.tsv", truth["filename"].tolist(), _probs(labels, right), "1a")
    root = str(tmp_path / "data")
    assert main(["compare", str(tmp_path / "good.tsv"), str(tmp_path / "poor.tsv"), "--root", root]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_column = {line.split()[0]: line for line in lines[3:]}
    assert set(by_column) == set(ACCURACY_COLUMNS)
    assert all(line.endswith("A better") for line in by_column.values())
    (tmp_path / "good2.tsv").write_bytes((tmp_path / "good.tsv").read_bytes())  # a second seed (one file twice is refused)
    assert main(["compare", str(tmp_path / "good.tsv"), f"{tmp_path / 'good.tsv'},{tmp_path / 'good2.tsv'}", "--root", root]) == 0
    assert capsys.readouterr().out.splitlines()[2].startswith("1 vs 2 seed(s)")
    assert main(["compare", str(tmp_path / "good.tsv"), str(tmp_path / "poor.tsv"), "--root", root, "--draws", "5"]) == 2
    assert "use at least 100 resamples" in capsys.readouterr().err


def test_the_bootstrap_draws_whole_10_s_segments_so_correlated_clips_widen_the_interval():
    import numpy as np

    from asckit.scoring.significance import ClipScores, confidence_interval, resample_counts, resample_weights

    # 40 segments of ten 1 s TAU22 clips each; a segment is right or wrong as a whole (what correlation means).
    names, correct = [], []
    rng = np.random.default_rng(0)
    for segment in range(40):
        hit = bool(rng.random() < 0.6)
        for k in range(10):
            names.append(f"audio/park-lisbon-{1000 + segment}-{40000 + segment}-{k}-a.wav")
            correct.append(hit)
    scores = ClipScores(
        filenames=tuple(names), y_true=np.zeros(len(names), dtype=np.intp), correct=np.array(correct),
        devices=np.array(["a"] * len(names), dtype=object), n_classes=10,
    )
    assert len(np.unique(scores.segments)) == 40
    weights = resample_weights(scores.segments, draws=50, seed=1)
    assert np.all(weights.reshape(50, 40, 10) == weights.reshape(50, 40, 10)[:, :, :1])  # a segment's clips move together
    low, high = confidence_interval(scores, "avg_acc")
    clip_based = (resample_counts(len(names), 2000, 0) @ scores.correct.astype(np.float32)) / len(names)
    clip_low, clip_high = np.percentile(clip_based, [2.5, 97.5])
    assert (high - low) > 2.5 * (clip_high - clip_low)  # √10 ≈ 3.2 times wider for fully correlated tens


def test_clips_without_a_segment_in_their_name_are_segments_of_their_own():
    import numpy as np

    from asckit.scoring.significance import ClipScores

    scores = ClipScores(
        filenames=("audio/0.wav", "audio/1.wav", "audio/bus-paris-1-2-a.wav", "audio/bus-paris-1-2-b.wav"),
        y_true=np.zeros(4, dtype=np.intp), correct=np.ones(4, bool), devices=np.array([None, None, "a", "b"], dtype=object),
        n_classes=10,
    )
    assert scores.segments.tolist() == [0, 1, 2, 2]  # 2020's parallel recordings of one segment pair up
