"""asckit.data.synth: the synthetic multi-device benchmark in the exact TAU layout.

Run as a script to measure the difficulty of any dataset root (per device group, 10- and 3-class):
    .venv/bin/python tests/test_synth.py ROOT
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from asckit import labels
from asckit.core.errors import AsckitError
from asckit.data import synth, tau

# A few seconds of audio in all: for the byte-identity and folder-handling tests.
MINI = dataclasses.replace(
    synth.PRESETS["tiny"],
    name="mini",
    clip_seconds=0.5,
    task_1a=synth.TaskSizes(train_a_only=12, train_paired=2, evaluate=10, train_locations=10, evaluate_locations=10),
)
# Big enough for stable accuracy estimates (40 evaluate segments x 9 devices), small enough for ~15 s.
PROBE = dataclasses.replace(
    synth.PRESETS["tiny"],
    name="probe",
    task_1a=synth.TaskSizes(train_a_only=400, train_paired=30, evaluate=40, train_locations=80, evaluate_locations=30),
)


@pytest.fixture(scope="module")
def tiny_1a(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth") / "tiny1a"
    return root, synth.synthesize(root, task="1a", preset="tiny", seed=0, workers=1, progress=False)


@pytest.fixture(scope="module")
def tiny_1b(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth") / "tiny1b"
    return root, synth.synthesize(root, task="1b", preset="tiny", seed=0, workers=1, progress=False)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != tau.SYNTH_MARKER  # the marker holds the wall time
    }


# --------------------------------------------------------------------------- layout and splits


def test_tiny_1a_is_a_valid_tau_root_with_the_real_split_rules(tiny_1a):
    root, summary = tiny_1a
    report = tau.check_dataset(root)
    assert report.ok, report.problems
    assert report.task == "1a" and report.clip_seconds == 1.5
    train, evaluate = tau.load_split(root, "train"), tau.load_split(root, "evaluate")
    train_counts, evaluate_counts = train["device"].value_counts(), evaluate["device"].value_counts()
    assert summary["counts"] == {
        "train": {d: int(train_counts[d]) for d in labels.DEVICES if d in train_counts},
        "evaluate": {d: int(evaluate_counts[d]) for d in labels.DEVICES},
    }
    # A dominates training 13.6 : 1 over each of b, c, s1-s3; s4-s6 are unseen.
    assert set(train_counts.index) == set(synth.TRAIN_DEVICES_1A)
    for device in ("b", "c", "s1", "s2", "s3"):
        assert train_counts["a"] / train_counts[device] == pytest.approx(13.6, abs=0.05)
    # Evaluate: every device in equal numbers, all nine recorded the same segments.
    assert set(evaluate_counts) == {len(evaluate) // 9}
    segments_by_device = evaluate.groupby("device")["filename"].apply(lambda f: {n.rsplit("-", 1)[0] for n in f})
    assert all(s == segments_by_device["a"] for s in segments_by_device)
    # Location-disjoint splits, every class in both, names that parse.
    assert not set(train["identifier"]) & set(evaluate["identifier"])
    assert set(train["scene_label"]) == set(evaluate["scene_label"]) == set(labels.SCENES_10)
    assert all(int(loc) >= 1000 for loc in train["location"]) and all(int(s) >= 40000 for s in train["segment"])
    test = tau.load_split(root, "test")
    assert list(test["filename"]) == list(evaluate["filename"]) and "scene_label" not in test


def test_every_non_a_training_clip_has_its_a_twin_in_train(tiny_1a):
    root, _ = tiny_1a
    train = tau.load_split(root, "train")
    a_segments = {name.rsplit("-", 1)[0] for name in train.loc[train["device"] == "a", "filename"]}
    others = [name.rsplit("-", 1)[0] for name in train.loc[train["device"] != "a", "filename"]]
    assert others and all(segment in a_segments for segment in others)


def test_1a_audio_is_24_bit_mono_44k_and_never_clips(tiny_1a):
    root, _ = tiny_1a
    files = sorted((root / "audio").glob("*.wav"))
    for path in files[::7]:
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (44100, 1, "PCM_24", 66150)
        audio, _ = soundfile.read(path)
        assert 1e-4 < np.sqrt(np.mean(audio**2)) and np.max(np.abs(audio)) < 0.95


def test_parallel_devices_are_time_aligned_twins_of_a(tiny_1a):
    import scipy.signal

    root, _ = tiny_1a
    evaluate = tau.load_split(root, "evaluate")
    segment = evaluate["filename"].iloc[0].rsplit("-", 1)[0]
    reference, sr = soundfile.read(root / f"{segment}-a.wav")
    for device in labels.DEVICES[1:]:
        twin, _ = soundfile.read(root / f"{segment}-{device}.wav")
        assert not np.allclose(twin, reference, atol=1e-3)  # the device changed the sound
        xcorr = scipy.signal.correlate(twin, reference, mode="full", method="fft")
        lag = int(np.argmax(np.abs(xcorr))) - (len(reference) - 1)
        assert abs(lag) <= 0.002 * sr, f"{device} is {lag} samples off device A"
        peak = np.max(np.abs(xcorr)) / (np.linalg.norm(twin) * np.linalg.norm(reference))
        assert peak > 0.3, f"{device} does not record the same sound as device A (correlation {peak:.2f})"


def test_tiny_1b_is_3_class_stereo_48k_device_a_with_an_unseen_city(tiny_1b):
    root, summary = tiny_1b
    report = tau.check_dataset(root)
    assert report.ok, report.problems
    assert report.task == "1b" and summary["counts"] == {"train": {"a": 200}, "evaluate": {"a": 100}}
    train, evaluate = tau.load_split(root, "train"), tau.load_split(root, "evaluate")
    assert set(train["scene_label"]) == set(labels.SCENES_3)
    # The filename keeps the 10-class scene; the label is its super-class (as in the real 1b set).
    scenes = [Path(name).stem.split("-")[0] for name in train["filename"]]
    assert set(scenes) == set(labels.SCENES_10)
    assert all(labels.SUPERCLASS[scene] == label for scene, label in zip(scenes, train["scene_label"]))
    assert synth.UNSEEN_CITY_1B not in set(train["city"]) and synth.UNSEEN_CITY_1B in set(evaluate["city"])
    left_right = []
    for name in train["filename"].iloc[::20]:
        audio, sr = soundfile.read(root / name)
        assert sr == 48000 and audio.shape == (72000, 2) and soundfile.info(root / name).subtype == "PCM_24"
        level_difference_db = 20 * np.log10(np.std(audio[:, 0]) / np.std(audio[:, 1]))
        left_right.append((np.corrcoef(audio[:, 0], audio[:, 1])[0, 1], level_difference_db))
    correlations, level_differences = np.array(left_right).T
    # Small inter-channel differences: the ears hear the same scene, not the same signal.
    assert np.all(correlations < 0.99) and np.median(correlations) > 0.3
    assert np.all(np.abs(level_differences) < 6.0)


def test_full_preset_plans_the_real_fold1_sizes():
    plan = synth.plan_dataset("1a", synth.PRESETS["full"].task_1a, seed=0)
    counts = {split: {d: 0 for d in labels.DEVICES} for split in ("train", "evaluate")}
    for segment in plan:
        for device in segment.devices:
            counts[segment.split][device] += 1
    assert sum(counts["train"].values()) == 13965 and sum(counts["evaluate"].values()) == 2970
    assert counts["train"]["a"] == 10215 and counts["train"]["s1"] == 750 and counts["train"]["s4"] == 0
    assert set(counts["evaluate"].values()) == {330}
    locations = {split: {(s.city, s.location) for s in plan if s.split == split} for split in counts}
    assert (len(locations["train"]), len(locations["evaluate"])) == (365, 146)
    assert not {loc for _, loc in locations["train"]} & {loc for _, loc in locations["evaluate"]}

    plan_1b = synth.plan_dataset("1b", synth.PRESETS["full"].task_1b, seed=0)
    assert sum(s.split == "train" for s in plan_1b) == 9185 and sum(s.split == "evaluate" for s in plan_1b) == 4185
    assert {s.devices for s in plan_1b} == {("a",)}


def test_locations_shift_the_sound_more_than_clips_within_a_location(tiny_1a):
    root, _ = tiny_1a
    train = tau.load_split(root, "train")
    train = train[train["device"] == "a"]
    features = np.stack([log_mel_statistics(root / name)[:64] for name in train["filename"]])  # mean log-mel
    within, between = [], []
    for scene in labels.SCENES_10:
        rows = np.flatnonzero((train["scene_label"] == scene).to_numpy())
        locations = train["identifier"].to_numpy()[rows]
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                distance = np.linalg.norm(features[rows[i]] - features[rows[j]])
                (within if locations[i] == locations[j] else between).append(distance)
    assert within and between
    assert np.median(within) < 0.8 * np.median(between), (np.median(within), np.median(between))


def _device_responses(root: Path) -> dict[str, np.ndarray]:
    """Mean log-mel difference device - A over the evaluate segments: each device's channel."""
    evaluate = tau.load_split(root, "evaluate")
    stats = {name: log_mel_statistics(root / name)[:64] for name in evaluate["filename"]}
    segments = {name.rsplit("-", 1)[0] for name in stats}
    return {
        device: np.mean([stats[f"{seg}-{device}.wav"] - stats[f"{seg}-a.wav"] for seg in segments], axis=0)
        for device in labels.DEVICES[1:]
    }


