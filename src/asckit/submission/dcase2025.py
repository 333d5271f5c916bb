"""DCASE 2025 Task 1 inference packages: ``asckit package RUN --label Lastname_Inst_task1_N --out DIR``.

One job: write the repository the 2025 challenge asks for (reference/dcase2025/README.md §5, after the
organizers' template CPJKU/dcase2025_task1_inference; its facts are followed, its code is not used)::

    DIR/setup.py, DIR/requirements.txt     torch, numpy, soundfile + what the organizers' scripts import
                                           (torchinfo, pandas, scikit-learn); never torchaudio; Python >= 3.10
    DIR/.gitignore                         where there is none: build/, *.egg-info/, predictions/, locks
    DIR/<Package>/__init__.py              <Package> = the label without ``_N``, e.g. Lastname_Inst_task1
    DIR/<Package>/<Label>.py               submission N: load_model, load_inputs, get_model_for_device, predict
    DIR/<Package>/_inference.py            the code they share (``package_template/inference.py``)
    DIR/<Package>/asckit_vendored/         asckit's model and frontend modules, copied (``vendor``)
    DIR/<Package>/resources/               dummy.wav (1 s, 44.1 kHz, mono), test.csv (the dev-test list)
    DIR/<Package>/ckpts/<Label>.pt, .json  the weights (a plain state_dict) and the architecture settings
    DIR/<Package>/asckit_package.json      what asckit wrote: submissions, runs, complexity per device

- **Runs**: CP-Mobile runs of the TAU22 frontend (tasks 2024 and 2025) trained on split 25 (2025 trains
  on split 25 only), finished; a device-specific run ships its general model and its device models, a
  general run its general model alone (no device models: every device uses it). The package holds the
  run's last snapshot (``RunDir.snapshot_checkpoints(1)``).
- **Precision** (``--precision``, ``asckit.models.weight_precision``): ``fp16`` (default, as the template
  ships: 122,296 B for the baseline's width) or ``int8`` (int8 conv weights and float16 scales, real
  parameters: 66,564 B). The package computes in float32 from those stored values (its
  ``_inference`` docstring). Every device model the organizers check (``COMPLEXITY_CHECK_DEVICES``) is
  counted as their ``complexity.py`` counts it (torchinfo MACs of an fp32 copy on the 1 s input, bytes
  of ``parameters()`` at their dtype) and a model over the 2025 limits is refused.
- **Self-contained**: the organizers install the package alone, so its code imports no asckit; the
  model and frontend are asckit's own modules copied by ``vendor`` (``VENDORED_MODULES`` is the list
  allowed to travel), beside the shared template code.
- **Layout facts of the template**: ``resources/`` and ``ckpts/`` are sub-packages (``__init__.py``), since
  ``test_complexity.py`` looks up ``<Package>.resources``; ``package_data`` lists the csv as well (the
  template's own omission makes a non-editable install download the official list instead).
- **Submissions 2 … 4**: a later call with ``_2`` … ``_4`` into the same ``--out`` adds that submission
  (the same label again replaces it); the shared files are rewritten from the current asckit. A
  different dev-test list than the package's other submissions use is refused: the package has one
  ``resources/test.csv``.

The package folder is assembled beside ``DIR/<Package>`` and moved into place whole; files of ``DIR``
that asckit did not write (the organizers' scripts, a ``.git``) are left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import string
import sys
from dataclasses import dataclass
from pathlib import Path

from asckit.core.errors import AsckitError
from asckit.submission.common import check_label

TASK = "2025"
#: The devices the organizers' ``test_complexity.py`` checks, one model each (INF25).
COMPLEXITY_CHECK_DEVICES: tuple[str, ...] = ("a", "b", "c", *(f"s{i}" for i in range(1, 11)))
#: What the package needs to run (torch, numpy, soundfile) and what the organizers' scripts import
#: (torchinfo, pandas, scikit-learn), which the template gets from the package's requirements.
#: Not torchaudio: it cannot be installed beside current torch releases (README §5).
REQUIREMENTS: tuple[str, ...] = ("torch", "numpy", "soundfile", "torchinfo", "pandas", "scikit-learn")
#: The oldest Python the copied code runs on (``X | Y`` unions at run time need 3.10). The template asks for 3.13.
PYTHON_REQUIRES = ">=3.10"
#: Files of the package folder that are not Python modules (``setup.py``'s package_data).
PACKAGE_DATA: tuple[str, ...] = ("resources/*.wav", "resources/*.csv", "ckpts/*.pt", "ckpts/*.json")
#: The copied asckit modules' folder inside the package, and the shared code's module.
VENDORED = "asckit_vendored"
INFERENCE_MODULE = "_inference"
MANIFEST = "asckit_package.json"
RESOURCES, CKPTS = "resources", "ckpts"
DUMMY_WAV, TEST_CSV = "dummy.wav", "test.csv"
#: The asckit modules allowed into a package (``vendor.closure`` refuses any other it reaches).
VENDORED_MODULES: frozenset[str] = frozenset({
    "asckit.audio.clip",
    "asckit.core.errors",
    "asckit.features.fft",
    "asckit.features.tau22_frontend",
    "asckit.features.tau22_torch",
    "asckit.features.tau22_wave",
    "asckit.labels",
    "asckit.models.blocks",
    "asckit.models.cp_mobile",
    "asckit.models.device_specific",
    "asckit.models.weight_precision",
})
#: asckit's template files: the shared code, one submission module, setup.py.
TEMPLATE = Path(__file__).with_name("package_template")
INFERENCE_TEMPLATE, SUBMISSION_TEMPLATE, SETUP_TEMPLATE = "inference.py", "submission.py", "setup.py.in"
#: The repository's .gitignore (written only where it has none): what pip, Python, asckit's writer lock
#: and the organizers' scripts (``predictions/``) leave in it.
GITIGNORE = "# written by asckit package\nbuild/\n*.egg-info/\n__pycache__/\npredictions/\n.*.lock\n"
_PACKAGE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9]+_task1$")

_INIT_DOCSTRINGS = {
    "": "DCASE 2025 Task 1 inference package written by `asckit package`: submissions {package}_1 ... _4 (the ones present).",
    RESOURCES: "The package's resources: dummy.wav (1 s, 44.1 kHz, mono) for the complexity check, test.csv (the dev-test list).",
    CKPTS: "The submissions' weights: <label>.pt (a plain state_dict) and <label>.json (architecture, devices, precision).",
}


def package_name(label: str) -> str:
    """The package a submission label belongs to (the label without ``_N``), or a one-line AsckitError."""
    for problem in check_label(label, TASK):
        raise AsckitError(f"--label: {problem}")
    package = label.rsplit("_", 1)[0]
    if not _PACKAGE_RE.match(package):
        raise AsckitError(
            f"--label {label}: the package {package} must be a Python module name: Lastname and Institute in ASCII letters "
            "and digits, starting with a letter (e.g. Smith_TUW_task1_1)"
        )
    return package


@dataclass(frozen=True)
class DeviceComplexity:
    """One device's model as the organizers count it."""

    macs: int
    param_bytes: int


