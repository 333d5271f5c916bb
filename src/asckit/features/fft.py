"""The one real FFT of asckit's numpy frontends (``logmel.LogMel``, ``tau22_frontend``).

numpy only (scipy when installed), no other asckit module: the torch-free runtime and the
self-contained 2025 inference package (``asckit.submission.dcase2025``) import it as it is.
"""

from __future__ import annotations

import numpy as np


def real_fft():
    """One real FFT along the last axis: scipy's (float32-native, several times numpy's speed) when
    installed, numpy's otherwise (the torch-free base install has no scipy)."""
    try:
        import scipy.fft
    except ImportError:  # pragma: no cover - exercised by the base install (.ci/runtime-install)
        return lambda frames: np.fft.rfft(frames, axis=-1)
    return lambda frames: scipy.fft.rfft(frames, axis=-1, workers=1, overwrite_x=True)
