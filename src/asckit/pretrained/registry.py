"""The published models asckit knows: the paper authors' Keras models (``get`` = download + verify +
import) and the published checkpoints of the DCASE 2025 protocol (``get_checkpoint`` = download + verify).

One job: ``get(name, out)`` turns a registry name into an imported asckit run directory. Every
file is fetched with the dataset downloader (``asckit.data.download.fetch_url``: resumable with
HTTP Range, into ``<cache>/<file>.part``), verified by its **git blob SHA-1** (SHA-1 of
``b"blob <size>\\0" + bytes``, what ``git hash-object`` prints, so the authors' repository itself
is the checksum list; computed by the downloader while the bytes stream in) and by its size where
known, and only then renamed. A file that fails is
deleted and nothing is imported. The fsFCNN is published as a two-part split zip (``zip -s``);
its parts are joined as the authors' readme says (``cat .z01 .z02``), and the central directory's
per-part offsets are rewritten as offsets into the joined file (what ``zip -FF`` does), because
Python's ``zipfile`` does not read split archives; then the one ``.hdf5`` inside is extracted
(macOS's AppleDouble members, ``__MACOSX/._name.hdf5``, are not models and are ignored).

Where the authors also published a TFLite file of the model (the two 1b models: their dynamic-range
int8 conversion), ``get`` downloads and verifies it with the Keras file, before anything is
imported, and copies it into the run's ``published/`` folder (``RunDir.published_dir``), so the
authors' deployable file sits beside the imported model; the cache keeps both, which is the folder
``benchmarks/inference.py --published`` reads.

The accuracies are **as published**: the authors' figure on the TAU 2020 fold-1 evaluate split,
on which the checkpoint was also picked (docs/reference-code.md §5). They are not asckit measurements.
The repository (github MihawkHu/DCASE2020_task1, MIT licence) is where the files come from; asckit
does not ship them.

The DCASE 2025 checkpoints (``CHECKPOINTS``, reference/dcase2025/README.md §5b) are the ``ckpts/`` of
the 2025 rank-1 team's inference package (turquenite/dcase2025_task1_inference, pinned to one commit):
no licence is published for them, so asckit neither ships nor imports them by itself; it downloads one
when asked, verifies its git blob SHA-1 the same way, and names the command that imports it
(``asckit import-ckpt``).
"""

from __future__ import annotations

import os
import shutil
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from asckit.core.errors import AsckitError

#: Where the published files live (raw file URLs of the authors' repository, branch master).
SOURCE_REPOSITORY = "https://github.com/MihawkHu/DCASE2020_task1"
BASE_URL = "https://raw.githubusercontent.com/MihawkHu/DCASE2020_task1/master/"
def default_cache() -> Path:
    """The default download folder: ``$XDG_CACHE_HOME/asckit/pretrained``, else ``~/.cache/asckit/pretrained``
    (read when a command runs, so a changed HOME or XDG_CACHE_HOME is honoured)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "asckit" / "pretrained"
ACCURACY_NOTE = "as published: the authors' accuracy on the TAU 2020 fold-1 evaluate split, picked on that same split"
TFLITE_NOTE = ("the authors published TFLite files (dynamic-range int8) only of the two 1b models (mobnet-tf2 holds mobnet-1b's weights); "
               "get copies it into RUN/published/")


@dataclass(frozen=True)
class PublishedFile:
    """One file in the authors' repository: path, git blob SHA-1 and byte size (None = not known)."""

    path: str
    git_sha1: str
    size: int | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class PublishedModel:
    """A published model; ``files`` are its parts (one h5, or the parts of a split zip)."""

    name: str
    task: str
    arch: str
    classes: int  # as the authors' own loader builds it; a file with other classes is refused
    accuracy: float | None  # as published (see ACCURACY_NOTE); None = none published
    description: str
    files: tuple[PublishedFile, ...]
    tflite: PublishedFile | None = None  # the authors' dynamic-range int8 TFLite of it
    params: dict = field(default_factory=dict)

    @property
    def split_zip(self) -> bool:
        return len(self.files) > 1


_1A10 = "task1a/10class/pretrained_models/"
_1A3 = "task1a/3class/pretrained_models/"
_1B = "task1b/pretrained_models/"
_TF2 = "other_TF2_format_pretrained/"

#: The 1b Mobnet's TFLite: of mobnet-1b's weights, which mobnet-tf2 holds too.
_MOBNET_TFLITE = PublishedFile(_1B + "mobnet-model-0.9517-quantized.tflite", "32cc7c03fb8c7e35c7e92d6848b0d1e244235462", 252_256)