@dataclass
class Submission:
    """Everything ``write_package`` writes for one submission, read and checked beforehand."""

    label: str
    run: Path
    checkpoint: Path
    precision: str
    model: object  # the DeviceSpecificModel, as shipped
    settings: dict  # ckpts/<label>.json
    complexity: dict[str, DeviceComplexity]
    test_csv: str
    test_csv_source: Path

    @property
    def package(self) -> str:
        return self.label.rsplit("_", 1)[0]


# ----------------------------------------------------------------------------------------------
# Reading and checking


def shipped_model(run: str | os.PathLike, precision: str):
    """The run's last snapshot as a ``DeviceSpecificModel`` shipped at ``precision``, its settings
    (``ckpts/<label>.json``) and the checkpoint it came from; refuses runs a 2025 package cannot hold."""
    import torch

    from asckit.models.device_specific import DeviceSpecificModel
    from asckit.models.weight_precision import to_shipped
    from asckit.tasks import task_facts
    from asckit.train.predict import load_checkpoint_model
    from asckit.train.run_dir import RunDir

    run = RunDir(run)
    if not run.path.exists():
        raise AsckitError(f"{run.path}: no such run folder; check the path (train one with `asckit train configs/dcase2025/general.yaml`)")
    config = run.load_config()
    facts = task_facts(config.task)
    if facts.frontend != "tau22":
        raise AsckitError(
            f"{run.path}: a task {config.task} run (the 2020 log-mel frontend); a 2025 inference package holds CP-Mobile runs "
            "of the TAU22 frontend (task 2024 or 2025): give such a run"
        )
    if config.model.name != "cp_mobile":
        raise AsckitError(
            f"{run.path}: a {config.model.name} run; a 2025 inference package holds cp_mobile runs (the architecture the package "
            "code is copied for): give a cp_mobile run"
        )
    trained = config.data.split or 100
    if trained not in task_facts(TASK).train_percentages:
        raise AsckitError(
            f"{run.path}: trained on split {trained}; DCASE 2025 systems train on split {task_facts(TASK).train_percentages[0]} only: "
            "give a run of that split"
        )
    if not run.is_finished():
        raise AsckitError(f"{run.path}: has not finished training; finish it first (`asckit train CONFIG.yaml --resume`), then package it")
    checkpoint = run.snapshot_checkpoints(1)[-1]
    if config.snapshots > 1:
        print(f"asckit: note: {run.path} averages {config.snapshots} snapshots; the package holds the last one ({checkpoint.name})",
              file=sys.stderr)
    model = load_checkpoint_model(checkpoint, config, facts.input_channels, torch.device("cpu"))
    if not isinstance(model, DeviceSpecificModel):
        model = DeviceSpecificModel(model, devices=())  # a general run: every device uses the general model
    build_kwargs = {k: v for k, v in model.base_model.build_kwargs.items() if k != "name"}
    settings = {
        "architecture": config.model.name,
        "build_kwargs": build_kwargs,
        "devices": list(model.devices),
        "precision": precision,
        "classes": list(facts.classes),
    }
    return to_shipped(model, precision).eval(), settings, checkpoint


