"""On-the-fly batch augmentation for training: Freq-MixStyle, SpecAugment, frequency masking, random crop, channel swap and mixup.

Its one job: turn a training batch ``x`` of model input ``(B, C, 128, T)`` and soft / one-hot
targets ``y`` ``(B, K)`` into an augmented batch, with the exact procedures of the reference
generators (docs/reference-code.md §3.1), vectorised in torch. Evaluation never calls this module.

Order, as in the reference: SpecAugment on the full-length features → random crop → channel
swap (1b) → mixup. Each step is switched by :class:`BatchAugment`; :func:`apply` runs them.
Freq-MixStyle (beyond the paper: Schmid et al., DCASE 2022–2024, the CP-JKU baselines), when
switched on, runs first, on the features as stored (before SpecAugment's zeroed bands would
distort the statistics it mixes); it changes no targets. Switched off (the default) it draws no
random numbers, so existing recipes augment exactly as before.

All randomness comes from an explicit ``torch.Generator``, so a seed reproduces a batch exactly.
Random numbers are drawn on the generator's device and then moved to ``x``'s device, so a CPU
generator gives the same augmentation for CPU and GPU batches. Under DDP give every rank its own
seed, or all ranks draw the same masks.

Where asckit differs from the reference, on purpose:

* **Mixup partners.** Each reference step consumed 64 samples: the first 32 (X1) were mixed with
  the next 32 (X2). asckit mixes every sample of one batch with a partner from the *same* batch,
  so a batch of B samples yields B mixed samples. The partner map is a random single-cycle
  permutation (a shuffled order, each sample paired with its successor), so no sample is ever
  its own partner, as X1 and X2 never share a sample in the reference. λ ~ Beta(α, α) is drawn
  once per sample, and x and y are mixed with the same λ, as in the reference.
* **What an epoch is.** The reference set ``steps_per_epoch = ceil(N/32)`` while each step
  consumed 64 samples, so one Keras "epoch" was about two passes over the training list. An
  asckit epoch is one pass. With batch size 32 the two agree where it matters: ceil(N/32)
  optimizer steps per epoch, 32 mixed examples per step, and every training sample used about
  twice per epoch (here once as the primary and once as a partner). So the reference's epoch
  counts and warm-restart schedule (``asckit.train.schedule``) carry over unchanged; what
  differs is only that the two uses of a sample fall in the same step instead of two passes.

The TAU22 protocols (``asckit.tasks.TASKS_TAU22``) compute model input in the training step from
waves (``asckit.train.wave_augment``), with the CPJKU baselines' steps from this module: power mel →
:func:`frequency_masking` → log → :func:`freq_mixstyle` with ``form="batch"`` → model.

Reference quirks that are kept, because they define the distribution: mask widths are
inclusive (0..12 bins, 0..39 frames), a mask start is drawn from ``[0, size − width)`` so the
last bin / frame is never masked, and crop starts are drawn from ``[0, T − length)`` (0..22 for
423 → 400), so the last possible window is never taken.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

import torch

from asckit.core.errors import AsckitError
from asckit.tasks import TASKS
from asckit.train.config import FreqMixStyleForm

__all__ = [
    "BatchAugment",
    "FREQ_MIXSTYLE_FORMS",
    "apply",
    "freq_mixstyle",
    "frequency_masking",
    "mix_frequency_statistics",
    "mixup",
    "random_crop",
    "spec_augment",
    "swap_channels",
]


#: How :func:`freq_mixstyle` decides which samples are mixed: ``sample`` (asckit's, a coin per sample,
#: partners never the sample itself, biased variance) or ``batch`` (the CP-JKU baselines' own form).
FREQ_MIXSTYLE_FORMS: tuple[str, ...] = typing.get_args(FreqMixStyleForm)


@dataclass(frozen=True)
class BatchAugment:
    """Which on-the-fly augmentations a training run uses, and their sizes.

    The defaults are the 1a FCNN / fsFCNN recipe. The other reference recipes:
    Resnet ``spec_augment=False`` (crop and mixup as the default); Task 1b
    ``crop_frames=None, channel_swap=True`` (SpecAugment and mixup as the default).
    """

    spec_augment: bool = True
    crop_frames: int | None = TASKS["1a"].crop_frames
    channel_swap: bool = False
    mixup_alpha: float | None = 0.4  # None or 0 switches mixup off
    freq_mask_max: int = 12
    time_mask_max: int = 39
    freq_mixstyle_p: float = 0.0  # 0 switches Freq-MixStyle off
    freq_mixstyle_alpha: float = 0.3
    freq_mixstyle_form: str = "sample"  # a coin per sample, or one per batch (the CP-JKU code): freq_mixstyle

    def __post_init__(self) -> None:
        if not 0.0 <= self.freq_mixstyle_p <= 1.0 or not self.freq_mixstyle_alpha > 0:
            raise AsckitError(
                f"batch augmentation: freq_mixstyle p={self.freq_mixstyle_p!r}, alpha={self.freq_mixstyle_alpha!r}; "
                "use 0 ≤ p ≤ 1 and alpha > 0"
            )
        if self.freq_mixstyle_form not in FREQ_MIXSTYLE_FORMS:
            raise AsckitError(
                f"batch augmentation: freq_mixstyle form={self.freq_mixstyle_form!r}; use {' or '.join(FREQ_MIXSTYLE_FORMS)}"
            )
        if self.crop_frames is not None and (
            isinstance(self.crop_frames, bool) or not isinstance(self.crop_frames, int) or self.crop_frames < 1
        ):
            raise AsckitError(f"batch augmentation: crop_frames={self.crop_frames!r}; use a positive integer or null")
        if self.mixup_alpha is not None and not self.mixup_alpha >= 0:
            raise AsckitError(f"batch augmentation: mixup_alpha={self.mixup_alpha!r}; use a value > 0, or 0/null for off")
        for name in ("freq_mask_max", "time_mask_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise AsckitError(f"batch augmentation: {name}={value!r}; use an integer ≥ 0")


def _uniform_below(high: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One integer uniform in ``[0, high)`` per element of ``high`` (int64, all ``high`` ≥ 1).

    Like Python's ``randrange(0, high)`` with a different upper bound per element, which
    ``torch.randint`` cannot do; float64 keeps the floor(u·high) bias far below anything visible.
    """
    u = torch.rand(high.shape, generator=generator, device=high.device, dtype=torch.float64)
    return (u * high).floor().to(torch.int64).clamp_max_(high - 1)


