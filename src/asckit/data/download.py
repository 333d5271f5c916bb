"""Download the TAU Urban Acoustic Scenes datasets (2020, and 2022 Mobile) from Zenodo into the TAU
layout; the reference's measured room impulse responses and the MicIRP device impulse responses from
their repositories; the DCASE 2024 training splits from the CPJKU baseline's release.

One job: turn ``download(key, root)`` into ``<root>/<base_name>/`` holding the unpacked dataset
(and ``download_rirs(root, rir_set)`` into ``<root>/MARDY/...``, ``<root>/2003_estimated_ir/...``,
``<root>/TrainRIR/...``, the reference's ``reverb_drc/`` layout; see below).
Every archive is listed in ``MANIFEST`` with its byte size and md5 (reference/dataset.md §1.2;
TAU22: reference/dcase2025/README.md §1).
An archive is streamed to ``<root>/archives/<name>.part`` (resumed with an HTTP Range request
after an interruption), verified by size and md5, renamed to ``<name>``, unpacked with every member
path checked to stay under ``<root>``, marked as unpacked, and then deleted unless asked to keep it.
A bad archive is deleted and named, never unpacked. At the end ``asckit.data.tau.check_dataset``
and the expected row counts (split CSVs, and meta.csv where known) check the result.

Single files of a git repository (``GitFile``) are fetched with the same resumable downloader and
verified by size and by their git blob SHA-1 (``git hash-object``: SHA-1 of ``"blob <size>\0"`` +
bytes), so what is verified is exactly the file the repository holds, whichever commit serves it:
the RIRs (``asckit data download rirs``, listed in ``rirs_manifest.tsv``: path, size, SHA-1, from
reference/rirs/manifest.tsv) and the MicIRP device impulse responses (``asckit data download
micirp``, ``micirp_manifest.tsv`` from reference/dcase2025; ``micirp_files`` hands the verified
files to the DIR augmentation).

The DCASE 2024 splits (``asckit data download dcase2024-splits``) have no published checksum: their
content is checked instead (``asckit.data.tau.check_split_files``: rows, header, nesting, whole 10 s
segments, no test clip in a training split) before any of them is put in place.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from asckit.core.errors import AsckitError
from asckit.core.io_utils import atomic_path, atomic_write_text
from asckit.tasks import TASKS

#: Zenodo's URL forms, tried in order. ``/record/`` is the form dcase_util uses; newer Zenodo also
#: serves ``/records/``, so it is the fallback when the first answers 404.
ZENODO_URL_TEMPLATES: tuple[str, ...] = (
    "https://zenodo.org/record/{record}/files/{name}?download=1",
    "https://zenodo.org/records/{record}/files/{name}?download=1",
)

#: The files of TAU Urban Acoustic Scenes 2022 Mobile, development (reference/dcase2025/README.md §1).
TAU22_DEVELOPMENT_FILES = 230_350

#: Folder under the download root where archives (and their ``.part`` files) live.
ARCHIVES_DIRNAME = "archives"
#: Folder inside the dataset directory holding one marker per unpacked archive.
MARKER_DIRNAME = ".asckit-unpacked"

_CHUNK = 1 << 20  # 1 MiB: large enough for throughput, small enough for a smooth progress bar.
_TIMEOUT_S = 60  # per socket operation; Zenodo can be slow to start a multi-GB response.
_USER_AGENT = "asckit-downloader/0.1 (+https://github.com/; DCASE 2020 Task 1 datasets)"


@dataclass(frozen=True)
class Archive:
    """One file of a Zenodo record, as published: its name, byte size and md5 (lower-case hex)."""

    name: str
    size: int
    md5: str

    digest_name = "md5"

    @property
    def digest(self) -> str:
        return self.md5

    def hasher(self) -> "hashlib._Hash":
        return hashlib.md5()

    @property
    def is_audio(self) -> bool:
        """True for the ``.audio.N.zip`` parts; False for ``.doc.zip`` and ``.meta.zip``."""
        return ".audio." in self.name


@dataclass(frozen=True)
class GitFile:
    """One file of a git repository: its path, byte size and git blob SHA-1 (``git hash-object``)."""

    name: str  # path below the URL template's folder, '/'-separated
    size: int
    git_blob_sha1: str

    digest_name = "git blob SHA-1"

    @property
    def digest(self) -> str:
        return self.git_blob_sha1

    def hasher(self) -> "hashlib._Hash":
        return git_blob_hasher(self.size)


def git_blob_hasher(size: int) -> "hashlib._Hash":
    """A SHA-1 fed with git's blob header for ``size`` bytes: add the bytes to get ``git hash-object``."""
    return hashlib.sha1(b"blob %d\0" % size)


