"""Fusion maths on probability matrices, numpy only: the weighted average and the logistic
regression's forward pass.

One job: the arithmetic that ``asckit.fusion.average`` (prediction files), ``asckit.fusion.logistic`` (its
fit) and the torch-free deployment runtime (``asckit.deploy.runtime``) share, so a bundle fuses
its members exactly as ``asckit fuse`` fuses their prediction files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from asckit.core.errors import AsckitError


def normalised_weights(weights: Sequence[float] | None, count: int, source: str = "fusion") -> np.ndarray:
    """``weights`` (default equal) as float64 summing to 1; AsckitError unless there is one finite,
    non-negative weight per member with a positive sum."""
    values = np.ones(count) if weights is None else np.asarray([float(w) for w in weights], dtype=np.float64)
    if values.shape != (count,):
        raise AsckitError(f"{source}: got {values.size} weights for {count} members; give one weight per member")
    if not np.isfinite(values).all() or (values < 0).any() or values.sum() <= 0:
        raise AsckitError(f"{source}: weights {values.tolist()} must be non-negative numbers with a positive sum")
    return values / values.sum()


def weighted_average(member_probs: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Σ wᵢ·pᵢ over members (rows aligned), each row renormalised to sum to exactly 1
    (inputs sum to 1 only within a file's tolerance)."""
    fused = sum(w * np.asarray(p, dtype=np.float64) for w, p in zip(weights, member_probs))
    return fused / fused.sum(axis=1, keepdims=True)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum for stability."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def apply_logistic(model: dict, member_probs: Sequence[np.ndarray]) -> np.ndarray:
    """Logistic-regression fusion: softmax([p_1 … p_M] · Wᵀ + b).

    ``model`` is the content of ``fusion_logistic.json`` (see ``asckit.fusion.logistic``);
    members are concatenated in the order it lists them.
    """
    coef = np.asarray(model["coef"], dtype=np.float64)
    intercept = np.asarray(model["intercept"], dtype=np.float64)
    x = np.concatenate([np.asarray(p, dtype=np.float64) for p in member_probs], axis=1)
    if x.shape[1] != coef.shape[1]:
        raise AsckitError(
            f"logistic fusion expects {coef.shape[1]} inputs ({len(model.get('members', []))} members), got {x.shape[1]}; "
            "fit it on the same members"
        )
    return softmax(x @ coef.T + intercept)


__all__ = ["apply_logistic", "normalised_weights", "softmax", "weighted_average"]
