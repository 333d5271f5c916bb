"""Bad-input corpus (issue 15), datasets and feature stores: `asckit data check` and `asckit features`.

Each case asserts the exit status, the one error line (or the reported problem) and that nothing
was written or changed (``bad_input_corpus.check_case``). Damaged stores that `features` repairs are
checked row by row against the intact store.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
from bad_input_corpus import Case, check_case, copy_of, csv_lines, edit_json, tau_copy, world, write
from conftest import FakeZenodo

from asckit.cli import main
from asckit.features.store import FeatureStore

TRAIN_CSV = "evaluation_setup/fold1_train.csv"
EVAL_CSV = "evaluation_setup/fold1_evaluate.csv"
GOOD = "audio/airport-lisbon-1000-40000-a.wav"


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    return world(tmp_path_factory)


def _check(diagnosis: str, fix: str, change, code: int = 1) -> Case:
    """A `data check` case: a changed copy of the root, a problem reported (its diagnosis and fix), exit 1."""
    return Case(f"check {diagnosis}", ["data", "check", "{c}/tau"], (diagnosis, fix), code, tau_copy(change), stdout=True)


def _replace_audio(name: str, samples: np.ndarray, sample_rate: int = 44100, subtype: str = "FLOAT"):
    def change(root: Path) -> None:
        import soundfile

        soundfile.write(root / name, samples, sample_rate, subtype=subtype)

    return change


def _unlink(rel: str):
    return lambda root: (root / rel).unlink()


DATA_CHECK = [
    Case("check missing root", ["data", "check", "{c}/nowhere"], ("the dataset root does not exist", "check the path"), 2),
    Case("check a file as root", ["data", "check", "{c}/f.txt"], ("is a file, not a dataset root", "give the folder that holds audio/"), 2,
         write("f.txt", "x")),
    _check("evaluation_setup: missing", "holds evaluation_setup/fold1_*.csv", change=lambda r: __import__("shutil").rmtree(r / "evaluation_setup")),
    _check("fold1_train.csv: the file is empty", "starts with a header row", change=csv_lines(TRAIN_CSV, "")),
    _check("fold1_evaluate.csv: the file is empty", "starts with a header row", change=csv_lines(EVAL_CSV, "")),
    _check("meta.csv: the file is empty", "starts with a header row", change=csv_lines("meta.csv", "")),
    _check("fold1_test.csv: the file is empty", "starts with a header row", change=csv_lines("evaluation_setup/fold1_test.csv", "")),
    _check("lists no clips", "add the clips of the train split", change=csv_lines(TRAIN_CSV, "filename\tscene_label\n")),
    _check("','-separated", "re-save it with tabs", change=csv_lines(TRAIN_CSV, f"filename,scene_label\n{GOOD},airport\n")),
    _check("do not include the expected", "fix the header row", change=csv_lines(TRAIN_CSV, f"file\tlabel\n{GOOD}\tairport\n")),
    _check("cannot be read as a TAB-separated CSV", "re-save it as UTF-8 text", change=csv_lines(TRAIN_CSV, b"\xff\xfe\x00\x01\x02\n")),
    _check("unknown scene_label", "expected one of airport", change=csv_lines(TRAIN_CSV, f"filename\tscene_label\n{GOOD}\tairprot\n")),
    _check("contradicts the scene", "fix the label or the filename", change=csv_lines(TRAIN_CSV, f"filename\tscene_label\n{GOOD}\tbus\n")),
    _check("duplicate row", "delete one of the two",
           change=csv_lines(TRAIN_CSV, f"filename\tscene_label\n{GOOD}\tairport\n{GOOD}\tairport\n")),
    _check("empty filename", "or delete the row", change=csv_lines(TRAIN_CSV, "filename\tscene_label\n\tairport\n")),
    _check("'/etc/passwd' is an absolute path", "list files under the dataset root",
           change=csv_lines(TRAIN_CSV, "filename\tscene_label\n/etc/passwd\tairport\n")),
    _check("leads out of the dataset root", "list files under the dataset root",
           change=csv_lines(TRAIN_CSV, "filename\tscene_label\n../../outside.wav\tairport\n")),
    _check("is not a TAU filename", "rename it <scene>-<city>", change=csv_lines(TRAIN_CSV, "filename\tscene_label\naudio/x.wav\tairport\n")),
    _check("is listed but", "restore the file or remove its rows", change=_unlink(GOOD)),
    _check("NaN or infinite sample", "repair or remove this file", change=_replace_audio(GOOD, np.full(44100, np.nan, dtype=np.float32))),
    _check("NaN or infinite sample", "repair or remove this file",
           change=_replace_audio(GOOD, np.r_[np.zeros(44099), np.inf].astype(np.float32))),
    _check("empty audio", "replace it or remove it", change=_replace_audio(GOOD, np.zeros(0, dtype=np.float32))),
    _check("silent (every sample is 0)", "remove it from the split CSVs or replace it",
           change=_replace_audio(GOOD, np.zeros(44100, dtype=np.float32))),
    _check("silent (peak -100 dbfs)", "remove it from the split CSVs or replace it",
           change=_replace_audio(GOOD, np.full(44100, 1e-5, dtype=np.float32))),
    _check("unreadable audio", "replace it with a WAV or FLAC file", change=csv_lines(GOOD, "not audio")),
    _check("truncated", "copy or download it again", change=lambda r: (r / GOOD).write_bytes((r / GOOD).read_bytes()[:5000])),
    _check("sample rate 22050 hz", "expects 44100 Hz; resample it",
           change=_replace_audio(GOOD, np.zeros(22050, dtype=np.float32) + 0.1, 22050)),
    _check("2 channel(s)", "expects 1; convert it", change=_replace_audio(GOOD, np.full((44100, 2), 0.1, dtype=np.float32))),
    _check("shorter than the 1 s", "replace it or remove its rows", change=_replace_audio(GOOD, np.full(4410, 0.1, dtype=np.float32))),
    _check("far longer than the 1 s", "cut it", change=_replace_audio(GOOD, np.full(44100 * 5, 0.1, dtype=np.float32))),
    _check("in both fold1_train and fold1_evaluate", "list each clip in one split only",
           change=lambda r: (r / EVAL_CSV).write_text((r / EVAL_CSV).read_text() + f"{GOOD}\tairport\n")),
    _check("not in meta.csv", "add their rows to meta.csv", change=lambda r: (r / "meta.csv").write_text(
        "\n".join((r / "meta.csv").read_text().splitlines()[:-1]) + "\n")),
    _check("mixes 10-class and 3-class labels", "use the labels of one task", change=csv_lines(
        TRAIN_CSV, f"filename\tscene_label\n{GOOD}\tairport\naudio/bus-lyon-1001-40001-a.wav\ttransportation\n")),
]


def _features(case_id: str, needles: tuple[str, ...], change=None, extra_args=(), setup=None, code: int = 2) -> Case:
    """A `features` case on a changed copy of the root, writing a new store ``c/new`` (refused: none)."""
    return Case(
        f"features {case_id}", ["features", "{c}/tau", "--out", "{c}/new", "--quiet", "--workers", "1", *extra_args],
        needles, code, setup or tau_copy(change),
        extra=lambda c, w: _no_store(c / "new"),
    )


def _bad_clip(case_id: str, needles: tuple[str, ...], change) -> Case:
    """One unreadable clip: the others are stored (a rerun after the fix adds it), the bad one never; the
    command ran and found a problem (exit 1), listed with the fix."""
    return Case(
        f"features {case_id}", ["features", "{c}/tau", "--out", "{c}/new", "--quiet", "--workers", "1"],
        needles, 1, tau_copy(change), may_write=("new",), extra=lambda c, w: _stored_without_bad_clip(c / "new"),
    )


def _stored_without_bad_clip(path: Path) -> None:
    store = FeatureStore.open(path)
    assert GOOD not in store and len(store) == 7
    assert np.isfinite(store.get(store.keys()).astype(np.float32)).all()


def _no_store(path: Path) -> None:
    """A refused extraction leaves no store, or an empty one that the corrected rerun may reuse."""
    assert not (path / "manifest.json").exists() or len(FeatureStore.open(path)) == 0


def _store_case(case_id: str, needles: tuple[str, ...], change, argv_tail=("--out", "{c}/store")) -> Case:
    """A `features` case over the shared root into a damaged copy of the shared store."""
    return Case(f"features {case_id}", ["features", "{w_root}", *argv_tail, "--quiet", "--workers", "1"], needles, 2,
                copy_of("store", change))


FEATURES = [
    _features("missing root", ("the dataset root does not exist", "check the path"), setup=lambda c, w: None, extra_args=()),
    _features("task of the other dataset", ("is a Task 1a dataset (told from its training labels)", "drop --task or give --task 1a"),
              extra_args=("--task", "1b")),
    _features("empty train CSV", ("fold1_train.csv", "empty", "starts with a header row"), csv_lines(TRAIN_CSV, "")),
    _features("comma CSV", ("','-separated", "re-save it with tabs"), csv_lines(TRAIN_CSV, f"filename,scene_label\n{GOOD},airport\n")),
    _features("wrong header", ("do not include the expected", "fix the header row"), csv_lines(TRAIN_CSV, f"file\tlabel\n{GOOD}\tairport\n")),
    _features("binary CSV", ("cannot be read", "re-save it as UTF-8 text"), csv_lines(TRAIN_CSV, b"\xff\xfe\x00\x01\n")),
    _features("duplicate row", ("more than once", "run `asckit data check"),
              csv_lines(TRAIN_CSV, f"filename\tscene_label\n{GOOD}\tairport\n{GOOD}\tairport\n")),
    _features("../ path", ("leads out of the dataset root", "list files under the dataset root"),
              csv_lines(TRAIN_CSV, "filename\tscene_label\n../../outside.wav\tairport\n")),
    _features("absolute path", ("absolute path", "list files under the dataset root"),
              csv_lines(TRAIN_CSV, "filename\tscene_label\n/etc/passwd\tairport\n")),
    _features("backslash ..", ("leads out", "list files under the dataset root"),
              csv_lines(TRAIN_CSV, "filename\tscene_label\n..\\..\\x.wav\tairport\n")),
    _features("windows drive", ("absolute path", "list files under the dataset root"),
              csv_lines(TRAIN_CSV, "filename\tscene_label\nC:/x.wav\tairport\n")),
    _features("empty filename", ("is empty", "list files under the dataset root"), csv_lines(TRAIN_CSV, "filename\tscene_label\n\tairport\n")),
    _bad_clip("NaN audio", ("NaN or infinite", "airport-lisbon", "repair or remove this file"),
              _replace_audio(GOOD, np.full(44100, np.nan, dtype=np.float32))),
    _bad_clip("inf audio", ("NaN or infinite", "repair or remove this file"),
              _replace_audio(GOOD, np.r_[np.zeros(44099), -np.inf].astype(np.float32))),
    _bad_clip("missing audio", ("no such audio file", "check the path"), _unlink(GOOD)),
    _bad_clip("non-audio file", ("not a readable audio file", "convert it to WAV or FLAC"), csv_lines(GOOD, "text")),
    _features("clip-seconds 0", ("--clip-seconds", "must be above 0"), extra_args=("--clip-seconds", "0")),
    _features("clip-seconds -1", ("--clip-seconds", "must be above 0"), extra_args=("--clip-seconds", "-1")),
    _features("clip-seconds nan", ("--clip-seconds", "not a finite number; give one such as"), extra_args=("--clip-seconds", "nan")),
    _features("clip-seconds inf", ("--clip-seconds", "not a finite number; give one such as"), extra_args=("--clip-seconds", "inf")),
    _features("clip-seconds tiny", ("too few samples for n_fft", "use --clip-seconds 0.023 or more"), extra_args=("--clip-seconds", "0.001")),
    _features("clip-seconds text", ("--clip-seconds", "is not a number; write one in digits"), extra_args=("--clip-seconds", "ten")),
    _features("set unknown", ("'bogus' cannot be set", "use one of sample_rate"), extra_args=("--set", "bogus=1")),
    _features("set n_mels 0", ("n_mels=0", "use a positive integer"), extra_args=("--set", "n_mels=0")),
    _features("set n_fft text", ("n_fft='abc'", "use a positive integer"), extra_args=("--set", "n_fft=abc")),
    _features("set no =", ("n_mels", "write FIELD=VALUE"), extra_args=("--set", "n_mels")),
    _features("task bogus", ("--task", "invalid choice", "choose from '1a', '1b'"), extra_args=("--task", "1c")),
    _features("splits bogus", ("--splits", "invalid choice", "choose from 'train', 'evaluate', 'test'"), extra_args=("--splits", "validation")),
    Case("features out is a file", ["features", "{w_root}", "--out", "{c}/f.txt", "--quiet"], ("is a file", "names the feature store folder"), 2,
         write("f.txt", "mine")),
    Case("features out is a non-store folder", ["features", "{w_root}", "--out", "{c}/mine", "--quiet"],
         ("not a feature store", "choose an empty or new --out folder"), 2, write("mine/notes.txt", "mine")),
    Case("features out is the dataset root", ["features", "{c}/tau", "--out", "{c}/tau", "--quiet"],
         ("is also an input of this command", "give another output path"), 2, tau_copy()),
    Case("features out holds the dataset root", ["features", "{c}/tau", "--out", "{c}", "--quiet"],
         ("holds an input of this command", "give another output folder"), 2, tau_copy()),
    _store_case("other settings", ("other settings", "n_mels 128 → 64", "use a new --out folder"), None,
                ("--out", "{c}/store", "--set", "n_mels=64")),
    _store_case("manifest JSON array", ("manifest.json: damaged", "list", "delete the store folder"),
                lambda s: (s / "manifest.json").write_text("[1, 2]")),
    _store_case("manifest not JSON", ("manifest.json: damaged", "delete the store folder"), lambda s: (s / "manifest.json").write_text("{oops")),
    _store_case("manifest binary", ("manifest.json: damaged", "delete the store folder"),
                lambda s: (s / "manifest.json").write_bytes(b"\xff\xfe\x00")),
    _store_case("manifest shape text", ("shape 'big' is not 3 positive whole numbers", "delete the store folder"),
                edit_json("manifest.json", lambda m: m.update(shape="big"))),
    _store_case("manifest shape zero", ("shape [1, 0, 44] is not 3 positive", "delete the store folder"),
                edit_json("manifest.json", lambda m: m.update(shape=[1, 0, 44]))),
    _store_case("manifest settings list", ("settings or settings_digest missing", "delete the store folder"),
                edit_json("manifest.json", lambda m: m.update(settings=[]))),
    _store_case("manifest unknown setting", ("settings", "'bogus'", "delete the store folder"),
                edit_json("manifest.json", lambda m: m["settings"].update(bogus=1))),
    _store_case("manifest format 7", ("store format 7", "delete the store folder"), edit_json("manifest.json", lambda m: m.update(format=7))),
    _store_case("manifest dataset list", ("dataset is not an object", "delete the store folder"),
                edit_json("manifest.json", lambda m: m.update(dataset=[]))),
    _store_case("rows.tsv line without tabs", ("rows.tsv:2", "damaged line", "run `asckit features` again"),
                lambda s: (s / "rows.tsv").write_text("row\tkey\tkind\tsource\tparams\nxyz\n")),
    _store_case("rows.tsv row not a number", ("rows.tsv:2", "damaged line", "run `asckit features` again"),
                lambda s: (s / "rows.tsv").write_text("row\tkey\tkind\tsource\tparams\nx\ta\toriginal\ta\t{}\n")),
    _store_case("rows.tsv missing", ("rows.tsv: missing", "run `asckit features` again"), lambda s: (s / "rows.tsv").unlink()),
    _store_case("rows.tsv binary", ("not UTF-8", "extract again"), lambda s: (s / "rows.tsv").write_bytes(b"\xff\xfe\x00\n")),
]


@pytest.mark.parametrize("case", DATA_CHECK, ids=lambda c: c.id)
def test_data_check_reports_the_problem(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)


@pytest.mark.parametrize("case", FEATURES, ids=lambda c: c.id)
def test_features_refuses_bad_input(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)


# --------------------------------------------------------------------------- repair of damaged stores
def _rows_of(path: Path) -> dict[str, np.ndarray]:
    store = FeatureStore.open(path)
    keys = store.keys()
    return dict(zip(keys, store.get(keys)))


def _cut(store: Path) -> None:
    data = store / "data.f16"
    data.write_bytes(data.read_bytes()[: len(data.read_bytes()) // 2 + 100])


def _delete_data(store: Path) -> None:
    (store / "data.f16").unlink()


def _cut_index_line(store: Path) -> None:
    rows = store / "rows.tsv"
    rows.write_text(rows.read_text()[:-5])


@pytest.mark.parametrize("damage", [_cut, _delete_data, _cut_index_line], ids=["cut data.f16", "deleted data.f16", "cut rows.tsv"])
def test_a_damaged_store_is_refused_by_readers_and_repaired_by_features(damage, tmp_path: Path, shared, capsys) -> None:
    store = tmp_path / "store"
    import shutil

    shutil.copytree(shared["store"], store)
    damage(store)
    if damage is not _cut_index_line:  # a cut last index line is an interrupted append, not damage
        capsys.readouterr()
        code = main(["predict-split", str(shared["run"]), "--split", "evaluate", "--store", str(store),
                     "--root", str(shared["root"]), "--out", str(tmp_path / "p.tsv"), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and "the store is damaged" in err and "asckit features" in err and "Traceback" not in err
        assert not (tmp_path / "p.tsv").exists()
    assert main(["features", str(shared["root"]), "--out", str(store), "--quiet", "--workers", "1"]) == 0
    repaired, intact = _rows_of(store), _rows_of(shared["store"])
    assert sorted(repaired) == sorted(intact)
    for key, row in intact.items():
        np.testing.assert_array_equal(repaired[key], row)
    assert json.loads((store / "manifest.json").read_text()) == json.loads((shared["store"] / "manifest.json").read_text())


def test_a_failed_first_extraction_does_not_block_the_corrected_rerun(tmp_path: Path, shared) -> None:
    """Every clip unreadable with the wrong --clip-seconds... then the right settings are taken."""
    store = tmp_path / "store"
    root = tmp_path / "tau"
    import shutil

    shutil.copytree(shared["root"], root)
    for wav_path in (root / "audio").glob("*.wav"):
        wav_path.write_text("broken")
    assert main(["features", str(root), "--out", str(store), "--quiet", "--workers", "1", "--set", "n_mels=64",
                 "--clip-seconds", "1"]) == 1  # ran, found 8 problems
    shutil.rmtree(root)
    shutil.copytree(shared["root"], root)
    assert main(["features", str(root), "--out", str(store), "--quiet", "--workers", "1"]) == 0
    assert FeatureStore.open(store).settings == FeatureStore.open(shared["store"]).settings
    assert len(FeatureStore.open(store)) == 8


def test_a_nan_row_never_enters_a_store(tmp_path: Path, shared) -> None:
    from asckit.core.errors import AsckitError

    store = FeatureStore.create(tmp_path / "s", FeatureStore.open(shared["store"]).settings, 44)
    rows = np.zeros((2, 1, 128, 44), dtype=np.float16)
    rows[1, 0, 3, 4] = np.nan
    with pytest.raises(AsckitError, match="NaN or infinite.*b"):
        store.append(["a", "b"], rows)
    assert len(store) == 0 and (tmp_path / "s" / "data.f16").stat().st_size == 0


# --------------------------------------------------------------------------- data synth, data download
SYNTH = ["data", "synth", "--preset", "tiny", "--quiet"]

DATA_SYNTH = [
    Case("data synth root is a file", [*SYNTH, "{c}/f.txt"], ("is a file", "choose a folder name for the synthetic dataset"), 2,
         write("f.txt", "mine")),
    Case("data synth root under a file", [*SYNTH, "{c}/f.txt/tiny"], ("is a file, not a folder", "give the synthetic dataset a path inside"), 2,
         write("f.txt", "mine")),
    Case("data synth root holds other files", [*SYNTH, "{c}/mine"], ("not empty and not an asckit synthetic dataset", "choose a new or empty"),
         2, write("mine/notes.txt", "mine")),
    Case("data synth preset bogus", ["data", "synth", "{c}/s", "--preset", "huge"], ("--preset", "invalid choice", "choose from 'tiny'"), 2),
    Case("data synth clip-seconds 0", ["data", "synth", "{c}/s", "--clip-seconds", "0"], ("--clip-seconds", "must be above 0"), 2),
    Case("data synth seed -1", ["data", "synth", "{c}/s", "--seed", "-1"], ("--seed", "is too small; use 0 or more"), 2),
]

FAKE = "fake-dev"


def _zip(members: dict[str, str]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _zenodo(serve):
    """An ``around``: a loopback Zenodo (conftest.FakeZenodo) holding dataset ``fake-dev`` (a doc and a
    meta archive) as ``serve`` changes its archives (name → bytes), and `data download` pointed at it."""

    @contextlib.contextmanager
    def around(c: Path, w: dict):
        import hashlib

        from asckit.data import download as dl

        base = "TAU-fake-dev"
        archives = {f"{base}.doc.zip": _zip({f"{base}/README.md": "# readme\n"}),
                    f"{base}.meta.zip": _zip({f"{base}/meta.csv": "filename\tscene_label\n"})}
        source = dl.DatasetSource(FAKE, 1, base, tuple(dl.Archive(n, len(d), hashlib.md5(d).hexdigest()) for n, d in archives.items()))
        server = FakeZenodo()
        server.serve(source, serve(archives))
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(dl, "MANIFEST", {**dl.MANIFEST, FAKE: source})
                patch.setattr(dl, "ZENODO_URL_TEMPLATES", (server.template(),))
                yield None
        finally:
            server.close()

    return around


def _damaged(archives: dict[str, bytes]) -> dict[str, bytes]:
    return {n: bytes(len(d)) if n.endswith(".meta.zip") else d for n, d in archives.items()}  # right size, wrong bytes


def _meta_not_kept(c: Path, w: dict) -> None:
    """The failed meta archive is neither kept nor unpacked (the verified doc archive may be: a rerun resumes)."""
    assert [p.name for p in (c / "d").rglob("*") if "meta" in p.name] == [], "the failed archive was kept or unpacked"


DOWNLOAD = ["data", "download", FAKE, "--meta-only", "--quiet", "--root"]

DATA_DOWNLOAD = [
    Case("data download damaged archive", [*DOWNLOAD, "{c}/d"], ("md5 mismatch for TAU-fake-dev.meta.zip", "rerun"), 2,
         around=_zenodo(_damaged), may_write=("d",), extra=_meta_not_kept),
    Case("data download archive missing on the server", [*DOWNLOAD, "{c}/d"],
         ("could not download TAU-fake-dev.meta.zip", "404", "check the connection"), 2,
         around=_zenodo(lambda a: {n: d for n, d in a.items() if not n.endswith(".meta.zip")}), may_write=("d",),
         extra=_meta_not_kept),
    Case("data download root is a file", [*DOWNLOAD, "{c}/f.txt"], ("f.txt", "choose another --root"), 2, write("f.txt", "mine"),
         around=_zenodo(lambda a: a)),
    Case("data download dataset bogus", ["data", "download", "tau2021", "--root", "{c}/d"],
         ("argument dataset: invalid choice", "choose from 'tau2020-mobile-dev'"), 2),
    Case("data download rirs with meta-only", ["data", "download", "rirs", "--root", "{c}/d", "--meta-only"],
         ("are for the TAU datasets", "`rirs` takes --set and --root"), 2),
    Case("data download set for a TAU dataset", ["data", "download", "tau2020-mobile-dev", "--root", "{c}/d", "--set", "mardy"],
         ("--set is for `asckit data download rirs`",), 2),
    Case("data download rirs root is a file", ["data", "download", "rirs", "--root", "{c}/f.txt", "--quiet"],
         ("f.txt: is a file, not a folder", "choose another --root"), 2, write("f.txt", "mine")),
]


@pytest.mark.parametrize("case", [c.param() for c in [*DATA_SYNTH, *DATA_DOWNLOAD]])
def test_data_synth_and_download_refuse_bad_input(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)