def git_blob_sha1(path: str | os.PathLike, progress: bool = False) -> str:
    """``git hash-object FILE``: SHA-1 of ``b"blob <size>\\0"`` followed by the bytes."""
    path = Path(path)
    hasher = git_blob_hasher(path.stat().st_size)
    _hash_into(hasher, path, progress, f"{path.name} (verify)")
    return hasher.hexdigest()


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset comes from and what it must contain once unpacked.

    ``expected`` maps a split name (the CSV stem under ``evaluation_setup/``) to its row count,
    header excluded; ``meta_rows`` is the row count of ``meta.csv`` (None: not known); the
    post-check compares against both.
    """

    key: str
    record: int
    base_name: str
    archives: tuple[Archive, ...]
    expected: Mapping[str, int] = field(default_factory=dict)
    meta_rows: int | None = None

    def select(self, meta_only: bool = False) -> tuple[Archive, ...]:
        """The archives to fetch: all of them, or only doc + meta for a look at the splits."""
        if meta_only:
            return tuple(a for a in self.archives if not a.is_audio)
        return self.archives


def _archives(base: str, rows: Iterable[tuple[str, int, str]]) -> tuple[Archive, ...]:
    """Expand ``(suffix, size, md5)`` rows into archives named ``<base>.<suffix>.zip``."""
    return tuple(Archive(f"{base}.{suffix}.zip", size, md5) for suffix, size, md5 in rows)


# Sizes and md5s copied row by row from reference/dataset.md §1.2 (source: dcase_util tut.py).
_MOBILE_DEV = "TAU-urban-acoustic-scenes-2020-mobile-development"
_MOBILE_EVAL = "TAU-urban-acoustic-scenes-2020-mobile-evaluation"
_3CLASS_DEV = "TAU-urban-acoustic-scenes-2020-3class-development"
_3CLASS_EVAL = "TAU-urban-acoustic-scenes-2020-3class-evaluation"
_TAU22_DEV = "TAU-urban-acoustic-scenes-2022-mobile-development"

MANIFEST: dict[str, DatasetSource] = {
    # 1a development, version 2.0 (the v1.0 record 3670167 was replaced and has other md5s).
    "tau2020-mobile-dev": DatasetSource(
        key="tau2020-mobile-dev",
        record=3819968,
        base_name=_MOBILE_DEV,
        archives=_archives(
            _MOBILE_DEV,
            [
                ("doc", 18066, "175f40dc3fec144347abad4d2962b7ae"),
                ("meta", 214159, "6eae9db553ce48e4ea246e34e50a3cf5"),
                ("audio.1", 1726039031, "b1e85b8a908d3d6a6ab73268f385d5c8"),
                ("audio.2", 1782268370, "4310a13cc2943d6ce3f70eba7ba4c784"),
                ("audio.3", 1870468865, "ed38956c4246abb56190c1e9b602b7b8"),
                ("audio.4", 1879413176, "97ab8560056b6816808dedc044dcc023"),
                ("audio.5", 1823936584, "b50f5e0bfed33cd8e52cb3e7f815c6cb"),
                ("audio.6", 1827246144, "fbf856a3a86fff7520549c899dc94372"),
                ("audio.7", 1728630243, "0dbffe7b6e45564da649378723284062"),
                ("audio.8", 1748646043, "bb6f77832bf0bd9f786f965beb251b2e"),
                ("audio.9", 1780487215, "a65596a5372eab10c78e08a0de797c9e"),
                ("audio.10", 1726068853, "2ad595819ffa1d56d2de4c7ed43205a6"),
                ("audio.11", 1744480272, "0ad29f7040a4e6a22cfd639b3a6738e5"),
                ("audio.12", 1738707195, "e5f4400c6b9697295fab4cf507155a2f"),
                ("audio.13", 1835797785, "8855ab9f9896422746ab4c5d89d8da2f"),
                ("audio.14", 1846390881, "092ad744452cd3e7de78f988a3d13020"),
                ("audio.15", 1869032508, "4b5eb85f6592aebf846088d9df76b420"),
                ("audio.16", 436971777, "2e0a89723e58a3836be019e6996ae460"),
            ],
        ),
        # Counted from the real v2 split files (reference/dataset.md §1.7).
        expected=dict(zip(("fold1_train", "fold1_evaluate"), TASKS["1a"].development_clips)),
    ),
    "tau2020-mobile-eval": DatasetSource(
        key="tau2020-mobile-eval",
        record=3685828,
        base_name=_MOBILE_EVAL,
        archives=_archives(
            _MOBILE_EVAL,
            [
                ("doc", 8030, "2f1ac2991111c6ee1d51bec6e27bd825"),
                ("meta", 28811, "b8d9bb50faa282be170b81dc57e2b8b3"),
                ("audio.1", 1668607729, "632841f6b1ef9ed962ea61f879967411"),
                ("audio.2", 1674217327, "711fb0469f9b66669a300ebd1de24e9b"),
                ("audio.3", 1672649006, "575e517b826a5faf020be22ce766adf8"),
                ("audio.4", 1665432028, "5919fcbe217964756892a9661323c020"),
                ("audio.5", 1680713648, "c733767217f16c746f50796c65ca1dd6"),
                ("audio.6", 1670741441, "f39feb24910ffc97413e9c94b418f7ab"),
                ("audio.7", 1673394812, "90bad61f14163146702d430cf8241932"),
                ("audio.8", 1433443122, "4db5255382a5e5cab2d463c0d836b888"),
            ],
        ),
        # The submission validator requires exactly 11,880 rows (audio/0.wav … audio/11879.wav).
        expected={"fold1_test": TASKS["1a"].evaluation_clips},
    ),
    "tau2020-3class-dev": DatasetSource(
        key="tau2020-3class-dev",
        record=3670185,
        base_name=_3CLASS_DEV,
        archives=_archives(
            _3CLASS_DEV,
            [
                ("doc", 12026, "1f50091832fef59ef79f7b7fcfc91525"),
                ("meta", 154856, "68de6dc1a81f8ef9c3a7851acda67786"),
                ("audio.1", 1657560336, "dab8b3564c1927eb8fc5906f61917ef9"),
                ("audio.2", 1654366875, "82995465514560a3dff486ffc1b77cab"),
                ("audio.3", 1817911349, "fda4f39dae354d6eea8662c4f8228b70"),
                ("audio.4", 1818799452, "6795666e7e872114a0bd8b7dea333761"),
                ("audio.5", 1803128209, "0920299dd8600c3fec421af79588535b"),
                ("audio.6", 1777403835, "65fab659046ef15c8ae3e15025737551"),
                ("audio.7", 1747963586, "55dd8e47bd868611d5e7bacad57b96b5"),
                ("audio.8", 1720046267, "9fdae7f1658160d6c4d844d642c1e762"),
                ("audio.9", 1667115976, "6178c22394a3bf0f67b2c47d1690c6d7"),
                ("audio.10", 1615255858, "d054358cfd7c9b568c03c2c87f6461c4"),
                ("audio.11", 1671803243, "fcbb4d5835f030819e099fc0701932dc"),
                ("audio.12", 1660209697, "92e6347acf82226d1458859b7ca281ba"),
                ("audio.13", 1673491310, "99570283c1dd64aaf954eb526fd2e394"),
                ("audio.14", 1660091069, "13efa3cd2084ccdba76b1087a4fac57f"),
                ("audio.15", 1675136726, "1e3cc2fed352cf9331a815f2c969458a"),
                ("audio.16", 1648250719, "d232c47c39d9f2683ef805565ad9b068"),
                ("audio.17", 1693567638, "75bd9417b8134476122c7f8a8fb11d4b"),
                ("audio.18", 1731103523, "ae04e9ed8da615b2f1f9aa5e02b9c3f2"),
                ("audio.19", 1745163308, "284fe9195bdbd5159438bac5ea4595e1"),
                ("audio.20", 1774048510, "7e2f15f5f19114ffcb0b94f0a15fa272"),
                ("audio.21", 1331132724, "e5d0491071d6a652fe3693586770fdc0"),
            ],
        ),
        # Counted from the real 1b fold1 files (reference/dataset.md §1.7). The file holding the
        # 4,185 test rows is fold1_evaluate.csv in the distributed set, as dcase_util reads it.
        expected=dict(zip(("fold1_train", "fold1_evaluate"), TASKS["1b"].development_clips)),
    ),
    "tau2020-3class-eval": DatasetSource(
        key="tau2020-3class-eval",
        record=3685835,
        base_name=_3CLASS_EVAL,
        archives=_archives(
            _3CLASS_EVAL,
            [
                ("doc", 8040, "68a8e716297ed3dc465f904477d139f4"),
                ("meta", 21179, "6ec871d4f4f8d92171d2f60e7aa157f7"),
                ("audio.1", 1665288283, "fb976f1075f42d8e4d856cc10bd52435"),
                ("audio.2", 1682331176, "e6a90881ca11c3da660d94477c530790"),
                ("audio.3", 1674975498, "b70694a133d785af635de8dfdf7fde66"),
                ("audio.4", 1664063924, "dcb5bea4fe1ce3f4707d35f19ea6009e"),
                ("audio.5", 1667987928, "1ebfcca602a91187f375e4d6cb448c80"),
                ("audio.6", 1677609880, "31d1843f3dc150bbbeca3424e8ca5e1e"),
                ("audio.7", 1676918579, "7818751f0900b5792be7065c7b7c2743"),
                ("audio.8", 1671901774, "f75aba3f7f2d4afb46e9ea5479716498"),
                ("audio.9", 1684951879, "75dc6da551f012ed26f91fd0ed37b828"),
                ("audio.10", 1689314640, "8527a1a990503ccf06ad061c0a82ff3c"),
                ("audio.11", 1666392095, "e401f04f505fa41316c2b1a27c62c1d7"),
                ("audio.12", 1678306939, "16399ebaeb036126c38aee6a56e66d07"),
                ("audio.13", 756614443, "694f9abe00682f05929e6dbbd160e0e2"),
            ],
        ),
        # The submission validator requires exactly 8,640 rows.
        expected={"fold1_test": TASKS["1b"].evaluation_clips},
    ),
    # TAU22 (DCASE 2022-2025): the 2020 Mobile recordings cut into 1 s clips. Sizes and md5s copied row
    # by row from reference/dcase2025/README.md §1 (source: dcase_util tut.py; soundata has the same md5s).
    "tau2022-mobile-dev": DatasetSource(
        key="tau2022-mobile-dev",
        record=6337421,
        base_name=_TAU22_DEV,
        archives=_archives(
            _TAU22_DEV,
            [
                ("doc", 16819, "9c4f610bdb5d3e3e72a17d393a26452a"),
                ("meta", 1538781, "419b6ff6570f1030730352dc80cd8d15"),
                ("audio.1", 1736050960, "8be14bdbd844481dce059ab31fbd2239"),
                ("audio.2", 1791821989, "e821abda49b069248bb75eab39df7575"),
                ("audio.3", 1878561499, "9c7897f78bb42ca0008936daddf3f8f3"),
                ("audio.4", 1887825128, "53ec3e37c0fc0be75f53c5abbc5300b8"),
                ("audio.5", 1832871840, "528422c33c5d10263203d2c61cb1f3be"),
                ("audio.6", 1836165296, "4759a9465c903e13e57d5e82e791fc28"),
                ("audio.7", 1737838582, "6d545fc83a55a17856a9ccc1ac9aff6b"),
                ("audio.8", 1758317867, "3a2916a9b5d3f43cc7a22a62b180b0d9"),
                ("audio.9", 1790044829, "071f664c86639ad730f7be4e3c39d886"),
                ("audio.10", 1736836871, "e0839d019e9b77ecbcbb0eff85965530"),
                ("audio.11", 1754618148, "fc60f1c83726be3963ae14fbcb95eeb4"),
                ("audio.12", 1748795940, "02246547f86c0a814dc63ec65d7033bb"),
                ("audio.13", 1844234922, "88ae9ef884665140d1572d8061725e00"),
                ("audio.14", 1854884822, "c3f400d74ae90e5190dc518cde43de47"),
                ("audio.15", 1877789093, "85594c6fe4f91c10aa2a410f748103b8"),
                ("audio.16", 435379083, "6e2df8438c69f6789414aeba8cbad9d8"),
            ],
        ),
        # fold1_train = split 100 (139,620), fold1_evaluate = the dev-test list (29,680) [SD][B24].
        expected=dict(zip(("fold1_train", "fold1_evaluate"), TASKS["2024"].development_clips)),
        # Every file of the set: A 144,000 + B 10,780 + C 10,770 + S1-S6 10,800 each [SD]; meta.csv is the
        # list of all of them, which the baselines select the splits from [B24 dataset/dcase24.py].
        meta_rows=TAU22_DEVELOPMENT_FILES,
    ),
}


#: Where the reference's RIR files are served: its repository's ``reverb_drc/`` folder.
RIR_URL_TEMPLATES: tuple[str, ...] = (
    "https://raw.githubusercontent.com/MihawkHu/DCASE2020_task1/master/task1a/data_augmentation/reverb_drc/{name}",
)
_RIR_PREFIX = "task1a/data_augmentation/reverb_drc/"
#: The name ``asckit data download`` gives the RIR files, beside the TAU dataset keys.
RIRS_KEY = "rirs"

# The MicIRP device impulse responses of the CP-Mobile DIR augmentation (reference/dcase2025/README.md
# §4 [CP23 datasets/dcase23.py]): the 66 files of fschmid56/cpjku_dcase23 ``datasets/dirs/`` at the commit
# pinned here, listed in micirp_manifest.tsv (name, size, git blob SHA-1; a copy of reference/dcase2025's).
# They are Creative Commons impulse responses from MicIRP; asckit does not ship them: ``asckit data
# download micirp`` fetches them on request.
#: The name ``asckit data download`` gives the MicIRP files.
MICIRP_KEY = "micirp"
#: The commit of fschmid56/cpjku_dcase23 the files are fetched from (its HEAD in reference/dcase2025 [CP23]).
MICIRP_COMMIT = "2e20abaa64264f227c50696e5a43d4c706543ff4"
MICIRP_URL_TEMPLATES: tuple[str, ...] = (
    f"https://raw.githubusercontent.com/fschmid56/cpjku_dcase23/{MICIRP_COMMIT}/datasets/dirs/{{name}}",
)

#: The name ``asckit data download`` gives the DCASE 2024 split files: the training splits (split5 ...
#: split100) and the dev-test list (``test.csv``), which the CPJKU 2024 baseline fetches from this release
#: (reference/dcase2025/README.md §2 [B24 dataset/dcase24.py]); no checksum of them is published. Their
#: names and folder (``split_setup/``) are ``asckit.data.tau``'s.
SPLITS_KEY = "dcase2024-splits"
SPLITS_URL_TEMPLATES: tuple[str, ...] = ("https://github.com/CPJKU/dcase2024_task1_baseline/releases/download/files/{name}",)


def downloadable_datasets() -> list[str]:
    """The dataset keys ``download`` accepts, for argparse ``choices``."""
    return list(MANIFEST)


def _git_manifest(resource: str, prefix: str = "") -> dict[str, GitFile]:
    """The packaged TSV ``resource`` of ``path  size  git_blob_sha1`` rows (a header row is skipped),
    by path less ``prefix``."""
    from importlib.resources import files

    text = files("asckit.data").joinpath(resource).read_text(encoding="utf-8")
    out = {}
    for line in text.splitlines():
        path, size, sha1 = line.split("\t")
        if not size.isdigit():  # the header row
            continue
        name = path.removeprefix(prefix)
        out[name] = GitFile(name, int(size), sha1)
    return out


def rir_manifest() -> dict[str, GitFile]:
    """Every RIR file of the reference's ``reverb_drc/`` folder, by path relative to it."""
    return _git_manifest("rirs_manifest.tsv", _RIR_PREFIX)


