"""Room impulse responses: the simulated bank's reproducibility and geometry, loading measured WAVs."""

import numpy as np
import pytest
import soundfile

from asckit.audio import rir
from asckit.core.errors import AsckitError

SR = 44100


def test_the_bank_is_a_function_of_its_seed_and_grows_by_appending():
    three = rir.simulate_rir_bank(3, SR, seed=5)
    again = rir.simulate_rir_bank(3, SR, seed=5)
    other = rir.simulate_rir_bank(3, SR, seed=6)
    for a, b, c in zip(three, again, other):
        np.testing.assert_array_equal(a.samples, b.samples)
        assert a.info == b.info
        assert a.info["room_m"] != c.info["room_m"]
    np.testing.assert_array_equal(rir.simulate_rir(2, 5, SR).samples, three[2].samples)
    assert len({r.name for r in three + other}) == 6


def test_simulated_rir_has_its_direct_path_at_the_source_distance_and_its_drawn_reverberation_time():
    import pyroomacoustics as pra

    delay = pra.constants.get("frac_delay_length") // 2  # pyroomacoustics centres its fractional-delay filter
    for index in range(3):
        response = rir.simulate_rir(index, 0, SR)
        samples = response.samples
        assert samples.dtype == np.float32 and samples.size <= SR  # cut to 1 s
        assert np.max(np.abs(samples)) == pytest.approx(1.0)
        direct = response.info["distance_m"] / pra.constants.get("c") * SR + delay
        assert abs(int(np.argmax(np.abs(samples))) - direct) <= 1.5
        # The image-source tail runs a little longer than Sabine's formula; a wrong unit would be far off.
        assert 0.8 <= rir.rt60_of(response) / response.info["rt60_s"] <= 1.6


def test_rirs_from_a_folder_are_first_channel_resampled_and_named_by_relative_path(tmp_path):
    folder = tmp_path / "rirs"
    (folder / "room2").mkdir(parents=True)
    stereo = np.zeros((4800, 2), dtype=np.float32)
    stereo[480, 0] = 0.9  # channel 1: a Dirac 10 ms in
    stereo[100, 1] = 0.9  # channel 2 differs, and must be ignored
    soundfile.write(folder / "room2" / "b.wav", stereo, 48000, subtype="PCM_24")
    mono = np.zeros(1600, dtype=np.float32)
    mono[0] = 0.5
    soundfile.write(folder / "a.WAV", mono, 16000)
    (folder / "notes.txt").write_text("not audio")
    bank = rir.load_rir_folder(folder, SR)
    assert [r.name for r in bank] == ["a.WAV", "room2/b.wav"]
    assert all(r.sample_rate == SR for r in bank)
    assert bank[1].samples.size == 4410 and bank[0].samples.size == 4410
    assert int(np.argmax(np.abs(bank[1].samples))) == 441  # 10 ms at 44.1 kHz: the first channel
    assert bank[1].info["file_sample_rate"] == 48000
    assert rir.load_rir_folder(folder, SR, max_seconds=0.05)[1].samples.size == 2205


def test_folder_errors_name_the_folder_and_the_fix(tmp_path):
    with pytest.raises(AsckitError, match="no .wav files.*--rir-dir"):
        rir.load_rir_folder(tmp_path, SR)
    with pytest.raises(AsckitError, match="no such folder"):
        rir.load_rir_folder(tmp_path / "missing", SR)
    soundfile.write(tmp_path / "silent.wav", np.zeros(100, dtype=np.float32), SR)
    with pytest.raises(AsckitError, match="silent"):
        rir.load_rir_folder(tmp_path, SR)


# --------------------------------------------------------------------------- the reference's measured sets

from conftest import shared_reference  # noqa: E402


def _write_set(root, rir_set, rate=48000, seconds=1.5, channels=1):
    """A fake downloaded set: file k has its first-channel Dirac at k ms (its identity) and a decay."""
    for k, name in enumerate(dict.fromkeys(rir.REFERENCE_RIR_SETS[rir_set])):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        audio = np.zeros((int(rate * seconds), channels), dtype=np.float32)
        audio[int(rate * (k + 1) / 1000), 0] = 0.8
        if channels > 1:
            audio[5, 1:] = 0.9  # other channels differ and must be ignored
        audio[-1, 0] = 0.1  # a sample past the first second, which the read rule cuts off
        soundfile.write(path, audio, rate, subtype="PCM_24")


