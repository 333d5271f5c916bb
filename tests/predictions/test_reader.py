"""Prediction TSVs: round trip, the format other tools read, validation messages, joining by filename."""

from __future__ import annotations

import numpy as np
import pytest

from asckit.core.errors import AsckitError
from asckit.labels import SCENES_3, SCENES_10, classes
from asckit.predictions.reader import Predictions, align, clip_key, match_filenames, read_predictions, write_predictions


def _names(n: int, prefix: str = "audio/") -> list[str]:
    return [f"{prefix}{SCENES_10[i % 10]}-lisbon-{1000 + i}-{40000 + i}-a.wav" for i in range(n)]


def _probs(n: int, k: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(k), size=n)


def _write_text(path, header: list[str], rows: list[list[str]]) -> None:
    path.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")


def _valid_table(n: int = 4) -> tuple[list[str], list[list[str]]]:
    probs = _probs(n, 10, seed=3)
    header = ["filename", "scene_label", *SCENES_10]
    rows = [
        [name, SCENES_10[int(np.argmax(p))], *(repr(float(v)) for v in p)]
        for name, p in zip(_names(n), probs)
    ]
    return header, rows


@pytest.mark.parametrize("task", ["1a", "1b"])
def test_round_trip_keeps_names_probabilities_and_infers_task(tmp_path, task):
    k = len(classes(task))
    names, probs = _names(7), _probs(7, k)
    path = write_predictions(tmp_path / "sub" / "p.tsv", names, probs, task)
    preds = read_predictions(path)
    assert preds.filenames == tuple(names)
    np.testing.assert_array_equal(preds.probs, probs)  # lossless, not just close
    assert preds.classes == classes(task)
    assert preds.task == task
    assert preds.probs.dtype == np.float64


def test_written_file_is_dcase_tsv_with_argmax_scene_label(tmp_path):
    names, probs = _names(5), _probs(5, 10, seed=1)
    path = write_predictions(tmp_path / "p.tsv", names, probs, "1a")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == ["filename", "scene_label", *SCENES_10]
    assert len(lines) == 1 + len(names)
    for line, name, p in zip(lines[1:], names, probs):
        fields = line.split("\t")
        assert fields[0] == name
        assert fields[1] == SCENES_10[int(np.argmax(p))]
        np.testing.assert_allclose([float(v) for v in fields[2:]], p)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["p.tsv"]  # no temporary left behind


def test_invalid_data_is_refused_before_anything_is_written(tmp_path):
    probs = _probs(3, 10)
    probs[1] *= 2
    with pytest.raises(AsckitError, match="sum to"):
        write_predictions(tmp_path / "p.tsv", _names(3), probs, "1a")
    assert not any(tmp_path.iterdir())


def test_rows_written_with_four_decimals_are_accepted(tmp_path):
    header, rows = _valid_table(6)
    rows = [r[:2] + [f"{float(v):.4f}" for v in r[2:]] for r in rows]
    _write_text(tmp_path / "p.tsv", header, rows)
    assert len(read_predictions(tmp_path / "p.tsv")) == 6


def _corrupt(header, rows, how):
    header, rows = list(header), [list(r) for r in rows]
    if how == "unknown_column":
        header[5] = "forest"
    elif how == "missing_column":
        header, rows = header[:-1], [r[:-1] for r in rows]
    elif how == "swapped_columns":
        header[2], header[3] = header[3], header[2]
    elif how == "comma_separated":
        header = [",".join(header)]
    elif how == "nan":
        rows[2][4] = "nan"
    elif how == "text":
        rows[2][4] = "abc"
    elif how == "negative":
        rows[2][4] = "-0.1"
    elif how == "not_summing":
        rows[2][4] = str(float(rows[2][4]) + 0.5)
    elif how == "duplicate":
        rows[3][0] = rows[1][0]
    elif how == "label_not_argmax":
        probs = [float(v) for v in rows[2][2:]]
        rows[2][1] = SCENES_10[int(np.argmin(probs))]
    elif how == "unknown_label":
        rows[2][1] = "forest"
    elif how == "no_rows":
        rows = []
    return header, rows


