"""Audio: reading, resampling and windows (``io``), waveform augmentations (``augment``), impulse-response banks (``rir``)."""
