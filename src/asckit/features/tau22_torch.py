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
    _band_groups,
    frames,
    mel_filterbank,
    resample_kernel,
    window,
)

#: Clips the CPU path of ``MelFrontend`` transforms at a time. Each clip's frames, spectrum and power
#: take about 2.5 MB; a whole batch of 256 (650 MB) makes every step allocate fresh pages and stream
#: them through memory, which cost 2–5 × the arithmetic on a 2-core EPYC (benchmarks/train_tau22.py).
CPU_CHUNK = 8


class MelFrontend(nn.Module):
    """(B, n) float32 waves at 32 kHz → (B, 1, 256, 1 + n // 500) power mel, as torchaudio's
    ``MelSpectrogram(32000, n_fft=4096, win_length=3072, hop_length=500, n_mels=256)`` computes it:
    the centred STFT (reflect padding, the 3072-sample periodic Hann window that ``torch.stft`` pads
    to 4096), ``|·|²``, then the mel matrix. The log is separate (``log``) because the reference masks
    frequencies on the power mel, before it.

    The same sums as the reference's ops, written to do less work (each measured in
    benchmarks/train_tau22.py; the power mel stays within 4e-7 of each clip's peak of ``torch.stft``'s):

    - frames hold only the window's 3072 samples and ``torch.fft.rfft`` zero-pads them at the end to
      4096, where ``torch.stft`` pads the window 512 zeros on each side: that moves each frame by 512
      samples, which multiplies every bin by a phase of modulus 1 and leaves ``|·|²`` as it was;
    - ``|·|²`` is re² + im² (``abs()`` takes a square root that ``pow(2)`` undoes);
    - the mel matrix is applied band group by band group, each group of filters only to the bins it
      covers (``tau22_frontend``'s groups: about 1/28 of the dense 2049 × 256 product);
    - on the CPU, ``CPU_CHUNK`` clips at a time.

    Buffers (non-persistent): ``window`` (3072,) and ``mel_fb`` (2049, 256) float32. ``mel_fb=``
    replaces the filter bank (e.g. a checkpoint's ``mel.1.mel_scale.fb``, for parity checks); the
    band groups are taken from it here, so a bank written into the buffer later must have the same zeros.
    """

    def __init__(self, mel_fb: np.ndarray | None = None) -> None:
        super().__init__()
        bank = mel_filterbank() if mel_fb is None else np.asarray(mel_fb)
        if bank.shape != (1 + N_FFT // 2, N_MELS):
            raise ValueError(f"mel_fb has shape {bank.shape}, expected ({1 + N_FFT // 2}, {N_MELS})")
        self.register_buffer("window", torch.tensor(window(), dtype=torch.float32), persistent=False)
        self.register_buffer("mel_fb", torch.tensor(bank, dtype=torch.float32), persistent=False)
        #: (first filter, last filter + 1, first bin, last bin + 1) of each band group of ``mel_fb``.
        self.band_groups = [group[:4] for group in _band_groups(np.asarray(bank, dtype=np.float32))]

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        if waves.dim() != 2:
            raise ValueError(f"MelFrontend expects waves (batch, samples), got shape {tuple(waves.shape)}")
        batch = waves.shape[0]
        if waves.device.type != "cpu" or batch <= CPU_CHUNK:  # a GPU is fastest on the whole batch
            return self._power_mel(waves)
        mel = waves.new_empty(batch, 1, N_MELS, frames(waves.shape[-1]))
        for start in range(0, batch, CPU_CHUNK):
            mel[start : start + CPU_CHUNK] = self._power_mel(waves[start : start + CPU_CHUNK])
        return mel

    def _power_mel(self, waves: torch.Tensor) -> torch.Tensor:
        """The power mel (B, 1, 256, frames) of a whole (B, n) batch."""
        pad, offset = N_FFT // 2, (N_FFT - WIN_LENGTH) // 2
        padded = functional.pad(waves[:, None, :], (pad, pad), mode="reflect")[:, 0]
        segments = padded[:, offset:].unfold(-1, WIN_LENGTH, HOP_LENGTH)[:, : frames(waves.shape[-1])] * self.window
        spectrum = torch.fft.rfft(segments, n=N_FFT)  # (B, frames, 2049)
        power = spectrum.real.square().addcmul_(spectrum.imag, spectrum.imag)
        mel = power.new_empty(power.shape[:-1] + (N_MELS,))
        for first, last, low, high in self.band_groups:
            mel[..., first:last] = power[..., low:high] @ self.mel_fb[low:high, first:last]
        return mel.transpose(1, 2).unsqueeze(1).contiguous()

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
