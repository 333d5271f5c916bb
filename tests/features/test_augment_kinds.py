"""Tests for asckit.features.augment_kinds: one class per kind, and what adding a kind takes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from asckit.core.errors import AsckitError
from asckit.features.augment_kinds import (
    DEVICE_A_KINDS,
    KINDS,
    AugmentKind,
    AugmentOptions,
    KindWorker,
    job_rng,
    kind_named,
)
from asckit.features.logmel import LogMel, settings_for


def _frame(labels):
    return pd.DataFrame({"filename": [f"audio/{i}.wav" for i in range(len(labels))], "scene_label": labels})


def test_kinds_in_run_order_and_the_device_a_ones():
    assert KINDS == ("noise", "mix", "spectrum-correction", "reverb-drc", "speed", "pitch")
    assert DEVICE_A_KINDS == {"spectrum-correction", "reverb-drc"}
    with pytest.raises(AsckitError, match="unknown augmentation kind 'echo'"):
        kind_named("echo")


def test_mix_partners_are_other_clips_of_the_class_and_lonely_clips_are_skipped():
    frame = _frame(["bus", "bus", "bus", "park"])
    jobs, skipped = kind_named("mix").plan(frame, AugmentOptions(copies=3), {})
    assert skipped == ["audio/3.wav: no other training clip of class park"]
    assert len(jobs) == 9  # 3 bus clips × 3 copies
    for _key, source, params in jobs:
        assert params["partner"] != source and params["partner"] in set(frame["filename"][:3])
        assert 0.5 <= params["gain"] <= 1.0 and 0.5 <= params["partner_gain"] <= 1.0
    assert [j[0] for j in jobs[:3]] == ["audio/0.wav#mix", "audio/0.wav#mix-1", "audio/0.wav#mix-2"]


def test_a_rows_parameters_depend_on_its_own_stream_only():
    frame = _frame(["bus", "park"])
    alone = kind_named("pitch").plan(frame.iloc[:1], AugmentOptions(seed=3), {})[0]
    both = kind_named("pitch").plan(frame, AugmentOptions(seed=3), {})[0]
    assert alone[0] == both[0]
    assert alone[0][2]["n_steps"] == pytest.approx(job_rng(3, "pitch", "audio/0.wav", 0).uniform(-4.0, 4.0))


def test_a_new_kind_is_one_subclass():
    class Gain(AugmentKind):
        name = "gain"

        def draw(self, row, options, context, state):
            return {"gain": float(row.rng.uniform(0.1, 0.5))}

        def transform(self, audio, params, worker):
            return audio * params["gain"], {"peak": float(np.max(np.abs(audio)) * params["gain"])}

    kind = Gain()
    (key, source, params), = kind.plan(_frame(["bus"]), AugmentOptions(), {})[0]
    assert key == "audio/0.wav#gain"
    settings = settings_for("1a", clip_seconds=0.5)
    worker = KindWorker(settings, root=None, extractor=LogMel(settings))
    clip = 0.1 * np.random.default_rng(0).standard_normal((1, 22050)).astype(np.float32)
    logmel, extra = kind.apply(clip, params, worker)
    assert logmel.shape == (1, 128, settings.frames(22050))
    assert extra["peak"] == pytest.approx(np.max(np.abs(clip)) * params["gain"], rel=1e-6)
