"""Tests for asckit.train.wave_augment: the roll's range and direction, and the DIR augmentation as
[CP23] does it (scipy's full convolution cut to the input length), with synthetic and real MicIRP IRs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import soundfile
import torch
from conftest import shared_reference

from asckit.core.errors import AsckitError
from asckit.train.wave_augment import DeviceImpulseResponses, roll

torch.set_num_threads(1)

MICIRP = shared_reference("dcase2025") / "micirp"


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_roll_is_a_circular_shift_by_a_uniform_integer_in_both_directions() -> None:
    batch, n, max_shift = 2000, 50, 3
    waves = torch.arange(n, dtype=torch.float32).repeat(batch, 1)
    out = roll(waves, max_shift, _gen(1))
    # Each row is torch.roll of the input by some shift: recover it from where sample 0 went.
    shifts = out.argmin(dim=1)
    shifts = torch.where(shifts > n // 2, shifts - n, shifts)
    for b in range(0, batch, 97):
        assert torch.equal(out[b], torch.roll(waves[b], int(shifts[b])))
    counts = torch.bincount(shifts + max_shift, minlength=2 * max_shift + 1)
    assert len(counts) == 2 * max_shift + 1  # every shift in [−3, 3], both ends included, nothing beyond
    assert counts.min() > batch / (2 * max_shift + 1) * 0.8
    assert torch.equal(roll(waves, max_shift, _gen(1)), out)  # the generator decides everything
    assert torch.equal(roll(waves[:3], 0, _gen(2)), waves[:3])
    with pytest.raises(ValueError, match="max_shift"):
        roll(waves, -1, _gen())


def _synthetic_irs() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    decay = np.exp(-np.arange(300) / 40.0)
    return [
        np.array([1.0], dtype=np.float32),  # identity
        np.array([0.0, 0.0, 0.5], dtype=np.float32),  # a delay by 2, half as loud
        (rng.standard_normal(300) * decay).astype(np.float32),
        (rng.standard_normal(90) * decay[:90]).astype(np.float32),
    ]


def _replay(generator_seed: int, batch: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The coins and IR indices DeviceImpulseResponses.apply draws, in its order."""
    g = _gen(generator_seed)
    return torch.rand(batch, generator=g, dtype=torch.float64), torch.randint(0, count, (batch,), generator=g)


def test_dir_equals_scipy_full_convolution_cut_to_length_on_chosen_device_a_waves() -> None:
    irs = _synthetic_irs()
    bank = DeviceImpulseResponses(irs)
    batch, n = 40, 257
    waves = torch.from_numpy(np.random.default_rng(1).standard_normal((batch, n)).astype(np.float32))
    is_a = torch.arange(batch) % 4 != 3
    out = bank.apply(waves, is_a, 0.6, _gen(5))
    coin, which = _replay(5, batch, len(irs))
    chosen = is_a & (coin < 0.6)
    assert 0 < int(chosen.sum()) < int(is_a.sum())
    for b in range(batch):
        if chosen[b]:
            expected = scipy.signal.convolve(waves[b].double().numpy(), irs[int(which[b])].astype(np.float64), "full")[:n]
            assert np.abs(out[b].numpy() - expected).max() < 1e-5
        else:
            assert torch.equal(out[b], waves[b])  # not device A, or its coin said no: untouched
    assert out.shape == waves.shape and out.dtype == waves.dtype
    # IRs longer than the wave: only the first n taps can reach the output.
    long_ir = np.random.default_rng(2).standard_normal(600).astype(np.float32)
    short = waves[:2, :100]
    got = DeviceImpulseResponses([long_ir]).apply(short, torch.ones(2, dtype=torch.bool), 1.0, _gen())
    assert np.abs(got[0].numpy() - scipy.signal.convolve(short[0].double().numpy(), long_ir, "full")[:100]).max() < 1e-5


def test_dir_probability_and_uniform_choice() -> None:
    irs = _synthetic_irs()[:2]  # identity and a delay: which one was used shows in sample 2
    bank = DeviceImpulseResponses(irs)
    batch = 4000
    waves = torch.zeros(batch, 8)
    waves[:, 0] = 1.0
    out = bank.apply(waves, torch.ones(batch, dtype=torch.bool), 0.4, _gen(3))
    delayed = (out[:, 2] - 0.5).abs() < 1e-6
    unchanged = (out - waves).abs().amax(dim=1) < 1e-6  # the identity IR, or no DIR (FFT: equal to rounding)
    assert delayed.float().mean().item() == pytest.approx(0.4 * 0.5, abs=0.03)
    assert unchanged.float().mean().item() == pytest.approx(0.6 + 0.4 * 0.5, abs=0.03)
    assert torch.equal(bank.apply(waves, torch.zeros(batch, dtype=torch.bool), 1.0, _gen(3)), waves)
    assert torch.equal(bank.apply(waves, torch.ones(batch, dtype=torch.bool), 0.0, _gen(3)), waves)
    with pytest.raises(ValueError, match="is_device_a"):
        bank.apply(waves, torch.ones(batch), 0.5, _gen())


def test_from_folder_reads_sorted_wavs_at_32k_and_refuses_bad_folders(tmp_path) -> None:
    folder = tmp_path / "dirs"
    (folder / "sub").mkdir(parents=True)
    impulse = np.zeros(441, dtype=np.float32)
    impulse[0] = 0.5
    soundfile.write(folder / "sub" / "b.wav", impulse, 44100, subtype="PCM_24")
    soundfile.write(folder / "a.wav", impulse, 44100, subtype="PCM_24")
    bank = DeviceImpulseResponses.from_folder(folder)
    assert bank.names == ("a.wav", "sub/b.wav") and len(bank) == 2
    assert bank.irs[0].dtype == np.float32 and bank.irs[0].size == 320  # 10 ms at 32 kHz
    with pytest.raises(AsckitError, match="not found"):
        DeviceImpulseResponses.from_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AsckitError, match="no .wav files"):
        DeviceImpulseResponses.from_folder(tmp_path / "empty")
    (folder / "c.wav").write_bytes(b"not audio")
    with pytest.raises(AsckitError, match=r"c\.wav: cannot read"):
        DeviceImpulseResponses.from_folder(folder)


@pytest.mark.skipif(not MICIRP.is_dir(), reason=f"the MicIRP fixture files are not at {MICIRP} (shared reference data)")
def test_real_micirp_files_load_as_the_reference_and_convolve_as_scipy() -> None:
    bank = DeviceImpulseResponses.from_folder(MICIRP)
    assert bank.names == ("Altec_639.wav", "Amperite_RA.wav")  # sorted, as [CP23] load_dirs
    # 44.1 kHz, about 0.4 s each: about 12,000 samples at 32 kHz.
    assert all(11_000 < ir.size < 13_000 and ir.dtype == np.float32 for ir in bank.irs)
    waves = torch.from_numpy((np.random.default_rng(4).standard_normal((3, 32000)) * 0.3).astype(np.float32))
    out = bank.apply(waves, torch.ones(3, dtype=torch.bool), 1.0, _gen(6))
    _, which = _replay(6, 3, len(bank))
    for b in range(3):
        expected = scipy.signal.convolve(waves[b].double().numpy(), bank.irs[int(which[b])].astype(np.float64), "full")
        assert np.abs(out[b].numpy() - expected[:32000]).max() < 1e-5
