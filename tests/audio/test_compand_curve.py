"""sox's compand curve: its shape, and asckit's compander against the real sox (skipped without sox)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest

from asckit.audio import augment
from asckit.audio.compand_curve import transfer_db

SR = 16000
ALL_CURVES = [c for curves in augment.COMPAND_SETS.values() for c in curves] + list(augment.COMPAND_FALLBACK.values())


def test_straight_pieces_away_from_the_knees_and_constant_gain_below_the_first_point():
    points = ((-90.0, -70.0), (-60.0, -40.0), (0.0, 0.0))  # mardy-cpd1 without its gain
    out = transfer_db(points, 2.0, 6.0, np.array([-120.0, -100.0, -75.0, -30.0]))
    # below the first point: its gain (+20 dB) plus the make-up gain; between knees: the segments
    np.testing.assert_allclose(out, [-120 + 22, -100 + 22, -75 + 22, -30 * (40 / 60) + 2], atol=1e-9)


def test_curves_are_continuous_and_monotone():
    levels = np.linspace(-100, 0, 20001)
    for curve in ALL_CURVES:
        out = curve.output_db(levels)
        assert np.max(np.abs(np.diff(out))) < 0.03, curve.name  # steps of 0.005 dB, slopes up to 3: no jumps
        assert np.all(np.diff(out) >= -1e-9), curve.name  # monotone: louder in, louder out


def test_soft_knee_only_rounds_the_corners_over_sox_extent():
    curve = augment.COMPAND_SETS["mardy"][0]  # gain +20 dB up to -60 dB, then falling 1/3 dB per dB to 0
    hard = replace(curve, knee_db=0.0)
    away = np.array([-120.0, -97.0, -80.0, -67.0, -54.0, -30.0, -1.0])
    np.testing.assert_allclose(curve.output_db(away), hard.output_db(away), atol=1e-9)
    # In the (input, gain) plane the knee runs 6 dB along each segment: from -66 dB to -60 + 6·cos(atan(1/3)).
    end = -60.0 + 6.0 * np.cos(np.arctan(1 / 3))
    inside = np.array([-65.0, -60.0, end - 0.5])
    assert np.all(curve.output_db(inside) < hard.output_db(inside))
    np.testing.assert_allclose(curve.output_db([end + 0.01]), hard.output_db([end + 0.01]), atol=1e-9)


def _reverberated(seconds: float = 3.0) -> np.ndarray:
    """Noise bursts at several levels convolved with a decaying-noise RIR: a reverberated clip."""
    rng = np.random.default_rng(0)
    n = int(seconds * SR)
    envelope = np.repeat(10 ** (rng.uniform(-60, -15, size=30) / 20), n // 30 + 1)[:n]
    dry = rng.standard_normal(n) * envelope * 0.3
    t = np.arange(int(0.4 * SR)) / SR
    rir = rng.standard_normal(t.size) * np.exp(-t / 0.07)
    rir[0] = 4.0
    return augment.convolve_rir(dry, rir)[0]


def _levels_db(y: np.ndarray, window: int) -> np.ndarray:
    frames = y[: y.size // window * window].reshape(-1, window).astype(np.float64)
    return 10 * np.log10(np.maximum(np.mean(frames**2, axis=1), 1e-24))


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed (Debian: apt-get install sox)")
@pytest.mark.parametrize("curve", ALL_CURVES, ids=lambda c: c.name)
def test_compander_matches_real_sox_on_a_reverberated_clip(curve, tmp_path):
    import soundfile

    wet = _reverberated()
    ours = augment.compand(wet, SR, curve)[0]
    soundfile.write(tmp_path / "in.wav", wet, SR, subtype="FLOAT")
    points = ",".join(f"{x:g},{y:g}" for x, y in curve.points)
    subprocess.run(
        ["sox", str(tmp_path / "in.wav"), "-e", "floating-point", "-b", "32", str(tmp_path / "out.wav"), "compand",
         f"{curve.attack:g},{curve.decay:g}", f"{curve.knee_db:g}:{points}", f"{curve.gain_db:g}", f"{curve.initial_db:g}"],
        check=True, capture_output=True,
    )
    theirs, rate = soundfile.read(tmp_path / "out.wav", dtype="float64")
    assert rate == SR and theirs.shape == ours.shape
    window = SR // 50  # 20 ms levels
    frames = ours.size // window
    unclipped = np.abs(ours[: frames * window]).reshape(frames, window).max(axis=1) < 1.0  # sox clips at full scale
    loud_enough = _levels_db(wet, window) > -70
    keep = unclipped & loud_enough
    assert keep.mean() > 0.25  # most curves clip the loudest bursts
    difference = np.abs(_levels_db(ours, window) - _levels_db(theirs, window))[keep]
    print(f"{curve.name}: max level difference {difference.max():.4f} dB over {keep.sum()} windows")
    assert difference.max() < 0.05