#: The published models (reference/keras/README.md), 1a then 1b, then the files of the authors' TF2 folder.
MODELS: dict[str, PublishedModel] = {
    m.name: m
    for m in (
        PublishedModel("fcnn-10class", "1a", "fcnn", 10, 0.7694, "1a FCNN, num_filters [48, 96, 192]",
                       (PublishedFile(_1A10 + "10class-fcnn-model-0.7694.hdf5", "3e1491013a49a762a4ebcdeca1ae8a9e46f3b530"),)),
        PublishedModel("fsfcnn-10class", "1a", "fsfcnn", 10, 0.7620, "1a fsFCNN (published as a two-part split zip)",
                       (PublishedFile(_1A10 + "10class-fsfcnn-model-0.7620.hdf5.z01", "54ae9baa38b9b4a097d87ac24e42f73d8fbcd7d8"),
                        PublishedFile(_1A10 + "10class-fsfcnn-model-0.7620.hdf5.z02", "d999183a4df58ba99c4db602dd34528083e4cec2"))),
        PublishedModel("resnet-10class", "1a", "resnet", 10, 0.7458, "1a Resnet-d, num_filters 48",
                       (PublishedFile(_1A10 + "10class-resnet-model-0.7458.hdf5", "cbb34ef3496852113de4bb005a8b6b91ec0898fb"),)),
        PublishedModel("fcnn-3class", "1a", "fcnn", 3, 0.9290, "1a 3-class FCNN (two-stage fusion)",
                       (PublishedFile(_1A3 + "3class-fcnn-model-0.9290.hdf5", "16a3278d5defe86877009573e8b06cdfda9d9827"),)),
        PublishedModel("resnet-3class", "1a", "resnet", 3, 0.9141, "1a 3-class Resnet, num_filters 24 (two-stage fusion)",
                       (PublishedFile(_1A3 + "3class-resnet-model-0.9141.hdf5", "5b49e27d5d670b015ee1ec55aa2fbe4e0ffad047"),)),
        PublishedModel("mobnet-1b", "1b", "mobnet", 3, 0.9517, "1b Mobnet",
                       (PublishedFile(_1B + "mobnet-model-0.9517.hdf5", "492978081cdf5ade869c6e17b7a8cd332443f775", 1_840_720),),
                       _MOBNET_TFLITE),
        PublishedModel("smallfcnn-1b", "1b", "small_fcnn", 3, 0.9618, "1b small-FCNN, the shipped variant [6, 12, 16]",
                       (PublishedFile(_1B + "smallfcnn-model-0.9618.hdf5", "b65bbe7acc6c8c6da0cac26dd7960c712a82af7b", 1_991_400),),
                       PublishedFile(_1B + "smallfcnn-model-0.9618-quantized.tflite", "f5763ade4f501a46e4441bd3693b379f5844630b", 248_432)),
        PublishedModel("fcnn-tf2", "1a", "fcnn", 10, None,
                       "1a FCNN [48, 96, 192] from the TF2 folder (10 classes, as its fcnn_att.py builds it)",
                       (PublishedFile(_TF2 + "fcnn-all.h5", "ef235b2fbd94f6c633eef0bdbd4259d365037ea8"),)),
        PublishedModel("resnet-tf2", "1a", "resnet", 10, None,
                       "1a Resnet-d 48 from the TF2 folder (10 classes, as its resnet.py builds it)",
                       (PublishedFile(_TF2 + "resnet-all.h5", "9c1d705a39ea74bd7a3b05059f5a0368a39ce064"),)),
        PublishedModel("mobnet-tf2", "1b", "mobnet", 3, 0.9517,
                       "mobnet-1b re-saved by Keras 2.2.4: same weights, only HDF5 timestamps and versions differ",
                       (PublishedFile(_TF2 + "mob2-all.h5", "b74c5b2d4a9a6893adc232d2fe4456278bbe8f00", 1_840_720),), _MOBNET_TFLITE),
    )
}


#: The 2025 rank-1 team's inference package (Karasin_JKU), where the DCASE 2025 checkpoints come from.
CKPT_REPOSITORY = "https://github.com/turquenite/dcase2025_task1_inference"
CKPT_COMMIT = "b21b3b54795af98bccec66416db83acb46e49160"
CKPT_BASE_URL = f"https://raw.githubusercontent.com/turquenite/dcase2025_task1_inference/{CKPT_COMMIT}/"
CKPT_LICENCE_NOTE = ("no licence is published for these files: asckit does not ship them, it downloads one on request "
                     "(verified by git blob SHA-1); check your right to use it")
#: The cache subfolder of the checkpoints (their file names, baseline.ckpt and sysN.ckpt, say nothing of their source).
CKPT_CACHE_FOLDER = f"dcase2025_task1_inference-{CKPT_COMMIT[:7]}"


@dataclass(frozen=True)
class PublishedCheckpoint:
    """A published PyTorch checkpoint of the DCASE 2025 protocol: one file of ``CKPT_REPOSITORY``."""

    name: str
    description: str
    file: PublishedFile