def micirp_manifest() -> dict[str, GitFile]:
    """The 66 MicIRP device impulse responses (``datasets/dirs/`` of [CP23]), by file name, in name order."""
    return _git_manifest("micirp_manifest.tsv")


def rir_files(rir_set: str = "all", manifest: Mapping[str, GitFile] | None = None) -> list[GitFile]:
    """The files of ``rir_set``: the reference's list for ``mardy``, ``2003`` or ``reverb`` (each file
    once), or ``all``: every file of the manifest, the unused responses and raw ``.pcm`` files too."""
    from asckit.audio.rir import REFERENCE_RIR_SETS

    manifest = rir_manifest() if manifest is None else manifest
    if rir_set == "all":
        return list(manifest.values())
    if rir_set not in REFERENCE_RIR_SETS:
        raise AsckitError(f"unknown RIR set {rir_set!r}: use one of {', '.join(REFERENCE_RIR_SETS)} or all")
    return [manifest[name] for name in dict.fromkeys(REFERENCE_RIR_SETS[rir_set])]


def download_git_files(root: str | os.PathLike, files: Sequence[GitFile], templates: Sequence[str], progress: bool = True) -> Path:
    """Fetch ``files`` of a git repository into ``root``, each to ``<root>/<name>``; return ``root``.

    Each goes through ``<name>.part`` (resumed after an interruption) and is kept only when its size
    and git blob SHA-1 match; files already there and verified are not fetched again. ``templates``:
    URL templates with a ``{name}`` placeholder, tried in order.
    """
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise AsckitError(f"{root}: is a file, not a folder; choose another --root")
    for item in files:
        target = root / item.name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AsckitError(f"cannot create {target.parent}: {exc.strerror}; choose another --root") from exc
        _obtain_archive(item, 0, root, templates, progress)
    return root


