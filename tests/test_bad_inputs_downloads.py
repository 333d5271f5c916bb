"""Bad-input corpus (issue 15), the TAU22 downloads and their neighbours: `data download tau2022-mobile-dev |
micirp | dcase2024-splits`, `data cut-tau20`, and `pretrained get` of a DCASE 2025 checkpoint.

Each case asserts the exit status, the one error line (or the problems listed) and that nothing was
written or changed (``bad_input_corpus.check_case``). Servers are loopback ones (``conftest.FakeZenodo``)
that the download code is pointed at; nothing touches the internet.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import numpy as np
import pytest
from bad_input_corpus import Case, both, check_case, write
from conftest import FakeZenodo


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """These commands need none of the trained project of ``bad_input_corpus.world``: only its base folder."""
    return {"base": tmp_path_factory.mktemp("downloads_world")}


def _blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# --------------------------------------------------------------------------- data download micirp | dcase2024-splits
MICIRP_FILE = "Altec_639.wav"


def _micirp(served: bytes | None):
    """An ``around``: `data download micirp` pointed at a loopback server and a one-file manifest;
    ``served``: the bytes the server has for it (None: a 404)."""

    @contextlib.contextmanager
    def around(c: Path, w: dict):
        from asckit.data import download as dl

        server = FakeZenodo()
        if served is not None:
            server.files[f"/dirs/{MICIRP_FILE}"] = served
        manifest = {MICIRP_FILE: dl.GitFile(MICIRP_FILE, 4096, _blob(b"\x01" * 4096))}
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(dl, "MICIRP_URL_TEMPLATES", (f"http://127.0.0.1:{server.port}/dirs/{{name}}",))
                patch.setattr(dl, "micirp_manifest", lambda: manifest)
                yield None
        finally:
            server.close()

    return around


def _no_wav_left(c: Path, w: dict) -> None:
    assert not list((c / "d").rglob("*.wav")), "a file that failed verification was kept"


def _recording_lines(index: int, device: str) -> list[str]:
    return [f"audio/park-lisbon-{1000 + index}-{40000 + index}-{k}-{device}.wav\tpark" for k in range(10)]


def _small_splits() -> dict[str, bytes]:
    """Split files that are sound but small: they pass every check but the official row counts."""
    sizes = {"split5.csv": 1, "split10.csv": 2, "split25.csv": 5, "split50.csv": 10, "split100.csv": 20}
    files = {name: [line for i in range(n) for line in _recording_lines(i, "a")] for name, n in sizes.items()}
    files["test.csv"] = _recording_lines(50, "s4")
    return {name: ("filename\tscene_label\n" + "\n".join(lines) + "\n").encode() for name, lines in files.items()}


def _splits(served: dict[str, bytes]):
    """An ``around``: `data download dcase2024-splits` pointed at a loopback server holding ``served``."""

    @contextlib.contextmanager
    def around(c: Path, w: dict):
        from asckit.data import download as dl

        server = FakeZenodo()
        for name, data in served.items():
            server.files[f"/files/{name}"] = data
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(dl, "SPLITS_URL_TEMPLATES", (f"http://127.0.0.1:{server.port}/files/{{name}}",))
                yield None
        finally:
            server.close()

    return around


def _nothing_installed(c: Path, w: dict) -> None:
    """Neither split_setup/ nor the staging folder is left: the files failed the check and were deleted."""
    assert sorted(p.name for p in (c / "d").iterdir()) == [], "split files were installed or kept after failing the check"


def _parts_kept(c: Path, w: dict) -> None:
    assert not (c / "d" / "split_setup").exists(), "split_setup/ was created although a file could not be downloaded"


MICIRP = ["data", "download", "micirp", "--quiet", "--root"]
SPLITS = ["data", "download", "dcase2024-splits", "--quiet", "--root"]

DATA_DOWNLOAD = [
    Case("data download micirp with meta-only", [*MICIRP, "{c}/d", "--meta-only"], ("are for the TAU datasets", "`micirp` takes --root only")),
    Case("data download micirp with set", [*MICIRP, "{c}/d", "--set", "mardy"], ("--set is for `asckit data download rirs`",)),
    Case("data download micirp damaged file", [*MICIRP, "{c}/d"], (f"git blob SHA-1 mismatch for {MICIRP_FILE}", "rerun"),
         around=_micirp(b"\x02" * 4096), may_write=("d",), extra=_no_wav_left),
    Case("data download micirp file missing on the server", [*MICIRP, "{c}/d"],
         (f"could not download {MICIRP_FILE}", "404", "check the connection"), around=_micirp(None), may_write=("d",), extra=_no_wav_left),
    Case("data download micirp root is a file", [*MICIRP, "{c}/f.txt"], ("f.txt: is a file, not a folder", "choose another --root"),
         setup=write("f.txt", "mine"), around=_micirp(b"\x01" * 4096)),
    Case("data download micirp root under a file", [*MICIRP, "{c}/f.txt/d"], ("cannot create", "Not a directory", "choose another --root"),
         setup=write("f.txt", "mine"), around=_micirp(b"\x01" * 4096)),
    Case("data download splits with keep-archives", [*SPLITS, "{c}/d", "--keep-archives"],
         ("are for the TAU datasets", "`dcase2024-splits` takes --root only")),
    Case("data download splits failing the content check", [*SPLITS, "{c}/d"],
         ("fail the content check", "the official file has 6,980", "they were deleted", "rerun to download them again"),
         around=_splits(_small_splits()), may_write=("d",), extra=_nothing_installed),
    Case("data download splits missing on the server", [*SPLITS, "{c}/d"], ("could not download split5.csv", "404", "check the connection"),
         around=_splits({}), may_write=("d",), extra=_parts_kept),
    Case("data download splits root is a file", [*SPLITS, "{c}/f.txt"], ("cannot create", "Not a directory", "choose another --root"),
         setup=write("f.txt", "mine"), around=_splits(_small_splits())),
    Case("data download splits split_setup is a file", [*SPLITS, "{c}/d"], ("split_setup: is a file, not a folder", "move it away"),
         setup=write("d/split_setup", "mine"), around=_splits(_small_splits())),
    Case("data download tau2022 root is a file", ["data", "download", "tau2022-mobile-dev", "--meta-only", "--quiet", "--root", "{c}/f.txt"],
         ("cannot create", "choose another --root"), setup=write("f.txt", "mine")),
    Case("data download tau2022 with set", ["data", "download", "tau2022-mobile-dev", "--root", "{c}/d", "--set", "2003"],
         ("--set is for `asckit data download rirs`, not tau2022-mobile-dev",)),
]


# --------------------------------------------------------------------------- data cut-tau20
RECORDING = "audio/airport-lisbon-1000-40000-a.wav"
META_HEADER = "filename\tscene_label\tidentifier\tsource_label"


def _tau22_rows(extra: tuple[str, ...] = ()) -> str:
    rows = [f"audio/airport-lisbon-1000-40000-{k}-a.wav\tairport\tlisbon-1000\ta" for k in range(10)]
    return "\n".join([META_HEADER, *rows, *extra]) + "\n"


def _placeholder_tau20(c: Path, w: dict) -> None:
    """A TAU20 root whose recording is never read (the case fails before any audio is)."""
    write(f"tau20/{RECORDING}", b"RIFF not read")(c, w)


def _real_tau20(c: Path, w: dict) -> None:
    """A TAU20 root with one 10 s 24-bit recording."""
    import soundfile

    path = c / "tau20" / RECORDING
    path.parent.mkdir(parents=True)
    soundfile.write(path, np.full(441_000, 0.1), 44100, subtype="PCM_24")


CUT = ["data", "cut-tau20", "{c}/tau20", "--meta", "{c}/m/meta.csv", "--out", "{c}/out", "--quiet"]
GOOD_META = write("m/meta.csv", _tau22_rows())

DATA_CUT = [
    Case("data cut-tau20 missing TAU20 root", CUT, ("the dataset root does not exist", "check the path"), setup=GOOD_META),
    Case("data cut-tau20 TAU20 root without audio", CUT, ("audio: missing", "give the TAU 2020 Mobile development root"),
         setup=both(GOOD_META, write("tau20/meta.csv", META_HEADER + "\n"))),
    Case("data cut-tau20 TAU20 root of TAU22 clips", CUT, ("holds no TAU 2020 recording", "asckit data download tau2020-mobile-dev"),
         setup=both(GOOD_META, write("tau20/audio/airport-lisbon-1000-40000-0-a.wav", b"RIFF"))),
    Case("data cut-tau20 meta missing", CUT, ("no such file", "asckit data download tau2022-mobile-dev --meta-only"), setup=_placeholder_tau20),
    Case("data cut-tau20 meta comma-separated", CUT, ("lacks the TAB-separated columns", "give TAU22's meta.csv"),
         setup=both(_placeholder_tau20, write("m/meta.csv", _tau22_rows().replace("\t", ",")))),
    Case("data cut-tau20 meta empty", CUT, ("(empty file)", "lacks the TAB-separated columns", "give TAU22's meta.csv"),
         setup=both(_placeholder_tau20, write("m/meta.csv", ""))),
    Case("data cut-tau20 meta not text", CUT, ("cannot be read as UTF-8 text", "give TAU22's meta.csv"),
         setup=both(_placeholder_tau20, write("m/meta.csv", b"\xff\xfe\x00\x01"))),
    Case("data cut-tau20 meta of TAU20 names", CUT, ("lists no TAU22 clip", "is it TAU20's?", "give TAU22's meta.csv"),
         setup=both(_placeholder_tau20, write("m/meta.csv", f"{META_HEADER}\n{RECORDING}\tairport\tlisbon-1000\ta\n"))),
    Case("data cut-tau20 split file beside meta without filename column", CUT,
         ("fold1_train.csv: the header lacks a TAB-separated filename column", "restore it from TAU22's meta archive"),
         setup=both(_placeholder_tau20, GOOD_META, write("m/evaluation_setup/fold1_train.csv", "file\tlabel\nx\ty\n"))),
    Case("data cut-tau20 out is a file", [*CUT[:-2], "{c}/out.txt", "--quiet"], ("is a file, not a folder", "give a folder for the TAU22 dataset"),
         setup=both(_placeholder_tau20, GOOD_META, write("out.txt", "mine"))),
    Case("data cut-tau20 out holds the meta", [*CUT[:-2], "{c}/m", "--quiet"], ("holds an input of this command", "give another output folder"),
         setup=both(_placeholder_tau20, GOOD_META)),
    Case("data cut-tau20 out is the TAU20 root", [*CUT[:-2], "{c}/tau20", "--quiet"],
         ("is also an input of this command", "give another output path"), setup=both(_placeholder_tau20, GOOD_META)),
    Case("data cut-tau20 without meta", ["data", "cut-tau20", "{c}/tau20", "--out", "{c}/out"],
         ("the following arguments are required: --meta", "see asckit data cut-tau20 --help"), setup=_placeholder_tau20),
    Case("data cut-tau20 meta row not a TAU22 name", CUT, ("m/meta.csv:12: audio/x.wav is not a TAU22 clip name", "not cut"), code=1,
         setup=both(_real_tau20, write("m/meta.csv", _tau22_rows(("audio/x.wav\tairport\tlisbon-1000\ta",)))), may_write=("out",)),
]


# --------------------------------------------------------------------------- pretrained get (DCASE 2025 checkpoints)
CKPT = b"fake checkpoint" + bytes(range(256)) * 8


def _checkpoint_mirror(served: bytes):
    """An ``around``: a test entry ``tiny-2025`` in the checkpoint registry, and a loopback mirror serving
    ``served`` for it (placeholder ``{url}``)."""

    @contextlib.contextmanager
    def around(c: Path, w: dict):
        from asckit.pretrained import registry

        server = FakeZenodo()
        server.files["/mirror/pkg/tiny.ckpt"] = served
        entry = registry.PublishedCheckpoint("tiny-2025", "test entry", registry.PublishedFile("pkg/tiny.ckpt", _blob(CKPT), len(CKPT)))
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setitem(registry.CHECKPOINTS, entry.name, entry)
                yield {"url": f"http://127.0.0.1:{server.port}/mirror/"}
        finally:
            server.close()

    return around


def _no_checkpoint_kept(c: Path, w: dict) -> None:
    assert not [p for p in (c / "cache").rglob("*") if p.is_file()], "a checkpoint that failed verification was kept"


PRETRAINED_GET = [
    Case("pretrained get checkpoint with root", ["pretrained", "get", "karasin2025-sys1", "--root", "{c}/r", "--cache", "{c}/cache"],
         ("are for the paper's Keras models", "is a DCASE 2025 checkpoint", "drop them")),
    Case("pretrained get checkpoint damaged on the mirror",
         ["pretrained", "get", "tiny-2025", "--cache", "{c}/cache", "--base-url", "{url}", "--quiet"],
         ("tiny.ckpt: downloaded bytes have git blob SHA-1", "rerun to download it again"),
         around=_checkpoint_mirror(CKPT[:-1] + b"!"), may_write=("cache",), extra=_no_checkpoint_kept),
    Case("pretrained get checkpoint cache under a file", ["pretrained", "get", "karasin2025-sys4", "--cache", "{c}/f.txt/cache", "--quiet"],
         ("cannot create the download folder", "choose another --cache"), setup=write("f.txt", "mine")),
    Case("pretrained get unknown name", ["pretrained", "get", "karasin2026-sys1", "--out", "{c}/r"],
         ("unknown published model", "`asckit pretrained list` shows", "karasin2025-sys1")),
]


@pytest.mark.parametrize("case", [c.param() for c in [*DATA_DOWNLOAD, *DATA_CUT, *PRETRAINED_GET]])
def test_tau22_downloads_refuse_bad_input(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)
