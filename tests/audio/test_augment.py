"""The waveform augmentations against known signals (asckit.audio.augment)."""

from dataclasses import replace

import numpy as np
import pytest

from asckit.audio import augment

SR = 44100


def _tone(freq, seconds=1.0, sr=SR, amplitude=0.3):
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None]


def _peak_hz(audio, sr=SR):
    spectrum = np.abs(np.fft.rfft(audio.ravel() * np.hanning(audio.size)))
    return np.fft.rfftfreq(audio.size, 1 / sr)[np.argmax(spectrum)]


# --------------------------------------------------------------------------- mix and noise


def test_mix_is_the_gain_weighted_sum_and_needs_equal_shapes():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 1, 1000)).astype(np.float32)
    np.testing.assert_allclose(augment.mix(a, b, 0.6, 0.9), 0.6 * a + 0.9 * b, rtol=1e-6)
    with pytest.raises(ValueError):
        augment.mix(a, b[:, :500], 0.6, 0.9)


def test_fixed_noise_has_the_reference_std_and_keeps_exact_zeros():
    audio = np.full((1, 100_000), 0.2, dtype=np.float32)
    audio[0, ::10] = 0.0
    out = augment.add_noise(audio, np.random.default_rng(1))
    assert np.all(out[0, ::10] == 0.0)
    residual = (out - audio)[audio != 0]
    assert residual.std() == pytest.approx(augment.NOISE_STD, rel=0.02)
    np.testing.assert_array_equal(out, augment.add_noise(audio, np.random.default_rng(1)))  # the rng decides


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
def test_noise_at_an_snr_has_that_snr(snr_db):
    audio = _tone(300, seconds=2.0)
    out = augment.add_noise(audio, np.random.default_rng(2), snr_db=snr_db)
    noise = out - audio
    measured = 10 * np.log10(np.mean(audio.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
    assert measured == pytest.approx(snr_db, abs=0.2)


# --------------------------------------------------------------------------- pitch and speed


@pytest.mark.parametrize("n_steps", [3.0, -4.0, 1.5])
def test_pitch_shift_moves_a_sine_by_the_requested_semitones(n_steps):
    audio = _tone(440.0)
    out = augment.pitch_shift(audio, SR, n_steps)
    assert out.shape == audio.shape
    assert _peak_hz(out) == pytest.approx(440.0 * 2 ** (n_steps / 12), rel=0.01)


def _two_tones(seconds=2.0):
    """440 Hz for the first half, 880 Hz for the second."""
    half = int(seconds * SR / 2)
    return np.concatenate([_tone(440.0, seconds / 2), _tone(880.0, seconds / 2)], axis=1)[:, : 2 * half]


def _tone_at(audio, start_s, stop_s):
    return _peak_hz(audio[:, int(start_s * SR) : int(stop_s * SR)])


def test_doubling_the_speed_halves_the_timeline_keeps_pitch_and_repeats_to_length():
    out = augment.change_speed(_two_tones(), 2.0)
    assert out.shape == (1, 2 * SR)
    assert _tone_at(out, 0.1, 0.4) == pytest.approx(440, rel=0.02)
    assert _tone_at(out, 0.6, 0.9) == pytest.approx(880, rel=0.02)
    assert _tone_at(out, 1.1, 1.4) == pytest.approx(440, rel=0.02)  # the repeat (the reference tiled)
    assert _tone_at(out, 1.6, 1.9) == pytest.approx(880, rel=0.02)


def test_halving_the_speed_stretches_the_first_tone_and_cuts_to_length():
    out = augment.change_speed(_two_tones(), 0.5)
    assert out.shape == (1, 2 * SR)
    assert _tone_at(out, 0.2, 0.8) == pytest.approx(440, rel=0.02)
    assert _tone_at(out, 1.3, 1.9) == pytest.approx(440, rel=0.02)  # the 880 Hz half was cut off


# --------------------------------------------------------------------------- reverberation


def test_a_dirac_impulse_response_leaves_the_signal_unchanged_wherever_the_dirac_sits():
    clip = np.random.default_rng(6).uniform(-0.5, 0.5, (2, 5000)).astype(np.float32)
    for position in (0, 37):
        rir = np.zeros(400)
        rir[position] = 1.0
        np.testing.assert_allclose(augment.convolve_rir(clip, rir), clip, atol=1e-6)


def test_reverberation_is_aligned_at_the_direct_path_and_cut_to_length():
    clip = np.random.default_rng(7).uniform(-0.3, 0.3, (1, 3000)).astype(np.float32)
    rir = np.array([0.0, 0.1, 1.0, 0.0, 0.5])  # direct path at 2, an echo 2 samples later
    expected = clip.astype(np.float64).copy()
    expected[:, 2:] += 0.5 * clip[:, :-2]
    expected[:, :-1] += 0.1 * clip[:, 1:]  # the sample before the direct path lands one earlier
    np.testing.assert_allclose(augment.convolve_rir(clip, rir), expected, atol=1e-6)


def test_reverberation_energy_normalisation_and_full_scale_guard():
    clip = np.random.default_rng(8).uniform(-0.2, 0.2, (1, 4000)).astype(np.float32)
    rir = np.r_[1.0, 0.8 * np.exp(-np.arange(300) / 60.0)]
    normalised = augment.convolve_rir(clip, rir, energy_normalise=True)
    assert np.sum(normalised.astype(np.float64) ** 2) == pytest.approx(np.sum(clip.astype(np.float64) ** 2), rel=1e-5)
    loud = augment.convolve_rir(4.0 * clip, rir)
    assert np.max(np.abs(loud)) == pytest.approx(augment.FULL_SCALE, abs=1e-7)
    with pytest.raises(ValueError):
        augment.convolve_rir(clip, np.zeros(10))


# --------------------------------------------------------------------------- dynamic range compression


ALL_CURVES = [c for curves in augment.COMPAND_SETS.values() for c in curves] + list(augment.COMPAND_FALLBACK.values())


@pytest.mark.parametrize("curve", ALL_CURVES, ids=lambda c: c.name)
def test_hard_knee_static_curve_passes_through_the_transfer_points_plus_gain(curve):
    hard = replace(curve, knee_db=0.0)
    xs = np.array([p[0] for p in curve.points])
    ys = np.array([p[1] for p in curve.points])
    # sox's smallest knee is 0.01 dB, so even a "hard" corner is rounded by a few thousandths of a dB
    np.testing.assert_allclose(hard.output_db(xs), ys + curve.gain_db, atol=0.01)
    # straight between points, constant gain below the first point
    middle = (xs[:-1] + xs[1:]) / 2
    np.testing.assert_allclose(hard.output_db(middle), (ys[:-1] + ys[1:]) / 2 + curve.gain_db, atol=1e-9)
    below = xs[0] - np.array([5.0, 30.0])
    np.testing.assert_allclose(hard.output_db(below) - below, ys[0] - xs[0] + curve.gain_db, atol=1e-9)


def test_a_zero_db_point_is_added_when_the_curve_stops_short_of_full_scale():
    curve = augment.CompandParams("short", ((-60.0, -40.0), (-20.0, -10.0)), gain_db=0.0, knee_db=0.0)
    assert curve.output_db(0.0) == pytest.approx(0.0)
    assert curve.output_db(-10.0) == pytest.approx(-5.0)  # halfway from (-20, -10) to (0, 0)
    with pytest.raises(ValueError):
        augment.CompandParams("bad", ((-20.0, -10.0), (-60.0, -40.0)), gain_db=0.0)


def test_envelope_follows_a_step_with_the_attack_and_decay_time_constants():
    attack = augment.smoothing_coefficient(0.2, SR)
    decay = augment.smoothing_coefficient(0.3, SR)
    n = np.arange(SR)
    rise = augment.envelope(np.full(SR, 0.5), attack, decay, initial=0.0)
    np.testing.assert_allclose(rise, 0.5 * (1 - (1 - attack) ** (n + 1)), rtol=1e-9)
    assert rise[int(0.2 * SR) - 1] == pytest.approx(0.5 * (1 - np.exp(-1)), rel=1e-4)
    fall = augment.envelope(np.zeros(SR), attack, decay, initial=0.5)
    assert fall[int(0.3 * SR) - 1] == pytest.approx(0.5 * np.exp(-1), rel=1e-4)
    assert augment.smoothing_coefficient(1e-6, SR) == 1.0  # faster than a sample: follow at once


@pytest.mark.parametrize("level_db", [-70.0, -45.0, -20.0, -3.0])
def test_compander_output_level_settles_on_the_static_curve(level_db):
    curve = augment.COMPAND_SETS["mardy"][0]
    amplitude = 10 ** (level_db / 20)
    square = amplitude * np.where(np.arange(3 * SR) % 200 < 100, 1.0, -1.0)[None]  # constant |x|
    out = augment.compand(square, SR, curve)
    settled_db = 20 * np.log10(np.abs(out[0, -SR // 10 :]).mean())
    assert settled_db == pytest.approx(float(curve.output_db(level_db)), abs=0.01)


def test_compander_uses_one_envelope_for_all_channels():
    curve = augment.COMPAND_SETS["mardy"][1]
    loud = 0.3 * np.sin(np.arange(SR) / 7.0)
    stereo = np.stack([loud, 0.01 * loud])
    out = augment.compand(stereo, SR, curve)
    np.testing.assert_allclose(out[1], 0.01 * out[0], rtol=1e-5, atol=1e-9)  # same gain on both


def test_clipping_output_is_redone_with_the_fallback_curve_as_drc_sh():
    curve = augment.COMPAND_SETS["mardy"][0]  # +22 dB at the -90 dB initial envelope
    fallback = augment.COMPAND_FALLBACK["mardy"]
    loud = 0.5 * np.where(np.arange(SR) % 100 < 50, 1.0, -1.0)[None]
    out, used, clipped = augment.compand_like_reference(loud, SR, curve, fallback)
    assert used == fallback.name and np.max(np.abs(out)) <= 1.0
    assert clipped == bool(np.max(np.abs(augment.compand(loud, SR, fallback))) > 1.0)
    quiet = 1e-4 * np.where(np.arange(SR) % 100 < 50, 1.0, -1.0)[None]
    out, used, clipped = augment.compand_like_reference(quiet, SR, curve, fallback)
    assert used == curve.name and not clipped
    np.testing.assert_array_equal(out, augment.compand(quiet, SR, curve))