def download_rirs(
    root: str | os.PathLike,
    rir_set: str = "all",
    *,
    manifest: Mapping[str, GitFile] | None = None,
    base_urls: Sequence[str] | None = None,
    progress: bool = True,
) -> Path:
    """Fetch the reference's RIR files of ``rir_set`` into ``root`` (its ``reverb_drc/`` layout), by
    ``download_git_files``. ``manifest`` and ``base_urls`` replace the defaults in tests."""
    wanted = rir_files(rir_set, manifest)
    root = download_git_files(root, wanted, tuple(RIR_URL_TEMPLATES if base_urls is None else base_urls), progress)
    _say(progress, f"{len(wanted)} RIR file(s) of set {rir_set} verified in {root}")
    return root


def download_micirp(
    root: str | os.PathLike,
    *,
    manifest: Mapping[str, GitFile] | None = None,
    base_urls: Sequence[str] | None = None,
    progress: bool = True,
) -> Path:
    """Fetch the 66 MicIRP device impulse responses into ``root`` (flat: ``<root>/<name>.wav``), by
    ``download_git_files``. ``manifest`` and ``base_urls`` replace the defaults in tests."""
    wanted = list((micirp_manifest() if manifest is None else manifest).values())
    root = download_git_files(root, wanted, tuple(MICIRP_URL_TEMPLATES if base_urls is None else base_urls), progress)
    _say(progress, f"{len(wanted)} MicIRP device impulse response(s) verified in {root}")
    return root


