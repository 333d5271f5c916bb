"""Tests for asckit.data.download against a loopback HTTP server serving small fake archives.

Nothing here touches the internet: the manifest and the URL templates are injected so that every
request goes to a stdlib ``http.server`` on 127.0.0.1, which honours Range requests (or can be told
to ignore them, or to drop the connection halfway) and records what it was asked for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import socket
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, FakeZenodo, shared_reference

from asckit.core.errors import AsckitError
from asckit.data import download as dl
from asckit.data.download import Archive, DatasetSource, download

BASE = "TAU-urban-acoustic-scenes-2020-mobile-development"
RECORD = 3819968
KEY = "fake-dev"


# --------------------------------------------------------------------------------------------
# Loopback server



@pytest.fixture
def server():
    srv = FakeZenodo()
    yield srv
    srv.close()


# --------------------------------------------------------------------------------------------
# Fake archives


def zip_bytes(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def archive_of(name: str, data: bytes) -> Archive:
    return Archive(name, len(data), hashlib.md5(data).hexdigest())


def make_source(contents: dict[str, bytes], expected: dict[str, int] | None = None) -> DatasetSource:
    """A manifest entry whose sizes and md5s are those of ``contents`` (name -> archive bytes)."""
    return DatasetSource(
        key=KEY,
        record=RECORD,
        base_name=BASE,
        archives=tuple(archive_of(name, data) for name, data in contents.items()),
        expected=expected or {},
    )


def simple_contents() -> dict[str, bytes]:
    """doc, meta and two audio archives that each extract into ``<BASE>/`` (not a valid dataset)."""
    return {
        f"{BASE}.doc.zip": zip_bytes({f"{BASE}/README.md": "# readme\n"}),
        f"{BASE}.meta.zip": zip_bytes({f"{BASE}/meta.csv": "filename\tscene_label\n"}),
        f"{BASE}.audio.1.zip": zip_bytes({f"{BASE}/audio/x-1.wav": b"\x01" * 5000}),
        f"{BASE}.audio.2.zip": zip_bytes({f"{BASE}/audio/x-2.wav": bytes(range(256)) * 40}),
    }


def run(server: FakeZenodo, source: DatasetSource, root: Path, **kwargs) -> Path:
    kwargs.setdefault("base_urls", [server.template()])
    kwargs.setdefault("progress", False)
    kwargs.setdefault("check", False)
    return download(KEY, root, manifest={KEY: source}, **kwargs)


# --------------------------------------------------------------------------------------------
# The manifest


def test_manifest_holds_every_archive_of_the_five_records():
    assert dl.downloadable_datasets() == [
        "tau2020-mobile-dev",
        "tau2020-mobile-eval",
        "tau2020-3class-dev",
        "tau2020-3class-eval",
        "tau2022-mobile-dev",
    ]
    # (record, number of audio parts, total bytes) from reference/dataset.md §1.1-1.2 and
    # reference/dcase2025/README.md §1 (TAU22).
    want = {
        "tau2020-mobile-dev": (3819968, 16, 27_364_817_167),
        "tau2020-mobile-eval": (3685828, 8, 13_139_235_954),
        "tau2020-3class-dev": (3670185, 21, 35_543_717_092),
        "tau2020-3class-eval": (3685835, 13, 20_856_686_257),
        "tau2022-mobile-dev": (6337421, 16, 27_503_592_469),
    }
    for key, (record, n_audio, total) in want.items():
        source = dl.MANIFEST[key]
        assert source.key == key and source.record == record
        names = [a.name for a in source.archives]
        base = source.base_name
        assert names == [f"{base}.doc.zip", f"{base}.meta.zip"] + [
            f"{base}.audio.{i}.zip" for i in range(1, n_audio + 1)
        ]
        assert sum(a.size for a in source.archives) == total
        assert all(re.fullmatch(r"[0-9a-f]{32}", a.md5) for a in source.archives)
        assert [a.name for a in source.select(meta_only=True)] == names[:2]
    # Spot-check rows that other code depends on (the meta archives of both dev sets).
    assert dl.MANIFEST["tau2020-mobile-dev"].archives[1] == Archive(
        f"{dl.MANIFEST['tau2020-mobile-dev'].base_name}.meta.zip", 214159, "6eae9db553ce48e4ea246e34e50a3cf5"
    )
    assert dl.MANIFEST["tau2020-3class-dev"].archives[1].md5 == "68de6dc1a81f8ef9c3a7851acda67786"
    assert dl.MANIFEST["tau2020-mobile-dev"].expected == {"fold1_train": 13965, "fold1_evaluate": 2970}
    assert dl.MANIFEST["tau2020-3class-dev"].expected == {"fold1_train": 9185, "fold1_evaluate": 4185}
    tau22 = dl.MANIFEST["tau2022-mobile-dev"]
    assert tau22.base_name == "TAU-urban-acoustic-scenes-2022-mobile-development"
    assert tau22.expected == {"fold1_train": 139_620, "fold1_evaluate": 29_680} and tau22.meta_rows == 230_350
    assert tau22.archives[1] == Archive(f"{tau22.base_name}.meta.zip", 1_538_781, "419b6ff6570f1030730352dc80cd8d15")
    assert all(s.meta_rows is None for k, s in dl.MANIFEST.items() if k != "tau2022-mobile-dev")


def test_tau22_manifest_is_the_reference_table():
    """Every row of the archive table of reference/dcase2025/README.md §1, name by name."""
    readme = shared_reference("dcase2025") / "README.md"
    if not readme.is_file():
        pytest.skip(f"{readme} not found (shared data beside the repository; set ASCKIT_SHARED)")
    rows = re.findall(r"^\| ((?:doc|meta|audio\.\d+)\.zip) \| ([\d,]+) \| ([0-9a-f]{32}) \|$", readme.read_text(), re.MULTILINE)
    source = dl.MANIFEST["tau2022-mobile-dev"]
    assert [(a.name, a.size, a.md5) for a in source.archives] == [
        (f"{source.base_name}.{part}", int(size.replace(",", "")), md5) for part, size, md5 in rows
    ]


def test_default_urls_are_zenodo_record_then_records():
    archive = dl.MANIFEST["tau2020-mobile-dev"].archives[0]
    urls = [t.format(record=3819968, name=archive.name) for t in dl.ZENODO_URL_TEMPLATES]
    assert urls == [
        f"https://zenodo.org/record/3819968/files/{archive.name}?download=1",
        f"https://zenodo.org/records/3819968/files/{archive.name}?download=1",
    ]


def test_unknown_dataset_key_is_a_user_error(tmp_path):
    with pytest.raises(AsckitError, match="unknown dataset 'tau2019'.*tau2020-mobile-dev"):
        download("tau2019", tmp_path, progress=False, check=False)


# --------------------------------------------------------------------------------------------
# The happy path, rerun and skip


def test_download_verifies_unpacks_and_cleans_up(server, tmp_path):
    contents = simple_contents()
    source = make_source(contents)
    server.serve(source, contents)

    dataset_dir = run(server, source, tmp_path)

    assert dataset_dir == tmp_path / BASE
    assert (dataset_dir / "README.md").read_text() == "# readme\n"
    assert (dataset_dir / "audio" / "x-1.wav").read_bytes() == b"\x01" * 5000
    assert (dataset_dir / "audio" / "x-2.wav").read_bytes() == bytes(range(256)) * 40
    # Archives are deleted after unpacking by default, and no .part is left behind.
    assert list((tmp_path / "archives").iterdir()) == []
    assert server.fetched() == list(contents)


def test_rerun_fetches_nothing_once_unpacked(server, tmp_path):
    contents = simple_contents()
    source = make_source(contents)
    server.serve(source, contents)
    run(server, source, tmp_path)
    server.requests.clear()
    (tmp_path / BASE / "README.md").write_text("edited by the user\n")

    run(server, source, tmp_path)

    assert server.requests == []
    # Unpacking is not redone either: the user's edit survives.
    assert (tmp_path / BASE / "README.md").read_text() == "edited by the user\n"


def test_complete_archive_on_disk_is_not_downloaded_again(server, tmp_path):
    contents = simple_contents()
    source = make_source(contents)
    server.serve(source, contents)
    audio1 = f"{BASE}.audio.1.zip"
    (tmp_path / "archives").mkdir()
    (tmp_path / "archives" / audio1).write_bytes(contents[audio1])  # e.g. a manual download

    run(server, source, tmp_path, keep_archives=True)

    assert audio1 not in server.fetched()
    assert (tmp_path / BASE / "audio" / "x-1.wav").exists()
    # keep_archives leaves every verified zip in place.
    assert sorted(p.name for p in (tmp_path / "archives").iterdir()) == sorted(contents)


def test_corrupt_archive_already_on_disk_is_replaced(server, tmp_path):
    contents = simple_contents()
    source = make_source(contents)
    server.serve(source, contents)
    audio1 = f"{BASE}.audio.1.zip"
    (tmp_path / "archives").mkdir()
    (tmp_path / "archives" / audio1).write_bytes(contents[audio1][:100])  # a truncated copy

    run(server, source, tmp_path)

    assert audio1 in server.fetched()
    assert (tmp_path / BASE / "audio" / "x-1.wav").read_bytes() == b"\x01" * 5000


def test_meta_only_fetches_doc_and_meta_only(server, tmp_path):
    contents = simple_contents()
    source = make_source(contents)
    server.serve(source, contents)

    dataset_dir = run(server, source, tmp_path, meta_only=True)

    assert server.fetched() == [f"{BASE}.doc.zip", f"{BASE}.meta.zip"]
    assert (dataset_dir / "meta.csv").exists() and not (dataset_dir / "audio").exists()
    # A later full download adds the audio without fetching doc and meta again.
    server.requests.clear()
    run(server, source, tmp_path)
    assert server.fetched() == [f"{BASE}.audio.1.zip", f"{BASE}.audio.2.zip"]


# --------------------------------------------------------------------------------------------
# Bad archives: deleted and named, never unpacked


def test_md5_mismatch_deletes_the_archive_and_names_it(server, tmp_path):
    contents = simple_contents()
    source = make_source(contents)
    bad = f"{BASE}.audio.1.zip"
    served = dict(contents)
    served[bad] = contents[bad][:-1] + bytes([contents[bad][-1] ^ 0xFF])  # same size, one byte off
    server.serve(source, served)

    with pytest.raises(AsckitError) as info:
        run(server, source, tmp_path)

    message = str(info.value)
    assert "md5 mismatch" in message and bad in message and source.archives[2].md5 in message
    assert "deleted" in message and "rerun" in message
    assert "\n" not in message
    assert not (tmp_path / "archives" / bad).exists()
    assert not (tmp_path / "archives" / f"{bad}.part").exists()
    assert not (tmp_path / BASE / "audio" / "x-1.wav").exists()


def test_size_mismatch_deletes_the_archive_and_names_it(server, tmp_path):
    contents = simple_contents()
    source = make_source(contents)
    bad = f"{BASE}.audio.2.zip"
    served = dict(contents)
    served[bad] = contents[bad] + b"trailing garbage"
    server.serve(source, served)

    with pytest.raises(AsckitError, match=rf"size mismatch for {re.escape(bad)} \(expected {len(contents[bad])} bytes"):
        run(server, source, tmp_path)

    assert not (tmp_path / "archives" / bad).exists()
    assert not (tmp_path / "archives" / f"{bad}.part").exists()
    assert not (tmp_path / BASE / "audio" / "x-2.wav").exists()
    # The archives before it were fine and stay unpacked.
    assert (tmp_path / BASE / "audio" / "x-1.wav").exists()


def test_zip_member_escaping_the_root_is_rejected_and_nothing_unpacked(server, tmp_path):
    root = tmp_path / "root"
    name = f"{BASE}.audio.1.zip"
    contents = {name: zip_bytes({f"{BASE}/audio/ok.wav": b"fine", f"{BASE}/../../evil.txt": b"pwned"})}
    source = make_source(contents)
    server.serve(source, contents)

    with pytest.raises(AsckitError, match=rf"unsafe path '{re.escape(BASE)}/\.\./\.\./evil.txt' in .*{re.escape(name)}"):
        run(server, source, root)

    assert not (tmp_path / "evil.txt").exists()
    assert not (root / BASE / "audio" / "ok.wav").exists()  # checked before anything is written


def test_symlinked_audio_folder_is_written_through(server, tmp_path):
    contents = simple_contents()
    source = make_source(contents)
    server.serve(source, contents)
    big_disk = tmp_path / "big_disk"
    big_disk.mkdir()
    (tmp_path / "root" / BASE).mkdir(parents=True)
    (tmp_path / "root" / BASE / "audio").symlink_to(big_disk)

    run(server, source, tmp_path / "root")

    assert (big_disk / "x-1.wav").exists() and (big_disk / "x-2.wav").exists()


def test_archive_that_is_not_a_zip_is_deleted_and_named(server, tmp_path):
    name = f"{BASE}.doc.zip"
    contents = {name: b"<html>this is an error page, not a zip</html>"}
    source = make_source(contents)  # md5 matches, so only the unpack step can catch it
    server.serve(source, contents)

    with pytest.raises(AsckitError, match=rf"{re.escape(name)} is not a readable zip archive.*deleted"):
        run(server, source, tmp_path)

    assert not (tmp_path / "archives" / name).exists()
    assert not (tmp_path / BASE / dl.MARKER_DIRNAME / f"{name}.done").exists()


@pytest.mark.parametrize("member", ["/abs/evil.txt", "C:/evil.txt", "..\\evil.txt"])
def test_absolute_drive_and_backslash_paths_are_rejected(tmp_path, member):
    with pytest.raises(AsckitError, match="unsafe path"):
        dl._safe_target(tmp_path.resolve(), member, tmp_path / "x.zip")


# --------------------------------------------------------------------------------------------
# Resume and network failures


def serve_one_archive(server):
    """The server holding only the audio.2 archive of ``simple_contents``: its name, contents and source."""
    name = f"{BASE}.audio.2.zip"
    contents = {name: simple_contents()[name]}
    source = make_source(contents)
    server.serve(source, contents)
    return name, contents, source


def test_partial_part_is_resumed_with_a_range_request(server, tmp_path):
    name, contents, source = serve_one_archive(server)
    half = len(contents[name]) // 2
    (tmp_path / "archives").mkdir()
    (tmp_path / "archives" / f"{name}.part").write_bytes(contents[name][:half])

    run(server, source, tmp_path, progress=True)  # also exercises the progress bars

    assert server.requests == [(f"/record/{RECORD}/files/{name}", f"bytes={half}-")]
    assert (tmp_path / BASE / "audio" / "x-2.wav").read_bytes() == bytes(range(256)) * 40


def test_resume_restarts_when_the_server_ignores_range(server, tmp_path):
    name, contents, source = serve_one_archive(server)
    server.honour_range = False
    (tmp_path / "archives").mkdir()
    # Garbage in the .part: appending the full response to it would fail the md5.
    (tmp_path / "archives" / f"{name}.part").write_bytes(b"\xff" * 300)

    run(server, source, tmp_path)

    assert (tmp_path / BASE / "audio" / "x-2.wav").read_bytes() == bytes(range(256)) * 40


def test_interrupted_download_keeps_part_and_next_run_resumes(server, tmp_path):
    name, contents, source = serve_one_archive(server)
    path = f"/record/{RECORD}/files/{name}"
    cut = len(contents[name]) // 2
    server.cut_after[path] = cut

    with pytest.raises(AsckitError, match=rf"could not download {re.escape(name)} .*{cut} of .*rerun to resume"):
        run(server, source, tmp_path)
    assert (tmp_path / "archives" / f"{name}.part").stat().st_size == cut

    run(server, source, tmp_path)

    assert server.requests[-1] == (path, f"bytes={cut}-")
    assert (tmp_path / BASE / "audio" / "x-2.wav").read_bytes() == bytes(range(256)) * 40


def fetch_digests(server: FakeZenodo, part: Path, data: bytes, size: int | None):
    """``fetch_url`` of ``data`` (served at /f) with md5 and git blob SHA-1 digests."""
    server.files["/f"] = data
    digests = {"md5": lambda _size: hashlib.md5(), "git": dl.git_blob_hasher}
    return dl.fetch_url(f"http://127.0.0.1:{server.port}/f", part, "f", size, progress=False, digests=digests)


def expected_digests(data: bytes) -> dict[str, str]:
    return {"md5": hashlib.md5(data).hexdigest(), "git": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}


@pytest.mark.parametrize("size_known", [True, False], ids=["size-known", "size-announced"])
def test_every_digest_is_computed_in_one_pass_over_the_bytes(server, tmp_path, monkeypatch, size_known):
    """Fresh: the bytes are hashed as they arrive, never read back; resumed: the partial file is read once."""
    data = bytes(range(256)) * 50
    reads = []
    real_hash_into = dl._hash_into
    monkeypatch.setattr(dl, "_hash_into", lambda hasher, path, *a: reads.append(path.read_bytes()) or real_hash_into(hasher, path, *a))
    part = tmp_path / "f.part"
    fetched = fetch_digests(server, part, data, len(data) if size_known else None)
    assert (fetched.size, fetched.digests, reads) == (len(data), expected_digests(data), [])
    part.write_bytes(data[:1000])
    fetched = fetch_digests(server, part, data, len(data) if size_known else None)
    assert (fetched.size, fetched.digests, reads) == (len(data), expected_digests(data), [data[:1000]])
    assert part.read_bytes() == data and server.requests[-1] == ("/f", "bytes=1000-")


def test_digests_without_any_known_size_are_taken_from_the_finished_file(server, tmp_path):
    data = b"\x05" * 3000
    server.send_length = False
    fetched = fetch_digests(server, tmp_path / "f.part", data, None)
    assert (fetched.size, fetched.digests) == (len(data), expected_digests(data))


def test_a_rejected_range_deletes_the_partial_file_and_starts_over_once(server, tmp_path):
    """A finished .part of unknown size (the run stopped before renaming): the server answers 416 to its range."""
    data = b"\x09" * 2000
    part = tmp_path / "f.part"
    part.write_bytes(data)
    fetched = fetch_digests(server, part, data, None)
    assert server.requests == [("/f", "bytes=2000-"), ("/f", None)]
    assert (fetched.size, fetched.digests) == (len(data), expected_digests(data)) and part.read_bytes() == data


def test_falls_back_to_the_records_url_form(server, tmp_path):
    contents = simple_contents()
    source = make_source(contents)
    server.serve(source, contents, form="records")  # the old /record/ form answers 404

    run(server, source, tmp_path, base_urls=[server.template("record"), server.template("records")])

    assert (tmp_path / BASE / "audio" / "x-2.wav").exists()


def test_404_on_every_url_names_the_archive_urls_and_manual_route(server, tmp_path):
    contents = simple_contents()
    source = make_source(contents)  # nothing served

    with pytest.raises(AsckitError) as info:
        run(server, source, tmp_path, base_urls=[server.template("record"), server.template("records")])

    message = str(info.value)
    doc = f"{BASE}.doc.zip"
    assert f"could not download {doc}" in message
    assert f"/record/{RECORD}/files/{doc}?download=1: HTTP 404" in message
    assert f"/records/{RECORD}/files/{doc}?download=1: HTTP 404" in message
    assert str(tmp_path / "archives") in message


def test_connection_refused_is_a_user_error_naming_the_url(tmp_path):
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    contents = simple_contents()
    source = make_source(contents)
    url = f"http://127.0.0.1:{port}/record/{{record}}/files/{{name}}"

    with pytest.raises(AsckitError, match=rf"could not download {re.escape(BASE)}\.doc\.zip \(http://127\.0\.0\.1:{port}/.*refused.*rerun"):
        download(KEY, tmp_path, manifest={KEY: source}, base_urls=[url], progress=False, check=False)


# --------------------------------------------------------------------------------------------
# Post-check on a tiny but valid TAU layout


def tau_contents() -> dict[str, bytes]:
    """doc, meta and two audio archives forming a tiny valid 1a-style dataset."""
    sf = pytest.importorskip("soundfile")
    np = pytest.importorskip("numpy")
    train = ["audio/airport-lisbon-1000-40000-a.wav", "audio/airport-lisbon-1000-40000-b.wav",
             "audio/bus-lyon-1001-40001-a.wav"]
    test = ["audio/park-vienna-1002-40002-a.wav", "audio/park-vienna-1002-40002-s4.wav"]

    def scene(f):
        return Path(f).name.split("-")[0]

    def wav(seed):
        buf = io.BytesIO()
        rng = np.random.default_rng(seed)
        sf.write(buf, 0.1 * rng.standard_normal(4410), 44100, subtype="PCM_24", format="WAV")
        return buf.getvalue()

    def csv(rows):
        return "".join("\t".join(row) + "\n" for row in rows)

    meta = csv([("filename", "scene_label", "identifier", "source_label")]
               + [(f, scene(f), "-".join(Path(f).stem.split("-")[1:-2]), Path(f).stem.split("-")[-1])
                  for f in train + test])
    setup = f"{BASE}/evaluation_setup"
    files = train + test
    return {
        f"{BASE}.doc.zip": zip_bytes({f"{BASE}/README.md": "tiny\n"}),
        f"{BASE}.meta.zip": zip_bytes({
            f"{BASE}/meta.csv": meta,
            f"{setup}/fold1_train.csv": csv([("filename", "scene_label")] + [(f, scene(f)) for f in train]),
            f"{setup}/fold1_evaluate.csv": csv([("filename", "scene_label")] + [(f, scene(f)) for f in test]),
            f"{setup}/fold1_test.csv": csv([("filename",)] + [(f,) for f in test]),
        }),
        f"{BASE}.audio.1.zip": zip_bytes({f"{BASE}/{f}": wav(i) for i, f in enumerate(files[:3])}),
        f"{BASE}.audio.2.zip": zip_bytes({f"{BASE}/{f}": wav(i + 3) for i, f in enumerate(files[3:])}),
    }


@pytest.fixture
def tau_module():
    return pytest.importorskip("asckit.data.tau")


def test_post_check_passes_on_a_valid_tau_layout(server, tmp_path, tau_module):
    contents = tau_contents()
    source = make_source(contents, expected={"fold1_train": 3, "fold1_evaluate": 2})
    server.serve(source, contents)

    dataset_dir = run(server, source, tmp_path, check=True)

    assert tau_module.check_dataset(dataset_dir).ok


def test_post_check_meta_only_does_not_require_audio(server, tmp_path, tau_module):
    contents = tau_contents()
    source = make_source(contents, expected={"fold1_train": 3, "fold1_evaluate": 2})
    server.serve(source, contents)

    run(server, source, tmp_path, meta_only=True, check=True)

    assert not (tmp_path / BASE / "audio").exists()


def test_post_check_reports_a_missing_audio_file(server, tmp_path, tau_module, capsys):
    contents = tau_contents()
    del contents[f"{BASE}.audio.2.zip"]  # the evaluate split's files never arrive
    source = make_source(contents)
    server.serve(source, contents)

    with pytest.raises(AsckitError, match=r"was downloaded but has \d+ problem\(s\), first: .*park-vienna") as info:
        run(server, source, tmp_path, check=True)

    assert "\n" not in str(info.value)
    assert "park-vienna-1002-40002" in capsys.readouterr().err  # the full list goes to stderr


def test_post_check_reports_a_wrong_meta_row_count(server, tmp_path, tau_module):
    contents = tau_contents()
    source = dataclasses.replace(make_source(contents, expected={"fold1_train": 3, "fold1_evaluate": 2}), meta_rows=230_350)
    server.serve(source, contents)

    with pytest.raises(AsckitError, match=r"meta\.csv has 5 rows, expected 230350"):
        run(server, source, tmp_path, meta_only=True, check=True)


def test_post_check_reports_wrong_split_row_counts(server, tmp_path, tau_module):
    contents = tau_contents()
    source = make_source(contents, expected={"fold1_train": 13965, "fold1_evaluate": 2})
    server.serve(source, contents)

    with pytest.raises(AsckitError, match=r"fold1_train\.csv has 3 rows, expected 13965"):
        run(server, source, tmp_path, check=True)


# --------------------------------------------------------------------------------------------
# Through the command line


def test_cli_download_succeeds_and_reports_a_bad_archive_in_one_line(server, tmp_path, tau_module, monkeypatch, capsys):
    from asckit import cli

    contents = tau_contents()
    source = make_source(contents, expected={"fold1_train": 3, "fold1_evaluate": 2})
    server.serve(source, contents)
    monkeypatch.setattr(dl, "MANIFEST", {KEY: source})
    monkeypatch.setattr(dl, "ZENODO_URL_TEMPLATES", (server.template(),))

    assert cli.main(["data", "download", KEY, "--root", str(tmp_path / "ok"), "--quiet"]) == 0
    assert str(tmp_path / "ok" / BASE) in capsys.readouterr().out

    bad = f"{BASE}.meta.zip"
    server.files[f"/record/{RECORD}/files/{bad}"] = bytes(len(contents[bad]))  # right size, wrong bytes
    assert cli.main(["data", "download", KEY, "--root", str(tmp_path / "bad"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"asckit: error: md5 mismatch for {bad}") and err.count("\n") == 1


# --------------------------------------------------------------------------------------------
# The reference's RIR files (git blob SHA-1 verified)

from asckit.data.download import GitFile, download_rirs, rir_files, rir_manifest  # noqa: E402


def shared_rirs() -> Path | None:
    """reference/rirs of the shared data (conftest.shared_reference), or None where it is absent."""
    folder = shared_reference("rirs")
    return folder if (folder / "manifest.tsv").is_file() else None


def git_file(name: str, data: bytes) -> GitFile:
    return GitFile(name, len(data), hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest())


def serve_rirs(server: FakeZenodo, contents: dict[str, bytes]) -> str:
    for name, data in contents.items():
        server.files[f"/reverb_drc/{name}"] = data
    return f"http://127.0.0.1:{server.port}/reverb_drc/{{name}}"


def test_git_blob_sha1_is_what_git_hash_object_prints(tmp_path):
    # `printf 'hello\n' | git hash-object --stdin`
    assert git_file("x", b"hello\n").git_blob_sha1 == "ce013625030ba8dba906f756967f9e9ca394464a"
    path = tmp_path / "f"
    path.write_bytes(b"hello\n")
    assert dl.git_blob_sha1(path) == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_rir_manifest_lists_the_three_folders_and_the_reference_lists():
    manifest = rir_manifest()
    assert len(manifest) == 130
    assert [f.name for f in rir_files("mardy", manifest)][:2] == ["MARDY/ir_1_C_1.wav", "MARDY/ir_2_C_1.wav"]
    assert len(rir_files("mardy", manifest)) == 9
    assert len(rir_files("2003", manifest)) == 11  # 12 entries, ch04 listed twice, downloaded once
    assert len(rir_files("reverb", manifest)) == 24
    assert all(f.name.endswith(".wav") for s in ("mardy", "2003", "reverb") for f in rir_files(s, manifest))
    with pytest.raises(AsckitError, match="unknown RIR set"):
        rir_files("bogus", manifest)


def test_packaged_manifest_is_the_reference_one():
    folder = shared_rirs()
    if folder is None:
        pytest.skip("../shared/reference/rirs not found beside the repository")
    packaged = (REPO / "src" / "asckit" / "data" / "rirs_manifest.tsv").read_text()
    assert packaged == (folder / "manifest.tsv").read_text()


def test_rirs_download_verifies_by_git_blob_sha1_and_resumes(server, tmp_path):
    contents = {"MARDY/ir_1_C_1.wav": b"\x01\x02" * 3000, "TrainRIR/RIR_x.wav": bytes(range(256)) * 20}
    manifest = {name: git_file(name, data) for name, data in contents.items()}
    template = serve_rirs(server, contents)
    # an interrupted earlier run left half of one file
    (tmp_path / "MARDY").mkdir()
    (tmp_path / "MARDY" / "ir_1_C_1.wav.part").write_bytes(contents["MARDY/ir_1_C_1.wav"][:1000])
    download_rirs(tmp_path, "all", manifest=manifest, base_urls=[template], progress=False)
    for name, data in contents.items():
        assert (tmp_path / name).read_bytes() == data
    assert ("/reverb_drc/MARDY/ir_1_C_1.wav", "bytes=1000-") in server.requests
    server.requests.clear()
    download_rirs(tmp_path, "all", manifest=manifest, base_urls=[template], progress=False)
    assert server.requests == []  # verified files are not fetched again


def test_rirs_download_deletes_a_file_whose_sha1_differs(server, tmp_path):
    data = b"\x07" * 4096
    manifest = {"MARDY/ir_1_C_1.wav": git_file("MARDY/ir_1_C_1.wav", b"\x08" * 4096)}  # same size, other bytes
    template = serve_rirs(server, {"MARDY/ir_1_C_1.wav": data})
    with pytest.raises(AsckitError, match="git blob SHA-1 mismatch for MARDY/ir_1_C_1.wav"):
        download_rirs(tmp_path, "all", manifest=manifest, base_urls=[template], progress=False)
    assert not list(tmp_path.rglob("*.wav*"))


def test_rirs_download_of_the_real_sample_files(server, tmp_path):
    folder = shared_rirs()
    if folder is None:
        pytest.skip("../shared/reference/rirs (the four real RIR files) not found beside the repository")
    manifest = rir_manifest()
    names = [n for n in manifest if (folder / n.replace("/", "_")).is_file()]
    assert len(names) == 4
    template = serve_rirs(server, {n: (folder / n.replace("/", "_")).read_bytes() for n in names})
    download_rirs(tmp_path, "all", manifest={n: manifest[n] for n in names}, base_urls=[template], progress=False)
    for name in names:
        assert (tmp_path / name).stat().st_size == manifest[name].size


def test_cli_rirs_refuses_tau_only_options(tmp_path, capsys):
    from asckit.cli import main

    assert main(["data", "download", "rirs", "--root", str(tmp_path), "--meta-only"]) == 2
    assert "--meta-only and --keep-archives are for the TAU datasets" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# The MicIRP device impulse responses (git blob SHA-1 verified, the same path as the RIRs)

from asckit.data.download import download_micirp, micirp_files, micirp_manifest  # noqa: E402


def shared_micirp() -> Path | None:
    """reference/dcase2025 of the shared data (its micirp_manifest.tsv and two of the files), or None."""
    folder = shared_reference("dcase2025")
    return folder if (folder / "micirp_manifest.tsv").is_file() else None


def serve_micirp(server: FakeZenodo, contents: dict[str, bytes]) -> str:
    for name, data in contents.items():
        server.files[f"/dirs/{name}"] = data
    return f"http://127.0.0.1:{server.port}/dirs/{{name}}"


def test_micirp_manifest_lists_66_files_fetched_from_the_pinned_commit():
    manifest = micirp_manifest()
    assert len(manifest) == 66 and list(manifest) == sorted(manifest)
    assert all(name.endswith(".wav") and "/" not in name for name in manifest)
    assert manifest["Altec_639.wav"] == GitFile("Altec_639.wav", 53464, "f6a9aceb13a9a274b343e4fa246ca4376b40ffa4")
    assert dl.MICIRP_URL_TEMPLATES == (
        "https://raw.githubusercontent.com/fschmid56/cpjku_dcase23/2e20abaa64264f227c50696e5a43d4c706543ff4/datasets/dirs/{name}",
    )


def test_packaged_micirp_manifest_is_the_reference_one():
    folder = shared_micirp()
    if folder is None:
        pytest.skip("../shared/reference/dcase2025/micirp_manifest.tsv not found beside the repository")
    packaged = (REPO / "src" / "asckit" / "data" / "micirp_manifest.tsv").read_text()
    assert packaged == (folder / "micirp_manifest.tsv").read_text()


def test_micirp_download_of_the_real_sample_files_then_micirp_files(server, tmp_path):
    folder = shared_micirp()
    if folder is None:
        pytest.skip("../shared/reference/dcase2025/micirp (two real MicIRP files) not found beside the repository")
    names = sorted(p.name for p in (folder / "micirp").iterdir())
    assert names == ["Altec_639.wav", "Amperite_RA.wav"]
    manifest = {n: micirp_manifest()[n] for n in names}
    template = serve_micirp(server, {n: (folder / "micirp" / n).read_bytes() for n in names})
    # an interrupted earlier run left half of one file
    half = (folder / "micirp" / names[1]).read_bytes()[:20000]
    (tmp_path / f"{names[1]}.part").write_bytes(half)

    assert download_micirp(tmp_path, manifest=manifest, base_urls=[template], progress=False) == tmp_path

    assert (f"/dirs/{names[1]}", "bytes=20000-") in server.requests
    assert micirp_files(tmp_path, manifest) == [tmp_path / n for n in names]
    server.requests.clear()
    download_micirp(tmp_path, manifest=manifest, base_urls=[template], progress=False)
    assert server.requests == []  # verified files are not fetched again
    # the full manifest wants 66 files: the folder is refused, naming the command that completes it
    with pytest.raises(AsckitError, match=r"64 of the 66 MicIRP .* missing or damaged .*`asckit data download micirp --root "):
        micirp_files(tmp_path)


def test_micirp_files_refuses_a_damaged_file_and_a_missing_folder(tmp_path):
    data = bytes(range(256)) * 10
    manifest = {"x.wav": git_file("x.wav", data)}
    (tmp_path / "x.wav").write_bytes(data[:-1] + b"!")
    with pytest.raises(AsckitError, match=r"1 of the 1 MicIRP .*first: x.wav differs from the published file.*data download micirp"):
        micirp_files(tmp_path, manifest)
    with pytest.raises(AsckitError, match=r"no such folder of MicIRP .*`asckit data download micirp --root .*nowhere`"):
        micirp_files(tmp_path / "nowhere", manifest)


def test_micirp_download_deletes_a_file_whose_sha1_differs(server, tmp_path):
    manifest = {"x.wav": git_file("x.wav", b"\x01" * 4096)}
    template = serve_micirp(server, {"x.wav": b"\x02" * 4096})
    with pytest.raises(AsckitError, match="git blob SHA-1 mismatch for x.wav"):
        download_micirp(tmp_path, manifest=manifest, base_urls=[template], progress=False)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# The DCASE 2024 split files (no checksum: checked by content, installed only as a whole)

from asckit.data.download import download_splits  # noqa: E402

SCENES = ("airport", "bus", "metro", "park", "tram")


def _recording(index: int, device: str) -> list[str]:
    """The ten TAU22 clips of one 10 s recording."""
    scene = SCENES[index % len(SCENES)]
    return [f"audio/{scene}-lisbon-{1000 + index}-{40000 + index}-{k}-{device}.wav\t{scene}" for k in range(10)]


def split_contents() -> dict[str, bytes]:
    """Small split files that pass ``check_split_files(real=False)``: whole recordings of the training
    devices, each split a subset of the next, sizes near their percentage, test clips elsewhere."""
    recordings = [r for i in range(20) for r in [_recording(i, ("a", "b", "c", "s1", "s2", "s3")[i % 6])]]
    sizes = {"split5.csv": 1, "split10.csv": 2, "split25.csv": 5, "split50.csv": 10, "split100.csv": 20}
    files = {name: [line for r in recordings[:n] for line in r] for name, n in sizes.items()}
    files["test.csv"] = [line for i in range(30, 33) for line in _recording(i, "s4")]
    return {name: ("filename\tscene_label\n" + "\n".join(lines) + "\n").encode() for name, lines in files.items()}


def serve_splits(server: FakeZenodo, contents: dict[str, bytes]) -> str:
    for name, data in contents.items():
        server.files[f"/releases/download/files/{name}"] = data
    return f"http://127.0.0.1:{server.port}/releases/download/files/{{name}}"


def test_splits_are_fetched_checked_and_installed(server, tmp_path):
    contents = split_contents()
    url = serve_splits(server, contents)

    folder = download_splits(tmp_path, base_urls=[url], real=False, progress=False)

    assert folder == tmp_path / "split_setup"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == contents
    assert sorted(p.name for p in tmp_path.iterdir()) == ["split_setup"]  # the staging folder is gone
    server.requests.clear()
    download_splits(tmp_path, base_urls=[url], real=False, progress=False)
    assert server.requests == []  # a valid set already there is reused


def test_default_split_url_is_the_baseline_release():
    assert [t.format(name="split25.csv") for t in dl.SPLITS_URL_TEMPLATES] == [
        "https://github.com/CPJKU/dcase2024_task1_baseline/releases/download/files/split25.csv"
    ]


def test_splits_failing_the_content_check_are_deleted_and_nothing_is_installed(server, tmp_path):
    contents = split_contents()
    test_rows = contents["test.csv"].decode().splitlines()
    contents["test.csv"] = ("\n".join(test_rows + [contents["split5.csv"].decode().splitlines()[1]]) + "\n").encode()
    url = serve_splits(server, contents)

    with pytest.raises(AsckitError, match=r"fail the content check \(\d+ problem\(s\), first: .*test list.*\); they were deleted"):
        download_splits(tmp_path, base_urls=[url], real=False, progress=False)

    assert list(tmp_path.iterdir()) == []  # no split_setup/, no staging folder


def test_splits_with_the_real_row_counts_refuse_small_files(server, tmp_path):
    url = serve_splits(server, split_contents())
    with pytest.raises(AsckitError, match=r"split5\.csv: 10 rows, the official file has 6,980"):
        download_splits(tmp_path, base_urls=[url], progress=False)


def test_an_interrupted_split_download_resumes_and_installs_nothing_before(server, tmp_path):
    contents = split_contents()
    url = serve_splits(server, contents)
    server.cut_after["/releases/download/files/split100.csv"] = 500
    with pytest.raises(AsckitError, match=r"could not download split100\.csv .*rerun to resume"):
        download_splits(tmp_path, base_urls=[url], real=False, progress=False)
    assert not (tmp_path / "split_setup").exists()
    assert (tmp_path / ".split_setup.download" / "split100.csv.part").stat().st_size == 500
    server.requests.clear()

    download_splits(tmp_path, base_urls=[url], real=False, progress=False)

    # the files finished before are not fetched again; the cut one resumes after its 500 bytes
    assert server.requests == [("/releases/download/files/split100.csv", "bytes=500-"), ("/releases/download/files/test.csv", None)]
    assert (tmp_path / "split_setup" / "split100.csv").read_bytes() == contents["split100.csv"]


def test_split_files_there_that_fail_the_check_are_replaced(server, tmp_path):
    contents = split_contents()
    url = serve_splits(server, contents)
    (tmp_path / "split_setup").mkdir()
    for name, data in contents.items():
        (tmp_path / "split_setup" / name).write_bytes(data)
    (tmp_path / "split_setup" / "split50.csv").write_bytes(b"filename\tscene_label\n")  # emptied by hand
    (tmp_path / "split_setup" / "mine.csv").write_bytes(b"kept")

    download_splits(tmp_path, base_urls=[url], real=False, progress=False)

    assert (tmp_path / "split_setup" / "split50.csv").read_bytes() == contents["split50.csv"]
    assert (tmp_path / "split_setup" / "mine.csv").read_bytes() == b"kept"  # other files of the folder are left alone