def test_devices_are_the_same_in_every_dataset_seed_and_differ_from_each_other(tmp_path):
    responses = []
    for seed in (5, 6):
        synth.synthesize(tmp_path / str(seed), preset=MINI, seed=seed, workers=1, progress=False)
        responses.append(_device_responses(tmp_path / str(seed)))
    first, second = responses
    for device in first:
        same = np.linalg.norm(first[device] - second[device])
        closest_other = min(np.linalg.norm(first[device] - second[o]) for o in second if o != device)
        assert same < 0.5 * closest_other, (device, same, closest_other)


# --------------------------------------------------------------------------- determinism and files


@pytest.mark.slow
def test_an_evaluation_set_layout_holds_the_evaluate_clips_unlabelled(tiny_1a):
    root, summary = tiny_1a
    evaluation = root / synth.EVALUATION_FOLDER
    test = tau.load_split(evaluation, "test")
    evaluate = tau.load_split(root, "evaluate")
    assert test["filename"].tolist() == [f"audio/{n}.wav" for n in range(len(evaluate))]
    assert "scene_label" not in test and sorted(os.listdir(evaluation / "evaluation_setup")) == ["fold1_test.csv"]
    ours = sorted(hashlib.sha256((evaluation / f).read_bytes()).hexdigest() for f in test["filename"])
    theirs = sorted(hashlib.sha256((root / f).read_bytes()).hexdigest() for f in evaluate["filename"])
    assert ours == theirs  # the same clips, in another (seeded) order
    report = tau.check_dataset(evaluation)
    assert report.ok, report.problems


