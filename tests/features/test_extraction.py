import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from asckit.cli import main
from asckit.core.errors import AsckitError, ProblemsFound
from asckit.features import logmel
from asckit.features.extraction import extract_dataset
from asckit.features.store import FeatureStore


def test_extract_dataset_matches_per_clip_features(tau_root, tmp_path):
    store = extract_dataset(tau_root, tmp_path / "store", workers=1, progress=False)
    assert len(store) == 8
    assert store.shape == (1, 128, 1 + 44100 // 1024)
    key = "audio/bus-vienna-2001-50001-s4.wav"
    expected = logmel.static_logmel(tau_root / key, store.settings, backend="librosa")
    got = store.get([key])[0].astype(np.float32)
    assert np.abs(got - expected).max() < 1e-3  # float16 storage + torch path
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert manifest["dataset"]["task"] == "1a" and manifest["settings"]["clip_seconds"] == 1.0


@pytest.mark.slow
def test_two_workers_give_the_same_rows_as_one(tau_root, tmp_path):
    one = extract_dataset(tau_root, tmp_path / "one", workers=1, chunk_size=3, progress=False)
    two = extract_dataset(tau_root, tmp_path / "two", workers=2, chunk_size=3, progress=False)
    keys = one.keys()
    assert keys == two.keys()  # the same row order: chunks are stored in submission order
    np.testing.assert_array_equal(one.get(keys), two.get(keys))
    assert (one.path / "data.f16").read_bytes() == (two.path / "data.f16").read_bytes()


def test_rerun_skips_done_clips_and_other_settings_are_refused(tau_root, tmp_path):
    out = tmp_path / "store"
    extract_dataset(tau_root, out, splits=("train",), workers=1, progress=False)
    size_after_train = (out / "data.f16").stat().st_size
    store = extract_dataset(tau_root, out, workers=1, progress=False)
    assert len(store) == 8
    assert (out / "data.f16").stat().st_size == size_after_train * 8 // 5
    with pytest.raises(AsckitError, match=r"other settings \(clip_seconds 1.0 → 2.0"):
        extract_dataset(tau_root, out, clip_seconds=2.0, workers=1, progress=False)


def test_cut_index_line_is_ignored_and_redone(tau_root, tmp_path):
    out = tmp_path / "store"
    full = extract_dataset(tau_root, out, workers=1, progress=False)
    reference = full.get(full.keys())
    rows = out / "rows.tsv"
    text = rows.read_text()
    lines = text.splitlines(keepends=True)
    rows.write_text("".join(lines[:-2]) + lines[-2][:7])  # last row lost, the one before cut mid-line
    reopened = FeatureStore.open(out)
    assert len(reopened) == 6
    again = extract_dataset(tau_root, out, workers=1, progress=False)
    np.testing.assert_array_equal(again.get(full.keys()), reference)


@pytest.mark.slow
def test_sigkill_mid_extraction_then_resume_gives_identical_store(tmp_path):
    from conftest import write_tau_root

    names = [f"park-paris-{1000 + i}-{40000 + i}-a.wav" for i in range(120)]
    root = write_tau_root(tmp_path / "many", names[:100], names[100:], seconds=2.0)
    out = tmp_path / "killed"
    code = (
        "from asckit.features.extraction import extract_dataset; "
        f"extract_dataset({str(root)!r}, {str(out)!r}, workers=1, chunk_size=4, progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 60
    while time.time() < deadline:
        rows = out / "rows.tsv"
        if rows.exists() and rows.read_text().count("\n") > 8:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = FeatureStore.open(out)
    assert 0 < len(partial) < 120, "the kill should land mid-extraction"
    resumed = extract_dataset(root, out, workers=1, progress=False)
    clean = extract_dataset(root, tmp_path / "clean", workers=1, progress=False)
    keys = clean.keys()
    np.testing.assert_array_equal(resumed.get(keys), clean.get(keys))


def test_missing_keys_and_non_store_folders_are_clear_errors(tau_root, tmp_path):
    store = extract_dataset(tau_root, tmp_path / "s", workers=1, progress=False)
    with pytest.raises(AsckitError, match="1 clip\\(s\\) not in the feature store, e.g. audio/nope.wav"):
        store.get(["audio/nope.wav"])
    with pytest.raises(AsckitError, match="not a feature store"):
        FeatureStore.open(tmp_path)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("x")
    with pytest.raises(AsckitError, match="not a feature store; choose an empty"):
        extract_dataset(tau_root, tmp_path / "junk", workers=1, progress=False)


def test_unreadable_clip_is_named_and_the_rest_is_kept(tau_root, tmp_path):
    (tau_root / "audio" / "bus-lyon-1001-40001-a.wav").write_bytes(b"garbage")
    with pytest.raises(ProblemsFound, match=r"1 clip\(s\) could not be read.*the other 7 are stored") as found:
        extract_dataset(tau_root, tmp_path / "s", workers=1, progress=False)
    assert len(found.value.problems) == 1 and "bus-lyon-1001-40001-a.wav" in found.value.problems[0]
    assert len(FeatureStore.open(tmp_path / "s")) == 7


def test_a_task_that_contradicts_the_dataset_is_refused(tau_root, tmp_path):
    with pytest.raises(AsckitError, match=r"--task 1b: .* is a Task 1a dataset \(told from its training labels\); drop --task"):
        extract_dataset(tau_root, tmp_path / "s", task="1b", workers=1, progress=False)
    assert not (tmp_path / "s").exists()


def test_augmented_rows_carry_kind_source_and_params(tau_root, tmp_path):
    store = extract_dataset(tau_root, tmp_path / "s", workers=1, progress=False)
    rows = np.zeros((1, *store.shape), dtype=np.float16)
    store.append(["audio/bus-lyon-1001-40001-a.wav#pitch0"], rows, kind="pitch",
                 sources=["audio/bus-lyon-1001-40001-a.wav"], params=[{"n_steps": 1.5}])
    reopened = FeatureStore.open(tmp_path / "s")
    info = reopened.rows["audio/bus-lyon-1001-40001-a.wav#pitch0"]
    assert (info.kind, info.source, json.loads(info.params)) == ("pitch", "audio/bus-lyon-1001-40001-a.wav", {"n_steps": 1.5})
    assert reopened.keys(kind="pitch") == ["audio/bus-lyon-1001-40001-a.wav#pitch0"]
    assert len(reopened.keys(kind="original")) == 8


def test_unscaled_store_keeps_natural_log_units(tau_root, tmp_path):
    scaled = extract_dataset(tau_root, tmp_path / "scaled", workers=1, progress=False)
    raw = extract_dataset(tau_root, tmp_path / "raw", workers=1, progress=False, scale=False)
    assert raw.manifest["settings_digest"] != scaled.manifest["settings_digest"]
    key = "audio/bus-vienna-2001-50001-s4.wav"
    unscaled = raw.get([key])[0].astype(np.float32)
    expected = logmel.logmel_librosa(
        logmel.load_clip(tau_root / key, None, 44100, 1, 1.0), raw.settings
    ).astype(np.float32)
    assert unscaled.min() < -1.0  # natural-log units, not [0, 1]
    assert np.abs(unscaled - expected).max() < 0.02  # float16 spacing at |x| ≈ 16 is 1/64
    rescaled = logmel.scale_minmax(unscaled)
    assert np.abs(rescaled - scaled.get([key])[0].astype(np.float32)).max() < 2e-3


def test_front_end_settings_change_the_stored_log_mel(tau_root, tmp_path):
    """`asckit features --set n_mels=64 --set hop_length=512`: the store holds that log-mel (the
    librosa reference computed with the same settings) and records the settings it was made with."""
    out = tmp_path / "store"
    assert main(["features", str(tau_root), "--out", str(out), "--quiet", "--workers", "1",
                 "--set", "n_mels=64", "--set", "hop_length=512", "--set", "fmax=11025"]) == 0
    store = FeatureStore.open(out)
    settings = store.settings
    assert (settings.n_mels, settings.hop_length, settings.fmax, settings.n_fft) == (64, 512, 11025.0, 2048)
    key = store.keys()[0]
    assert store.get([key]).shape[1:] == (1, 64, settings.frames())
    expected = logmel.static_logmel(tau_root / key, settings, backend="librosa")
    np.testing.assert_allclose(store.get([key])[0].astype(np.float32), expected, atol=1e-3)
    with pytest.raises(AsckitError, match="other settings|differ"):
        extract_dataset(tau_root, out, workers=1, progress=False)  # the reference settings do not mix in


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("n_mel=64", "cannot be set here; use one of"),
        ("channels=2", "cannot be set here"),
        ("n_mels=0", "positive integer"),
        ("n_mels=sixty", "positive integer"),
        ("htk=1", "true or false"),
        ("fmax=-5", "positive number"),
        ("mel_norm=area", "null or slaney"),
        ("hop_length=4096", "exceeds n_fft"),
        ("fmax=30000", "fmax <= sample_rate / 2"),
        ("n_mels", "write FIELD=VALUE"),
    ],
)
def test_impossible_front_end_settings_are_one_line_errors(tau_root, tmp_path, assignment, message):
    with pytest.raises(AsckitError, match=message):
        extract_dataset(tau_root, tmp_path / "store", workers=1, progress=False, front_end=[assignment])
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())
