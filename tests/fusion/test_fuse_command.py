"""`asckit fuse --average` and `--two-stage` (``asckit.fusion.commands``): files in, a fused file out, bad input in one line."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import clip_names, random_predictions, shuffled

from asckit.cli import main
from asckit.fusion.two_stage import fuse_two_stage
from asckit.labels import SCENES_3, SCENES_10
from asckit.predictions.reader import Predictions, read_predictions, write_predictions


def _write(path, preds: Predictions):
    return write_predictions(path, preds.filenames, preds.probs, preds.task)


def test_fuse_command_average_and_two_stage(tmp_path, capsys):
    names = clip_names(20)
    a = random_predictions(names, SCENES_10, "1a", 1, "a")
    b = random_predictions(names, SCENES_10, "1a", 2, "b")
    three = random_predictions(names, SCENES_3, "1b", 3, "three")
    pa, pb, p3 = _write(tmp_path / "a.tsv", a), _write(tmp_path / "b.tsv", shuffled(b, 1)), _write(tmp_path / "3.tsv", three)

    out = tmp_path / "avg.tsv"
    assert main(["fuse", "--average", str(pa), str(pb), "--weights", "1", "3", "--out", str(out)]) == 0
    np.testing.assert_allclose(read_predictions(out).probs, 0.25 * a.probs + 0.75 * b.probs)

    out2 = tmp_path / "two.tsv"
    assert main(["fuse", "--two-stage", str(out), str(p3), "--out", str(out2)]) == 0
    expected = fuse_two_stage(read_predictions(out), three)
    np.testing.assert_allclose(read_predictions(out2).probs, expected.probs)
    assert "two-stage" in capsys.readouterr().out


def test_fuse_command_reports_user_errors_in_one_line(tmp_path, capsys):
    names = clip_names(6)
    pa = _write(tmp_path / "a.tsv", random_predictions(names, SCENES_10, "1a", 1, "a"))
    pb = _write(tmp_path / "b.tsv", random_predictions(names[:5], SCENES_10, "1a", 2, "b"))
    p3 = _write(tmp_path / "3.tsv", random_predictions(names, SCENES_3, "1b", 3, "three"))
    out = tmp_path / "out.tsv"
    assert main(["fuse", "--average", str(pa), str(pb), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(pb) in err and names[5] in err
    assert not out.exists()
    assert main(["fuse", "--two-stage", str(pa), str(p3), "--weights", "1", "2", "--out", str(out)]) == 2
    assert main(["fuse", "--average", str(pa), "--out", str(out)]) == 2
    with pytest.raises(SystemExit):  # the two modes exclude each other
        main(["fuse", "--average", str(pa), str(pa), "--two-stage", str(pa), str(p3), "--out", str(out)])
