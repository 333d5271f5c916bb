"""Deployment: trained runs → ONNX bundle (``export``, ``bundle``) → classification of audio files
with numpy and ONNX Runtime only (``runtime``; ``device_list`` reads the device ids of ``asckit
predict --devices`` for bundles with a model per device); ``commands`` registers ``asckit export``
and ``asckit predict``.

Importing this package imports nothing; ``asckit.deploy.runtime`` and ``asckit.deploy.bundle``
need only numpy, soundfile, soxr and onnxruntime (the base install, ``pip install asckit``).
"""
