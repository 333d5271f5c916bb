"""asckit: device-robust acoustic scene classification (DCASE 2020 Task 1, Hu et al.) in PyTorch."""

__version__ = "0.1.0"