def micirp_files(folder: str | os.PathLike, manifest: Mapping[str, GitFile] | None = None) -> list[Path]:
    """The MicIRP files in ``folder``, in manifest (name) order, each checked by size and git blob SHA-1
    (66 files of about 53 kB: a few milliseconds); AsckitError naming the download command when one is
    missing or differs."""
    folder = Path(folder).expanduser()
    manifest = micirp_manifest() if manifest is None else manifest
    fix = f"download them with `asckit data download {MICIRP_KEY} --root {folder}`"
    if not folder.is_dir():
        raise AsckitError(f"{folder}: no such folder of MicIRP device impulse responses; {fix}")
    bad = []
    for item in manifest.values():
        path = folder / item.name
        if not path.is_file():
            bad.append(f"{item.name} is missing")
        elif path.stat().st_size != item.size or git_blob_sha1(path) != item.git_blob_sha1:
            bad.append(f"{item.name} differs from the published file")
    if bad:
        raise AsckitError(
            f"{folder}: {len(bad)} of the {len(manifest)} MicIRP device impulse responses are missing or damaged "
            f"(first: {bad[0]}); {fix}"
        )
    return [folder / item.name for item in manifest.values()]


def download_splits(
    root: str | os.PathLike,
    *,
    base_urls: Sequence[str] | None = None,
    real: bool = True,
    progress: bool = True,
) -> Path:
    """Fetch the DCASE 2024 split files into ``<root>/split_setup/``; return that folder.

    No checksum of them is published, so their content is checked instead by
    ``asckit.data.tau.check_split_files`` (``real``: with the official row counts; False for the small
    files tests serve). They are fetched into the hidden staging folder ``<root>/.split_setup.download/``
    (each through ``<name>.part``, resumed after an interruption) and moved into ``split_setup/`` only
    when all of them pass, so a failed or interrupted run leaves ``split_setup/`` as it was. A
    complete set there that passes the check is reused (nothing fetched); one that fails is replaced.
    """
    # imported here: pandas is slow to import
    from asckit.data.tau import TAU22_PERCENTAGES, TAU22_SPLIT_FOLDER, TAU22_TEST_FILE, check_split_files, tau22_split_file

    names = (*(tau22_split_file(p) for p in TAU22_PERCENTAGES), TAU22_TEST_FILE)
    templates = tuple(SPLITS_URL_TEMPLATES if base_urls is None else base_urls)
    for template in templates:
        if "{name}" not in template:
            raise AsckitError(f"download URL template '{template}' lacks '{{name}}': add it")
    root = Path(root).expanduser()
    folder = root / TAU22_SPLIT_FOLDER
    if folder.exists() and not folder.is_dir():
        raise AsckitError(f"{folder}: is a file, not a folder; move it away or choose another --root")
    if folder.is_dir() and all((folder / name).is_file() for name in names):
        found = check_split_files(folder, real=real)
        if not found:
            _say(progress, f"{folder}: the split files are already there and pass the check; nothing fetched")
            return folder
        _say(progress, f"{folder}: the split files there fail the check ({found[0]}); downloading them again")
    staging = root / f".{TAU22_SPLIT_FOLDER}.download"
    try:
        staging.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AsckitError(f"cannot create {staging}: {exc.strerror}; choose another --root") from exc
    for name in names:
        if not (staging / name).is_file():  # a file an interrupted run finished is not fetched again
            _fetch_unverified(name, staging, templates, progress)
    problems = check_split_files(staging, real=real)
    if problems:
        shutil.rmtree(staging, ignore_errors=True)
        if progress:  # the full list; the error itself is one line
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
        raise AsckitError(
            f"the downloaded DCASE 2024 split files fail the content check ({len(problems)} problem(s), first: {problems[0]}); "
            f"they were deleted and {folder} was left as it was: rerun to download them again, and report it if it fails again"
        )
    folder.mkdir(exist_ok=True)
    for name in names:  # each verified: a crash between two renames leaves no half-written file
        os.replace(staging / name, folder / name)
    shutil.rmtree(staging, ignore_errors=True)
    _say(progress, f"{len(names)} DCASE 2024 split files checked and in {folder}")
    return folder


def _fetch_unverified(name: str, folder: Path, templates: Sequence[str], progress: bool) -> Path:
    """``folder/name`` fetched (resumably, through ``name.part``) from the first template that serves it;
    no digest: the caller checks the content."""
    part, final = folder / (name + ".part"), folder / name
    failures: list[str] = []
    for template in templates:
        url = template.format(name=urllib.parse.quote(name))
        try:
            _fetch(url, part, name, None, progress, {})
        except _ServerRefused as exc:
            failures.append(f"{url}: {exc}")
            continue
        os.replace(part, final)
        return final
    raise AsckitError(f"could not download {name} ({'; '.join(failures)}): check the connection and rerun to resume")


