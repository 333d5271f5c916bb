"""asckit.deploy.commands: what ``asckit export`` prints from its report (complexity units, parity verdict)."""

from __future__ import annotations

import numpy as np

from asckit.deploy.commands import format_report
from asckit.deploy.export import parity_of_predictions
from asckit.labels import SCENES_10


def _report(parity: dict | None) -> dict:
    artifact = {"file": "m.int8.onnx", "file_bytes": 149_056, "params": 85_752, "nonzero": 91_000, "bits": 8,
                "dcase_kb": 88.9, "macs": 26_170_848, "macs_per_second": 6_623_280.0}
    report = {"artifacts": [artifact], "totals": {"int8": {"file_bytes": 149_056}}, "deployed": "int8", "budget_kb": None,
              "limits": [], "int8_mode": "static"}
    if parity is not None:
        report["parity"] = {"source": "data/demo evaluate split", **parity}
    return report


def _parity(flips: int) -> dict:
    """630 clips; int8 wrong where fp32 was right on ``flips`` of them."""
    labels = [scene for scene in SCENES_10 for _ in range(63)]
    y = np.array([SCENES_10.index(label) for label in labels])
    p32 = np.full((630, 10), 0.02)
    p32[np.arange(630), y] = 0.82
    p8 = p32.copy()
    flipped = np.arange(0, 630, 630 // max(flips, 1))[:flips]
    p8[flipped] = 0.02
    p8[flipped, (y[flipped] + 1) % 10] = 0.82
    return parity_of_predictions(labels, p32, p8, SCENES_10, task="1a")


def test_macs_are_printed_per_second_of_audio_with_their_unit():
    text = format_report(_report(None))
    header, row, note = text.splitlines()[:3]
    assert header.split()[-1] == "MMACs/s" and row.split()[-1] == "6.62"
    assert note == "MMACs/s: millions of multiply-accumulates per second of audio (a 10 s clip's, ÷ 10)"


def test_parity_within_the_noise_reads_as_a_match_without_a_warning():
    text = format_report(_report(_parity(3)))  # 3 clips of 630: the 0.5 points that used to warn
    line = next(line for line in text.splitlines() if line.startswith("parity on 630 clips"))
    assert "top-1 agreement 99.5 % (target ≥ 98 %)" in line and "(int8 − fp32 -0.5 points, 95 % CI -1.1 to +0.0)" in line
    assert line.endswith(": int8 matches fp32") and "warning" not in text


def test_failed_parity_says_why_and_what_to_try():
    text = format_report(_report(_parity(14)))
    lines = text.splitlines()
    assert next(line for line in lines if line.startswith("parity on")).endswith("int8 does NOT match fp32")
    warning = lines[-1]
    assert warning.startswith("warning: int8 and fp32 agree on the top class of 97.8 % of the clips (target ≥ 98 %); ")
    assert "int8 is less accurate than fp32 beyond the noise" in warning and warning.endswith("try more --calibration-clips, or --fp32-only")