@pytest.mark.parametrize(
    "how, expected",
    [
        ("unknown_column", "unknown class columns forest"),
        ("missing_column", "missing class columns tram"),
        ("swapped_columns", "out of order"),
        ("comma_separated", "not TAB-separated"),
        ("nan", "data row 3 .*'nan'"),
        ("text", "data row 3 .*'abc'"),
        ("negative", "data row 3 .*negative"),
        ("not_summing", "data row 3 .*sum to 1.5"),
        ("duplicate", r"1 clip\(s\) appear more than once"),
        ("label_not_argmax", "data row 3 .*not the most probable"),
        ("unknown_label", "data row 3 .*'forest'"),
        ("no_rows", "no rows"),
    ],
)
def test_invalid_files_give_one_line_error_naming_file_and_problem(tmp_path, how, expected):
    header, rows = _corrupt(*_valid_table(), how)
    path = tmp_path / f"{how}.tsv"
    _write_text(path, header, rows)
    with pytest.raises(AsckitError, match=expected) as info:
        read_predictions(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message


def test_duplicate_error_names_the_clip(tmp_path):
    header, rows = _corrupt(*_valid_table(), "duplicate")
    _write_text(tmp_path / "p.tsv", header, rows)
    with pytest.raises(AsckitError, match=rows[1][0]):
        read_predictions(tmp_path / "p.tsv")


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(AsckitError, match="not found"):
        read_predictions(tmp_path / "absent.tsv")


def _preds(names, probs, source, task="1a"):
    return Predictions(names, probs, classes(task), task, source)


def test_align_reorders_rows_to_the_first_set_by_filename():
    names = _names(20)
    a = _preds(names, _probs(20, 10, seed=1), "a.tsv")
    b3 = _probs(20, 3, seed=2)
    order = np.random.default_rng(5).permutation(20)
    b = _preds([names[i] for i in order], b3[order], "b.tsv", task="1b")
    a2, b2 = align(a, b)
    assert b2.filenames == a.filenames
    np.testing.assert_array_equal(b2.probs, b3)  # each row follows its filename back home
    assert b2.classes == SCENES_3 and a2 is a


def test_bare_names_match_names_under_audio():
    names = _names(6)
    probs = _probs(6, 10)
    a = _preds(names, probs, "a.tsv")
    b = _preds([clip_key(n) for n in reversed(names)], probs[::-1], "b.tsv")
    _, b2 = align(a, b)
    np.testing.assert_array_equal(b2.probs, probs)
    assert b2.filenames == tuple(names)  # the first set's names, as written


def test_same_name_in_two_different_folders_is_not_matched():
    names = _names(4)
    with pytest.raises(AsckitError, match="different folder"):
        match_filenames(names, [n.replace("audio/", "eval/") for n in names], "a.tsv", "b.tsv")


def test_different_clip_sets_list_examples_and_counts():
    names = _names(10)
    other = names[:6] + [f"audio/extra-{i}.wav" for i in range(2)]
    with pytest.raises(AsckitError) as info:
        match_filenames(names, other, "a.tsv", "b.tsv")
    message = str(info.value)
    assert "4 only in a.tsv" in message and names[6] in message
    assert "2 only in b.tsv" in message and "audio/extra-0.wav" in message
    assert "\n" not in message


def test_long_lists_are_cut_with_a_count():
    names = _names(10)
    with pytest.raises(AsckitError, match=r"\.\.\. \(8 in all\)"):
        match_filenames(names, names[:2], "a.tsv", "b.tsv")


def test_duplicates_in_one_set_are_an_error_not_a_silent_pick():
    names = _names(5)
    with pytest.raises(AsckitError, match="more than once"):
        match_filenames(names, names + names[:1], "a.tsv", "b.tsv")
    with pytest.raises(AsckitError, match="more than once"):
        match_filenames(names, names[:4] + [clip_key(names[0])], "a.tsv", "b.tsv")


def test_predictions_object_checks_shape_and_class_order():
    with pytest.raises(ValueError):
        Predictions(_names(3), _probs(4, 10), SCENES_10, "1a")
    with pytest.raises(ValueError):
        Predictions(_names(3), _probs(3, 10), tuple(reversed(SCENES_10)), "1a")
    preds = _preds(_names(3), _probs(3, 10), "x")
    assert preds.labels == tuple(SCENES_10[k] for k in np.argmax(preds.probs, axis=1))
