"""asckit: device-robust acoustic scene classification (DCASE 2020 Task 1, Hu et al.) in PyTorch."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # ``asckit.load_exported_model`` is imported on first use, so ``import asckit`` stays light.
    if name == "load_exported_model":
        from asckit.deploy.runtime import load_exported_model

        return load_exported_model
    raise AttributeError(f"module 'asckit' has no attribute {name!r}")