def count_devices(model) -> dict[str, DeviceComplexity]:
    """Each of ``COMPLEXITY_CHECK_DEVICES``' model as the organizers' ``complexity.py`` counts it."""
    from asckit.models.counting import parameter_bytes, torchinfo_macs
    from asckit.models.registry import clip_shape

    shape = (1, *clip_shape("cp_mobile", task=TASK))
    counted: dict[int, DeviceComplexity] = {}
    result = {}
    for device in COMPLEXITY_CHECK_DEVICES:
        module = model.for_device(device)
        if id(module) not in counted:
            counted[id(module)] = DeviceComplexity(torchinfo_macs(module, shape), parameter_bytes(module))
        result[device] = counted[id(module)]
    return result


def check_complexity(complexity: dict[str, DeviceComplexity], run: Path, precision: str) -> None:
    """Refuse device models over the DCASE 2025 limits (per device model, for 1 s of audio)."""
    from asckit.tasks import COMPLEXITY_LIMITS, task_facts

    facts = task_facts(TASK)
    limit = next(limit for limit in COMPLEXITY_LIMITS if limit.name == facts.complexity_edition)
    max_macs = limit.max_macs_per_second * facts.clip_seconds
    for device, counts in complexity.items():
        if counts.param_bytes > limit.max_param_bytes:
            fix = "ship it with --precision int8, or train a narrower model" if precision != "int8" else "train a narrower model"
            raise AsckitError(
                f"{run}: the model of device {device} holds {counts.param_bytes:,} B of parameters at {precision}, over {limit.name}'s "
                f"{limit.max_param_bytes:,} B; {fix}"
            )
        if counts.macs > max_macs:
            raise AsckitError(
                f"{run}: the model of device {device} needs {counts.macs:,} MACs for 1 s, over {limit.name}'s {max_macs:,.0f}; train a narrower model"
            )