def download(
    key: str,
    root: str | os.PathLike,
    meta_only: bool = False,
    *,
    manifest: Mapping[str, DatasetSource] | None = None,
    base_urls: Sequence[str] | None = None,
    keep_archives: bool = False,
    progress: bool = True,
    check: bool = True,
) -> Path:
    """Fetch, verify and unpack dataset ``key`` under ``root``; return ``<root>/<base_name>/``.

    Safe to rerun: unpacked archives are skipped, a complete verified archive is not fetched again,
    and a ``.part`` left by an interrupted run is resumed.

    Args:
        key: one of ``downloadable_datasets()`` (or of ``manifest`` when given).
        root: download root; archives go to ``<root>/archives/``, the dataset to ``<root>/<base>/``.
        meta_only: fetch only the doc and meta archives (READMEs, ``meta.csv``, split CSVs).
        manifest: replaces ``MANIFEST`` (tests serve small fake archives this way).
        base_urls: URL templates with ``{record}`` and ``{name}`` placeholders, tried in order;
            default ``ZENODO_URL_TEMPLATES``.
        keep_archives: keep each zip after unpacking instead of deleting it to save disk.
        progress: show tqdm progress bars and one-line status messages on stderr.
        check: run ``asckit.data.tau.check_dataset`` and the split row counts afterwards.

    Raises:
        AsckitError: unknown key, network failure, size or md5 mismatch, unsafe or corrupt zip,
            too little disk space, or a post-check that found problems.
    """
    manifest = MANIFEST if manifest is None else manifest
    if key not in manifest:
        raise AsckitError(f"unknown dataset '{key}': choose one of {', '.join(manifest)}")
    source = manifest[key]
    templates = tuple(ZENODO_URL_TEMPLATES if base_urls is None else base_urls)
    for template in templates:
        if "{name}" not in template:
            raise AsckitError(f"download URL template '{template}' lacks '{{name}}': add it")

    root = Path(root).expanduser()
    archives_dir = root / ARCHIVES_DIRNAME
    dataset_dir = root / source.base_name
    try:
        archives_dir.mkdir(parents=True, exist_ok=True)
        dataset_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AsckitError(f"cannot create {archives_dir}: {exc.strerror}; choose another --root") from exc

    for archive in source.select(meta_only):
        if _is_unpacked(dataset_dir, archive):
            _say(progress, f"{archive.name}: already unpacked, skipped")
            continue
        path = _obtain_archive(archive, source.record, archives_dir, templates, progress)
        _unpack(path, root, progress)
        _mark_unpacked(dataset_dir, archive)
        if not keep_archives:
            path.unlink()

    if check:
        _post_check(dataset_dir, source, meta_only)
    return dataset_dir


# --------------------------------------------------------------------------------------------
# Fetching one archive


class _ServerRefused(Exception):
    """This URL did not deliver the archive (HTTP error, network failure, cut connection)."""


class _WrongSize(Exception):
    """The server delivers a file whose size differs from the manifest's."""

    def __init__(self, got: int | str) -> None:
        super().__init__(got)
        self.got = got


def _obtain_archive(
    archive: Archive | GitFile, record: int, archives_dir: Path, templates: Sequence[str], progress: bool
) -> Path:
    """Return the path of a verified ``archive`` in ``archives_dir``, downloading it if needed."""
    final = archives_dir / archive.name
    part = archives_dir / (archive.name + ".part")
    if final.exists():
        if final.stat().st_size == archive.size and _digest_of(final, archive, progress) == archive.digest:
            _say(progress, f"{archive.name}: already downloaded and verified")
            return final
        # A stale or corrupt copy (e.g. a manual download that stopped early): fetch it again.
        _say(progress, f"{archive.name}: existing file does not match the manifest, downloading it again")
        final.unlink()

    failures: list[str] = []
    for template in templates:
        url = template.format(record=record, name=urllib.parse.quote(archive.name))
        try:
            fetched = _fetch(url, part, archive.name, archive.size, progress, {archive.digest_name: lambda _size: archive.hasher()})
        except _ServerRefused as exc:
            failures.append(f"{url}: {exc}")
            continue  # the next URL form may work; a partial .part is resumed from there
        except _WrongSize as exc:
            problem = f"size mismatch for {archive.name} (expected {archive.size} bytes, got {exc.got})"
            raise _rejected(part, problem) from None
        if fetched.size != archive.size:
            raise _rejected(part, f"size mismatch for {archive.name} (expected {archive.size} bytes, got {fetched.size})")
        digest = fetched.digests[archive.digest_name]
        if digest != archive.digest:
            problem = f"{archive.digest_name} mismatch for {archive.name} (expected {archive.digest}, got {digest})"
            raise _rejected(part, problem)
        os.replace(part, final)
        _say(progress, f"{archive.name}: downloaded and verified")
        return final

    raise AsckitError(
        f"could not download {archive.name} ({'; '.join(failures)}): check the connection and rerun "
        f"to resume, or download it manually into {archives_dir}/"
    )


def _rejected(part: Path, problem: str) -> AsckitError:
    """Delete a downloaded file that failed verification and build the error that names it."""
    # Deleted rather than kept: a bad .part would otherwise be resumed and fail again forever.
    part.unlink(missing_ok=True)
    return AsckitError(f"{problem}: the file was deleted, rerun to download it again")


#: Makes a hasher for a file of the given total size (git's blob header needs the size; md5 ignores it).
HasherFactory = Callable[[int], Any]


@dataclass(frozen=True)
class Fetched:
    """What a download delivered: the file's size and the digests asked for (name → hex digest)."""

    size: int
    digests: dict[str, str]


def fetch_url(
    url: str,
    part: Path,
    name: str,
    size: int | None = None,
    progress: bool = True,
    digests: Mapping[str, HasherFactory] | None = None,
) -> Fetched:
    """Stream ``url`` into ``part`` (resuming what is there, as for dataset archives); its size and digests.

    For files other than dataset archives (e.g. ``asckit.pretrained.registry``), whose size may be
    unknown (``None``) and which the caller verifies itself with the ``digests`` computed while
    streaming (name → factory of a hasher, given the total size: e.g. ``git_blob_hasher``). A network
    failure keeps ``part`` for the next attempt to resume and raises AsckitError; so does a size
    mismatch, which deletes it.
    """
    try:
        return _fetch(url, part, name, size, progress, digests or {})
    except _ServerRefused as exc:
        raise AsckitError(f"could not download {name} from {url} ({exc}): check the connection and rerun to resume") from None
    except _WrongSize as exc:
        raise _rejected(part, f"size mismatch for {name} (expected {size} bytes, got {exc.got})") from None


