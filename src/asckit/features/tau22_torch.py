"""The TAU22 (DCASE 2022–2025) frontend as torch modules, for the training step and benchmarks.

``MelFrontend`` is torchaudio's ``MelSpectrogram`` of the CPJKU baselines and ``Resampler`` its
``Resample``, built from the numpy facts of ``asckit.features.tau22_frontend`` (torchaudio is never a
dependency). Their buffers are non-persistent: a model's checkpoint holds no copy of the frontend,
and a CPJKU checkpoint's ``mel.*`` buffers are compared with ``Resampler.kernel_tensor()`` and
``MelFrontend``'s buffers rather than loaded into them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from asckit.features.tau22_frontend import (
    HOP_LENGTH,
    LOG_OFFSET,
    LOWPASS_FILTER_WIDTH,
    N_FFT,
    N_MELS,
    ROLLOFF,
    SAMPLE_RATE,
    WIN_LENGTH,
    mel_filterbank,
    resample_kernel,
    window,
)


class MelFrontend(nn.Module):
    """(B, n) float32 waves at 32 kHz → (B, 1, 256, 1 + n // 500) power mel, as torchaudio's
    ``MelSpectrogram(32000, n_fft=4096, win_length=3072, hop_length=500, n_mels=256)`` computes it:
    ``torch.stft`` (centred, reflect padding, the 3072-sample periodic Hann window that stft pads to
    4096), ``|·|²``, then the mel matrix. The log is separate (``log``) because the reference masks
    frequencies on the power mel, before it.

    Buffers (non-persistent): ``window`` (3072,) and ``mel_fb`` (2049, 256) float32; ``mel_fb``
    replaces the filter bank (e.g. a checkpoint's ``mel.1.mel_scale.fb``, for parity checks).
    """

    def __init__(self, mel_fb: np.ndarray | None = None) -> None:
        super().__init__()
        bank = mel_filterbank() if mel_fb is None else np.asarray(mel_fb)
        if bank.shape != (1 + N_FFT // 2, N_MELS):
            raise ValueError(f"mel_fb has shape {bank.shape}, expected ({1 + N_FFT // 2}, {N_MELS})")
        self.register_buffer("window", torch.tensor(window(), dtype=torch.float32), persistent=False)
        self.register_buffer("mel_fb", torch.tensor(bank, dtype=torch.float32), persistent=False)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        if waves.dim() != 2:
            raise ValueError(f"MelFrontend expects waves (batch, samples), got shape {tuple(waves.shape)}")
        spectrum = torch.stft(
            waves,
            n_fft=N_FFT,
            hop_length=HOP_LENGTH,
            win_length=WIN_LENGTH,
            window=self.window,
            center=True,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        power = spectrum.abs().pow(2.0)  # (B, 2049, frames), torchaudio's Spectrogram(power=2)
        return torch.matmul(power.transpose(-1, -2), self.mel_fb).transpose(-1, -2).unsqueeze(1)

    @staticmethod
    def log(power: torch.Tensor) -> torch.Tensor:
        """The model input: log(power + 1e-5)."""
        return torch.log(power + LOG_OFFSET)


class Resampler(nn.Module):
    """(B, n) waves at ``orig_sr`` → (B, ceil(new_sr · n / orig_sr)) at ``new_sr``, as torchaudio's
    ``Resample(orig_sr, new_sr)``: zero padding (width, width + orig), then ``conv1d`` with the
    float32 kernel (new, 1, 2 · width + orig) at stride ``orig``, the phases interleaved. This is the
    reference's dense path (459 taps per sample for 44.1 → 32 kHz, most of them zeros);
    ``tau22_frontend.resample`` computes the same in numpy with the non-zero taps only.
    """

    def __init__(
        self, orig_sr: int, new_sr: int = SAMPLE_RATE, lowpass_filter_width: int = LOWPASS_FILTER_WIDTH, rolloff: float = ROLLOFF
    ) -> None:
        super().__init__()
        self.identity = orig_sr == new_sr
        self.plan = resample_kernel(orig_sr, new_sr, lowpass_filter_width, rolloff)
        self.register_buffer("kernel", self.kernel_tensor(), persistent=False)

    def kernel_tensor(self) -> torch.Tensor:
        """The kernel exactly as torchaudio stores it in ``Resample.kernel``: float32 (new, 1, 2 · width + orig)."""
        return torch.from_numpy(self.plan.stored()).unsqueeze(1)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        if waves.dim() != 2:
            raise ValueError(f"Resampler expects waves (batch, samples), got shape {tuple(waves.shape)}")
        if self.identity:
            return waves
        orig, new, width = self.plan.orig, self.plan.new, self.plan.width
        samples = waves.shape[-1]
        padded = functional.pad(waves[:, None, :], (width, width + orig))
        phases = functional.conv1d(padded, self.kernel, stride=orig)  # (B, new, hops)
        return phases.transpose(1, 2).reshape(waves.shape[0], -1)[:, : -(-new * samples // orig)]