def dev_test_list(root: str | os.PathLike) -> tuple[str, Path]:
    """``resources/test.csv``'s text (``filename  scene_label``, TAB, the list's order) from the TAU22
    development set ``root``, and the file it was read from."""
    from asckit.data.tau import LAYOUT_TAU22, detect_layout, load_split, require_root, split_path
    from asckit.predictions.file_format import table_text

    root = require_root(root)
    path = split_path(root, "evaluate") if detect_layout(root) == LAYOUT_TAU22 else None
    if path is None or not path.is_file():
        raise AsckitError(
            f"{root}: not a TAU22 development set with a dev-test list (split_setup/test.csv); give its root with --root "
            "(`asckit data download dcase2024-splits --root ROOT`)"
        )
    frame = load_split(root, "evaluate")
    return table_text(["filename", "scene_label"], list(zip(frame["filename"], frame["scene_label"]))), path


def prepare_submission(
    run: str | os.PathLike,
    label: str,
    precision: str = "fp16",
    root: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
) -> Submission:
    """Read and check everything one submission needs (for the package repository ``out``, when
    given: its other submissions' dev-test list, before the models are counted); nothing is written."""
    from asckit.models.weight_precision import SHIPPED_PRECISIONS
    from asckit.train.run_dir import RunDir

    package = package_name(label)
    if precision not in SHIPPED_PRECISIONS:
        raise AsckitError(f"--precision {precision}: use one of {', '.join(SHIPPED_PRECISIONS)} (the parameters' stored precision)")
    model, settings, checkpoint = shipped_model(run, precision)
    test_csv, source = dev_test_list(root if root is not None else RunDir(run).load_config().data.root)
    if out is not None:
        check_same_test_list(existing_package(Path(out), package), Path(out), label, test_csv, source)
    complexity = count_devices(model)
    check_complexity(complexity, Path(run), precision)
    return Submission(label, Path(run), checkpoint, precision, model, settings, complexity, test_csv, source)


# ----------------------------------------------------------------------------------------------
# The output folder


def existing_package(out: Path, package: str) -> dict | None:
    """The manifest of the package ``package`` in ``out`` (None: ``out`` holds no package yet), or a
    one-line AsckitError when ``out`` cannot take it: a file, another package, another project."""
    from asckit.core.io_utils import read_json_object

    if out.exists() and not out.is_dir():
        raise AsckitError(f"--out {out}: is a file; give the folder of the package's repository (it is created if missing)")
    if not out.is_dir():
        return None
    for manifest in sorted(out.glob(f"*/{MANIFEST}")):
        other = read_json_object(manifest, "remove that folder or give another --out").get("package")
        if other != package:
            raise AsckitError(
                f"--out {out}: holds the package {other}; a repository holds one package: give another --out, or a label {other}_N"
            )
    folder = out / package
    if folder.exists() and not (folder / MANIFEST).is_file():
        raise AsckitError(f"--out {out}: {folder.name}/ exists but was not written by asckit package; give another --out or remove it")
    if not (folder / MANIFEST).is_file():
        for name in ("setup.py", "pyproject.toml"):
            if (out / name).exists():
                raise AsckitError(f"--out {out}: holds another project ({name}); give an empty or new folder for the package's repository")
        return None
    return read_json_object(folder / MANIFEST, f"remove {folder} and write its submissions again")


