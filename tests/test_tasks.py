"""Tests for asckit.tasks: the task facts against the published task descriptions, and the
model-input shape rule against the feature extractor."""

from __future__ import annotations

import numpy as np

from asckit.features.logmel import add_deltas, settings_for
from asckit.labels import SCENES_3, SCENES_10
from asckit.tasks import COMPLEXITY_LIMITS, TASKS, TASKS_2020, model_input_shape, stored_to_input_shape, task_facts


def test_the_two_tasks_as_dcase_2020_describes_them():
    a, b = task_facts("1a"), task_facts("1b")
    assert (a.sample_rate, a.channels, a.classes, a.evaluation_clips) == (44100, 1, SCENES_10, 11880)
    assert (b.sample_rate, b.channels, b.classes, b.evaluation_clips) == (48000, 2, SCENES_3, 8640)
    assert (a.budget_kb, b.budget_kb) == (None, 500.0)
    assert a.development_clips == (13965, 2970)


def test_the_input_shape_rule_matches_what_the_deltas_produce():
    # DESIGN.md: 423 frames for a 10 s 1a clip, 461 for 1b.
    assert model_input_shape(settings_for("1a")) == (3, 128, 423)
    assert model_input_shape(settings_for("1b")) == (6, 128, 461)
    static = np.zeros((5, 2, 128, 94), dtype=np.float32)
    assert stored_to_input_shape(static.shape) == add_deltas(static).shape


def test_the_tau22_protocols_as_the_2024_and_2025_baselines_describe_them():
    p24, p25 = task_facts("2024"), task_facts("2025")
    for p in (p24, p25):
        assert (p.sample_rate, p.channels, p.clip_seconds, p.classes, p.frontend) == (44100, 1, 1.0, SCENES_10, "tau22")
        assert p.development_clips == (139620, 29680) and p.input_channels == 1
        assert p.complexity_edition == "DCASE 2023-2025"
    assert p24.train_percentages == (5, 10, 25, 50, 100) and not p24.device_specific
    assert p25.train_percentages == (25,) and p25.device_specific


def test_the_2023_to_2025_limit_counts_bytes_and_2022_counts_parameters():
    limits = {limit.name: limit for limit in COMPLEXITY_LIMITS}
    assert limits["DCASE 2022"].max_params == 128_000 and limits["DCASE 2022"].max_param_bytes is None
    assert limits["DCASE 2023-2025"].max_param_bytes == 128_000 and limits["DCASE 2023-2025"].max_params is None
    assert {task.complexity_edition for task in TASKS.values()} <= set(limits) | {None}


def test_feature_settings_follow_the_task_table():
    for name in TASKS_2020:
        task = TASKS[name]
        settings = settings_for(name)
        assert (settings.sample_rate, settings.channels, settings.clip_seconds) == (task.sample_rate, task.channels, task.clip_seconds)

