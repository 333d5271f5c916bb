"""Datasets: the TAU layout (``tau``), downloads (``download``) and the synthetic multi-device benchmark (``synth``)."""