def check_same_test_list(manifest: dict | None, out: Path, label: str, test_csv: str, source: Path) -> None:
    """Refuse a dev-test list (``test_csv``, read from ``source``) other than the one the package's other
    submissions use (``manifest``: the package's in ``out``; None: a new package)."""
    if manifest is None:
        return
    others = sorted(set(manifest.get("submissions", {})) - {label})
    written = out / label.rsplit("_", 1)[0] / RESOURCES / TEST_CSV
    if others and written.is_file() and written.read_text(encoding="utf-8") != test_csv:
        raise AsckitError(
            f"{source}: differs from {written}, the dev-test list of {', '.join(others)}; a package has one "
            "test.csv: give --root of the dataset those were packaged with"
        )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_entry(submission: Submission) -> dict:
    """What ``asckit_package.json`` records of one submission."""
    return {
        "run": str(submission.run.resolve()),
        "checkpoint": submission.checkpoint.name,
        "precision": submission.precision,
        "devices": submission.settings["devices"],
        "complexity": {dev: {"macs": c.macs, "param_bytes": c.param_bytes} for dev, c in submission.complexity.items()},
    }


def setup_text(package: str) -> str:
    """``setup.py`` of the package's repository."""
    from asckit import __version__

    template = string.Template((TEMPLATE / SETUP_TEMPLATE).read_text(encoding="utf-8"))
    return template.substitute(
        package=package,
        package_repr=repr(package),
        package_data=repr(list(PACKAGE_DATA)),
        requirements=repr(list(REQUIREMENTS)),
        python_requires=repr(PYTHON_REQUIRES),
        asckit_version=__version__,
    )


def _docstring_module(text: str) -> str:
    return f'"""{text}"""\n'


def write_dummy_wav(path: Path) -> None:
    """1 s of quiet noise, 44.1 kHz mono 16 bit (the organizers' complexity check only reads its shape)."""
    import numpy as np
    import soundfile

    from asckit.tasks import task_facts

    facts = task_facts(TASK)
    rate = facts.sample_rate
    noise = 0.01 * np.random.default_rng(0).standard_normal(int(round(facts.clip_seconds * rate)))
    soundfile.write(path, noise.astype(np.float32), rate, subtype="PCM_16")


