"""Tests for asckit.deploy.runtime: the torch-free deployment path from audio files to probabilities.

One tiny 1a FCNN (random weights) is exported once per module as an int8 bundle; the tests then
check the numpy front end against ``asckit.features.extract``, the window rule, the output files,
one-line errors for bad files, and that inference runs with torch, librosa and pandas blocked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import needs_frontend_fixture

from asckit.cli import main
from asckit.deploy.bundle import BUNDLE_FILE, WindowRule
from asckit.deploy.runtime import NumpyFrontEnd, load_exported_model, read_windows
from asckit.features.logmel import mel_filterbank


def write_noise(path: Path, sr: int, seconds: float, channels: int = 1, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(sr * seconds))) / sr
    tone = 0.2 * np.sin(2 * np.pi * 440.0 * t)[:, None]
    audio = 0.05 * rng.standard_normal((len(t), channels)) + tone
    soundfile.write(path, audio.astype(np.float32), sr, subtype="PCM_24")
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """An int8 (static) 1a bundle of a 1/16-width FCNN with random weights, 10 s windows."""
    import torch

    from asckit.deploy.export import Member, export_bundle
    from asckit.models import build

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build("fcnn", width=0.0625).eval()
    calibration = np.random.default_rng(0).random((4, 3, 128, 423), dtype=np.float32)
    out = tmp_path_factory.mktemp("predict") / "bundle"
    export_bundle(out, [Member("fcnn", [model])], "1a", int8="static", calibration=calibration)
    return out


@pytest.fixture(scope="module")
def model(bundle):
    return load_exported_model(bundle, threads=1)


# ------------------------------------------------------------------------------------ front end


@pytest.mark.parametrize("task", ["1a", "1b"])
def test_numpy_mel_matrix_equals_librosa(task):
    import librosa

    from asckit.features.logmel import settings_for

    for norm in (None, "slaney"):
        for htk in (True, False):
            s = settings_for(task, mel_norm=norm, htk=htk)
            reference = librosa.filters.mel(
                sr=s.sample_rate, n_fft=s.n_fft, n_mels=s.n_mels, fmin=s.fmin, fmax=s.f_max, htk=htk, norm=norm
            )
            np.testing.assert_allclose(mel_filterbank(s), reference, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "task, sr, channels, seconds",
    [("1a", 44100, 1, 10.0), ("1a", 16000, 1, 3.0), ("1b", 48000, 2, 10.0), ("1b", 44100, 1, 4.0)],
)
def test_numpy_front_end_matches_extract(tmp_path, task, sr, channels, seconds):
    """The deployed features are the training store's features (the same ``LogMel``, after the same
    resampling, channel matching and repetition of short clips), and agree with the librosa
    reference to 1e-4 after scaling on full-band audio. On audio resampled up (16 → 44.1 kHz,
    44.1 → 48 kHz) the top mel bands hold almost no energy and float32 round-off in
    ln(mel + 1e-8) moves them by a few 1e-4, so there the bound is 1e-3.
    """
    from asckit.features import extract
    from asckit.features.logmel import mel_of, settings_for

    path = write_noise(tmp_path / "clip.wav", sr, seconds, channels)
    settings = settings_for(task)
    front_end = NumpyFrontEnd(settings, mel_of(settings))
    (_, _, audio), *rest = list(read_windows(path, WindowRule(10.0), settings.sample_rate, settings.channels))
    assert rest == []
    ours = front_end(audio)
    stored = extract(path, task=task)
    assert ours.shape == stored.shape
    assert np.max(np.abs(ours - stored)) <= 1e-6
    reference = extract(path, task=task, backend="librosa")
    full_band = sr >= settings.sample_rate  # resampling up leaves the top mel bands empty
    assert np.max(np.abs(ours - reference)) <= (1e-4 if full_band else 1e-3)


# ------------------------------------------------------------------------------------ windows


@pytest.mark.parametrize(
    "seconds, starts",
    [(3.0, [0]), (10.0, [0]), (10.5, [0]), (20.5, [0, 10]), (25.0, [0, 10, 15]), (60.0, [0, 10, 20, 30, 40, 50])],
)
def test_window_starts(seconds, starts):
    rule = WindowRule(seconds=10.0, min_tail_seconds=1.0)
    sr = 100
    assert rule.starts(int(seconds * sr), 10 * sr, sr) == [s * sr for s in starts]


def test_done_when_recordings_of_any_rate_channels_and_length(tmp_path, bundle):
    """16 kHz mono, 44.1 kHz mono, 48 kHz stereo, 3 s and 60 s: one row each, 10 s windows."""
    files = [
        write_noise(tmp_path / "a_16k_mono_3s.wav", 16000, 3.0),
        write_noise(tmp_path / "b_44k_mono_10s.wav", 44100, 10.0),
        write_noise(tmp_path / "c_48k_stereo_60s.wav", 48000, 60.0, channels=2),
        write_noise(tmp_path / "d_48k_stereo_3s.flac", 48000, 3.0, channels=2),
    ]
    out, windows = tmp_path / "out.tsv", tmp_path / "windows.tsv"
    code = main(["predict", str(bundle), *map(str, files), "--out", str(out), "--windows", str(windows), "--no-progress", "--threads", "1"])
    assert code == 0

    from asckit.labels import SCENES_10
    from asckit.predictions.reader import read_predictions

    preds = read_predictions(out)  # a valid DCASE prediction file
    assert preds.filenames == tuple(map(str, files))
    assert preds.probs.shape == (4, len(SCENES_10))
    rows = windows.read_text().splitlines()
    assert rows[0].split("\t")[:4] == ["filename", "start", "end", "scene_label"]
    per_file = [sum(1 for r in rows[1:] if r.startswith(str(f) + "\t")) for f in files]
    assert per_file == [1, 1, 6, 1]


def test_file_probabilities_are_the_mean_of_window_probabilities(tmp_path, model):
    path = write_noise(tmp_path / "long.wav", 22050, 25.0)
    result = model.predict([path])
    (file,) = result.files
    assert [(w.start, w.end) for w in file.windows] == [(0.0, 10.0), (10.0, 20.0), (15.0, 25.0)]
    np.testing.assert_allclose(file.probs, np.mean([w.probs for w in file.windows], axis=0), atol=1e-12)
    assert file.label == model.classes[int(np.argmax(file.probs))]
    assert file.duration == pytest.approx(25.0)


def test_silent_windows_are_skipped(tmp_path, model):
    sr = 16000
    rng = np.random.default_rng(1)
    audio = 0.1 * rng.standard_normal(30 * sr).astype(np.float32)
    audio[10 * sr : 20 * sr] = 0.0
    soundfile.write(tmp_path / "gap.wav", audio, sr, subtype="FLOAT")
    (file,) = model.predict([tmp_path / "gap.wav"]).files
    assert [w.silent for w in file.windows] == [False, True, False]
    heard = [w.probs for w in file.windows if not w.silent]
    np.testing.assert_allclose(file.probs, np.mean(heard, axis=0), atol=1e-12)


def test_array_and_file_give_the_same_result(tmp_path, model):
    sr = 32000
    audio = np.random.default_rng(2).uniform(-0.3, 0.3, (2, 12 * sr)).astype(np.float32)
    soundfile.write(tmp_path / "x.wav", audio.T, sr, subtype="FLOAT")
    from_file = model.predict(tmp_path / "x.wav").files[0]
    from_array = model.predict_audio(audio, sr)
    assert len(from_array.windows) == len(from_file.windows) == 2
    np.testing.assert_allclose(from_array.probs, from_file.probs, atol=1e-6)


# ------------------------------------------------------------------------------------ errors


def test_bad_files_get_one_line_errors_and_the_rest_runs(tmp_path, bundle, capsys):
    good = write_noise(tmp_path / "good.wav", 44100, 2.0)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200)))
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros((0, 1), dtype=np.float32), 44100)
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros((44100, 1), dtype=np.float32), 44100)
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n")
    missing = tmp_path / "missing.wav"
    out = tmp_path / "out.tsv"

    paths = [good, corrupt, empty, silent, text, missing]
    code = main(["predict", str(bundle), *map(str, paths), "--out", str(out), "--no-progress"])
    assert code == 1  # some files failed, the others were written
    err_lines = [line for line in capsys.readouterr().err.splitlines() if "only 2.000 s long" not in line]  # good.wav's warning
    assert all(line.startswith("asckit: problem:") for line in err_lines), err_lines  # problems, not usage errors
    assert err_lines[-1] == "asckit: problem: 5 of 6 file(s) could not be classified; the others are in the results"
    for bad in (corrupt, empty, silent, text, missing):
        assert sum(str(bad) in line for line in err_lines) == 1, bad
    assert any("silence" in line for line in err_lines if str(silent) in line)
    rows = out.read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith(str(good) + "\t")


def test_one_bad_named_file_is_a_usage_error_and_a_folder_s_bad_files_are_problems(tmp_path, bundle, capsys):
    text = tmp_path / "rec" / "a.wav"
    text.parent.mkdir()
    text.write_text("text")
    assert main(["predict", str(bundle), str(text), "--no-progress"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 1 and errors[0].startswith("asckit: error:") and str(text) in errors[0]  # one file: its own line
    other = tmp_path / "rec" / "b.wav"
    other.write_text("text")
    for paths in ([text, other], [text.parent]):  # several files, or a folder walked: the command ran and found problems
        assert main(["predict", str(bundle), *map(str, paths), "--no-progress", "--out", str(tmp_path / "p.tsv")]) == 1
        lines = capsys.readouterr().err.splitlines()
        assert [line.split(": ")[1] for line in lines] == ["problem"] * 3, lines
        assert str(text) in lines[0] and str(other) in lines[1] and "none of the 2 file(s) could be classified" in lines[2]
        assert not (tmp_path / "p.tsv").exists()


def test_folders_are_walked_for_audio_files(tmp_path, model):
    (tmp_path / "rec" / "day2").mkdir(parents=True)
    a = write_noise(tmp_path / "rec" / "a.wav", 16000, 1.0)
    b = write_noise(tmp_path / "rec" / "day2" / "b.flac", 16000, 1.0)
    (tmp_path / "rec" / "readme.txt").write_text("notes")
    result = model.predict([tmp_path / "rec"])
    assert result.filenames == [str(a), str(b)]
    assert result.errors == []
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    assert [e.path for e in model.predict([empty_dir]).errors] == [str(empty_dir)]


def test_missing_or_foreign_model_is_a_one_line_error(tmp_path):
    from asckit.core.errors import AsckitError

    with pytest.raises(AsckitError, match="no bundle.json"):
        load_exported_model(tmp_path)
    (tmp_path / BUNDLE_FILE).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(AsckitError, match="not an asckit export bundle"):
        load_exported_model(tmp_path)


# ------------------------------------------------------------------------------------ models


def test_a_single_exported_onnx_file_is_a_model(tmp_path, bundle, model):
    """The member file alone (description in its ONNX metadata, mel matrix recomputed in numpy)."""
    path = write_noise(tmp_path / "x.wav", 44100, 4.0)
    single = load_exported_model(bundle / "fcnn.int8.onnx", threads=1)
    assert single.classes == model.classes and single.info == model.info
    np.testing.assert_allclose(single.predict([path]).probs, model.predict([path]).probs, atol=1e-6)


def test_fp32_and_int8_members_of_a_bundle(tmp_path, bundle):
    path = write_noise(tmp_path / "x.wav", 44100, 4.0)
    fp32 = load_exported_model(bundle, precision="fp32", threads=1)
    int8 = load_exported_model(bundle, threads=1)
    assert [p.name for p in fp32.member_files] == ["fcnn.fp32.onnx"]
    assert [p.name for p in int8.member_files] == ["fcnn.int8.onnx"]
    # Same model, two precisions: close, not identical.
    p32, p8 = fp32.predict([path]).probs, int8.predict([path]).probs
    assert np.max(np.abs(p32 - p8)) < 0.05


@pytest.mark.slow
def test_inference_needs_no_torch_librosa_or_pandas(tmp_path, bundle, tau22_bundle):
    """The base install works: with those modules blocked, load a bundle and classify a file with
    the Python API and with ``python -m asckit.deploy.runtime``; the same for a TAU22 bundle with
    device models (its frontend, device list and routing)."""
    wav = write_noise(tmp_path / "x.wav", 48000, 3.0, channels=2)
    out, out22 = tmp_path / "out.tsv", tmp_path / "out22.tsv"
    devices = tmp_path / "devices.csv"
    devices.write_text("filename\tdevice_id\nx.wav\tb\n")
    code = f"""