def _fetch(url: str, part: Path, name: str, size: int | None, progress: bool, digests: Mapping[str, HasherFactory]) -> Fetched:
    """Stream ``url`` into ``part``, resuming what is there; the size and ``digests`` of ``part``.

    Every byte is read once, by every hasher together: the bytes already in ``part`` (when the
    server resumes after them), then the streamed ones, so that a multi-GB archive is not read
    twice. The hashers are made once the total size is known (``size``, or else the size the server
    announces); only for a file of unknown size whose server announces none are they fed from the
    finished file. ``size`` None: not known in advance (nothing is checked against it).
    """
    offset = _resumable_offset(part, size)
    if offset == size:  # a previous run finished the bytes but stopped before renaming
        return Fetched(offset, _hash_file(part, size, digests, progress, f"{name} (partial)"))
    response = None
    while response is None:
        if size is not None:
            _ensure_free_space(part.parent, size - offset, f"downloading {name}")
        try:
            response = _request(url, offset)
        except _RangeRejected:  # the partial file cannot be trusted: start over, once
            part.unlink()
            offset = 0
    with response:
        if offset and not _resumes_at(response, offset):
            offset = 0  # the server ignored the Range header and sends the whole file: restart from byte 0
        announced = _announced_size(response, offset)
        if announced is not None and size is not None and announced != size:
            raise _WrongSize(f"{announced} announced by the server")
        total = size if size is not None else announced
        hashers = _Hashers(digests, total) if total is not None else None
        if hashers is not None and offset:
            _hash_into(hashers, part, progress, f"{name} (partial)")
        received = _stream(response, part, offset, size, hashers, _progress_bar(progress, name, total, offset))
    if announced is not None and received < announced:
        # The connection closed early: keep the .part so that the next attempt resumes it.
        raise _ServerRefused(f"connection closed after {received} of {announced} bytes")
    if hashers is None:  # no size known before the bytes came
        return Fetched(received, _hash_file(part, received, digests, progress, f"{name} (verify)"))
    return Fetched(received, hashers.hexdigests())


class _RangeRejected(Exception):
    """The server answered HTTP 416 to a Range request: the partial file is not a prefix of its file."""


class _Hashers:
    """The hashers of one file, fed together, so that every byte is read once for all digests."""

    def __init__(self, digests: Mapping[str, HasherFactory], total: int) -> None:
        self.hashers = {digest: make(total) for digest, make in digests.items()}

    def update(self, chunk: bytes) -> None:
        for hasher in self.hashers.values():
            hasher.update(chunk)

    def hexdigests(self) -> dict[str, str]:
        return {digest: hasher.hexdigest() for digest, hasher in self.hashers.items()}


def _hash_file(path: Path, total: int, digests: Mapping[str, HasherFactory], progress: bool, desc: str) -> dict[str, str]:
    """``digests`` of the file at ``path`` (``total`` bytes), in one read; no read when none is asked for."""
    hashers = _Hashers(digests, total)
    if digests:
        _hash_into(hashers, path, progress, desc)
    return hashers.hexdigests()


def _resumable_offset(part: Path, size: int | None) -> int:
    """How many bytes of ``part`` a download may resume after (a ``part`` larger than ``size`` is deleted)."""
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:  # cannot be a prefix of the file: start over
        part.unlink()
        offset = 0
    return offset