def write_package(submission: Submission, out: str | os.PathLike) -> Path:
    """Write ``submission`` into the package repository ``out`` (module docstring); returns the package folder."""
    import torch

    from asckit import __version__
    from asckit.core.io_utils import atomic_write_text, replace_folder, staging_dir
    from asckit.core.locking import acquire_writer
    from asckit.submission.vendor import template_roots, vendored_modules

    out = Path(out)
    package = submission.package
    manifest = existing_package(out, package)
    check_same_test_list(manifest, out, submission.label, submission.test_csv, submission.test_csv_source)
    inference = (TEMPLATE / INFERENCE_TEMPLATE).read_text(encoding="utf-8")
    roots = template_roots(inference, INFERENCE_TEMPLATE, VENDORED)
    template_roots((TEMPLATE / SUBMISSION_TEMPLATE).read_text(encoding="utf-8"), SUBMISSION_TEMPLATE, VENDORED)
    modules = vendored_modules(roots, VENDORED_MODULES)

    target = out / package
    lock = acquire_writer(target, "inference package")
    try:
        staging = staging_dir(target)
        try:
            if target.is_dir():
                shutil.copytree(target, staging, dirs_exist_ok=True)
                shutil.rmtree(staging / VENDORED, ignore_errors=True)  # the copies of the current asckit, only
            for folder in ("", RESOURCES, CKPTS):
                (staging / folder).mkdir(exist_ok=True)
                (staging / folder / "__init__.py").write_text(_docstring_module(_INIT_DOCSTRINGS[folder].format(package=package)))
            (staging / f"{INFERENCE_MODULE}.py").write_text(inference, encoding="utf-8")
            shutil.copyfile(TEMPLATE / SUBMISSION_TEMPLATE, staging / f"{submission.label}.py")
            _write_vendored(staging / VENDORED, modules, __version__)
            write_dummy_wav(staging / RESOURCES / DUMMY_WAV)
            (staging / RESOURCES / TEST_CSV).write_text(submission.test_csv, encoding="utf-8")
            torch.save(submission.model.state_dict(), staging / CKPTS / f"{submission.label}.pt")
            (staging / CKPTS / f"{submission.label}.json").write_text(json.dumps(submission.settings, indent=1) + "\n")
            record = manifest or {}
            record.update({
                "made_by": "asckit package",
                "asckit_version": __version__,
                "package": package,
                "task": TASK,
                "test_csv": {"source": str(submission.test_csv_source.resolve()), "sha256": _sha256(submission.test_csv)},
            })
            record.setdefault("submissions", {})[submission.label] = manifest_entry(submission)
            record["submissions"] = dict(sorted(record["submissions"].items()))
            (staging / MANIFEST).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
            replace_folder(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        atomic_write_text(out / "setup.py", setup_text(package))
        atomic_write_text(out / "requirements.txt", "".join(f"{r}\n" for r in REQUIREMENTS))
        if not (out / ".gitignore").exists():
            atomic_write_text(out / ".gitignore", GITIGNORE)
    finally:
        lock.release()
    return target


def _write_vendored(folder: Path, modules, version: str) -> None:
    """The copied modules under ``folder``, an ``__init__.py`` (importing nothing) in each of its folders."""
    listed = "\n".join(f"- {m.name}" for m in modules)
    folder.mkdir()
    (folder / "__init__.py").write_text(_docstring_module(
        f"asckit's own modules (asckit {version}), copied by `asckit package` as they are, with only their\n"
        f"`from asckit...` imports made relative (asckit.submission.vendor):\n\n{listed}\n"
    ))
    for module in modules:
        path = folder / module.relative_path
        for parent in reversed(path.relative_to(folder).parents[:-1]):
            init = folder / parent / "__init__.py"
            if not init.exists():
                init.parent.mkdir(parents=True, exist_ok=True)
                init.write_text(_docstring_module(f"Copied from asckit.{'.'.join(parent.parts)} (see the parent package)."))
        path.write_text(module.text, encoding="utf-8")


# ----------------------------------------------------------------------------------------------
# Command handler (asckit.submission.commands)


def run_package(args: argparse.Namespace) -> int:
    """Handler of ``asckit package RUN --label L --out DIR``."""
    from asckit.core.io_utils import refuse_output_over_input
    from asckit.models.weight_precision import SHIPPED_PRECISIONS

    package = package_name(args.label)
    if args.precision not in SHIPPED_PRECISIONS:
        raise AsckitError(f"--precision {args.precision}: use one of {', '.join(SHIPPED_PRECISIONS)} (the parameters' stored precision)")
    existing_package(args.out, package)  # before the run is read: a wrong --out costs nothing
    refuse_output_over_input(args.out, [args.run, args.root])
    refuse_output_over_input(args.out / package, [args.run, args.root], folder=True)
    submission = prepare_submission(args.run, args.label, args.precision, args.root, args.out)
    folder = write_package(submission, args.out)
    devices = ", ".join(submission.settings["devices"]) or "none (every device uses the general model)"
    print(f"wrote {folder / (args.label + '.py')} from {submission.checkpoint} ({submission.precision}; device models: {devices})")
    macs = max(c.macs for c in submission.complexity.values())
    size = max(c.param_bytes for c in submission.complexity.values())
    print(f"each device model ({', '.join(COMPLEXITY_CHECK_DEVICES)}), as the organizers count it: at most {macs:,} MACs "
          f"and {size:,} B of parameters")
    print(f"install: pip install {args.out}; then the organizers' test_complexity.py and evaluate_submission.py with "
          f"--submission_name {package} --submission_index {args.label.rsplit('_', 1)[1]}")
    return 0


__all__ = [
    "COMPLEXITY_CHECK_DEVICES",
    "PACKAGE_DATA",
    "PYTHON_REQUIRES",
    "REQUIREMENTS",
    "VENDORED_MODULES",
    "DeviceComplexity",
    "Submission",
    "check_complexity",
    "count_devices",
    "dev_test_list",
    "existing_package",
    "package_name",
    "prepare_submission",
    "run_package",
    "shipped_model",
    "write_package",
]