def test_reference_sets_keep_the_reference_lists_and_order():
    sets = rir.REFERENCE_RIR_SETS
    assert sets["mardy"] == tuple(f"MARDY/ir_{m}_{s}_1.wav" for s in "CLR" for m in (1, 2, 3))
    assert len(sets["2003"]) == 12 and len(set(sets["2003"])) == 11
    assert sets["2003"][1] == sets["2003"][2] == "2003_estimated_ir/2003_estimated_ir_ch04_orth_4X.wav"
    assert sets["reverb"][:4] == tuple(
        f"TrainRIR/RIR_SmallRoom1_{w}_Angl{a}.wav" for w, a in (("near", "A"), ("near", "B"), ("far", "A"), ("far", "B"))
    )
    assert len(sets["reverb"]) == 24 and sets["reverb"][-1] == "TrainRIR/RIR_LargeRoom2_far_AnglB.wav"


def test_reference_rirs_are_read_first_channel_resampled_first_second_in_list_order(tmp_path):
    _write_set(tmp_path, "2003", rate=48000, seconds=2.0, channels=2)
    bank = rir.load_reference_rirs("2003", tmp_path, SR)
    assert [r.name for r in bank] == list(rir.REFERENCE_RIR_SETS["2003"])  # ch04 twice, as the reference
    np.testing.assert_array_equal(bank[1].samples, bank[2].samples)
    assert all(r.samples.size == SR and r.sample_rate == SR for r in bank)  # first 1 s at the clip's rate
    # file 0 has its Dirac at 1 ms, file 1 (ch04) at 2 ms: first channel, resampled 48 → 44.1 kHz
    assert int(np.argmax(np.abs(bank[0].samples))) == round(SR / 1000)
    assert int(np.argmax(np.abs(bank[1].samples))) == round(2 * SR / 1000)
    assert bank[0].info == {"source": "measured", "set": "2003", "position": 0, "file": bank[0].name, "file_sample_rate": 48000}


def test_missing_reference_files_name_the_download_command(tmp_path):
    _write_set(tmp_path, "mardy")
    (tmp_path / "MARDY" / "ir_3_R_1.wav").unlink()
    assert rir.missing_reference_rirs("mardy", tmp_path) == ["MARDY/ir_3_R_1.wav"]
    with pytest.raises(AsckitError, match=r"1 of the reference's mardy RIRs are missing; download them with "
                       r"`asckit data download rirs --set mardy --root "):
        rir.load_reference_rirs("mardy", tmp_path, SR)
    with pytest.raises(AsckitError, match="unknown RIR set"):
        rir.load_reference_rirs("bogus", tmp_path, SR)


def test_real_mardy_file_reads_by_the_reference_rule(tmp_path):
    shared = shared_reference("rirs")
    if not (shared / "MARDY_ir_1_C_1.wav").is_file():
        pytest.skip(f"the real RIR files are not at {shared} (shared data beside the repository; set ASCKIT_SHARED)")
    _write_set(tmp_path, "mardy")
    for name in ("MARDY/ir_1_C_1.wav", "MARDY/ir_2_L_1.wav"):
        (tmp_path / name).write_bytes((shared / name.replace("/", "_")).read_bytes())
    info = soundfile.info(tmp_path / "MARDY" / "ir_1_C_1.wav")
    assert (info.samplerate, info.frames) == (48000, 65536)  # 1.37 s recorded
    bank = rir.load_reference_rirs("mardy", tmp_path, SR)
    real = bank[0]
    assert real.samples.size == SR and real.info["file_sample_rate"] == 48000
    assert 0.05 < float(np.max(np.abs(real.samples))) <= 1.0
    assert bank[4].name == "MARDY/ir_2_L_1.wav" and not np.array_equal(bank[4].samples, real.samples)


def test_the_raw_reverb_pcm_files_are_the_wav_samples_without_header_and_unused():
    # 16 kHz × 8 channels × 2 bytes × 1 s: the same responses as the WAVs (256,044 B = 256,000 + 44)
    from asckit.data.download import rir_manifest

    manifest = rir_manifest()
    pcm = [f for f in manifest.values() if f.name.endswith(".pcm")]
    assert len(pcm) == 12 and all(f.size == 16000 * 8 * 2 for f in pcm)
    assert all(manifest[f.name[:-4] + ".wav"].size == f.size + 44 for f in pcm)
    assert not any(name.endswith(".pcm") for names in rir.REFERENCE_RIR_SETS.values() for name in names)


def test_describe_bank_says_which_bank_rows_used():
    assert "measured mardy" in rir.describe_bank({"rir_set": "mardy", "rirs": [{}] * 9})
    assert "simulated pyroomacoustics bank (24 RIRs, seed 0), not the reference" in rir.describe_bank({"rirs": [{}] * 24, "seed": 0})