def _bands(batch: int, channels: int, size: int, max_width: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask (start, width) per sample and channel: width = randrange(0, max_width + 1),
    start = randrange(0, size − width), both shaped (batch, channels), on the generator's device."""
    width = torch.randint(0, max_width + 1, (batch, channels), generator=generator, device=generator.device)
    start = _uniform_below(size - width, generator)
    return start, width


def spec_augment(
    x: torch.Tensor, generator: torch.Generator, freq_mask_max: int = 12, time_mask_max: int = 39
) -> torch.Tensor:
    """One zero-filled frequency band and one time band per sample and per channel, drawn independently.

    ``x`` is ``(B, C, F, T)``; returns a new tensor. Widths are 0..``freq_mask_max`` bins and
    0..``time_mask_max`` frames (inclusive), starts in ``[0, F − f)`` and ``[0, T − t)``.
    """
    if x.ndim != 4:
        raise ValueError(f"spec_augment expects (batch, channels, mel, frames), got shape {tuple(x.shape)}")
    batch, channels, n_freq, n_time = x.shape
    if freq_mask_max >= n_freq or time_mask_max >= n_time:
        raise ValueError(f"mask widths {freq_mask_max}/{time_mask_max} must be smaller than the input {n_freq}×{n_time}")
    f_start, f_width = (t.to(x.device) for t in _bands(batch, channels, n_freq, freq_mask_max, generator))
    t_start, t_width = (t.to(x.device) for t in _bands(batch, channels, n_time, time_mask_max, generator))

    # Masks by broadcasting index comparisons: (B, C, F, 1) | (B, C, 1, T) → (B, C, F, T).
    f_idx = torch.arange(n_freq, device=x.device).view(1, 1, n_freq, 1)
    t_idx = torch.arange(n_time, device=x.device).view(1, 1, 1, n_time)
    f_start, f_width = f_start[..., None, None], f_width[..., None, None]
    t_start, t_width = t_start[..., None, None], t_width[..., None, None]
    in_freq_band = (f_idx >= f_start) & (f_idx < f_start + f_width)
    in_time_band = (t_idx >= t_start) & (t_idx < t_start + t_width)
    return x.masked_fill(in_freq_band | in_time_band, 0)


def frequency_masking(power_mel: torch.Tensor, max_width: int, generator: torch.Generator) -> torch.Tensor:
    """One zeroed band of mel bins per example and channel: torchaudio's
    ``FrequencyMasking(max_width, iid_masks=True)``, as the CPJKU baselines apply it to the **power**
    mel before the log (masked bins become log(1e-5)); reference/dcase2025/README.md §3–§4.

    ``power_mel`` is ``(B, C, F, T)``; returns a new tensor. torchaudio's ``mask_along_axis_iid``
    (mask value 0.0, p 1.0) draws, per example and channel, ``v = U₁·max_width`` and
    ``v₀ = U₂·(F − v)`` with U uniform in [0, 1) (v unfloored inside the second draw), and masks the
    bins ``[⌊v₀⌋, ⌊v₀⌋ + ⌊v⌋)``: widths 0 … max_width − 1, the start uniform in what is left. This
    function computes exactly that. Where asckit differs: U₁ and U₂ come from ``generator`` (on its
    device, in float32, all U₁ then all U₂), not from torch's global generator on the spectrogram's
    device and dtype, so the same seed gives other masks than torchaudio would, from the same
    distribution. ``max_width`` 0 masks nothing and draws nothing (torchaudio returns the input when it is < 1).
    """
    if power_mel.ndim != 4:
        raise ValueError(f"frequency_masking expects (batch, channels, mel, frames), got shape {tuple(power_mel.shape)}")
    batch, channels, n_freq, _ = power_mel.shape
    if isinstance(max_width, bool) or not isinstance(max_width, int) or not 0 <= max_width <= n_freq:
        raise ValueError(f"frequency_masking: max_width={max_width!r}; use an integer in [0, {n_freq}] (the mel bins)")
    if max_width < 1:
        return power_mel.clone()
    width = torch.rand((batch, channels), generator=generator, device=generator.device) * max_width
    start = torch.rand((batch, channels), generator=generator, device=generator.device) * (n_freq - width)
    first = start.long().to(power_mel.device)[..., None, None]
    end = first + width.long().to(power_mel.device)[..., None, None]
    bins = torch.arange(n_freq, device=power_mel.device).view(1, 1, n_freq, 1)
    return power_mel.masked_fill((bins >= first) & (bins < end), 0.0)


def random_crop(x: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
    """``length`` consecutive frames of every sample, from an independent start in ``[0, T − length)``.

    ``x`` is ``(..., T)`` with a leading batch axis; returns ``(B, ..., length)``. When ``T``
    equals ``length`` the input is returned as is (the reference would fail there).
    """
    n_time = x.shape[-1]
    if length > n_time:
        raise ValueError(f"cannot crop {length} frames from an input of {n_time}")
    if length == n_time:
        return x
    batch = x.shape[0]
    starts = _uniform_below(torch.full((batch,), n_time - length, device=generator.device), generator).to(x.device)
    # unfold is a view of every window; advanced indexing then copies only the chosen one per sample.
    windows = x.unfold(-1, length, 1)  # (B, ..., T − length + 1, length)
    return windows[torch.arange(batch, device=x.device), ..., starts, :]


def swap_channels(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """With probability ``p`` per sample, swap the channels of every adjacent pair: [1, 0, 3, 2, 5, 4, ...].

    For 1b input ``[L, R, ΔL, ΔR, ΔΔL, ΔΔR]`` this swaps left and right for static, Δ and ΔΔ together.
    """
    channels = x.shape[1]
    if channels % 2:
        raise ValueError(f"swap_channels needs an even number of channels laid out as pairs, got {channels}")
    pair_swapped = torch.arange(channels, device=x.device) ^ 1
    swap = torch.rand(x.shape[0], generator=generator, device=generator.device) < p
    swap = swap.to(x.device).view(-1, *([1] * (x.ndim - 1)))
    return torch.where(swap, x[:, pair_swapped], x)


def _beta(alpha: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """n draws of Beta(alpha, alpha) in float64, as G1 / (G1 + G2) with G ~ Gamma(alpha).

    torch.distributions.Beta cannot take a generator; ``torch._standard_gamma`` can. float64
    keeps Gamma(0.4) draws from underflowing to 0; the clamp covers tiny alphas where both might.
    """
    shape = torch.full((2, n), float(alpha), dtype=torch.float64, device=generator.device)
    g = torch._standard_gamma(shape, generator=generator).clamp_min(torch.finfo(torch.float64).tiny)
    return g[0] / (g[0] + g[1])


def _partners(batch: int, generator: torch.Generator) -> torch.Tensor:
    """A random single-cycle permutation: each sample's partner is its successor in a shuffled
    order, so no sample is its own partner (for batch ≥ 2). On the generator's device."""
    order = torch.randperm(batch, generator=generator, device=generator.device)
    partner = torch.empty_like(order)
    partner[order] = order.roll(-1)
    return partner


#: Added to the variance before the square root: a band that is constant over time and channels
#: (all zeros in a padded or silent clip) keeps a finite std. As in the CP-JKU implementation.
MIXSTYLE_EPS = 1e-6


def freq_mixstyle(
    x: torch.Tensor, generator: torch.Generator, p: float = 0.4, alpha: float = 0.3, form: str = "sample"
) -> torch.Tensor:
    """Freq-MixStyle: mix every sample's per-frequency-band statistics with a partner's.

    For ``x`` ``(B, C, F, T)`` each sample's band mean μ and std σ are taken over channels and
    time (shape ``(B, 1, F, 1)``); the sample is normalised by them and re-scaled with
    ``w·σ + (1 − w)·σ_partner`` and shifted by ``w·μ + (1 − w)·μ_partner``, with
    ``w ~ Beta(α, α)`` per sample. Statistics are computed in float32 without gradients (they are
    data statistics, as in MixStyle); σ = √(var + 1e-6) (:data:`MIXSTYLE_EPS`). Two forms:

    * ``form="sample"`` (asckit's, the default): with probability ``1 − p`` per sample, w is 1 (the
      sample is unchanged); partners follow a random single-cycle permutation (never the sample
      itself), as mixup's; biased variance. One coin per sample gives the same expected share of
      mixed samples as the CP-JKU code with less variance between steps.
    * ``form="batch"``: the CP-JKU baselines' ``helpers/utils.py mixstyle`` [B24][B25], exactly: one
      coin for the whole batch (``if rand > p: return x``, so with probability 1 − p nothing is
      mixed, else every sample is), the **unbiased** variance (``torch.var``'s default), Beta(α, α)
      weights per sample, partners ``randperm(B)``, so a clip may be its own partner (and then keeps
      its statistics). Draw order: the coin (float64), the B weights, the permutation, all from
      ``generator`` instead of NumPy's and torch's global generators. p = 0 returns ``x`` without
      drawing (the reference would still mix on a coin of exactly 0.0, probability 2⁻⁵³).
    """
    if x.ndim != 4:
        raise ValueError(f"freq_mixstyle expects (batch, channels, mel, frames), got shape {tuple(x.shape)}")
    if form not in FREQ_MIXSTYLE_FORMS:
        raise ValueError(f"freq_mixstyle: form={form!r}; use {' or '.join(FREQ_MIXSTYLE_FORMS)}")
    batch = x.shape[0]
    if form == "batch":
        if p <= 0 or batch < 1:
            return x
        coin = torch.rand((), generator=generator, device=generator.device, dtype=torch.float64)
        if coin.item() > p:
            return x
        weight = _beta(alpha, batch, generator)
        partner = torch.randperm(batch, generator=generator, device=generator.device)
        return mix_frequency_statistics(x, partner.to(x.device), weight.to(x.device), unbiased=True)
    if batch < 2 or p <= 0:
        return x
    partner = _partners(batch, generator)
    weight = _beta(alpha, batch, generator)
    mixed = torch.rand(batch, generator=generator, device=generator.device, dtype=torch.float64) < p
    weight = torch.where(mixed, weight, torch.ones_like(weight))
    return mix_frequency_statistics(x, partner.to(x.device), weight.to(x.device))


def mix_frequency_statistics(
    x: torch.Tensor, partner: torch.Tensor, weight: torch.Tensor, unbiased: bool = False
) -> torch.Tensor:
    """The deterministic core of :func:`freq_mixstyle`: sample i's per-band statistics (over channels
    and time) become ``weight[i]``·its own + (1 − ``weight[i]``)·those of sample ``partner[i]``.
    The variance is the biased one (``form="sample"``) or, with ``unbiased``, torch's default (the
    CP-JKU code's, ``form="batch"``)."""
    w = weight.to(torch.float32).view(-1, 1, 1, 1)
    values = x.float()
    mean = values.mean(dim=(1, 3), keepdim=True).detach()
    std = (values.var(dim=(1, 3), keepdim=True, unbiased=unbiased) + MIXSTYLE_EPS).sqrt().detach()
    normalised = (values - mean) / std
    mix_mean = w * mean + (1 - w) * mean[partner]
    mix_std = w * std + (1 - w) * std[partner]
    return (normalised * mix_std + mix_mean).to(x.dtype)


def mixup(
    x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, alpha: float = 0.4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix every sample with a partner from the same batch: λ·x1 + (1 − λ)·x2, same for y.

    One λ ~ Beta(α, α) per sample. Partners follow a random single-cycle permutation, so no
    sample is paired with itself (for B ≥ 2). ``y`` must be float targets ``(B, K)``.
    """
    batch = x.shape[0]
    if y.ndim != 2 or y.shape[0] != batch or not y.is_floating_point():
        raise ValueError(f"mixup needs float targets (batch, classes); got {y.dtype} of shape {tuple(y.shape)}")
    if batch < 2:
        return x, y
    partner = _partners(batch, generator)
    lam = _beta(alpha, batch, generator)
    partner, lam = partner.to(x.device), lam.to(x.device)
    lam_x = lam.to(x.dtype).view(-1, *([1] * (x.ndim - 1)))
    lam_y = lam.to(y.dtype).view(-1, 1)
    return lam_x * x + (1 - lam_x) * x[partner], lam_y * y + (1 - lam_y) * y[partner]


def apply(
    x: torch.Tensor, y: torch.Tensor, cfg: BatchAugment, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the augmentations ``cfg`` switches on, in the reference order; returns new ``(x, y)``.

    ``y`` may hold several blocks of targets side by side (labels and a teacher's probabilities):
    mixup mixes every column with the sample's one λ, and nothing else touches ``y``.
    """
    if cfg.freq_mixstyle_p > 0:
        x = freq_mixstyle(x, generator, cfg.freq_mixstyle_p, cfg.freq_mixstyle_alpha, cfg.freq_mixstyle_form)
    if cfg.spec_augment:
        x = spec_augment(x, generator, cfg.freq_mask_max, cfg.time_mask_max)
    if cfg.crop_frames is not None:
        if cfg.crop_frames > x.shape[-1]:
            raise AsckitError(
                f"batch augmentation: crop_frames={cfg.crop_frames} is longer than the {x.shape[-1]} input frames; "
                "set crop_frames to at most that, or null"
            )
        x = random_crop(x, cfg.crop_frames, generator)
    if cfg.channel_swap:
        x = swap_channels(x, generator)
    if cfg.mixup_alpha:
        x, y = mixup(x, y, generator, cfg.mixup_alpha)
    return x, y
