"""The CPJKU TAU22 reference's frontend and model as explicit torch ops, for the benchmarks that time
asckit against it (``train_tau22.py``: the training step; ``inference.py --tau22``: one clip).

The reference [B24][B25] (reference/dcase2025 README §3) runs torchaudio's ``Resample(44100, 32000)``
and ``MelSpectrogram``; torchaudio is never installed here, so its ops are written out with the
facts of ``asckit.features.tau22_frontend``: the dense resampling convolution (kernel (320, 1, 459),
stride 441), ``torch.stft``, ``|·|²``, the dense (2049 × 256) mel matrix, ``log(x + 1e-5)``. The
model is asckit's ``cp_mobile`` at full width, which is the reference's ``models/net.py`` graph, with
its ReLUs out of place as the reference's are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from asckit.features import tau22_frontend as fe
from asckit.features.tau22_torch import MelFrontend


class ReferenceMel(torch.nn.Module):
    """torchaudio's ``MelSpectrogram`` as the reference runs it: ``torch.stft``, ``abs().pow(2)``, then
    ``MelScale``'s dense ``matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)``; (B, n) → (B, 1, 256, T)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.from_numpy(fe.window().copy()), persistent=False)
        self.register_buffer("mel_fb", torch.from_numpy(fe.mel_filterbank().copy()), persistent=False)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(waves, fe.N_FFT, hop_length=fe.HOP_LENGTH, win_length=fe.WIN_LENGTH, window=self.window,
                          center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
        power = spec.abs().pow(2.0)
        return torch.matmul(power.transpose(-1, -2), self.mel_fb).transpose(-1, -2).unsqueeze(1)

    log = staticmethod(MelFrontend.log)


def dense_resample(waves: torch.Tensor, kernel: torch.Tensor, orig: int, width: int) -> torch.Tensor:
    """torchaudio ``Resample``'s ``_apply_sinc_resample_kernel``: pad (width, width + orig), conv1d at
    stride orig with the dense (new, 1, 2·width + orig) kernel, phases interleaved, cut to length."""
    new, samples = kernel.shape[0], waves.shape[-1]
    phases = F.conv1d(F.pad(waves[:, None, :], (width, width + orig)), kernel, stride=orig)
    return phases.transpose(1, 2).reshape(waves.shape[0], -1)[:, : -(-new * samples // orig)]


class ReferenceFrontend(torch.nn.Module):
    """(B, n) waves at ``orig_sr`` → the reference model's input (B, 1, 256, frames): dense resampling
    to 32 kHz, ``ReferenceMel``, log. (The template resamples when it loads a file; here it is timed
    with the frontend, as the clip arrives at 44.1 kHz.)"""

    def __init__(self, orig_sr: int = 44100) -> None:
        super().__init__()
        plan = fe.resample_kernel(orig_sr)
        self.orig, self.width = plan.orig, plan.width
        self.register_buffer("kernel", torch.from_numpy(plan.stored()[:, None, :]), persistent=False)
        self.mel = ReferenceMel()

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        return self.mel.log(self.mel(dense_resample(waves, self.kernel, self.orig, self.width)))


def relu_in_place(model: torch.nn.Module, in_place: bool) -> None:
    """Set every ReLU of ``model`` in place or not (the reference's are not: ``inplace=False``)."""
    for module in model.modules():
        if isinstance(module, torch.nn.ReLU):
            module.inplace = in_place
