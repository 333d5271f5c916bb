"""Model input of the TAU22 tasks (DCASE 2024/2025): stored 32 kHz waves → log-mel, on the training device.

Its one job: what the CPJKU baselines' ``mel_forward`` and training step do to a batch, in their
order, on whatever device the batch is on (so a GPU computes its own frontend):

training:   waves → [DIR on device-A clips] → [roll] → power mel → [frequency masking] → log(x + 1e-5)
            → [Freq-MixStyle]
evaluation: waves → power mel → log(x + 1e-5)

The power mel is ``asckit.features.tau22_torch.MelFrontend`` (the facts in
``asckit.features.tau22_frontend``: n_fft 4096, window 3072, hop 500, 256 HTK bands); frequency
masking is torchaudio's ``FrequencyMasking(48, iid_masks=True)`` on the power mel, so masked bins
become log(1e-5), as in the reference (``asckit.train.batch_augment.frequency_masking``). DIR and the
roll are ``asckit.train.wave_augment``. The one departure from the reference's order: the roll
shifts the stored 32 kHz wave by up to ±0.1 s (±3,200 samples) instead of the raw 44.1 kHz wave
(±4,410) before resampling (the config's ``batch_augment.roll_seconds``). Mixup, off in the
baselines, still comes after, in ``asckit.train.batch_augment.apply``.

Every random draw comes from the run's augmentation generator (``asckit.train.module``).
"""

from __future__ import annotations

import torch

from asckit import labels as label_defs
from asckit.features.tau22_frontend import SAMPLE_RATE
from asckit.train import batch_augment, wave_augment

#: The device whose clips DIR convolves ([CP23]: only device A's recordings).
DIR_DEVICE = label_defs.ALL_DEVICES.index("a")


class WaveInput(torch.nn.Module):
    """Stored waves (B, 1, samples) → model input (B, 1, 256, frames), with the config's augmentations.

    Holds no state a checkpoint needs: its buffers (window, filterbank, impulse responses) are
    rebuilt from the facts and the config.
    """

    def __init__(self, config):
        super().__init__()
        from asckit.features.tau22_torch import MelFrontend

        a = config.batch_augment
        self.mel = MelFrontend()
        self.roll_samples = int(round(a.roll_seconds * SAMPLE_RATE))
        self.freq_mask_max = a.freq_mask_max if a.spec_augment else 0
        self.mixstyle = a.freq_mixstyle
        self.dir_p = a.dir.p if a.dir is not None else 0.0
        self.dir = wave_augment.DeviceImpulseResponses.from_folder(a.dir.folder) if a.dir is not None and a.dir.p > 0 else None

    def for_evaluation(self, waves: torch.Tensor) -> torch.Tensor:
        """Unaugmented model input of stored waves (B, 1, samples) or (B, samples)."""
        return self.mel.log(self.mel(_flat(waves)))

    def for_training(self, waves: torch.Tensor, devices: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augmented model input; ``devices`` are indices into ``asckit.labels.ALL_DEVICES`` (−1 unknown)."""
        x = _flat(waves)
        if self.dir is not None:
            x = self.dir.apply(x, devices == DIR_DEVICE, self.dir_p, generator)
        if self.roll_samples:
            x = wave_augment.roll(x, self.roll_samples, generator)
        power = self.mel(x)
        if self.freq_mask_max:
            power = batch_augment.frequency_masking(power, self.freq_mask_max, generator)
        x = self.mel.log(power)
        if self.mixstyle is not None and self.mixstyle.p > 0:
            x = batch_augment.freq_mixstyle(x, generator, self.mixstyle.p, self.mixstyle.alpha, form=self.mixstyle.form)
        return x


def _flat(waves: torch.Tensor) -> torch.Tensor:
    """(B, 1, n) or (B, n) stored waves → (B, n) float32."""
    waves = waves.float()
    return waves.reshape(waves.shape[0], -1)


__all__ = ["DIR_DEVICE", "WaveInput"]