def test_same_seed_same_bytes_for_any_worker_count_and_seed_matters(tmp_path):
    one = synth.synthesize(tmp_path / "one", preset=MINI, seed=3, workers=1, progress=False)
    two = synth.synthesize(tmp_path / "two", preset=MINI, seed=3, workers=2, progress=False)
    assert one["counts"] == two["counts"]
    digests = _digests(tmp_path / "one")
    evaluate = sum(one["counts"]["evaluate"].values())
    assert len(digests) == one["files"] + 4 + evaluate + 1  # WAVs + meta.csv + 3 fold CSVs + the evaluation layout
    assert digests == _digests(tmp_path / "two")
    other = synth.synthesize(tmp_path / "other", preset=MINI, seed=4, workers=1, progress=False)
    other_digests = _digests(tmp_path / "other")
    assert other["counts"] == one["counts"] and other_digests.keys() != digests.keys()
    # Fewer shared audio bytes than chance collisions: the seed drives the content, not only names.
    # (The evaluation layout's fold1_test.csv, audio/0.wav ... audio/N.wav, is the same for every seed.)
    audio = [{v for k, v in d.items() if k.endswith(".wav")} for d in (digests, other_digests)]
    assert not audio[0] & audio[1]


def test_non_empty_folder_that_is_not_a_synth_output_is_refused(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(AsckitError, match="not empty"):
        synth.synthesize(root, preset=MINI, workers=1, progress=False)
    with pytest.raises(AsckitError, match="not empty"):
        synth.synthesize(root, preset=MINI, workers=1, progress=False, overwrite=True)
    assert [p.name for p in root.iterdir()] == ["notes.txt"]


def test_a_damaged_synth_marker_is_one_line_naming_it_and_nothing_is_written(tmp_path):
    """A marker that is not a JSON object (here an array) is refused, not a traceback."""
    from asckit.data.tau import SYNTH_MARKER

    root = tmp_path / "data"
    root.mkdir()
    (root / SYNTH_MARKER).write_text("[1, 2]")
    with pytest.raises(AsckitError, match=rf"{SYNTH_MARKER}: damaged \(a JSON list, not an object\); delete .* and generate again"):
        synth.synthesize(root, preset=MINI, workers=1, progress=False)
    assert [p.name for p in root.iterdir()] == [SYNTH_MARKER]


def test_rerun_reuses_same_parameters_refuses_others_and_overwrite_replaces(tmp_path):
    root = tmp_path / "synth"
    first = synth.synthesize(root, preset=MINI, seed=0, workers=1, progress=False)
    before = _digests(root)
    again = synth.synthesize(root, preset=MINI, seed=0, workers=1, progress=False)
    assert not first["reused"] and again["reused"] and again["counts"] == first["counts"]
    assert _digests(root) == before
    with pytest.raises(AsckitError, match="other parameters"):
        synth.synthesize(root, preset=MINI, seed=1, workers=1, progress=False)
    replaced = synth.synthesize(root, preset=MINI, seed=1, workers=1, progress=False, overwrite=True)
    assert not replaced["reused"] and _digests(root) != before
    assert json.loads((root / tau.SYNTH_MARKER).read_text())["parameters"]["seed"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["synth"]  # no temporary folders left behind


def test_the_command_reuses_a_finished_set_and_says_so(tiny_1a, capsys):
    from asckit.cli import main

    root, first = tiny_1a
    before = _digests(root)
    assert main(["data", "synth", str(root), "--task", "1a", "--preset", "tiny", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"{root} already holds this synthetic set" in out and "reused, nothing regenerated" in out
    assert _digests(root) == before
    assert main(["data", "synth", str(root), "--task", "1a", "--preset", "tiny", "--seed", "1", "--quiet"]) == 2
    assert "holds a synthetic dataset made with other parameters" in capsys.readouterr().err


def test_the_command_help_says_a_rerun_reuses_the_folder(capsys):
    from asckit.cli import main

    with pytest.raises(SystemExit):
        main(["data", "synth", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "must be empty or absent" not in text
    assert "is reused as it is (a rerun regenerates nothing)" in text


def test_a_failed_run_leaves_neither_root_nor_temporary_folder(tmp_path, monkeypatch):
    render = synth._render_segment
    calls = []

    def failing_render(job):
        calls.append(job)
        if len(calls) == 5:
            raise RuntimeError("killed")
        return render(job)

    monkeypatch.setattr(synth, "_render_segment", failing_render)
    with pytest.raises(RuntimeError, match="killed"):
        synth.synthesize(tmp_path / "synth", preset=MINI, workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"task": "1c"}, "unknown task"),
        ({"preset": "huge"}, "unknown synth preset"),
        ({"clip_seconds": 0}, "positive"),
        ({"seed": -1}, "non-negative"),
        ({"preset": dataclasses.replace(MINI, task_1a=dataclasses.replace(MINI.task_1a, evaluate=3))}, "at least 10"),
    ],
)
def test_bad_parameters_raise_one_line_errors(tmp_path, kwargs, message):
    with pytest.raises(AsckitError, match=message):
        synth.synthesize(tmp_path / "x", **({"preset": MINI, "workers": 1, "progress": False} | kwargs))
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- difficulty


def log_mel_statistics(path: Path) -> np.ndarray:
    """Mean and standard deviation over time of a clip's log-mel (channels averaged)."""
    import librosa

    audio, sr = soundfile.read(path, dtype="float32")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, n_fft=2048, hop_length=1024, n_mels=64, htk=True, norm=None)
    log_mel = np.log(mel + 1e-8)
    return np.concatenate([log_mel.mean(axis=1), log_mel.std(axis=1)])


def probe_accuracy(root: Path) -> dict[str, dict[str, float]]:
    """Accuracy of a logistic regression on log-mel statistics, trained on fold1_train and tested on
    fold1_evaluate: {'10-class'|'3-class': {device group or 'all': accuracy}}."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, evaluate = tau.load_split(root, "train"), tau.load_split(root, "evaluate")
    features = {split: np.stack([log_mel_statistics(root / f) for f in frame["filename"]])
                for split, frame in (("train", train), ("evaluate", evaluate))}
    devices = evaluate["device"].to_numpy()
    results = {}
    for name, to_label in (("10-class", lambda s: s), ("3-class", labels.to_superclass)):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
        model.fit(features["train"], [to_label(s) for s in train["scene_label"]])
        correct = model.predict(features["evaluate"]) == np.array([to_label(s) for s in evaluate["scene_label"]])
        results[name] = {"all": float(correct.mean())} | {
            group: float(correct[np.isin(devices, members)].mean())
            for group, members in labels.DEVICE_GROUPS.items()
            if np.isin(devices, members).any()
        }
    return results


@pytest.mark.slow
def test_the_benchmark_is_hard_in_the_ways_tau_2020_is(tmp_path):
    root = tmp_path / "probe"
    synth.synthesize(root, task="1a", preset=PROBE, seed=0, workers=1, progress=False)
    accuracy = probe_accuracy(root)
    ten, three = accuracy["10-class"], accuracy["3-class"]
    assert 0.3 < ten["all"] < 0.9, ten  # well above the 10 % chance, far from solved
    assert ten["A"] > 0.4, ten
    # Devices unseen in training cost accuracy; the 3 super-classes are much easier than the 10 scenes.
    assert ten["s4-s6"] < ten["A"] - 0.05, ten
    assert three["all"] > ten["all"] + 0.1, accuracy
    assert three["all"] < 0.97, three


if __name__ == "__main__":  # measure a dataset's difficulty: python tests/test_synth.py ROOT
    for task_name, groups in probe_accuracy(Path(sys.argv[1])).items():
        print(f"{task_name:9s}", "  ".join(f"{g} {100 * a:5.1f}" for g, a in groups.items()))


def test_a_reused_set_written_before_the_evaluation_layout_gets_one(tmp_path):
    import shutil

    root = tmp_path / "synth"
    synth.synthesize(root, preset=MINI, seed=0, workers=1, progress=False)
    before = _digests(root / synth.EVALUATION_FOLDER)
    shutil.rmtree(root / synth.EVALUATION_FOLDER)
    again = synth.synthesize(root, preset=MINI, seed=0, workers=1, progress=False)
    assert again["reused"] and _digests(root / synth.EVALUATION_FOLDER) == before
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no staging folder left
