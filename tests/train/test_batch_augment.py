"""Tests for asckit.train.batch_augment: the reference's on-the-fly augmentation distributions."""

from __future__ import annotations

import pytest
import torch

from asckit.core.errors import AsckitError
from asckit.train import batch_augment
from asckit.train.batch_augment import (
    BatchAugment,
    apply,
    freq_mixstyle,
    frequency_masking,
    mix_frequency_statistics,
    mixup,
    random_crop,
    spec_augment,
    swap_channels,
)

torch.set_num_threads(1)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _bands(x: torch.Tensor, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Recover the masked rows (B, C, F) and columns (B, C, T) from a SpecAugment output of positive x,
    after checking that every zero lies in a fully zeroed row or column and nothing else changed."""
    zero = out == 0
    rows, cols = zero.all(-1), zero.all(-2)
    assert torch.equal(zero, rows[..., :, None] | cols[..., None, :])
    assert torch.equal(out[~zero], x[~zero])
    return rows, cols


def _runs(band: torch.Tensor) -> torch.Tensor:
    """Number of contiguous True runs along the last axis."""
    starts = band[..., 1:] & ~band[..., :-1]
    return starts.sum(-1) + band[..., 0].long()


def test_spec_augment_masks_follow_the_reference_distribution() -> None:
    x = torch.rand(400, 3, 128, 50) + 1  # strictly positive, so every zero is a mask
    out = spec_augment(x, _gen(), freq_mask_max=12, time_mask_max=39)
    rows, cols = _bands(x, out)

    # At most one contiguous band per channel and axis.
    assert _runs(rows).max() <= 1 and _runs(cols).max() <= 1
    f_width, t_width = rows.sum(-1), cols.sum(-1)
    # Inclusive widths 0..12 and 0..39, all reached, uniform (mean 6 / 19.5).
    assert set(f_width.unique().tolist()) == set(range(13))
    assert t_width.max() == 39 and t_width.min() == 0
    assert abs(f_width.float().mean().item() - 6.0) < 0.5
    assert abs(t_width.float().mean().item() - 19.5) < 1.5
    # start ∈ [0, size − width): the first bin/frame can be masked, the last never.
    assert rows[..., 0].any() and cols[..., 0].any()
    assert not rows[..., -1].any() and not cols[..., -1].any()
    # Channels draw independently: identical bands across channels are rare, not the rule.
    same_freq = (rows[:, 0] == rows[:, 1]).all(-1) & (f_width[:, 0] > 0)
    same_time = (cols[:, 0] == cols[:, 2]).all(-1) & (t_width[:, 0] > 0)
    assert same_freq.float().mean() < 0.05 and same_time.float().mean() < 0.05


def test_spec_augment_zero_width_bounds_and_shape_errors() -> None:
    x = torch.rand(64, 2, 16, 20) + 1
    out = spec_augment(x, _gen(), freq_mask_max=0, time_mask_max=0)
    assert torch.equal(out, x)  # widths 0..0 mask nothing
    with pytest.raises(ValueError):
        spec_augment(x, _gen(), freq_mask_max=16)
    with pytest.raises(ValueError):
        spec_augment(x[0], _gen())


def test_random_crop_starts_cover_reference_range_only() -> None:
    batch, n_time, length = 2000, 423, 400
    frame_index = torch.arange(n_time, dtype=torch.float32)
    x = frame_index.expand(batch, 2, 3, n_time).clone()
    out = random_crop(x, length, _gen())
    assert out.shape == (batch, 2, 3, length)
    starts = out[:, 0, 0, 0]
    # Each sample is one contiguous window, the same for all its channels and bins.
    assert torch.equal(out, (starts[:, None, None, None] + torch.arange(length)).expand_as(out))
    assert set(starts.long().tolist()) == set(range(23))  # randint(0, 423 − 400): 0..22, never 23


def test_random_crop_full_length_and_too_long() -> None:
    x = torch.rand(4, 3, 8, 10)
    assert torch.equal(random_crop(x, 10, _gen()), x)
    with pytest.raises(ValueError):
        random_crop(x, 11, _gen())


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_swap_channels_swaps_pairs_with_probability_p(p: float) -> None:
    batch = 4000
    x = torch.arange(6, dtype=torch.float32).view(1, 6, 1, 1).repeat(batch, 1, 2, 3)
    out = swap_channels(x, _gen(), p=p)
    identity = (out == x).flatten(1).all(1)
    swapped = (out == x[:, [1, 0, 3, 2, 5, 4]]).flatten(1).all(1)
    assert (identity ^ swapped).all()  # every sample is exactly one of the two layouts
    assert abs(swapped.float().mean().item() - p) < 0.03


def test_swap_channels_extremes_and_odd_channels() -> None:
    x = torch.rand(50, 4, 3, 5)
    assert torch.equal(swap_channels(x, _gen(), p=0.0), x)
    assert torch.equal(swap_channels(x, _gen(), p=1.0), x[:, [1, 0, 3, 2]])
    with pytest.raises(ValueError):
        swap_channels(torch.rand(2, 3, 4, 5), _gen())


def _mix_unique_classes(alpha: float, batch: int = 2000, seed: int = 0):
    """Mixup on a batch where sample i has class i, so y_out[i] shows λ and the partner directly."""
    x = torch.randn(batch, 2, 3, 4, dtype=torch.float64)
    y = torch.eye(batch, dtype=torch.float64)
    x_out, y_out = mixup(x, y, _gen(seed), alpha=alpha)
    return x, y, x_out, y_out


def test_mixup_mixes_x_and_y_with_the_same_per_sample_lambda() -> None:
    x, _, x_out, y_out = _mix_unique_classes(alpha=0.4)
    torch.testing.assert_close(y_out.sum(1), torch.ones(len(y_out), dtype=torch.float64))
    assert (y_out >= 0).all()
    # y_out[i] = λ_i e_i + (1 − λ_i) e_j, so y_out @ x is that same combination of inputs.
    torch.testing.assert_close(x_out.flatten(1), y_out @ x.flatten(1))
    lam = y_out.diagonal()
    assert lam.std() > 0.2  # one λ per sample, not one per batch


def test_mixup_partner_is_another_sample_and_each_is_used_once() -> None:
    _, _, _, y_out = _mix_unique_classes(alpha=0.4)
    assert ((y_out > 0).sum(1) == 2).all()  # never mixed with itself
    partner = (y_out - torch.diag(y_out.diagonal())).argmax(1)
    assert torch.equal(partner.sort().values, torch.arange(len(y_out)))


@pytest.mark.parametrize("alpha", [0.4, 4.0])
def test_mixup_lambda_is_beta_alpha_alpha(alpha: float) -> None:
    lam = _mix_unique_classes(alpha=alpha)[3].diagonal()
    assert abs(lam.mean().item() - 0.5) < 0.03
    expected_var = 1 / (4 * (2 * alpha + 1))  # variance of Beta(α, α)
    assert abs(lam.var().item() / expected_var - 1) < 0.15


def test_mixup_rejects_class_index_targets() -> None:
    with pytest.raises(ValueError):
        mixup(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 3]), _gen())


def _batch_1b(batch: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(batch, 6, 128, 61, generator=_gen(99)) + 1
    y = torch.eye(3)[torch.arange(batch) % 3]
    return x, y


def test_apply_runs_the_steps_in_reference_order() -> None:
    x, y = _batch_1b()
    cfg = BatchAugment(spec_augment=True, crop_frames=50, channel_swap=True, mixup_alpha=0.4)
    got_x, got_y = apply(x, y, cfg, _gen(3))
    g = _gen(3)
    want_x = swap_channels(random_crop(spec_augment(x, g), 50, g), g)
    want_x, want_y = mixup(want_x, y, g, 0.4)
    assert torch.equal(got_x, want_x) and torch.equal(got_y, want_y)


def test_apply_is_reproducible_per_seed() -> None:
    x, y = _batch_1b()
    cfg = BatchAugment(crop_frames=None, channel_swap=True)
    a, b, c = (apply(x, y, cfg, _gen(seed)) for seed in (1, 1, 2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_apply_switches_each_step_off() -> None:
    x, y = _batch_1b()
    off = BatchAugment(spec_augment=False, crop_frames=None, channel_swap=False, mixup_alpha=None)
    out_x, out_y = apply(x, y, off, _gen())
    assert torch.equal(out_x, x) and torch.equal(out_y, y)
    out_x, out_y = apply(x, y, BatchAugment(spec_augment=False, mixup_alpha=0, crop_frames=40), _gen())
    assert out_x.shape[-1] == 40 and torch.equal(out_y, y)
    assert (apply(x, y, BatchAugment(crop_frames=None, mixup_alpha=None), _gen())[0] == 0).any()


def test_config_errors_name_the_field() -> None:
    x, y = _batch_1b()
    with pytest.raises(AsckitError, match="crop_frames"):
        apply(x, y, BatchAugment(crop_frames=62), _gen())
    with pytest.raises(AsckitError, match="crop_frames"):
        BatchAugment(crop_frames=0)
    with pytest.raises(AsckitError, match="mixup_alpha"):
        BatchAugment(mixup_alpha=-1.0)
    with pytest.raises(AsckitError, match="time_mask_max"):
        BatchAugment(time_mask_max=-2)


# ---------------------------------------------------------------- Freq-MixStyle
def _band_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-mel-band mean and std over channels and time: (B, F) each."""
    return x.mean(dim=(1, 3)), x.var(dim=(1, 3), unbiased=False).sqrt()


def _styled(batch: int = 8, seed: int = 0) -> torch.Tensor:
    """Features whose bands have clearly different means and spreads per sample."""
    g = _gen(seed)
    scale = torch.rand(batch, 1, 16, 1, generator=g) + 0.5
    shift = torch.rand(batch, 1, 16, 1, generator=g)
    return torch.randn(batch, 3, 16, 20, generator=g) * scale + shift


def test_mixed_band_statistics_are_the_convex_combination() -> None:
    x = _styled()
    partner = torch.tensor([1, 2, 3, 4, 5, 6, 7, 0])
    weight = torch.linspace(0, 1, 8)
    out = mix_frequency_statistics(x, partner, weight)
    mean, std = _band_stats(x)
    out_mean, out_std = _band_stats(out)
    w = weight[:, None]
    assert torch.allclose(out_mean, w * mean + (1 - w) * mean[partner], atol=1e-5)
    assert torch.allclose(out_std, w * std + (1 - w) * std[partner], atol=1e-4)
    # Content is kept: normalised by its own band statistics, each output equals the input.
    assert torch.allclose((out - out_mean[:, None, :, None]) / out_std[:, None, :, None],
                          (x - mean[:, None, :, None]) / std[:, None, :, None], atol=1e-3)
    # Weight 1 is the input itself; weight 0 takes the partner's statistics entirely.
    assert torch.allclose(mix_frequency_statistics(x, partner, torch.ones(8)), x, atol=1e-5)
    zero_mean, zero_std = _band_stats(mix_frequency_statistics(x, partner, torch.zeros(8)))
    assert torch.allclose(zero_mean, mean[partner], atol=1e-5) and torch.allclose(zero_std, std[partner], atol=1e-4)


def test_freq_mixstyle_weights_follow_beta_alpha_and_partners_are_others() -> None:
    x = _styled(batch=400, seed=1)
    mean, _ = _band_stats(x)
    for alpha, expected_var in ((0.3, 1 / (4 * (2 * 0.3 + 1))), (20.0, 1 / (4 * (2 * 20.0 + 1)))):
        out_mean, _ = _band_stats(freq_mixstyle(x, _gen(2), p=1.0, alpha=alpha))
        # out = w·μ_i + (1 − w)·μ_j for every band: recover (w, j) per sample by least squares over bands.
        weights = []
        for i in range(len(x)):
            best = None
            for j in range(len(x)):
                if j == i:
                    continue
                d = mean[i] - mean[j]
                w = float(((out_mean[i] - mean[j]) @ d) / (d @ d))
                err = float((w * d + mean[j] - out_mean[i]).abs().max())
                if best is None or err < best[0]:
                    best = (err, w)
            assert best[0] < 1e-4  # an exact convex combination with some other sample
            weights.append(best[1])
        weights = torch.tensor(weights)
        assert weights.min() >= -1e-4 and weights.max() <= 1 + 1e-4
        assert weights.mean().item() == pytest.approx(0.5, abs=0.05)
        assert weights.var().item() == pytest.approx(expected_var, rel=0.25)


def test_freq_mixstyle_probability_and_identity_when_off() -> None:
    x = _styled(batch=1000, seed=3)
    unchanged = (freq_mixstyle(x, _gen(4), p=0.3, alpha=0.3) - x).abs().amax(dim=(1, 2, 3)) < 1e-5
    assert unchanged.float().mean().item() == pytest.approx(0.7, abs=0.05)
    g = _gen(5)
    assert freq_mixstyle(x, g, p=0.0) is x
    # Off in the config: apply draws nothing for it, so the other augmentations are as before.
    cfg = BatchAugment(crop_frames=None, mixup_alpha=None, freq_mask_max=2, time_mask_max=2)
    y = torch.zeros(len(x), 10)
    assert torch.equal(apply(x, y, cfg, _gen(6))[0], spec_augment(x, _gen(6), 2, 2))
    on = BatchAugment(crop_frames=None, mixup_alpha=None, spec_augment=False, freq_mixstyle_p=1.0)
    assert not torch.allclose(apply(x, y, on, _gen(6))[0], x)
    with pytest.raises(AsckitError, match="freq_mixstyle"):
        BatchAugment(freq_mixstyle_p=1.5)


# ---------------------------------------------------------------- frequency masking (TAU22 protocols)
def test_frequency_masking_is_torchaudio_iid_formula_with_zeros() -> None:
    batch, channels, n_freq, max_width = 300, 2, 20, 8
    x = torch.rand(batch, channels, n_freq, 5) + 0.1
    out = frequency_masking(x, max_width, _gen(7))
    # torchaudio mask_along_axis_iid, written out per example and channel: v = U1·W, v0 = U2·(F − v),
    # bins [int(v0), int(v0) + int(v)) set to 0.0; U1 for all examples first, then U2.
    g = _gen(7)
    u1 = torch.rand(batch, channels, generator=g)
    u2 = torch.rand(batch, channels, generator=g)
    widths = []
    for b in range(batch):
        for c in range(channels):
            value = u1[b, c] * max_width
            start = int(u2[b, c] * (n_freq - value))
            width = int(value)
            expected = x[b, c].clone()
            expected[start : start + width] = 0.0
            assert torch.equal(out[b, c], expected)
            widths.append(width)
    widths = torch.tensor(widths)
    assert widths.min() == 0 and widths.max() == max_width - 1  # ⌊U·W⌋: W itself never drawn
    assert torch.log(out + 1e-5).min().item() == pytest.approx(float(torch.log(torch.tensor(1e-5))))
    assert torch.equal(frequency_masking(x, 0, g), x)
    with pytest.raises(ValueError, match="max_width"):
        frequency_masking(x, n_freq + 1, _gen())


# ---------------------------------------------------------------- Freq-MixStyle, the CP-JKU batch form
def _reference_mixstyle(x: torch.Tensor, lmda: torch.Tensor, perm: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """CPJKU helpers/utils.py mixstyle after its coin, with its Beta draws and permutation given."""
    f_mu = x.mean(dim=[1, 3], keepdim=True)
    f_var = x.var(dim=[1, 3], keepdim=True)
    f_sig = (f_var + eps).sqrt()
    f_mu, f_sig = f_mu.detach(), f_sig.detach()
    x_normed = (x - f_mu) / f_sig
    lmda = lmda.view(-1, 1, 1, 1)
    mu_mix = f_mu * lmda + f_mu[perm] * (1 - lmda)
    sig_mix = f_sig * lmda + f_sig[perm] * (1 - lmda)
    return x_normed * sig_mix + mu_mix


def _replay_batch_draws(seed: int, batch: int, alpha: float) -> tuple[float, torch.Tensor, torch.Tensor]:
    """The coin, Beta weights and permutation freq_mixstyle(form="batch") draws, in its order."""
    g = _gen(seed)
    coin = torch.rand((), generator=g, dtype=torch.float64).item()
    lmda = batch_augment._beta(alpha, batch, g).float()
    return coin, lmda, torch.randperm(batch, generator=g)


def test_batch_freq_mixstyle_is_the_reference_formula() -> None:
    x = _styled(batch=16, seed=8)
    hits = 0
    for seed in range(12):
        out = freq_mixstyle(x, _gen(seed), p=0.5, alpha=0.3, form="batch")
        coin, lmda, perm = _replay_batch_draws(seed, len(x), 0.3)
        if coin > 0.5:
            assert out is x  # one coin for the whole batch: nothing mixed
        else:
            hits += 1
            assert torch.allclose(out, _reference_mixstyle(x, lmda, perm), atol=1e-5)
    assert 0 < hits < 12


def test_batch_freq_mixstyle_p0_is_identity_and_p1_mixes_every_sample() -> None:
    x = _styled(batch=12, seed=9)
    assert freq_mixstyle(x, _gen(1), p=0.0, form="batch") is x
    for seed in range(5):
        out = freq_mixstyle(x, _gen(seed), p=1.0, alpha=0.3, form="batch")
        _, lmda, perm = _replay_batch_draws(seed, len(x), 0.3)
        # Every call mixes, every sample with its drawn partner and weight; one drawn as its own
        # partner (or with a weight of about 1, frequent under Beta(0.3, 0.3)) keeps its statistics.
        assert torch.allclose(out, _reference_mixstyle(x, lmda, perm), atol=1e-5)
        change = (out - x).abs().amax(dim=(1, 2, 3))
        own = perm == torch.arange(len(x))
        assert (change[own] < 1e-5).all()
        assert (change[~own & (lmda < 0.99)] > 1e-3).all()
        mean = x.mean(dim=(1, 3))
        w = lmda[:, None]
        assert torch.allclose(out.mean(dim=(1, 3)), w * mean + (1 - w) * mean[perm], atol=1e-5)
    # The coin is per batch: with p = 0.3 about 30 % of the calls change the batch, each wholly.
    changed_calls = [freq_mixstyle(x, _gen(100 + s), p=0.3, form="batch") is not x for s in range(400)]
    assert sum(changed_calls) / 400 == pytest.approx(0.3, abs=0.07)


def test_apply_passes_the_freq_mixstyle_form_and_rejects_unknown_forms() -> None:
    x = _styled(batch=8, seed=10)
    y = torch.zeros(8, 10)
    cfg = BatchAugment(crop_frames=None, mixup_alpha=None, spec_augment=False, freq_mixstyle_p=1.0, freq_mixstyle_form="batch")
    assert torch.equal(apply(x, y, cfg, _gen(3))[0], freq_mixstyle(x, _gen(3), 1.0, 0.3, form="batch"))
    assert not torch.equal(apply(x, y, cfg, _gen(3))[0], freq_mixstyle(x, _gen(3), 1.0, 0.3))  # not the sample form
    with pytest.raises(AsckitError, match="form"):
        BatchAugment(freq_mixstyle_form="batches")
    with pytest.raises(ValueError, match="form"):
        freq_mixstyle(x, _gen(), form="per_batch")
