"""Augmented rows in the feature store: keys, traceability, determinism, resumption, the CLI."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import EVALUATE_NAMES, TRAIN_NAMES, write_tau_root

from asckit import cli
from asckit.audio import augment
from asckit.audio.io import load_clip
from asckit.core.errors import AsckitError
from asckit.features.augmented import AugmentOptions, augment_dataset, row_key
from asckit.features.extraction import extract_dataset
from asckit.features.logmel import LogMel, scale_minmax
from asckit.features.spectrum_correction import corrected_logmel
from asckit.features.store import FeatureStore

DEVICE_A_TRAIN = [n for n in TRAIN_NAMES if n.endswith("-a.wav")]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A tiny root (5 training clips, 3 of device A, 0.5 s) and a store of its originals."""
    base = tmp_path_factory.mktemp("augment")
    root = write_tau_root(base / "tau", TRAIN_NAMES, EVALUATE_NAMES, seconds=0.5)
    extract_dataset(root, base / "originals", workers=1, progress=False)
    return root, base / "originals"


@pytest.fixture
def store_copy(dataset, tmp_path):
    root, originals = dataset
    out = tmp_path / "store"
    shutil.copytree(originals, out)
    return root, out


def _audio_digest(root: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted((root / "audio").iterdir()))).hexdigest()


def _row(store: FeatureStore, key: str) -> np.ndarray:
    return store.get([key])[0].astype(np.float32)


def _features(audio, settings) -> np.ndarray:
    return scale_minmax(LogMel(settings)(audio))


def test_every_kind_adds_traceable_rows_and_leaves_the_audio_alone(store_copy):
    root, out = store_copy
    before = _audio_digest(root)
    options = AugmentOptions(rir_count=3)  # a small simulated bank keeps the test quick
    summaries = {s.kind: s for s in augment_dataset(root, out, ["all"], options, workers=1, progress=False)}
    assert _audio_digest(root) == before
    store = FeatureStore.open(out)
    train = [f"audio/{n}" for n in TRAIN_NAMES]
    a_only = [f"audio/{n}" for n in DEVICE_A_TRAIN]
    for kind in ("noise", "pitch", "speed"):
        assert sorted(store.keys(kind)) == sorted(row_key(s, kind, 0) for s in train)
    for kind in ("spectrum-correction", "reverb-drc"):
        assert sorted(store.keys(kind)) == sorted(f"{s}#{kind}" for s in a_only)
    # bus has one training clip: it has no same-class partner to mix with, and is reported
    assert len(store.keys("mix")) == 4 and "bus-lyon" in summaries["mix"].skipped[0]
    for key in store.keys():
        info = store.rows[key]
        if info.kind != "original":
            assert key == f"{info.source}#{info.kind}" and info.source in store
    mix_params = json.loads(store.rows["audio/airport-lisbon-1000-40000-a.wav#mix"].params)
    assert mix_params["partner"] == "audio/airport-lisbon-1000-40000-b.wav"  # the only other airport clip
    assert all(0.5 <= mix_params[g] <= 1.0 for g in ("gain", "partner_gain"))
    rows = store.get(store.keys())
    assert np.isfinite(rows).all() and rows.min() >= 0 and rows.max() <= 1
    # a second run finds everything stored and adds nothing
    size = (out / "data.f16").stat().st_size
    again = augment_dataset(root, out, ["all"], options, workers=1, progress=False)
    assert all(s.added == 0 for s in again) and (out / "data.f16").stat().st_size == size


def test_a_row_can_be_recomputed_from_its_params(store_copy):
    root, out = store_copy
    augment_dataset(root, out, ["noise", "pitch", "spectrum-correction"], workers=1, progress=False)
    store = FeatureStore.open(out)
    settings = store.settings
    source = "audio/park-paris-1002-40002-a.wav"
    clip = load_clip(root / source, None, settings.sample_rate, settings.channels, settings.clip_seconds)

    params = json.loads(store.rows[f"{source}#noise"].params)
    noisy = augment.add_noise(clip, np.random.default_rng(params["noise_seed"]), std=params["std"])
    np.testing.assert_allclose(_row(store, f"{source}#noise"), _features(noisy, settings), atol=2e-3)

    params = json.loads(store.rows[f"{source}#pitch"].params)
    assert -4 <= params["n_steps"] <= 4
    shifted = augment.pitch_shift(clip, settings.sample_rate, params["n_steps"])
    np.testing.assert_allclose(_row(store, f"{source}#pitch"), _features(shifted, settings), atol=2e-3)

    params = json.loads(store.rows[f"{source}#spectrum-correction"].params)
    saved = json.loads((out / params["coefficients"]).read_text())
    assert saved["digest"] == params["digest"] and len(saved["coefficients"]) == 1025
    corrected = scale_minmax(corrected_logmel(clip, np.asarray(saved["coefficients"]), LogMel(settings)))
    np.testing.assert_allclose(_row(store, f"{source}#spectrum-correction"), corrected, atol=2e-3)