def _request(url: str, offset: int) -> http.client.HTTPResponse:
    """The server's response for ``url`` from byte ``offset`` on (a Range request when > 0)."""
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            raise _RangeRejected() from None
        raise _ServerRefused(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _ServerRefused(_describe_network_error(exc)) from None


def _announced_size(response: http.client.HTTPResponse, offset: int) -> int | None:
    """The whole file's size by the response's Content-Length (which counts from ``offset``); None when not sent."""
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _stream(response: http.client.HTTPResponse, part: Path, offset: int, size: int | None, hashers: _Hashers | None, bar) -> int:
    """Append the response body to ``part`` (after its first ``offset`` bytes), feeding ``hashers``; the bytes now in ``part``."""
    received = offset
    with open(part, "ab" if offset else "wb") as out, bar:
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise _ServerRefused(f"{_describe_network_error(exc)} after {received} bytes") from None
            if not chunk:
                return received
            received += len(chunk)
            if size is not None and received > size:  # never fill the disk with a wrong file
                raise _WrongSize(f"more than {size}")
            try:
                out.write(chunk)
            except OSError as exc:  # a local problem (disk full, permissions), not the network
                raise AsckitError(
                    f"cannot write {part}: {exc.strerror}; free some space or choose another --root, then rerun to resume"
                ) from None
            if hashers is not None:
                hashers.update(chunk)
            bar.update(len(chunk))


def _resumes_at(response: http.client.HTTPResponse, offset: int) -> bool:
    """True if ``response`` is a 206 whose Content-Range starts exactly at ``offset``."""
    if response.status != 206:
        return False
    match = re.match(r"bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
    return match is not None and int(match.group(1)) == offset


def _describe_network_error(exc: BaseException) -> str:
    """A short human reason for a network exception (``URLError`` wraps the real one)."""
    reason = getattr(exc, "reason", None) or exc
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return str(text)


# --------------------------------------------------------------------------------------------
# Unpacking


def _unpack(archive_path: Path, dest_root: Path, progress: bool) -> None:
    """Extract ``archive_path`` under ``dest_root`` after checking every member path.

    All members are checked before anything is written, so an unsafe archive leaves no trace.
    Each file is written to a temporary name and renamed, so an interrupted unpack never leaves a
    truncated WAV under its final name (the missing marker makes the next run unpack again).
    """
    try:
        zf = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as exc:
        archive_path.unlink(missing_ok=True)
        raise AsckitError(
            f"{archive_path} is not a readable zip archive ({exc}): the file was deleted, rerun to download it again"
        ) from None
    root = dest_root
    with zf:
        members = [(info, _safe_target(root, info.filename, archive_path)) for info in zf.infolist()]
        _ensure_free_space(root, sum(info.file_size for info, _ in members), f"unpacking {archive_path.name}")
        with _progress_bar(progress, f"unpack {archive_path.name}", len(members), 0, unit="file") as bar:
            for info, target in members:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        with zf.open(info) as src, atomic_path(target) as tmp, open(tmp, "wb") as dst:
                            shutil.copyfileobj(src, dst, _CHUNK)
                    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
                        raise AsckitError(
                            f"{archive_path} is damaged at member '{info.filename}' ({exc}): delete it and rerun"
                        ) from None
                bar.update(1)


def _safe_target(root: Path, member: str, archive_path: Path) -> Path:
    """The extraction path of zip ``member`` under ``root``; AsckitError if it would escape."""
    # Zip names use '/', but a Windows-made archive may carry '\\'; treat both as separators.
    pure = PurePosixPath(member.replace("\\", "/"))
    # Checked on the names alone, not on resolved paths, so that a user's symlinked audio/ folder
    # (e.g. onto a bigger disk) is written through rather than mistaken for an escape.
    unsafe = (
        pure.is_absolute()
        or ".." in pure.parts
        or (bool(pure.parts) and ":" in pure.parts[0])  # a drive letter such as C:
    )
    target = root / pure
    if unsafe:
        raise AsckitError(
            f"unsafe path '{member}' in {archive_path}: it would be written outside {root}; "
            f"nothing was unpacked, delete the archive and report the source"
        )
    return target


def _marker(dataset_dir: Path, archive: Archive) -> Path:
    return dataset_dir / MARKER_DIRNAME / f"{archive.name}.done"


def _is_unpacked(dataset_dir: Path, archive: Archive) -> bool:
    """True if ``archive`` (this exact md5) was fully unpacked into ``dataset_dir`` before."""
    marker = _marker(dataset_dir, archive)
    # The md5 inside ties the marker to one archive version (e.g. 1a dev v1 vs v2).
    return marker.is_file() and marker.read_text(encoding="utf-8").strip() == archive.md5


def _mark_unpacked(dataset_dir: Path, archive: Archive) -> None:
    atomic_write_text(_marker(dataset_dir, archive), archive.md5 + "\n")


# --------------------------------------------------------------------------------------------
# Post-check


def _post_check(dataset_dir: Path, source: DatasetSource, meta_only: bool) -> None:
    """Run the dataset check and the expected row counts; AsckitError listing what is wrong."""
    from asckit.data.tau import check_dataset  # imported here: pandas is slow to import

    report = check_dataset(dataset_dir, audio=not meta_only)
    problems = list(report.problems) + _row_count_problems(dataset_dir, source.expected, source.meta_rows)
    if not problems:
        return
    # The error itself is one line; the full list goes to stderr first so none is hidden.
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    raise AsckitError(
        f"{dataset_dir} was downloaded but has {len(problems)} problem(s), first: {problems[0]}; "
        f"rerun the download to repair, or run `asckit data check {dataset_dir}` for the full list"
    )


def _row_count_problems(dataset_dir: Path, expected: Mapping[str, int], meta_rows: int | None = None) -> list[str]:
    """Compare each ``evaluation_setup/<split>.csv`` row count (header excluded) to ``expected``, and
    that of ``meta.csv`` to ``meta_rows`` (when known).

    A missing CSV is left to ``check_dataset``, which reports it in its own words.
    """
    wanted = {dataset_dir / "evaluation_setup" / f"{split}.csv": want for split, want in expected.items()}
    if meta_rows is not None:
        wanted[dataset_dir / "meta.csv"] = meta_rows
    problems = []
    for csv_path, want in wanted.items():
        if not csv_path.is_file():
            continue
        with open(csv_path, encoding="utf-8") as fh:
            rows = sum(1 for line in fh if line.strip()) - 1
        if rows != want:
            problems.append(f"{csv_path} has {rows} rows, expected {want}")
    return problems


# --------------------------------------------------------------------------------------------
# Small helpers


def _digest_of(path: Path, archive: Archive | GitFile, progress: bool) -> str:
    hasher = archive.hasher()
    _hash_into(hasher, path, progress, f"{path.name} (verify)")
    return hasher.hexdigest()


def _hash_into(hasher: "hashlib._Hash | _Hashers", path: Path, progress: bool, desc: str) -> None:
    """Feed the bytes of ``path`` into ``hasher`` (with a progress bar: archives are GBs)."""
    with open(path, "rb") as fh, _progress_bar(progress, desc, path.stat().st_size, 0) as bar:
        while chunk := fh.read(_CHUNK):
            hasher.update(chunk)
            bar.update(len(chunk))


def _ensure_free_space(folder: Path, needed: int, doing: str) -> None:
    """AsckitError before starting work that would run the disk full halfway through."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise AsckitError(
            f"not enough free space in {folder} for {doing} ({needed / 1e9:.2f} GB needed, "
            f"{free / 1e9:.2f} GB free): free some space or choose another --root"
        )


def _progress_bar(enabled: bool, desc: str, total: int, initial: int, unit: str = "B"):
    from tqdm.auto import tqdm  # imported here so that `import asckit.data.download` stays light

    byte_units = unit == "B"
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        unit_scale=byte_units,
        unit_divisor=1024 if byte_units else 1000,
        disable=not enabled,
        leave=False,
        file=sys.stderr,
    )


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr)
