"""Procedural sound for the synthetic benchmark: scene ingredients, scene recipes and device channels.

One job: turn parameters and a random generator into waveforms. Nothing here knows about files,
splits or seeds policy; ``asckit.data.synth`` decides which clip gets which generator.

How a clip is made:

* A **scene** is a mix of *ingredients* (a coloured-noise bed, engine rumble, traction whine, rail
  clacks, babble, announcements, beeps, music, passing vehicles, birds, footsteps, wind, water).
  ``RECIPES`` gives each of the 10 classes its ingredient levels, bed spectrum and room; classes in one
  super-class share ingredients in different proportions, so they are confusable (bus/metro/tram all
  have engine rumble; airport/shopping_mall/metro_station all have babble and announcements).
* A **character** is a recipe after variation (``vary``): a city shifts every scene recorded there
  a little (``CITY_SPREAD``), a recording location more (``LOCATION_SPREAD``: offsets to every level,
  the bed spectrum and the room, and its own engine pitch, chime, music key, bird species...), and
  each clip a little again (``CLIP_SPREAD``). Locations are what the location-disjoint splits keep
  apart, so this spread is what a classifier has to generalise over.
* A **device** turns the clean device-A waveform into what another device would have recorded
  (``record_with_device``): real devices b, c have their own frequency response, band limit, gain and
  self-noise; simulated devices s1-s6 are A convolved with a short device impulse response, then
  dynamic range compression, as the organisers made them.

Events and reverb tails that run past the end of a clip wrap round to its start (circular placement
and convolution), so no clip starts in dry silence or ends on a cut tail that a classifier could learn.
Task 1a's mono is rendered directly (TAU's 1a mono is the mean of the binaural ears); Task 1b renders
two ears with small interaural differences.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.fft
import scipy.signal
import soxr

TWO_PI = 2.0 * math.pi

# Scenes are rendered in float32: the files are 24-bit (float32 holds 24 bits of mantissa) and
# scipy.fft is about twice as fast in single precision. Oscillator phases stay float64.
DTYPE = np.float32

# --------------------------------------------------------------------------- DSP primitives


@dataclass(frozen=True)
class Spectrum:
    """A smooth magnitude response in dB: a tilt around 1 kHz, bumps on a log-frequency axis, band edges.

    ``bumps`` are (centre Hz, gain dB, width in octaves) Gaussians in log frequency; the edges are
    Butterworth-shaped (``edge_order`` × 6 dB per octave outside the band).
    """

    tilt_db_per_octave: float = 0.0
    bumps: tuple[tuple[float, float, float], ...] = ()
    low_cut_hz: float | None = None
    high_cut_hz: float | None = None
    edge_order: int = 2

    def db(self, freqs: np.ndarray) -> np.ndarray:
        octaves = np.log2(np.maximum(freqs, 10.0) / 1000.0)
        out = self.tilt_db_per_octave * octaves
        for centre, gain, width in self.bumps:
            out = out + gain * np.exp(-0.5 * ((octaves - math.log2(centre / 1000.0)) / width) ** 2)
        safe = np.maximum(freqs, 1.0)
        if self.low_cut_hz:
            out = out - 10.0 * np.log10(1.0 + (self.low_cut_hz / safe) ** (2 * self.edge_order))
        if self.high_cut_hz:
            out = out - 10.0 * np.log10(1.0 + (safe / self.high_cut_hz) ** (2 * self.edge_order))
        return out

    def gains(self, n: int, sr: int) -> np.ndarray:
        """Linear float32 gains on the ``rfft`` bins of an ``n``-sample signal.

        The curve is smooth, so it is evaluated on 512 log-spaced frequencies and interpolated.
        """
        return _gains(self, n, sr)


@functools.lru_cache(maxsize=256)
def _gains(spectrum: Spectrum, n: int, sr: int) -> np.ndarray:
    coarse = np.geomspace(10.0, sr / 2.0, 512)
    bins = np.linspace(0.0, sr / 2.0, n // 2 + 1)
    gains = (10.0 ** (np.interp(bins, coarse, spectrum.db(coarse)) / 20.0)).astype(DTYPE)
    gains.flags.writeable = False  # shared by every caller through the cache
    return gains


def rms(x: np.ndarray) -> float:
    """Root mean square over all samples (0 for an empty array)."""
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def unit_rms(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to RMS 1 (silence stays silence)."""
    level = rms(x)
    return x / level if level > 0 else x