#: The folder of the package the checkpoints are in.
CKPT_FOLDER = "Karasin_JKU_task1/ckpts/"

#: reference/dcase2025/README.md §5b. baseline.ckpt has the git blob of the organizers' template's own
#: ``ckpts/baseline.ckpt`` in its first commit (da99d53, the fork's root); Karasin_JKU_task1_N.py loads sysN.ckpt.
CHECKPOINTS: dict[str, PublishedCheckpoint] = {
    c.name: c
    for c in (
        PublishedCheckpoint("dcase2025-baseline", "the organizers' 2025 baseline checkpoint, as their inference template ships it",
                            PublishedFile(CKPT_FOLDER + "baseline.ckpt", "29c04c53c5da2b6931d7ce11b0ebe1837ebd0fb5")),
        *(PublishedCheckpoint(f"karasin2025-sys{n}", f"team Karasin_JKU (rank 1 in DCASE 2025), submission {n}: "
                              f"Karasin_JKU_task1_{n}'s checkpoint", PublishedFile(CKPT_FOLDER + f"sys{n}.ckpt", sha1, size))
          for n, sha1, size in ((1, "ee3962928d919443adbde9ff7267685325971860", None),
                                (2, "6859221e9a0f566d44cadcec041dcc4e0400d08f", None),
                                (3, "a236edee8fda57070a4b0996094ade244b07a4c5", None),
                                (4, "a3d332c56350a99d2c4dfcabfefac0c239cff86d", 3_941_781))),
    )
}


def model(name: str) -> PublishedModel:
    if name not in MODELS:
        raise AsckitError(f"unknown published model {name!r}; `asckit pretrained list` shows: {', '.join([*MODELS, *CHECKPOINTS])}")
    return MODELS[name]


def fetch(file: PublishedFile, cache: Path, base_url: str = BASE_URL, progress: bool = True) -> Path:
    """``cache/<name>``, downloaded (resumably) and verified; a file that fails is deleted."""
    from asckit.data.download import fetch_url, git_blob_hasher, git_blob_sha1

    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AsckitError(f"cannot create the download folder {cache}: {exc.strerror}; choose another --cache") from None
    final = cache / file.name
    if final.is_file() and git_blob_sha1(final) == file.git_sha1:
        return final
    final.unlink(missing_ok=True)
    part = cache / (file.name + ".part")
    fetched = fetch_url(base_url.rstrip("/") + "/" + file.path, part, file.name, file.size, progress, {"git": git_blob_hasher})
    got = fetched.digests["git"]
    if got != file.git_sha1:
        part.unlink()
        raise AsckitError(
            f"{file.name}: downloaded bytes have git blob SHA-1 {got}, the published file has {file.git_sha1}; "
            "the download was deleted and nothing was imported, rerun to download it again"
        )
    os.replace(part, final)
    return final


def get_checkpoint(name: str, cache: str | os.PathLike | None = None, base_url: str = CKPT_BASE_URL, progress: bool = True) -> Path:
    """Download (resumably) and verify the DCASE 2025 checkpoint ``name``; its path in the cache.

    Only downloaded: ``asckit import-ckpt`` turns it into a run directory. A file already in the cache
    with the published git blob SHA-1 is not fetched again.
    """
    if name not in CHECKPOINTS:
        raise AsckitError(f"unknown published checkpoint {name!r}; `asckit pretrained list` shows: {', '.join(CHECKPOINTS)}")
    cache = Path(cache) if cache is not None else default_cache()
    return fetch(CHECKPOINTS[name].file, cache / CKPT_CACHE_FOLDER, base_url, progress)


def join_split_zip(parts: list[Path], target: Path) -> Path:
    """Join the parts of a ``zip -s`` split archive into one zip that ``zipfile`` reads.

    ``cat`` of the parts keeps the entries' offsets relative to the part they start in; they are
    rewritten as offsets into the joined file and every disk number set to 0 (what ``zip -FF``
    does). Hand-written because neither the standard library nor a maintained package reads
    split zips; only the classic (non-zip64) records are handled, which is what a file under 4 GB gets.
    """
    starts, total = [], 0
    with open(target, "wb") as out:
        for part in parts:
            starts.append(total)
            with open(part, "rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)
            total += part.stat().st_size
    with open(target, "r+b") as handle:
        tail_start = max(0, total - (22 + 0xFFFF))
        handle.seek(tail_start)
        tail = handle.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0:
            raise AsckitError(f"{parts[-1]}: no zip end record; the parts are not a split zip")
        _sig, disk, cd_disk, _here, entries, cd_size, cd_offset, comment = struct.unpack("<IHHHHIIH", tail[at : at + 22])
        if disk != len(parts) - 1 or cd_disk >= len(parts):
            raise AsckitError(f"{parts[-1]}: the split zip has {disk + 1} parts, {len(parts)} were given")
        if 0xFFFFFFFF in (cd_offset, cd_size) or entries == 0xFFFF:
            raise AsckitError(f"{parts[-1]}: a zip64 split archive; join it with `zip -FF` instead")
        cd_start = starts[cd_disk] + cd_offset
        handle.seek(cd_start)
        directory = bytearray(handle.read(cd_size))
        pos = 0
        for _ in range(entries):
            if directory[pos : pos + 4] != b"PK\x01\x02":
                raise AsckitError(f"{parts[-1]}: damaged zip central directory")
            name_len, extra_len, comment_len, entry_disk = struct.unpack_from("<HHHH", directory, pos + 28)
            (offset,) = struct.unpack_from("<I", directory, pos + 42)
            struct.pack_into("<H", directory, pos + 34, 0)
            struct.pack_into("<I", directory, pos + 42, starts[entry_disk] + offset)
            pos += 46 + name_len + extra_len + comment_len
        handle.seek(cd_start)
        handle.write(directory)
        handle.seek(tail_start + at)
        handle.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, cd_size, cd_start, comment))
    return target


