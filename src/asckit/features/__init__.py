"""Features: reference-exact log-mel with deltas (``logmel``), the float16 feature store (``store``),
dataset extraction (``extraction``) and offline augmentation into the store (``augment_kinds``,
``spectrum_correction``, ``augmented``)."""

from asckit.features.logmel import (
    LogMelSettings,
    add_deltas,
    delta,
    extract,
    scale_minmax,
    settings_for,
    static_logmel,
)

__all__ = ["LogMelSettings", "add_deltas", "delta", "extract", "scale_minmax", "settings_for", "static_logmel"]
