"""Room impulse responses: the simulated bank's reproducibility and geometry, loading measured WAVs."""

import numpy as np
import pytest
import soundfile

from asckit.audio import rir
from asckit.errors import AsckitError

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
