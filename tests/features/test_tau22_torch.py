"""The TAU22 frontend's torch modules (``asckit.features.tau22_torch``) against the numpy frontend, and
against the reference fixture and a CPJKU checkpoint's buffers (skipped where the shared data is absent)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TAU22_FRONTEND, needs_frontend_fixture

from asckit.features import tau22_frontend as fe
from asckit.features.tau22_torch import CPU_CHUNK, MelFrontend, Resampler

torch.set_num_threads(1)



@pytest.mark.parametrize("rate", [44100, 48000, 16000])
def test_the_numpy_resampler_computes_what_the_dense_convolution_does(rate):
    waves = (0.3 * np.random.default_rng(rate).standard_normal((2, rate // 4 + 7))).astype(np.float32)
    dense = Resampler(rate)(torch.from_numpy(waves)).numpy()
    assert dense.shape == (2, -(-32000 * waves.shape[1] // rate))
    assert np.abs(fe.resample(waves, rate) - dense).max() <= 1e-6


def test_equal_rates_pass_through_and_no_buffer_reaches_a_state_dict():
    waves = torch.randn(2, 100)
    assert Resampler(32000)(waves) is waves
    assert Resampler(44100).state_dict() == {} and MelFrontend().state_dict() == {}
    assert Resampler(44100).kernel_tensor().shape == (320, 1, 459)


def test_the_torch_mel_is_the_numpy_mel():
    waves = (0.1 * np.random.default_rng(2).standard_normal((2, 16000))).astype(np.float32)
    frontend = MelFrontend()
    power = frontend(torch.from_numpy(waves))
    assert power.shape == (2, 1, 256, fe.frames(16000))
    expected = fe.power_mel(waves)[:, None]
    peak = expected.max(axis=(-2, -1), keepdims=True)
    assert np.all(np.abs(power.numpy() - expected) <= 1e-6 * peak)
    np.testing.assert_allclose(MelFrontend.log(power).numpy(), np.log(power.numpy() + np.float32(1e-5)), rtol=0, atol=1e-6)


def test_the_mel_is_the_sum_torch_stft_and_the_dense_mel_matrix_give_in_cpu_chunks_or_not():
    """MelFrontend computes the reference's sums with less work (its docstring): the power of each clip,
    in a batch longer than a CPU chunk, is what torch.stft, abs().pow(2) and the dense matrix give."""
    waves = torch.from_numpy((0.1 * np.random.default_rng(3).standard_normal((2 * CPU_CHUNK + 3, 8000))).astype(np.float32))
    waves[1] *= 1e-3  # clips of other levels: each is compared with its own peak
    frontend = MelFrontend()
    spec = torch.stft(waves, 4096, hop_length=500, win_length=3072, window=frontend.window, center=True,
                      pad_mode="reflect", return_complex=True).abs().pow(2)
    dense = torch.matmul(spec.transpose(-1, -2), frontend.mel_fb).transpose(-1, -2).unsqueeze(1)
    batch = frontend(waves)
    assert batch.shape == dense.shape == (len(waves), 1, 256, fe.frames(8000)) and batch.is_contiguous()
    peak = dense.amax(dim=(-2, -1), keepdim=True)
    assert ((batch - dense).abs() / peak).max() <= 1e-6  # measured 2.5e-7
    one_by_one = torch.cat([frontend(wave[None]) for wave in waves])
    assert ((batch - one_by_one).abs() / peak).max() <= 1e-6


@needs_frontend_fixture
def test_the_modules_reproduce_the_references_kernel_waves_and_mel(frontend_reference):
    resampler = Resampler(44100)
    torch.testing.assert_close(resampler.kernel_tensor(), torch.from_numpy(frontend_reference["resample_kernel"]), rtol=0, atol=0)
    waves32k = resampler(torch.from_numpy(frontend_reference["wave44k"]))
    assert (waves32k.numpy() - frontend_reference["wave32k"][:, 0]).__abs__().max() <= 1e-6  # measured 0: torchaudio's own conv
    mel, peak = frontend_reference["mel"], frontend_reference["mel"].max(axis=(-2, -1), keepdims=True)
    assert np.all(np.abs(MelFrontend()(waves32k).numpy() - mel) <= 3e-6 * peak)  # measured 2.1e-6 (the mel bank's edges)
    with_reference_bank = MelFrontend(frontend_reference["mel_fb"])(torch.from_numpy(frontend_reference["wave32k"][:, 0])).numpy()
    assert np.all(np.abs(with_reference_bank - mel) <= 1e-6 * peak)  # measured 3.1e-7
    above_floor = mel > 1e-6 * peak
    assert np.abs(MelFrontend.log(torch.from_numpy(with_reference_bank)).numpy() - frontend_reference["logmel"])[above_floor].max() <= 1e-4


@needs_frontend_fixture
def test_the_kernel_is_a_cpjku_checkpoints_resampling_buffer():
    state = torch.load(TAU22_FRONTEND.parent / "cpmobile_2024.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    torch.testing.assert_close(Resampler(44100).kernel_tensor(), state["mel.0.kernel"], rtol=0, atol=0)
    assert state["mel.1.spectrogram.window"].shape == MelFrontend().window.shape == (3072,)
    assert state["mel.1.mel_scale.fb"].shape == MelFrontend().mel_fb.shape == (2049, 256)