def test_rows_are_a_function_of_the_seed(dataset, tmp_path):
    root, originals = dataset
    stores = {}
    for name, seed in (("first", 3), ("again", 3), ("other", 4)):
        shutil.copytree(originals, tmp_path / name)
        augment_dataset(root, tmp_path / name, ["speed"], AugmentOptions(seed=seed), workers=1, progress=False)
        stores[name] = FeatureStore.open(tmp_path / name)
    keys = stores["first"].keys("speed")
    np.testing.assert_array_equal(stores["first"].get(keys), stores["again"].get(keys))
    assert [stores["first"].rows[k].params for k in keys] == [stores["again"].rows[k].params for k in keys]
    assert all(stores["first"].rows[k].params != stores["other"].rows[k].params for k in keys)
    assert not np.array_equal(stores["first"].get(keys), stores["other"].get(keys))


@pytest.mark.slow
def test_two_workers_give_the_rows_of_one(dataset, tmp_path):
    root, originals = dataset
    for name, workers in (("one", 1), ("two", 2)):
        shutil.copytree(originals, tmp_path / name)
        augment_dataset(root, tmp_path / name, ["noise", "reverb-drc"], AugmentOptions(rir_count=2), workers=workers,
                        chunk_size=1, progress=False)
    one, two = FeatureStore.open(tmp_path / "one"), FeatureStore.open(tmp_path / "two")
    keys = one.keys("noise") + one.keys("reverb-drc")
    assert sorted(keys) == sorted(two.keys("noise") + two.keys("reverb-drc"))
    np.testing.assert_array_equal(one.get(keys), two.get(keys))


def test_extra_copies_get_numbered_keys_and_their_own_draws(store_copy):
    root, out = store_copy
    augment_dataset(root, out, ["pitch"], AugmentOptions(copies=2), workers=1, progress=False)
    store = FeatureStore.open(out)
    source = "audio/bus-lyon-1001-40001-a.wav"
    first, second = store.rows[f"{source}#pitch"], store.rows[f"{source}#pitch-1"]
    assert first.source == second.source == source and first.params != second.params
    assert len(store.keys("pitch")) == 2 * len(TRAIN_NAMES)


def test_a_rerun_with_other_options_is_refused_while_rows_of_that_kind_exist(store_copy):
    root, out = store_copy
    augment_dataset(root, out, ["noise"], AugmentOptions(seed=0), workers=1, progress=False)
    with pytest.raises(AsckitError, match=r"noise rows were made with other options \(noise"):
        augment_dataset(root, out, ["noise"], AugmentOptions(seed=0, noise_snr_db=20), workers=1, progress=False)
    # another kind is free to use other options
    augment_dataset(root, out, ["speed"], AugmentOptions(seed=1), workers=1, progress=False)


def test_spectrum_coefficients_recover_known_device_responses(tmp_path):
    """Device b records the segment at half, s1 at a quarter of device A's amplitude."""
    names = ["park-paris-1-10-a.wav", "park-paris-1-10-b.wav", "park-paris-1-10-s1.wav",
             "bus-lyon-2-20-a.wav", "bus-lyon-2-20-b.wav", "tram-rome-3-30-a.wav"]
    root = write_tau_root(tmp_path / "tau", names, ["park-oslo-9-90-a.wav"], seconds=0.5)
    for scene in ("park-paris-1-10", "bus-lyon-2-20"):
        audio, sr = soundfile.read(root / "audio" / f"{scene}-a.wav", dtype="float32")
        soundfile.write(root / "audio" / f"{scene}-b.wav", 0.5 * audio, sr, subtype="FLOAT")
        if scene == "park-paris-1-10":
            soundfile.write(root / "audio" / f"{scene}-s1.wav", 0.25 * audio, sr, subtype="FLOAT")
    extract_dataset(root, tmp_path / "store", workers=1, progress=False)
    augment_dataset(root, tmp_path / "store", ["spectrum-correction"], workers=1, progress=False)
    saved = json.loads((tmp_path / "store" / "augment" / "spectrum-correction-coefficients.json").read_text())
    assert {d: v["pairs"] for d, v in saved["devices"].items()} == {"b": 2, "s1": 1}
    np.testing.assert_allclose(saved["devices"]["b"]["coefficients"], 0.5, rtol=1e-3)
    np.testing.assert_allclose(saved["devices"]["s1"]["coefficients"], 0.25, rtol=1e-3)
    # the reference response averages the devices with equal weight, not the pairs
    np.testing.assert_allclose(saved["coefficients"], 0.375, rtol=1e-3)
    store = FeatureStore.open(tmp_path / "store")
    assert sorted(store.keys("spectrum-correction")) == sorted(f"audio/{n}#spectrum-correction" for n in names if n.endswith("-a.wav"))


