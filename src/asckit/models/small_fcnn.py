"""small-FCNN: the Task 1b FCNN (``small_fcnn_att.py``), in its two reference configurations.

The FCNN design (see ``asckit.models.fcnn``) with 6 input channels and only 2 convs in block 3:

- ``variant="train"``: the train script's num_filters [8, 14, 20] → widths 48 / 84 / 120;
  349,438 trainable parameters; class maps 8 × 28 for a 10 s 1b clip (6 × 128 × 461).
- ``variant="shipped"``: the pretrained ``smallfcnn-model-0.9618.hdf5``: [6, 12, 16] → 36 / 72 / 96
  and two ZeroPadding2D(1) layers in a row before block 3's second conv (a line now commented out
  in the source was active), so that conv sees 2 frames of padding and the maps grow to 9 × 29;
  233,326 trainable parameters.
"""

from __future__ import annotations

from asckit.core.errors import AsckitError
from asckit.models.fcnn import FCNN

#: variant → (num_filters per input channel, zero padding before block 3's last conv)
VARIANTS: dict[str, tuple[tuple[int, int, int], int]] = {
    "train": ((8, 14, 20), 1),
    "shipped": ((6, 12, 16), 2),
}


def small_fcnn(num_classes: int = 3, in_channels: int = 6, variant: str = "train", width: float = 1.0) -> FCNN:
    """Build the small-FCNN ``variant`` ("train" or "shipped") as an ``FCNN``."""
    if variant not in VARIANTS:
        raise AsckitError(f"unknown small_fcnn variant {variant!r}; use one of {sorted(VARIANTS)}")
    num_filters, last_padding = VARIANTS[variant]
    return FCNN(
        num_classes=num_classes,
        in_channels=in_channels,
        num_filters=num_filters,
        width=width,
        block3_convs=2,
        block3_last_padding=last_padding,
    )