def _is_model_member(filename: str) -> bool:
    """A .h5/.hdf5 member that is a file, not macOS metadata (``__MACOSX/`` folders, ``._`` AppleDouble files)."""
    parts = filename.replace("\\", "/").split("/")
    if "__MACOSX" in parts or parts[-1].startswith("._"):
        return False
    return parts[-1].lower().endswith((".h5", ".hdf5"))


def extract_model(archive: Path, folder: Path) -> Path:
    """The one Keras file (.h5/.hdf5) in ``archive``, extracted into ``folder``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if _is_model_member(m.filename)]
            if len(members) != 1:
                raise AsckitError(f"{archive}: expected one .h5/.hdf5 file inside, found {len(members)}")
            target = folder / Path(members[0].filename.replace("\\", "/")).name  # no folders: nothing can escape
            with zf.open(members[0]) as src, open(target.with_suffix(target.suffix + ".part"), "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, OSError) as exc:
        raise AsckitError(f"{archive}: cannot be unzipped ({exc}); delete it and rerun") from None
    os.replace(target.with_suffix(target.suffix + ".part"), target)
    return target


def get(
    name: str,
    out: str | os.PathLike,
    cache: str | os.PathLike | None = None,
    base_url: str = BASE_URL,
    progress: bool = True,
    root: str | os.PathLike | None = None,
    store: str | os.PathLike | None = None,
):
    """Download, verify and import published model ``name`` into the run directory ``out``, with the
    authors' TFLite of it (if they published one) in ``out/published/``."""
    from asckit.pretrained.keras_import import import_keras, require_new_run_folder
    from asckit.train.run_dir import RunDir

    entry = model(name)
    out = require_new_run_folder(out)
    cache = Path(cache) if cache is not None else default_cache()
    paths = [fetch(f, cache, base_url, progress) for f in entry.files]
    tflite = fetch(entry.tflite, cache, base_url, progress) if entry.tflite else None
    keras_file = paths[0]
    if entry.split_zip:
        joined = join_split_zip(paths, cache / (entry.files[0].name.rsplit(".", 1)[0] + ".joined.zip"))
        keras_file = extract_model(joined, cache)
        joined.unlink()
    provenance = {
        "registry_name": entry.name,
        "repository": SOURCE_REPOSITORY,
        "files": [{"path": f.path, "git_sha1": f.git_sha1} for f in entry.files],
        "published_accuracy": entry.accuracy,
        "accuracy_note": ACCURACY_NOTE,
        **({"tflite": {"path": entry.tflite.path, "git_sha1": entry.tflite.git_sha1}} if entry.tflite else {}),
    }
    result = import_keras(keras_file, out, arch=entry.arch, task=entry.task, root=root, store=store, provenance=provenance)
    try:
        if result.guess.num_classes != entry.classes:
            raise AsckitError(f"{keras_file}: has {result.guess.num_classes} classes, the registry says {entry.classes}; not imported")
        if tflite is not None:
            published = RunDir(out).published_dir
            published.mkdir()
            shutil.copyfile(tflite, published / (tflite.name + ".part"))
            os.replace(published / (tflite.name + ".part"), published / tflite.name)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return result


__all__ = ["ACCURACY_NOTE", "BASE_URL", "CHECKPOINTS", "CKPT_BASE_URL", "CKPT_COMMIT", "CKPT_FOLDER", "CKPT_LICENCE_NOTE",
           "CKPT_REPOSITORY", "MODELS", "TFLITE_NOTE", "PublishedCheckpoint", "PublishedFile", "PublishedModel", "default_cache",
           "extract_model", "fetch", "get", "get_checkpoint", "join_split_zip", "model"]