def coloured_noise(rng: np.random.Generator, n: int, sr: int, spectrum: Spectrum) -> np.ndarray:
    """Unit-RMS Gaussian noise whose power spectrum follows ``spectrum`` (one inverse FFT).

    The bins get uniform real and imaginary parts: each output sample sums thousands of them, so it
    is Gaussian all the same, and uniform draws cost a fifth of Gaussian ones.
    """
    uniform = rng.random(2 * (n // 2 + 1), dtype=DTYPE) - DTYPE(0.5)
    spec = uniform.view(np.complex64) * spectrum.gains(n, sr)
    spec[0] = 0.0  # no DC offset
    return unit_rms(scipy.fft.irfft(spec, n))


def colour(x: np.ndarray, sr: int, spectrum: Spectrum) -> np.ndarray:
    """``x`` filtered by the zero-phase response ``spectrum`` (circular)."""
    return scipy.fft.irfft(scipy.fft.rfft(x) * spectrum.gains(len(x), sr), len(x))


def upsample(values: np.ndarray, hop: int, n: int) -> np.ndarray:
    """Linear interpolation of ``values`` (one every ``hop`` samples) onto ``n`` float32 samples.

    Same result as ``np.interp`` on a regular grid (holding the last value if ``values`` is short),
    done as one broadcast in float32, which is faster (time both with ``timeit`` on a clip's envelope).
    """
    knots = -(-n // hop) + 1
    values = np.asarray(values, DTYPE)
    values = np.pad(values, (0, max(0, knots - len(values))), mode="edge")
    frac = np.arange(hop, dtype=DTYPE) / hop
    start, step = values[: knots - 1, None], np.diff(values[:knots])[:, None]
    return (start + step * frac).reshape(-1)[:n]


def control_curve(rng: np.random.Generator, n: int, sr: int, rate_hz: float, sd: float) -> np.ndarray:
    """A slowly varying random curve (Gaussian knots of s.d. ``sd``, ``rate_hz`` apart) at audio rate."""
    hop = max(1, round(sr / rate_hz))
    return upsample(rng.normal(0.0, sd, -(-n // hop) + 1), hop, n)


def phase_of(f0: np.ndarray | float, n: int, sr: int, start: float = 0.0) -> np.ndarray:
    """Running phase (radians) of an oscillator whose frequency (Hz, scalar or per sample) is ``f0``."""
    if np.isscalar(f0):
        return start + TWO_PI * float(f0) / sr * np.arange(n)
    return start + TWO_PI / sr * np.cumsum(f0)


_TABLE_SIZE = 4096  # wavetable resolution; a power of two so that the wrap is a bit mask


def harmonic_tone(phase: np.ndarray, harmonic_gains: tuple[float, ...]) -> np.ndarray:
    """A periodic tone with the given harmonic amplitudes, by wavetable lookup (one sin per harmonic
    on 4,096 points instead of one per sample)."""
    index = (phase * (_TABLE_SIZE / TWO_PI)).astype(np.int64) & (_TABLE_SIZE - 1)
    return _wavetable(tuple(harmonic_gains))[index]


@functools.lru_cache(maxsize=64)
def _wavetable(harmonic_gains: tuple[float, ...]) -> np.ndarray:
    grid = np.arange(_TABLE_SIZE) * (TWO_PI / _TABLE_SIZE)
    table = sum(g * np.sin((k + 1) * grid) for k, g in enumerate(harmonic_gains)).astype(DTYPE)
    table.flags.writeable = False  # shared by every caller through the cache
    return table


def add_circular(out: np.ndarray, event: np.ndarray, start: int) -> None:
    """Add ``event`` into ``out`` from sample ``start``, wrapping past the end to the beginning."""
    n = len(out)
    event = event[:n]
    start %= n
    head = min(len(event), n - start)
    out[start : start + head] += event[:head]
    if head < len(event):
        out[: len(event) - head] += event[head:]


def decaying_burst(rng: np.random.Generator, sr: int, seconds: float, decay_s: float) -> np.ndarray:
    """White noise under an exponential decay: the raw material of clicks, clacks and footsteps."""
    t = np.arange(max(int(seconds * sr), 8), dtype=DTYPE) / sr
    return rng.standard_normal(len(t), dtype=DTYPE) * np.exp(-t / decay_s)


def syllable_envelope(
    rng: np.random.Generator, seconds: float, rate_hz: float, pause: float, ctrl_sr: int
) -> np.ndarray:
    """Speech-like amplitude envelope at ``ctrl_sr``: raised-sine syllables, some of them silent."""
    count = int(seconds * rate_hz * 1.6) + 4
    lengths = rng.uniform(0.6, 1.4, count) / rate_hz
    amps = rng.uniform(0.4, 1.0, count) * (rng.random(count) > pause)
    edges = np.concatenate(([0.0], np.cumsum(lengths))) - rng.uniform(0.0, lengths[0])
    t = np.arange(int(seconds * ctrl_sr)) / ctrl_sr
    which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, count - 1)
    frac = (t - edges[which]) / lengths[which]
    return amps[which] * np.sin(math.pi * np.clip(frac, 0.0, 1.0)) ** 2


def to_audio_rate(curve: np.ndarray, ctrl_sr: int, n: int, sr: int) -> np.ndarray:
    """A control-rate curve on ``n`` audio samples (the control period rounded to whole samples)."""
    return upsample(curve, max(1, round(sr / ctrl_sr)), n)


def fit_headroom(x: np.ndarray, peak: float) -> np.ndarray:
    """``x`` scaled down (never up) so that its absolute peak is at most ``peak``."""
    top = float(np.max(np.abs(x))) if x.size else 0.0
    return x * (peak / top) if top > peak else x


# --------------------------------------------------------------------------- ingredients

#: Knob values of the average location; recipes override some, locations vary all of them.
BASE_KNOBS: dict[str, float] = {
    "engine_f0": 35.0,  # Hz, firing rate of the engine / motor rumble
    "engine_sweep": 0.15,  # octaves (s.d.) of the slow engine-speed changes
    "whine_f0": 500.0,  # Hz, electric traction tone
    "whine_sweep": 0.3,  # octaves (s.d.) of the traction-tone glides (speed changes)
    "rail_period": 1.0,  # s between rail-joint clacks
    "talkers": 6.0,  # number of voices in the babble
    "announce_per_min": 3.0,
    "beeps_per_min": 3.0,
    "vehicles_per_min": 10.0,
    "bird_bouts_per_min": 8.0,
    "walkers": 2.0,
    "chime_f0": 660.0,  # Hz, lowest note of the announcement chime
    "beep_f0": 1800.0,
    "music_f0": 165.0,  # Hz, key of the background music
    "music_bpm": 110.0,
    "bird_f0": 4000.0,
    "pass_s": 1.5,  # s, time constant of a vehicle pass-by (short = close and fast)
    "gust_db": 6.0,  # s.d. of wind gusts
    "floor_hz": 1500.0,  # Hz, resonance of footsteps on this floor
}


@dataclass(frozen=True)
class Character:
    """A scene recipe after city, location (and clip) variation: all that fixes a clip but chance."""

    levels_db: dict[str, float]  # ingredient -> level relative to the bed (absent: not present)
    bed: Spectrum
    rt60: float  # s; 0 means no room
    wet_db: float  # reverberant-to-direct level of the foreground sounds
    level_dbfs: float  # typical RMS of a clip at device A
    knobs: dict[str, float] = field(default_factory=dict)


Ingredient = Callable[[np.random.Generator, int, int, Character], np.ndarray]


def _bed(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    breathing = 10.0 ** (control_curve(rng, n, sr, 0.5, 1.0) / 20.0)  # ±1 dB slow level drift
    return unit_rms(coloured_noise(rng, n, sr, ch.bed) * breathing)


_ENGINE_HARMONICS = (1.0, 0.8, 0.55, 0.45, 0.3, 0.25, 0.15, 0.1)
_ENGINE_NOISE = Spectrum(-3.0, low_cut_hz=25.0, high_cut_hz=350.0)


def _rumble(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    speed = control_curve(rng, n, sr, 0.4, ch.knobs["engine_sweep"])
    tone = harmonic_tone(phase_of(ch.knobs["engine_f0"] * 2.0**speed, n, sr), _ENGINE_HARMONICS)
    noise = coloured_noise(rng, n, sr, _ENGINE_NOISE)
    # Engines get louder as they rev up.
    return unit_rms((unit_rms(tone) + noise) * 2.0 ** (1.5 * speed))


def _whine(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    speed = control_curve(rng, n, sr, 0.3, ch.knobs["whine_sweep"])
    phase = phase_of(ch.knobs["whine_f0"] * 2.0**speed, n, sr, start=rng.uniform(0, TWO_PI))
    # An inharmonic partial (2.73 f0) from the gearbox beside the motor's harmonics.
    tone = harmonic_tone(phase, (1.0, 0.5, 0.3, 0.1)) + 0.4 * harmonic_tone(2.73 * phase, (1.0,))
    return unit_rms(tone * 2.0 ** (2.0 * speed))


_CLACK = Spectrum(-2.0, ((450.0, 8.0, 0.5), (2600.0, 4.0, 0.5)), low_cut_hz=100.0)


def _rail(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    out = np.zeros(n, DTYPE)
    period = ch.knobs["rail_period"] * 2.0 ** rng.normal(0.0, 0.15)
    bogie_gap = period * rng.uniform(0.12, 0.2)  # two wheel sets cross the joint: "ta-tak"
    wheel = unit_rms(colour(decaying_burst(rng, sr, 0.06, 0.012), sr, _CLACK))  # this train's clack
    for t in np.arange(rng.uniform(0.0, period), n / sr, period):
        for onset in (t, t + bogie_gap):
            add_circular(out, wheel * rng.uniform(0.5, 1.0), int((onset + rng.normal(0, 0.01)) * sr))
    return out


_SPEECH = Spectrum(-6.0, ((500.0, 6.0, 0.8), (2500.0, 3.0, 0.6)), low_cut_hz=120.0, high_cut_hz=7000.0)
# Voiced speech: harmonic amplitudes that fall like the long-term speech spectrum above 500 Hz.
_VOICE = (0.6, 0.9, 1.0, 0.8, 0.6, 0.45, 0.35, 0.3, 0.22, 0.18, 0.14, 0.1, 0.08, 0.06)
_CTRL_SR = 200  # Hz, rate of the envelopes that are built before interpolation to audio rate


def _babble(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    seconds = n / sr + 0.1
    talkers = max(1, int(rng.poisson(ch.knobs["talkers"])))
    envelopes = [syllable_envelope(rng, seconds, rng.uniform(3.5, 5.5), 0.3, _CTRL_SR) for _ in range(talkers)]
    # The crowd is speech-shaped noise whose power follows the sum of the talkers' envelopes; the
    # two nearest talkers are also voiced (harmonics at their own pitch): babble's harmonic streaks.
    crowd = np.sqrt(np.sum(np.square(envelopes), axis=0))
    out = coloured_noise(rng, n, sr, _SPEECH) * to_audio_rate(crowd, _CTRL_SR, n, sr)
    for env in envelopes[:2]:
        pitch = rng.uniform(100.0, 240.0) * 2.0 ** control_curve(rng, n, sr, 3.0, 0.08)
        out += 1.5 * harmonic_tone(phase_of(pitch, n, sr), _VOICE) * to_audio_rate(env, _CTRL_SR, n, sr)
    return unit_rms(out)


_PA = Spectrum(0.0, ((1500.0, 5.0, 1.0),), low_cut_hz=300.0, high_cut_hz=4000.0, edge_order=4)
_BELL = ((1.0, 1.0), (2.76, 0.4), (5.4, 0.2))  # partials (ratio, amplitude) of a chime note


def _announce(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    out = np.zeros(n, DTYPE)
    for _ in range(rng.poisson(ch.knobs["announce_per_min"] * n / sr / 60.0)):
        # The location's chime: three bell notes on its own pitch, then a voice through the PA.
        note_s, voice_s = 0.45, rng.uniform(1.5, 3.5)
        event = np.zeros(int((3 * note_s + voice_s) * sr), DTYPE)
        t = np.arange(int(note_s * 2 * sr), dtype=DTYPE) / sr
        for k, ratio in enumerate((1.5, 1.26, 1.0)):
            f = ch.knobs["chime_f0"] * ratio
            bell = sum(a * np.sin(TWO_PI * f * p * t) for p, a in _BELL)
            add_circular(event, 0.6 * bell * np.exp(-t / 0.35), int(k * note_s * sr))
        m = int(voice_s * sr)
        pitch = rng.uniform(110.0, 210.0) * 2.0 ** control_curve(rng, m, sr, 2.0, 0.1)
        syllables = syllable_envelope(rng, voice_s + 0.1, rng.uniform(4.0, 5.0), 0.15, _CTRL_SR)
        voice = harmonic_tone(phase_of(pitch, m, sr), _VOICE) * to_audio_rate(syllables, _CTRL_SR, m, sr)
        event[int(3 * note_s * sr) : int(3 * note_s * sr) + m] += voice
        add_circular(out, unit_rms(colour(event, sr, _PA)), int(rng.integers(n)))
    return out


def _beeps(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    out = np.zeros(n, DTYPE)
    length = int(0.12 * sr)
    for _ in range(rng.poisson(ch.knobs["beeps_per_min"] * n / sr / 60.0)):
        f = ch.knobs["beep_f0"] * 2.0 ** rng.normal(0.0, 0.02)
        beep = unit_rms(harmonic_tone(phase_of(f, length, sr), (1.0, 0.0, 0.33, 0.0, 0.2)) * np.hanning(length))
        start = int(rng.integers(n))
        for k in range(int(rng.integers(2, 5))):
            add_circular(out, beep, start + int(k * 0.22 * sr))
    return out


_PROGRESSION = (1.0, 1.5, 1.68, 1.335)  # I-V-vi-IV as frequency ratios
_INSTRUMENT = (1.0, 0.5, 0.25, 0.12)


def _music(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    beat = 60.0 / ch.knobs["music_bpm"]
    t = np.arange(n) / sr + rng.uniform(0.0, 16 * beat)
    chord = np.take(_PROGRESSION, (t // (4 * beat)).astype(np.int64) % len(_PROGRESSION))
    root = phase_of(ch.knobs["music_f0"] * chord, n, sr)
    out = np.zeros(n, DTYPE)
    for interval in (1.0, 1.26, 1.5, 2.0):  # root, third, fifth, octave: phases scale with frequency
        out += harmonic_tone(interval * root, _INSTRUMENT)
    since_beat = (t % beat).astype(DTYPE)
    out += 3.0 * np.sin(TWO_PI * 55.0 * since_beat) * np.exp(-since_beat / 0.08)  # kick drum
    return unit_rms(out)


_TYRES = Spectrum(-5.0, ((900.0, 6.0, 0.7),), low_cut_hz=40.0)


def _traffic(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    out = np.zeros(n, DTYPE)
    count = rng.poisson(ch.knobs["vehicles_per_min"] * n / sr / 60.0)
    if count == 0:
        return out
    tyres = coloured_noise(rng, n, sr, _TYRES)
    for _ in range(count):
        tau = ch.knobs["pass_s"] * 2.0 ** rng.normal(0.0, 0.4)
        half = min(int(4 * tau * sr), n // 2)
        rel = np.arange(-half, half) / sr
        closeness = (1.0 / (1.0 + (rel / tau) ** 2)).astype(DTYPE)  # level ~ 1/distance² as it passes
        doppler = 1.0 - 0.05 * np.tanh(rel / tau)
        engine = harmonic_tone(phase_of(rng.uniform(25.0, 70.0) * doppler, len(rel), sr), _ENGINE_HARMONICS)
        start = int(rng.integers(n))
        body = np.roll(tyres, -start)[: len(rel)] + 0.7 * unit_rms(engine)
        add_circular(out, body * closeness * rng.uniform(0.3, 1.0), start - half)
    return out


def _birds(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    out = np.zeros(n, DTYPE)
    for _ in range(rng.poisson(ch.knobs["bird_bouts_per_min"] * n / sr / 60.0)):
        start = rng.uniform(0.0, n / sr)
        f_centre = ch.knobs["bird_f0"] * 2.0 ** rng.normal(0.0, 0.15)
        sweep = rng.choice((-0.6, 0.5, 0.8))  # this bird's call shape, octaves per chirp
        for k in range(int(rng.integers(3, 9))):
            m = int(rng.uniform(0.04, 0.14) * sr)
            f = f_centre * 2.0 ** (sweep * np.linspace(-0.5, 0.5, m))
            chirp = unit_rms(harmonic_tone(phase_of(f, m, sr), (1.0, 0.2)) * np.hanning(m))
            add_circular(out, chirp * rng.uniform(0.5, 1.0), int((start + k * rng.uniform(0.1, 0.25)) * sr))
    return out


def _steps(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    out = np.zeros(n, DTYPE)
    floor = Spectrum(-3.0, ((ch.knobs["floor_hz"], 7.0, 0.5),), low_cut_hz=150.0)
    for _ in range(int(rng.poisson(ch.knobs["walkers"]))):
        # One walker: the same shoes on every step, a steady pace, fading with distance.
        shoe = unit_rms(colour(decaying_burst(rng, sr, 0.05, 0.008), sr, floor))
        pace = rng.uniform(0.45, 0.62)
        gain = 10.0 ** (rng.uniform(-12.0, 0.0) / 20.0)
        for t in np.arange(rng.uniform(0.0, pace), n / sr, pace):
            add_circular(out, shoe * (gain * rng.uniform(0.6, 1.0)), int((t + rng.normal(0.0, 0.015)) * sr))
    return out


_WIND = Spectrum(-8.0, ((40.0, 6.0, 1.0),), low_cut_hz=15.0)


def _wind(rng: np.random.Generator, n: int, sr: int, ch: Character) -> np.ndarray:
    gusts = 10.0 ** (control_curve(rng, n, sr, 0.4, ch.knobs["gust_db"]) / 20.0)
    return unit_rms(coloured_noise(rng, n, sr, _WIND) * gusts)


_WATER = Spectrum(0.0, ((3000.0, 6.0, 1.2),), low_cut_hz=300.0)


def _water(rng: np.random.Generator, n: int, sr: int, _ch: Character) -> np.ndarray:  # no character: water is water
    splashes = 10.0 ** (control_curve(rng, n, sr, 8.0, 2.0) / 20.0)
    return unit_rms(coloured_noise(rng, n, sr, _WATER) * splashes)


#: Ingredients in mixing order. Event ingredients return events at unit RMS each (so their power
#: follows their rate); texture ingredients return unit RMS over the clip.
INGREDIENTS: dict[str, Ingredient] = {
    "bed": _bed,
    "rumble": _rumble,
    "whine": _whine,
    "rail": _rail,
    "babble": _babble,
    "announce": _announce,
    "beeps": _beeps,
    "music": _music,
    "traffic": _traffic,
    "birds": _birds,
    "steps": _steps,
    "wind": _wind,
    "water": _water,
}

#: Ingredients that sound inside the room (reverberated); the others are diffuse or outside it.
FOREGROUND: frozenset[str] = frozenset({"babble", "announce", "beeps", "music", "steps", "rail"})


# --------------------------------------------------------------------------- scene recipes


@dataclass(frozen=True)
class Recipe:
    """The average location of one scene class."""

    levels_db: dict[str, float]  # ingredient -> level relative to the bed
    bed: Spectrum
    rt60: float
    wet_db: float
    level_dbfs: float
    knobs: dict[str, float] = field(default_factory=dict)


# Within a super-class the recipes share ingredients and differ in proportions, knobs and rooms.
RECIPES: dict[str, Recipe] = {
    # indoor: babble, announcements, footsteps, large reverberant halls
    "airport": Recipe(
        levels_db={"babble": 0.0, "announce": -1.0, "steps": -6.0, "music": -14.0, "rumble": -16.0, "beeps": -18.0},
        bed=Spectrum(-3.0, ((250.0, 5.0, 0.8), (3000.0, -3.0, 1.0))), rt60=1.8, wet_db=-2.0, level_dbfs=-36.0,
        knobs={"talkers": 10, "announce_per_min": 6, "walkers": 3, "engine_f0": 60, "floor_hz": 2000},
    ),
    "shopping_mall": Recipe(
        levels_db={"babble": 1.0, "music": -3.0, "steps": -5.0, "announce": -8.0, "beeps": -16.0},
        bed=Spectrum(-3.5, ((400.0, 4.0, 0.8),)), rt60=1.3, wet_db=-3.0, level_dbfs=-34.0,
        knobs={"talkers": 12, "announce_per_min": 2, "walkers": 4, "floor_hz": 2500},
    ),
    "metro_station": Recipe(
        levels_db={"babble": -2.0, "announce": -1.0, "rail": -5.0, "whine": -8.0, "rumble": -6.0, "steps": -5.0,
                   "beeps": -10.0},
        bed=Spectrum(-4.5, ((150.0, 5.0, 0.8), (1200.0, 2.0, 1.0))), rt60=2.2, wet_db=0.0, level_dbfs=-33.0,
        knobs={"talkers": 8, "announce_per_min": 5, "rail_period": 0.9, "engine_f0": 45, "whine_sweep": 0.4},
    ),
    # transportation: engine rumble, traction whine, rail clacks, small boomy cabins
    "bus": Recipe(
        levels_db={"rumble": 3.0, "babble": -6.0, "beeps": -9.0, "traffic": -9.0, "whine": -20.0},
        bed=Spectrum(-6.0, ((90.0, 6.0, 0.6),)), rt60=0.35, wet_db=-8.0, level_dbfs=-30.0,
        knobs={"engine_f0": 30, "engine_sweep": 0.35, "talkers": 3, "beeps_per_min": 2},
    ),
    "metro": Recipe(
        levels_db={"rumble": 1.0, "whine": -3.0, "rail": -1.0, "announce": -9.0, "babble": -8.0, "beeps": -10.0},
        bed=Spectrum(-5.0, ((120.0, 5.0, 0.7), (900.0, 3.0, 0.8))), rt60=0.45, wet_db=-6.0, level_dbfs=-27.0,
        knobs={"engine_f0": 45, "engine_sweep": 0.1, "whine_sweep": 0.4, "talkers": 4, "rail_period": 0.7},
    ),
    "tram": Recipe(
        levels_db={"rumble": -2.0, "whine": -6.0, "rail": -3.0, "beeps": -6.0, "babble": -6.0, "traffic": -10.0,
                   "announce": -10.0},
        bed=Spectrum(-5.0, ((110.0, 4.0, 0.7), (2000.0, 2.0, 1.0))), rt60=0.35, wet_db=-7.0, level_dbfs=-31.0,
        knobs={"engine_f0": 40, "rail_period": 1.3, "talkers": 4, "beep_f0": 1200, "beeps_per_min": 4},
    ),
    # outdoor: traffic, birds, wind, open air
    "park": Recipe(
        levels_db={"birds": 0.0, "wind": -2.0, "babble": -14.0, "traffic": -16.0, "water": -12.0, "steps": -14.0},
        bed=Spectrum(-3.5, ((200.0, 3.0, 1.0),)), rt60=0.0, wet_db=-30.0, level_dbfs=-42.0,
        knobs={"vehicles_per_min": 4, "pass_s": 3.0, "talkers": 3, "floor_hz": 800},
    ),
    "public_square": Recipe(
        levels_db={"babble": -3.0, "water": -6.0, "birds": -8.0, "traffic": -8.0, "steps": -7.0, "wind": -10.0,
                   "music": -16.0},
        bed=Spectrum(-3.0, ((300.0, 3.0, 1.0),)), rt60=0.4, wet_db=-10.0, level_dbfs=-36.0,
        knobs={"vehicles_per_min": 6, "pass_s": 2.0, "talkers": 8, "walkers": 3},
    ),
    "street_pedestrian": Recipe(
        levels_db={"babble": -2.0, "steps": -2.0, "traffic": -6.0, "music": -14.0, "birds": -14.0, "beeps": -18.0},
        bed=Spectrum(-3.0, ((400.0, 2.0, 1.0),)), rt60=0.3, wet_db=-12.0, level_dbfs=-35.0,
        knobs={"walkers": 5, "talkers": 8, "vehicles_per_min": 8},
    ),
    "street_traffic": Recipe(
        levels_db={"traffic": 4.0, "rumble": -4.0, "babble": -14.0, "steps": -16.0, "beeps": -16.0},
        bed=Spectrum(-4.0, ((80.0, 5.0, 0.8), (1000.0, 3.0, 1.2))), rt60=0.2, wet_db=-14.0, level_dbfs=-30.0,
        knobs={"vehicles_per_min": 25, "pass_s": 1.0, "engine_sweep": 0.05, "talkers": 3, "beep_f0": 420},
    ),
}


@dataclass(frozen=True)
class Spread:
    """Standard deviations of the variation that cities, locations and clips add to a recipe."""

    level_db: float  # of every ingredient level
    tilt_db_per_octave: float  # of the bed tilt
    bump_octaves: float  # of the bed bump centres
    bump_db: float  # of the bed bump gains
    room_octaves: float  # of the reverberation time (log2)
    overall_db: float  # of the clip level
    knob_octaves: float  # of every knob (log2)


CITY_SPREAD = Spread(2.5, 0.5, 0.15, 1.5, 0.15, 2.0, 0.15)
LOCATION_SPREAD = Spread(5.0, 1.0, 0.3, 2.5, 0.3, 3.0, 0.3)
CLIP_SPREAD = Spread(3.0, 0.3, 0.0, 0.0, 0.0, 1.5, 0.0)


def vary(base: Character, rng: np.random.Generator, spread: Spread) -> Character:
    """``base`` with one draw of ``spread`` applied (a city, a location or a clip).

    The draws come in a fixed order and number whatever the scene, so one city's generator shifts
    every scene recorded there the same way (e.g. more traffic, a brighter bed, louder overall).
    """
    level_offsets = rng.normal(0.0, spread.level_db, len(INGREDIENTS))
    knob_offsets = rng.normal(0.0, spread.knob_octaves, len(BASE_KNOBS))
    tilt, room, overall = rng.normal(0.0, (spread.tilt_db_per_octave, spread.room_octaves, spread.overall_db))
    bump_shifts = rng.normal(0.0, spread.bump_octaves, MAX_BUMPS)
    bump_gains = rng.normal(0.0, spread.bump_db, MAX_BUMPS)
    bumps = tuple(
        (hz * 2.0**shift, gain + extra, width)
        for (hz, gain, width), shift, extra in zip(base.bed.bumps, bump_shifts, bump_gains)
    )
    return Character(
        levels_db={name: base.levels_db[name] + (0.0 if name == "bed" else offset)
                   for name, offset in zip(INGREDIENTS, level_offsets) if name in base.levels_db},
        bed=Spectrum(base.bed.tilt_db_per_octave + tilt, bumps, low_cut_hz=20.0),
        rt60=base.rt60 * 2.0**room,
        wet_db=base.wet_db,
        level_dbfs=base.level_dbfs + overall,
        knobs={name: base.knobs[name] * 2.0**offset for name, offset in zip(BASE_KNOBS, knob_offsets)},
    )


MAX_BUMPS = 3  # bed bumps per recipe, at most


def recipe_character(scene: str) -> Character:
    """The class average as a ``Character`` (no city, location or clip variation)."""
    recipe = RECIPES[scene]
    return Character(
        levels_db={"bed": 0.0, **recipe.levels_db},
        bed=recipe.bed,
        rt60=recipe.rt60,
        wet_db=recipe.wet_db,
        level_dbfs=recipe.level_dbfs,
        knobs=BASE_KNOBS | {k: float(v) for k, v in recipe.knobs.items()},
    )


# --------------------------------------------------------------------------- rooms and space


def room_impulse_response(rng: np.random.Generator, sr: int, rt60: float, max_samples: int) -> np.ndarray:
    """Unit-energy late reverb: exponentially decaying noise, high frequencies dying out twice as fast."""
    length = scipy.fft.next_fast_len(min(int(1.2 * rt60 * sr), max_samples), real=True)
    t = np.arange(length, dtype=DTYPE) / sr
    low = coloured_noise(rng, length, sr, _BELOW_2K) * 10.0 ** (-3.0 * t / rt60)
    high = coloured_noise(rng, length, sr, _ABOVE_2K) * 10.0 ** (-3.0 * t / (0.5 * rt60))
    ir = (low + high)[:max_samples]
    return ir / math.sqrt(float(np.sum(np.square(ir))))


_BELOW_2K = Spectrum(high_cut_hz=2000.0)
_ABOVE_2K = Spectrum(low_cut_hz=2000.0)

#: Largest interaural time difference (s) and level difference (dB) of a source at 90 degrees.
MAX_ITD_S = 0.00066
MAX_ILD_DB = 6.0


def render_scene(character: Character, rng: np.random.Generator, n: int, sr: int, channels: int) -> np.ndarray:
    """One clip of a scene at device A: ``(channels, n)`` float32, RMS at ``character.level_dbfs``.

    With two channels every ingredient gets its own direction (an ITD of at most 0.66 ms and an ILD of
    at most 6 dB) and each ear its own reverb tail: small, natural inter-channel differences.
    """
    room = character.rt60 > 0.05
    dry = np.zeros((channels, n), DTYPE)
    foreground = np.zeros((channels, n), DTYPE)
    for name, make in INGREDIENTS.items():
        sub = np.random.default_rng(rng.integers(2**63))  # one stream per ingredient, present or not
        if name not in character.levels_db:
            continue
        sound = make(sub, n, sr, character) * DTYPE(10.0 ** (character.levels_db[name] / 20.0))
        target = foreground if room and name in FOREGROUND else dry
        if channels == 1:
            target[0] += sound
        else:
            side = math.sin(sub.uniform(-math.pi / 2, math.pi / 2))
            delay = int(round(abs(side) * MAX_ITD_S * sr))
            ild = DTYPE(10.0 ** (abs(side) * MAX_ILD_DB / 40.0))
            near, far = (0, 1) if side >= 0 else (1, 0)
            target[near] += ild * sound
            target[far] += np.roll(sound, delay) / ild
    if room:
        wet_gain = 10.0 ** (character.wet_db / 20.0)
        for c in range(channels):
            ir = room_impulse_response(rng, sr, character.rt60, n)
            # direct + reverberant in one pass: F^-1{ F(fg) · (1 + g·F(ir)) }
            response = 1.0 + wet_gain * scipy.fft.rfft(ir, n)
            dry[c] += scipy.fft.irfft(scipy.fft.rfft(foreground[c]) * response, n)
    scene = dry * DTYPE(10.0 ** (character.level_dbfs / 20.0) / rms(dry))
    return fit_headroom(scene, 0.5)  # -6 dBFS leaves room for device gain and resonances


# --------------------------------------------------------------------------- devices


@dataclass(frozen=True)
class Compressor:
    """A feed-forward compressor: soft-knee static curve, attack/release level detector."""

    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float
    makeup_db: float
    knee_db: float = 6.0


@dataclass(frozen=True)
class DeviceProfile:
    """What a recording device does to the sound that reaches device A.

    ``simulated`` devices (s1-s6) are A ⊛ impulse response, then ``compressor``, as the organisers
    made them; real devices (b, c) have a frequency response, an optional band limit (resampling
    through ``2 × band_limit_hz``), a gain and coloured self-noise.
    """

    response: Spectrum
    simulated: bool
    ir_ms: float = 20.0
    band_limit_hz: float | None = None
    gain_db: float = 0.0
    noise_dbfs: float | None = None
    noise: Spectrum = Spectrum()
    compressor: Compressor | None = None


#: The devices are fixed: hand-set here and, for the fine structure of the simulated devices'
#: impulse responses, drawn from ``DEVICE_SEED``. They do not depend on the dataset seed, so that
#: "s4" is the same device in every synthetic dataset, as it is in every real one.
DEVICE_PROFILES: dict[str, DeviceProfile] = {
    "b": DeviceProfile(
        Spectrum(0.0, ((2800.0, 5.0, 0.5), (7000.0, -4.0, 0.6)), low_cut_hz=180.0, high_cut_hz=11000.0),
        simulated=False, ir_ms=23.0, band_limit_hz=16000.0, gain_db=-4.0,
        noise_dbfs=-66.0, noise=Spectrum(-3.0, low_cut_hz=50.0),
    ),
    "c": DeviceProfile(
        Spectrum(0.0, ((1200.0, -3.0, 0.8), (4500.0, 6.0, 0.4)), low_cut_hz=120.0, high_cut_hz=12000.0, edge_order=4),
        simulated=False, ir_ms=23.0, gain_db=3.0,
        noise_dbfs=-60.0, noise=Spectrum(1.0, ((50.0, 20.0, 0.05), (150.0, 12.0, 0.05)), low_cut_hz=30.0),
    ),
    "s1": DeviceProfile(
        Spectrum(0.0, ((1800.0, 6.0, 0.4), (5000.0, -5.0, 0.7)), low_cut_hz=300.0, high_cut_hz=7000.0),
        simulated=True, compressor=Compressor(-24.0, 3.0, 10.0, 150.0, 4.0),
    ),
    "s2": DeviceProfile(
        Spectrum(0.0, ((900.0, 4.0, 0.6), (3500.0, 7.0, 0.3)), low_cut_hz=150.0, high_cut_hz=10000.0, edge_order=4),
        simulated=True, compressor=Compressor(-30.0, 5.0, 5.0, 80.0, 8.0),
    ),
    "s3": DeviceProfile(
        Spectrum(0.0, ((2500.0, -6.0, 0.5), (6000.0, 5.0, 0.4)), low_cut_hz=400.0, high_cut_hz=12000.0),
        simulated=True, compressor=Compressor(-20.0, 2.5, 20.0, 250.0, 3.0),
    ),
    "s4": DeviceProfile(
        Spectrum(0.0, ((700.0, -4.0, 0.7), (3000.0, 6.0, 0.35)), low_cut_hz=200.0, high_cut_hz=8000.0, edge_order=3),
        simulated=True, compressor=Compressor(-28.0, 4.0, 8.0, 120.0, 6.0),
    ),
    "s5": DeviceProfile(
        Spectrum(0.0, ((1500.0, 5.0, 0.4), (4000.0, -5.0, 0.5)), low_cut_hz=200.0, high_cut_hz=7000.0),
        simulated=True, compressor=Compressor(-22.0, 3.0, 15.0, 200.0, 4.0),
    ),
    "s6": DeviceProfile(
        Spectrum(0.0, ((1100.0, 7.0, 0.3), (2200.0, -5.0, 0.4), (5500.0, 5.0, 0.3)),
                 low_cut_hz=400.0, high_cut_hz=6000.0, edge_order=3),
        simulated=True, compressor=Compressor(-30.0, 6.0, 3.0, 60.0, 8.0),
    ),
}

DEVICE_SEED = 20200301  # fixed: see DEVICE_PROFILES


@functools.lru_cache(maxsize=64)
def device_impulse_response(device: str, sr: int) -> np.ndarray:
    """The device's impulse response at ``sr``: minimum phase (no delay against device A), at most
    ``ir_ms`` long; simulated devices add a few early reflections off the device body."""
    profile = DEVICE_PROFILES[device]
    taps = int(profile.ir_ms / 1000.0 * sr) // 2 * 2 + 1  # odd: a type-I FIR may have any gain at Nyquist
    grid = np.linspace(0.0, sr / 2.0, 1025)
    linear = scipy.signal.firwin2(taps, grid, 10.0 ** (profile.response.db(grid) / 20.0), fs=sr)
    ir = scipy.signal.minimum_phase(linear, half=False)
    if profile.simulated:
        rng = np.random.default_rng([DEVICE_SEED, list(DEVICE_PROFILES).index(device)])
        body = np.zeros(len(ir))
        body[0] = 1.0
        for delay_ms, gain in zip(rng.uniform(0.3, 4.0, 3), rng.uniform(-0.35, 0.35, 3)):
            body[int(delay_ms / 1000.0 * sr)] += gain
        ir = scipy.signal.fftconvolve(ir, body)[: len(ir)]
    # 0 dB at 1 kHz, where the response curves are referenced.
    at_1k = abs(np.sum(ir * np.exp(-1j * TWO_PI * 1000.0 / sr * np.arange(len(ir)))))
    return ir / at_1k


def compress(x: np.ndarray, sr: int, comp: Compressor) -> np.ndarray:
    """Dynamic range compression with a 1 ms level detector (attack/release on the dB level)."""
    block = max(1, sr // 1000)
    blocks = -(-len(x) // block)
    padded = np.pad(x, (0, blocks * block - len(x)))
    level = 10.0 * np.log10(np.mean(padded.reshape(blocks, block) ** 2, axis=1) + 1e-12)
    attack = math.exp(-1.0 / comp.attack_ms)  # per 1 ms block
    release = math.exp(-1.0 / comp.release_ms)
    smoothed = np.empty(blocks)
    state = float(level[0])
    # The attack/release switch makes the detector non-linear, so no lfilter: a loop over 1 ms blocks
    # (10,000 steps for a 10 s clip) is cheap.
    for i, value in enumerate(level.tolist()):
        coef = attack if value > state else release
        state = coef * state + (1.0 - coef) * value
        smoothed[i] = state
    over = smoothed - comp.threshold_db
    half_knee = comp.knee_db / 2.0
    slope = 1.0 - 1.0 / comp.ratio
    reduction = np.where(
        over <= -half_knee,
        0.0,
        np.where(over >= half_knee, slope * over, slope * (over + half_knee) ** 2 / (2.0 * comp.knee_db)),
    )
    gain_db = comp.makeup_db - reduction
    centres = (np.arange(blocks) + 0.5) * block
    return x * 10.0 ** (np.interp(np.arange(len(x)), centres, gain_db) / 20.0)


def record_with_device(clean: np.ndarray, sr: int, device: str, rng: np.random.Generator) -> np.ndarray:
    """What ``device`` records of the sound that device A recorded as ``clean`` (mono, float64).

    Time-aligned with ``clean`` (minimum-phase filters, same length). ``rng`` draws the device's
    self-noise; everything else is fixed per device.
    """
    if device == "a":
        return clean
    profile = DEVICE_PROFILES[device]
    n = len(clean)
    out = scipy.signal.oaconvolve(clean, device_impulse_response(device, sr))[:n]
    if profile.band_limit_hz:
        low_rate = 2.0 * profile.band_limit_hz
        out = soxr.resample(soxr.resample(out, sr, low_rate), low_rate, sr)
        out = np.pad(out, (0, max(0, n - len(out))))[:n]
    out = out * 10.0 ** (profile.gain_db / 20.0)
    if profile.noise_dbfs is not None:
        out = out + coloured_noise(rng, n, sr, profile.noise) * 10.0 ** (profile.noise_dbfs / 20.0)
    if profile.compressor is not None:
        out = compress(out, sr, profile.compressor)
    return fit_headroom(out, 0.89)  # -1 dBFS: no clipping in the 24-bit file
