"""Features: reference-exact log-mel with deltas (``logmel``) and the float16 feature store (``store``)."""

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
