"""The paper's six architectures and CPJKU's CP-Mobile (the 2024/2025 baseline), reference-exact,
and the blocks to build new ones.

    from asckit.models import build, names, complexity
    model = build("resnet", num_filters=48)             # Resnet-d, 10 classes, 3 input channels
    model = build("small_fcnn", variant="shipped")      # 1b defaults: 3 classes, 6 channels
    complexity(model, (6, 128, 461)).size_kb(8)         # DCASE size at int8

Models take (batch, channels, 128 mel, frames) and return logits. Importing this package does
not import torch; ``build`` and ``complexity`` do, on first use.
"""

from __future__ import annotations

from typing import Any

from asckit.models.registry import ARCHITECTURES, REFERENCE_CONFIGS, build, clip_shape, names

__all__ = ["ARCHITECTURES", "REFERENCE_CONFIGS", "build", "clip_shape", "complexity", "names"]


def complexity(model: Any, input_shape: Any, macs_by: str = "asckit"):
    """Parameters, BN statistics, non-zero values, MACs and sizes (see ``asckit.models.counting``)."""
    from asckit.models.counting import complexity as _complexity

    return _complexity(model, input_shape, macs_by=macs_by)