import sys
for name in ("torch", "librosa", "pandas", "sklearn", "scipy", "onnx", "yaml", "lightning"):
    sys.modules[name] = None  # any import of them raises ImportError
import asckit
result = asckit.load_exported_model({str(bundle)!r}, threads=1).predict([{str(wav)!r}])
assert not result.errors, result.errors
assert result.probs.shape == (1, 10), result.probs.shape
routed = asckit.load_exported_model({str(tau22_bundle)!r}, threads=1).predict([{str(wav)!r}], device_ids="a")
assert [f.model for f in routed.files] == ["device-a"], routed
from asckit.deploy.commands import main
code = main([{str(tau22_bundle)!r}, {str(wav)!r}, "--devices", {str(devices)!r}, "--out", {str(out22)!r}, "--no-progress"])
assert code == 0, code
sys.exit(main([{str(bundle)!r}, {str(wav)!r}, "--out", {str(out)!r}, "--no-progress"]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.read_text().splitlines()[1].startswith(str(wav) + "\t")
    assert out22.read_text().splitlines()[1].startswith(str(wav) + "\tmetro\t")  # device-b's class
    assert "asckit: device models: b 1 file" in done.stderr


@pytest.mark.slow
def test_import_asckit_stays_light():
    code = "import sys, asckit; print('asckit.deploy.runtime' in sys.modules, 'onnxruntime' in sys.modules, callable(asckit.load_exported_model))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False", "True"]


# ------------------------------------------------------------------------------------ TAU22 bundles


@pytest.fixture(scope="module")
def tau22_bundle(tmp_path_factory) -> Path:
    """A hand-made TAU22 bundle: general → airport, device-a → bus, device-b → metro (``write_tau22_bundle``)."""
    from conftest import write_tau22_bundle

    return write_tau22_bundle(tmp_path_factory.mktemp("tau22") / "bundle")


@pytest.fixture(scope="module")
def tau22_model(tau22_bundle):
    return load_exported_model(tau22_bundle, threads=1)


@needs_frontend_fixture
def test_the_tau22_front_end_computes_the_training_log_mel_of_the_reference(frontend_reference, tmp_path):
    """The runtime's TAU22 windows of the fixture's 44.1 kHz waves: the reference's log-mel within
    the frontend's float32 rounding (tests/features/test_tau22_frontend.py's tolerances)."""
    from asckit.deploy.bundle import ModelInfo
    from asckit.deploy.runtime import first_windows
    from asckit.labels import SCENES_10

    info = ModelInfo.for_tau22("2025", SCENES_10)
    paths = []
    for index, wave in enumerate(frontend_reference["wave44k"]):
        paths.append(tmp_path / f"clip{index}.wav")
        soundfile.write(paths[-1], wave.astype(np.float32), 44100, subtype="FLOAT")
    features = first_windows(paths, info)
    assert features.shape == (3, 1, 256, 65) and features.dtype == np.float32
    mel = frontend_reference["mel"]
    above_floor = mel > 1e-6 * mel.max(axis=(-2, -1), keepdims=True)  # README §7: below it float32 rounding dominates
    assert np.abs(features - frontend_reference["logmel"])[above_floor].max() <= 1e-4


def test_tau22_windows_are_one_second_with_a_tail_of_half_a_second_or_more_kept(tmp_path, tau22_model):
    """TAU22: 1 s windows; a remainder of ≥ 0.5 s gets an end-aligned window, a shorter one is dropped;
    a recording under 1 s is one window (repeated to length)."""
    rule = tau22_model.info.window
    assert (rule.seconds, rule.min_tail_seconds) == (1.0, 0.5)
    for seconds, expected in ((0.7, [(0.0, 0.7)]), (1.3, [(0.0, 1.0)]), (2.6, [(0.0, 1.0), (1.0, 2.0), (1.6, 2.6)])):
        (file,) = tau22_model.predict([write_noise(tmp_path / f"{seconds}.wav", 16000, seconds)]).files
        assert [(round(w.start, 3), round(w.end, 3)) for w in file.windows] == expected


def test_a_tau22_window_of_any_rate_and_channels_is_the_stored_training_wave(tmp_path):
    """Channels averaged, then torchaudio's sinc resampling from the file's rate: the window the
    runtime classifies is what the waveform store holds for the same clip (``features.waves.read_wave``)."""
    from asckit.deploy.bundle import ModelInfo
    from asckit.deploy.runtime import Tau22FrontEnd, file_windows
    from asckit.features.waves import WaveformSettings, read_wave
    from asckit.labels import SCENES_10

    info = ModelInfo.for_tau22("2024", SCENES_10)
    front_end = Tau22FrontEnd(info.window)
    for sr, channels in ((48000, 2), (44100, 1), (22050, 1)):
        path = write_noise(tmp_path / f"{sr}_{channels}.wav", sr, 1.0, channels=channels)
        (_, _, wave), = list(file_windows(path, info.window, front_end))
        assert wave.shape == (1, 32000)
        np.testing.assert_array_equal(wave, read_wave(path, WaveformSettings()))


def test_each_file_is_classified_by_its_device_model_and_the_rest_by_the_general_one(tmp_path, tau22_model):
    from asckit.labels import SCENES_10

    files = [write_noise(tmp_path / f"{n}.wav", 44100, 1.0, seed=n) for n in range(4)]
    assert tau22_model.devices == ("a", "b")
    result = tau22_model.predict(files, device_ids=["a", "b", "s4", None])
    assert [f.model for f in result.files] == ["device-a", "device-b", "general", "general"]
    assert [f.label for f in result.files] == [SCENES_10[1], SCENES_10[2], SCENES_10[0], SCENES_10[0]]
    assert [f.device_id for f in result.files] == ["a", "b", "s4", None]
    assert [f.model for f in tau22_model.predict(files[:2], device_ids="b").files] == ["device-b"] * 2  # one id for all
    assert [f.model for f in tau22_model.predict(files[:2]).files] == ["general"] * 2  # no id
    by_name = tau22_model.predict(files, device_ids=lambda path: {"0.wav": "A", "1.wav": "a"}.get(path.name))
    assert [f.model for f in by_name.files] == ["general", "device-a", "general", "general"]  # ids are matched exactly
    assert result.models_used() == {"device-a": 1, "device-b": 1, "general": 2}


def test_routed_model_inputs_go_row_by_row_to_their_device_models(tau22_model):
    x = np.random.default_rng(0).random((3, 1, 256, 65), dtype=np.float32)
    probs = tau22_model.predict_features(x, ["b", None, "a"])
    assert probs.argmax(axis=1).tolist() == [2, 0, 1]
    np.testing.assert_allclose(probs[1], tau22_model.predict_features(x[1:2])[0], atol=1e-12)
    from asckit.core.errors import AsckitError

    with pytest.raises(AsckitError, match="2 device ids for 3 model inputs"):
        tau22_model.predict_features(x, ["a", "b"])


def test_device_ids_are_refused_by_a_bundle_without_device_models(tmp_path, model):
    from asckit.core.errors import AsckitError

    path = write_noise(tmp_path / "x.wav", 44100, 1.0)
    with pytest.raises(AsckitError, match="has no device models, so device ids do not apply"):
        model.predict([path], device_ids="a")
    assert model.model_for("a") is None and model.devices == ()