def test_reverb_from_a_folder_of_measured_rirs(store_copy, tmp_path):
    root, out = store_copy
    folder = tmp_path / "rirs"
    folder.mkdir()
    dirac = np.zeros(2000, dtype=np.float32)
    dirac[300] = 0.7  # measured responses keep their level, as the reference used them
    soundfile.write(folder / "dirac.wav", dirac, 44100, subtype="FLOAT")
    augment_dataset(root, out, ["reverb-drc"], AugmentOptions(rir_dir=str(folder), drc_set="reverb"), workers=1, progress=False)
    store = FeatureStore.open(out)
    source = "audio/bus-lyon-1001-40001-a.wav"
    params = json.loads(store.rows[f"{source}#reverb-drc"].params)
    assert params["rir"] == "dirac.wav" and params["drc"].startswith("reverb-cpd")
    settings = store.settings
    clip = load_clip(root / source, None, settings.sample_rate, settings.channels, settings.clip_seconds)
    # a Dirac room only scales the clip, so the row is the compander's output of the scaled clip
    curves = {c.name: c for c in augment.COMPAND_SETS["reverb"]}
    expected, used, _ = augment.compand_like_reference(
        0.7 * clip, settings.sample_rate, curves[params["drc"]], augment.COMPAND_FALLBACK["reverb"]
    )
    assert used == params["drc_used"]
    np.testing.assert_allclose(_row(store, f"{source}#reverb-drc"), _features(expected, settings), atol=2e-3)
    record = json.loads((out / "augment" / "reverb-drc.json").read_text())
    assert record["rirs"][0]["file"] == "dirac.wav" and record["drc_set"] == "reverb"


def test_reverb_with_the_reference_set_uses_its_list_order_and_curves(store_copy, tmp_path, capsys):
    from asckit.audio.rir import REFERENCE_RIR_SETS

    root, out = store_copy
    rirs = tmp_path / "rirs"
    for k, name in enumerate(dict.fromkeys(REFERENCE_RIR_SETS["2003"])):
        (rirs / name).parent.mkdir(parents=True, exist_ok=True)
        dirac = np.zeros(48000, dtype=np.float32)
        dirac[10 * (k + 1)] = 0.5
        soundfile.write(rirs / name, dirac, 48000, subtype="PCM_24")
    options = AugmentOptions(rir_set="2003", rir_root=str(rirs))
    augment_dataset(root, out, ["reverb-drc"], options, workers=1, progress=False)
    store = FeatureStore.open(out)
    order = [json.loads(store.rows[row_key(f"audio/{s}", "reverb-drc", 0)].params) for s in DEVICE_A_TRAIN]
    # device-A clips in CSV order take the reference's list in turn (ch24, ch04, ch04, ...) and the 2003 curves
    assert [p["rir"] for p in order] == list(REFERENCE_RIR_SETS["2003"][: len(order)])
    assert [p["drc"] for p in order] == [f"2003-cpd{i + 1}" for i in range(len(order))]
    record = json.loads((out / "augment" / "reverb-drc.json").read_text())
    assert record["rir_set"] == "2003" and record["drc_set"] == "2003" and len(record["rirs"]) == 12
    argv = ["augment", str(root), "--kind", "reverb-drc", "--out", str(out), "--quiet", "--workers", "1",
            "--rir-set", "2003", "--rir-root", str(rirs)]
    assert cli.main(argv) == 0  # the same recipe again: nothing new, and the report names the bank
    assert "reverb-drc RIRs: the reference's measured 2003 RIRs (12 in its round-robin list)" in capsys.readouterr().out
    with pytest.raises(AsckitError, match="missing; download them with `asckit data download rirs --set mardy"):
        augment_dataset(root, out, ["reverb-drc"], AugmentOptions(rir_set="mardy", rir_root=str(rirs)),
                        workers=1, progress=False)


def test_a_store_is_required_and_must_hold_the_datasets_originals(dataset, tmp_path):
    root, _ = dataset
    with pytest.raises(AsckitError, match="asckit features"):
        augment_dataset(root, tmp_path / "nothing", ["noise"], workers=1, progress=False)
    other = write_tau_root(tmp_path / "other", ["tram-oslo-7-70-a.wav"], ["tram-oslo-8-80-a.wav"], seconds=0.5)
    extract_dataset(other, tmp_path / "other_store", workers=1, progress=False)
    with pytest.raises(AsckitError, match="holds none of the training clips"):
        augment_dataset(root, tmp_path / "other_store", ["noise"], workers=1, progress=False)


def test_the_cli_offers_exactly_the_drivers_kinds():
    from asckit.features.augment_commands import KIND_CHOICES
    from asckit.features.augmented import KINDS

    assert set(KIND_CHOICES) == set(KINDS) | {"all"}


def test_cli_adds_rows_and_reports_errors_on_one_line(store_copy, capsys, tmp_path):
    root, out = store_copy
    assert cli.main(["augment", str(root), "--kind", "noise", "mix", "--out", str(out), "--quiet", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "noise" in printed and "mix" in printed and "clips/s" in printed
    assert len(FeatureStore.open(out).keys("noise")) == len(TRAIN_NAMES)
    code = cli.main(["augment", str(root), "--kind", "reverb-drc", "--out", str(out), "--quiet",
                     "--rir-dir", str(tmp_path / "absent")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--rir-dir" in err
