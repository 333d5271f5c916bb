"""Shared builders and fixtures of the test suite, importable as ``from conftest import ...``:

- ``REPO``, ``shared_reference``: the repository root and the shared reference data beside it;
- ``write_tau_root``: a tiny hand-made dataset in the TAU layout (independent of the synthesiser);
- ``write_feature_dataset``: CSVs and a feature store whose clips carry their class (training tests);
- ``TINY``, ``tiny_config_file``: the smallest training config that still trains;
- ``TINY_SCALE``, ``tiny_experiment``: an experiment of tiny models (``asckit reproduce`` tests);
- ``write_scoring_root``: CSVs of a dataset root without audio, for scoring tests;
- ``write_run_dir``: a run directory (``RunDir``) with given weights as cycle-end checkpoints;
- ``FakeZenodo``: a loopback HTTP server (Range requests, dropped connections) for download tests;
- ``clip_names``, ``random_predictions``, ``shuffled``: prediction sets of made-up clips (fusion tests);
- ``write_keras_h5``, ``randomise``, ``imported_model``, ``probs``: Keras HDF5 files in the
  reference builders' layout and the imported network as every command loads it.
"""

from __future__ import annotations

import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np
import pytest
import torch
import yaml
from torch import nn

from asckit.labels import SCENES_10
from asckit.predictions.reader import Predictions
from asckit.train.run_dir import RunDir

if TYPE_CHECKING:
    from asckit.data.download import DatasetSource

os.environ.setdefault("OMP_NUM_THREADS", "1")

#: The repository root (tests/ is its child).
REPO = Path(__file__).resolve().parents[1]


def shared_reference(folder: str) -> Path:
    """``reference/<folder>`` of the shared data: ``$ASCKIT_SHARED`` when set, else ``shared/``
    beside the repository (CI's and the developers' layout) or beside a worktree's parent folder.
    The path is returned even when absent, so a skip reason can name where it was looked for."""
    bases = [Path(os.environ["ASCKIT_SHARED"])] if os.environ.get("ASCKIT_SHARED") else []
    bases += [REPO.parent / "shared", REPO.parent.parent / "shared"]
    found = next((b for b in bases if (b / "reference" / folder).is_dir()), bases[0])
    return found / "reference" / folder


def write_tau_root(
    root: Path,
    train: list[str],
    evaluate: list[str],
    seconds: float = 1.0,
    sample_rate: int = 44100,
    channels: int = 1,
    label_of=None,
) -> Path:
    """Write WAVs (noise) and TAB CSVs for the given dev-style filenames; labels from the names."""
    import soundfile

    label_of = label_of or (lambda name: name.split("-")[0])
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "evaluation_setup").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    meta = ["filename\tscene_label\tidentifier\tsource_label"]
    for name in train + evaluate:
        samples = int(seconds * sample_rate)
        audio = (0.1 * rng.standard_normal((samples, channels))).astype(np.float32)
        soundfile.write(root / "audio" / name, audio, sample_rate, subtype="PCM_24")
        scene, city, location, _segment, device = Path(name).stem.split("-")
        meta.append(f"audio/{name}\t{label_of(name)}\t{city}-{location}\t{device}")
    (root / "meta.csv").write_text("\n".join(meta) + "\n")
    for split, names in (("train", train), ("evaluate", evaluate)):
        rows = ["filename\tscene_label"] + [f"audio/{n}\t{label_of(n)}" for n in names]
        (root / "evaluation_setup" / f"fold1_{split}.csv").write_text("\n".join(rows) + "\n")
    test_rows = ["filename"] + [f"audio/{n}" for n in evaluate]
    (root / "evaluation_setup" / "fold1_test.csv").write_text("\n".join(test_rows) + "\n")
    return root


TRAIN_NAMES = [
    "airport-lisbon-1000-40000-a.wav",
    "airport-lisbon-1000-40000-b.wav",
    "bus-lyon-1001-40001-a.wav",
    "park-paris-1002-40002-a.wav",
    "park-paris-1002-40002-s1.wav",
]
EVALUATE_NAMES = [
    "airport-vienna-2000-50000-a.wav",
    "bus-vienna-2001-50001-s4.wav",
    "tram-prague-2002-50002-c.wav",
]


@pytest.fixture
def tau_root(tmp_path: Path) -> Path:
    """A valid 8-clip Task 1a root, 1 s clips at 44.1 kHz mono."""
    return write_tau_root(tmp_path / "tau", TRAIN_NAMES, EVALUATE_NAMES)


#: Stored frames of a 1 s clip at 44.1 kHz: 1 + 44100 // 1024.
STATIC_FRAMES = 44


def write_feature_dataset(
    base: Path,
    scenes: tuple[str, ...] = ("airport", "bus", "park"),
    locations_per_scene: int = 3,
    clips_per_location: int = 4,
    train_devices: tuple[str, ...] = ("a", "b"),
    eval_devices: tuple[str, ...] = ("a", "s4"),
) -> tuple[Path, Path]:
    """A TAU-layout root (CSVs only, no audio) and a feature store whose clips carry their class.

    Class k of SCENES_10 lights up mel bins [12k, 12k + 12) over noise, so a narrow model can learn
    it in a few epochs; devices other than 'a' add a spectral tilt, which makes them harder.
    Returns (root, store path).
    """
    from asckit.features.logmel import settings_for
    from asckit.features.store import FeatureStore
    from asckit.labels import SCENES_10

    root, store_path = base / "root", base / "store"
    (root / "evaluation_setup").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = {"train": [], "evaluate": []}
    for s, scene in enumerate(scenes):
        for loc in range(locations_per_scene):
            for clip in range(clips_per_location):
                for device in train_devices:
                    rows["train"].append((f"audio/{scene}-lisbon-{100 * s + loc}-{clip}-{device}.wav", scene))
        for clip in range(clips_per_location):
            for device in eval_devices:
                rows["evaluate"].append((f"audio/{scene}-vienna-{900 + s}-{clip}-{device}.wav", scene))
    for split, items in rows.items():
        text = "filename\tscene_label\n" + "".join(f"{f}\t{s}\n" for f, s in items)
        (root / "evaluation_setup" / f"fold1_{split}.csv").write_text(text)
    test_rows = "filename\n" + "".join(f"{f}\n" for f, _ in rows["evaluate"])
    (root / "evaluation_setup" / "fold1_test.csv").write_text(test_rows)

    store = FeatureStore.create(store_path, settings_for("1a", clip_seconds=1.0), STATIC_FRAMES)
    items = rows["train"] + rows["evaluate"]
    features = rng.uniform(0, 0.4, size=(len(items), 1, 128, STATIC_FRAMES))
    tilt = np.linspace(0, 0.3, 128)[:, None]
    for i, (filename, scene) in enumerate(items):
        k = SCENES_10.index(scene)
        features[i, 0, 12 * k : 12 * k + 12] += 0.5
        if not filename.endswith("-a.wav"):
            features[i, 0] += tilt
    store.append([f for f, _ in items], np.clip(features, 0, 1).astype(np.float16))
    return root, store_path


TINY = [
    "model.width=0.0625",
    "batch_augment.crop_frames=32",
    "batch_augment.time_mask_max=8",
    "optim.batch_size=8",
    "optim.epochs=3",
    "optim.first_cycle=1",  # cycles end after epochs 0, 2, 6, 14, ...
    "snapshots=2",
    "trainer.accelerator=cpu",
    "trainer.progress_bar=false",
    "trainer.log_every_n_steps=1",
]


def tiny_config_file(base: Path, root: Path, store: Path, name: str = "tiny") -> Path:
    path = base / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nruns_dir: {base / 'runs'}\ndata: {{root: {root}, store: {store}}}\n"
        "model: {name: fcnn}\n"
    )
    return path


#: Overrides that make a shipped 1a training config train in seconds (``tiny_experiment``'s scale).
TINY_SCALE = [
    "model.width=0.0625",
    "batch_augment.crop_frames=48",
    "batch_augment.time_mask_max=8",
    "optim.batch_size=16",
    "optim.epochs=2",
    "optim.first_cycle=1",
    "snapshots=1",
    "trainer.accelerator=cpu",
    "trainer.progress_bar=false",
    "data.kinds=[original]",  # the 1a model configs default to the reference's augmented list
]


def tiny_experiment(base: Path) -> Path:
    """An experiment of four tiny models (one distilled) and six systems, at the scale ``tiny``, under ``base``."""
    spec = {
        "name": "tiny",
        "title": "tiny experiment",
        "runs": str(base / "runs" / "{name}-{scale}"),
        "dataset": {
            "root": str(base / "data" / "tiny"),
            "synth": {"task": "1a", "preset": "tiny", "seed": 0},
            "stores": {"scaled": {"path": str(base / "stores" / "{root_name}")}},
        },
        "scales": {"tiny": TINY_SCALE},
        "models": {
            "fcnn": {"config": str(REPO / "configs/task1a/fcnn.yaml")},
            "fcnn_b": {"config": str(REPO / "configs/task1a/fcnn.yaml"), "set": ["batch_augment.spec_augment=false"]},
            "fcnn_3class": {"config": str(REPO / "configs/task1a/fcnn_3class.yaml")},
            "fcnn_kd": {"config": str(REPO / "configs/task1a/fcnn.yaml"), "teacher": "(4)"},
        },
        "systems": [
            {"row": "(0)", "name": "cited", "cited": "published only", "paper": [1, 2, 3, 4, 1.5, 5]},
            {"row": "(1)", "name": "FCNN", "run": "fcnn", "paper": [87.3, 79.5, 75.7, 73.0, 1.07, 76.9]},
            {"row": "(2)", "name": "FCNN no SpecAugment", "run": "fcnn_b"},
            {"row": "(3)", "name": "(1)+(2)", "average": ["fcnn", "fcnn_b"]},
            {"row": "(4)", "name": "two-stage", "two_stage": {"ten": ["fcnn", "fcnn_b"], "three": ["fcnn_3class"]}},
            {"row": "(5)", "name": "FCNN distilled from (4)", "run": "fcnn_kd"},
        ],
        "devices": ["s4"],
        "complexity": True,
        "claims": [{"text": "the ensemble beats its members", "better": "(3)", "than": ["(1)", "(2)"]}],
    }
    path = base / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def clip_names(n: int) -> list[str]:
    """n dev-style clip names, one scene after another."""
    return [f"audio/{SCENES_10[i % 10]}-lisbon-{1000 + i}-{40000 + i}-a.wav" for i in range(n)]


def random_predictions(names, classes, task, seed, source):
    """Random probabilities (Dirichlet) for ``names`` over ``classes``."""
    probs = np.random.default_rng(seed).dirichlet(np.ones(len(classes)), size=len(names))
    return Predictions(names, probs, classes, task, source)


def shuffled(preds: Predictions, seed: int) -> Predictions:
    """The same rows in a random order."""
    return preds.take(np.random.default_rng(seed).permutation(len(preds)))


def write_scoring_root(root, clips_per_class_and_device: int = 2):
    """Write meta.csv and the fold1 evaluate/test CSVs (no audio: scoring never reads it); returns
    the ground truth as a DataFrame (filename, scene_label, device)."""
    import pandas as pd

    from asckit.labels import DEVICES, SCENES_10

    rows = [
        (f"audio/{scene}-lisbon-{1000 + c}-{40000 + 10 * c + j}-{device}.wav", scene, device)
        for c, scene in enumerate(SCENES_10)
        for device in DEVICES
        for j in range(clips_per_class_and_device)
    ]
    truth = pd.DataFrame(rows, columns=["filename", "scene_label", "device"])
    (root / "evaluation_setup").mkdir(parents=True)
    meta = truth.assign(
        identifier=[f"lisbon-{1000 + SCENES_10.index(s)}" for s in truth["scene_label"]], source_label=truth["device"]
    )
    meta[["filename", "scene_label", "identifier", "source_label"]].to_csv(root / "meta.csv", sep="\t", index=False)
    truth[["filename", "scene_label"]].to_csv(root / "evaluation_setup" / "fold1_evaluate.csv", sep="\t", index=False)
    truth[["filename"]].to_csv(root / "evaluation_setup" / "fold1_test.csv", sep="\t", index=False)
    return truth


def write_run_dir(config, states: dict[int, dict]):
    """A run directory for ``config`` (a ``TrainConfig``) as ``asckit train`` leaves it: its config
    and one cycle-end checkpoint per epoch in ``states`` (epoch → model state_dict)."""
    import torch

    from asckit.train.run_dir import RunDir

    run = RunDir(config.run_dir)
    run.checkpoints.mkdir(parents=True)
    run.write_config(config)
    for epoch, state in states.items():
        torch.save({"state_dict": {f"model.{k}": v for k, v in state.items()}}, run.cycle_checkpoint(epoch))
    return run.path


# ----------------------------------------------------------------------------------------------
# A loopback HTTP server for download tests (nothing in tests touches the internet)


class FakeZenodo:
    """Files served at ``/record/<id>/files/<name>``, with switches for the failure modes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.honour_range = True
        self.send_length = True  # False: no Content-Length (as a chunked or streamed response)
        self.cut_after: dict[str, int] = {}  # path -> bytes sent before dropping the connection, once
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                range_header = self.headers.get("Range")
                server.requests.append((path, range_header))
                data = server.files.get(path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
                if match and server.honour_range:
                    start = int(match.group(1))
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                if server.send_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = server.cut_after.pop(path, None)
                self.wfile.write(body if cut is None else body[:cut])
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def template(self, form: str = "record") -> str:
        return f"http://127.0.0.1:{self.port}/{form}/{{record}}/files/{{name}}?download=1"

    def serve(self, source: DatasetSource, contents: dict[str, bytes], form: str = "record") -> None:
        for name, data in contents.items():
            self.files[f"/{form}/{source.record}/files/{name}"] = data

    def fetched(self) -> list[str]:
        """Names of the archives requested so far, in order."""
        return [path.rsplit("/", 1)[1] for path, _ in self.requests]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ----------------------------------------------------------------------------------------------
# Keras HDF5 files written with h5py in the reference builders' layout (test side: its own
# transposes, the inverse of the importer's), and the imported network as every command loads it


def _keras_arrays(module) -> tuple[str, dict[str, np.ndarray], dict]:
    """(Keras class, arrays by weight name, config) of one asckit layer."""
    if isinstance(module, nn.Conv2d):
        w = module.weight.detach().numpy()
        depthwise = module.groups > 1
        arrays = {"depthwise_kernel": w[:, 0].transpose(1, 2, 0)[..., None]} if depthwise else {"kernel": w.transpose(2, 3, 1, 0)}
        if module.bias is not None:
            arrays["bias"] = module.bias.detach().numpy()
        same = hasattr(module, "static_padding")
        config = {"strides": list(module.stride), "padding": "same" if same else "valid"}
        return ("DepthwiseConv2D" if depthwise else "Conv2D"), arrays, config
    if isinstance(module, nn.BatchNorm2d):
        arrays = {"moving_mean": module.running_mean.numpy(), "moving_variance": module.running_var.numpy()}
        if module.affine:
            arrays = {"gamma": module.weight.detach().numpy(), "beta": module.bias.detach().numpy(), **arrays}
        return "BatchNormalization", arrays, {"epsilon": module.eps, "center": module.affine, "scale": module.affine}
    arrays = {"kernel": module.weight.detach().numpy().T, "bias": module.bias.detach().numpy()}
    return "Dense", arrays, {}


_SNAKE = {"Conv2D": "conv2d", "DepthwiseConv2D": "depthwise_conv2d", "BatchNormalization": "batch_normalization",
          "Dense": "dense", "ZeroPadding2D": "zero_padding2d", "Lambda": "lambda", "Concatenate": "concatenate",
          "InputLayer": "input"}


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and BatchNorm statistics, so no layer is the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                if m.affine:
                    m.weight.copy_(1 + 0.2 * torch.randn(m.num_features, generator=g))
                    m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
            elif isinstance(m, nn.Linear | nn.Conv2d) and m.bias is not None:
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return model.eval()


def write_keras_h5(model: nn.Module, path: Path, graph: bool = True, keras_version: str = "2.2.2", junk: int = 0) -> Path:
    """``model`` as a legacy Keras file; two-path models interleaved as Keras lists them. Layers are
    named as ``keras_version`` names them: 2.2 from ``conv2d_1``, 2.15 from ``conv2d``."""
    counters: dict[str, int] = {}
    first = 1 if keras_version.startswith("2.2") else 0

    def name_of(kind: str) -> str:
        base = _SNAKE[kind]
        counters[base] = counters.get(base, first - 1) + 1
        return f"{base}_{counters[base]}" if counters[base] else base

    def chain(units, start: str) -> list[dict]:
        layers, previous = [], start
        for _, module in units:
            kind, arrays, config = _keras_arrays(module)
            if isinstance(module, nn.Conv2d) and config["padding"] == "valid" and module.padding[0]:
                for _ in range(module.padding[0]):  # one ZeroPadding2D(1) per step, like the shipped small-FCNN
                    pad = name_of("ZeroPadding2D")
                    layers.append({"name": pad, "kind": "ZeroPadding2D", "config": {"padding": [[1, 1], [1, 1]]},
                                   "inbound": [previous], "arrays": {}})
                    previous = pad
            name = name_of(kind)
            layers.append({"name": name, "kind": kind, "config": config, "inbound": [previous], "arrays": arrays})
            previous = name
        return layers

    from asckit.pretrained.keras_import import _units

    layers = [{"name": "input_1", "kind": "InputLayer", "config": {}, "inbound": [], "arrays": {}}]
    if hasattr(model, "lower"):
        splits = [name_of("Lambda"), name_of("Lambda")]
        layers += [{"name": s, "kind": "Lambda", "config": {}, "inbound": ["input_1"], "arrays": {}} for s in splits]
        lower = chain([(n, m) for n, m in _units(model.lower)], splits[0])
        upper = chain([(n, m) for n, m in _units(model.upper)], splits[1])
        for a, b in zip(lower, upper):  # equal depths side by side, as Keras lists them
            layers += [a, b]
        concat = name_of("Concatenate")
        layers.append({"name": concat, "kind": "Concatenate", "config": {}, "inbound": [lower[-1]["name"], upper[-1]["name"]], "arrays": {}})
        head = [(n, m) for n, m in _units(model) if not n.startswith(("lower.", "upper."))]
        layers += chain(head, concat)
    else:
        layers += chain(_units(model), "input_1")

    with h5py.File(path, "w") as f:
        group = f.create_group("model_weights") if graph else f
        group.attrs["layer_names"] = [np.bytes_(l["name"]) for l in layers]
        group.attrs["keras_version"] = np.bytes_(keras_version)
        group.attrs["backend"] = np.bytes_("tensorflow")
        for layer in layers:
            g = group.create_group(layer["name"])
            names = [f"{layer['name']}/{k}:0" for k in layer["arrays"]]
            g.attrs["weight_names"] = [np.bytes_(n) for n in names]
            for n, value in zip(names, layer["arrays"].values()):
                g.create_dataset(n, data=np.asarray(value, dtype=np.float32))
        if graph:
            config = {"class_name": "Model", "config": {"name": "model_1", "layers": [
                {"name": l["name"], "class_name": l["kind"], "config": {"name": l["name"], **l["config"]},
                 "inbound_nodes": [[[i, 0, 0, {}] for i in l["inbound"]]] if l["inbound"] else []}
                for l in layers]}}
            f.attrs["model_config"] = json.dumps(config)
            opt = f.create_group("optimizer_weights")
            opt.create_dataset("training/SGD/moment_0", data=np.random.default_rng(0).standard_normal(max(junk, 4)).astype(np.float32))
    return path


def probs(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(model(x), dim=1).numpy()


def imported_model(run: Path) -> nn.Module:
    """The network as every command loads it: run config + its snapshot checkpoint."""
    config = RunDir(run).load_config()
    from asckit.tasks import task_facts
    from asckit.train.predict import load_checkpoint_model

    checkpoint = RunDir(run).snapshot_checkpoints(config.snapshots, explicit=False)[-1]
    return load_checkpoint_model(checkpoint, config, task_facts(config.task).input_channels, torch.device("cpu"))


def write_tau22_root(root: Path, scenes: tuple[str, ...] = ("airport", "bus", "park")) -> Path:
    """A tiny hand-made TAU22 root (noise WAVs of 1 s at 44.1 kHz): per scene two training segments
    recorded by device a (one also by b) and one test segment by a and s4; ten 1 s clips each.
    ``split_setup/split25.csv`` holds the first training segment of every scene, ``split100.csv`` all."""
    import soundfile

    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "split_setup").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    train25, train100, test, meta = [], [], [], ["filename\tscene_label\tidentifier\tsource_label"]
    for s, scene in enumerate(scenes):
        plans = [(f"{1000 + s}", f"{40000 + 10 * s}", ("a", "b"), "t25"), (f"{1100 + s}", f"{40001 + 10 * s}", ("a",), "t100"),
                 (f"{2000 + s}", f"{50000 + 10 * s}", ("a", "s4"), "test")]
        for location, segment, devices, where in plans:
            for device in devices:
                for k in range(10):
                    name = f"audio/{scene}-lisbon-{location}-{segment}-{k}-{device}.wav"
                    soundfile.write(root / name, (0.1 * rng.standard_normal(44100)).astype(np.float32), 44100, subtype="PCM_24")
                    meta.append(f"{name}\t{scene}\tlisbon-{location}\t{device}")
                    row = f"{name}\t{scene}"
                    {"t25": [train25, train100], "t100": [train100], "test": [test]}[where][0].append(row)
                    if where == "t25":
                        train100.append(row)
    (root / "meta.csv").write_text("\n".join(meta) + "\n")
    header = "filename\tscene_label\n"
    (root / "split_setup" / "split25.csv").write_text(header + "\n".join(train25) + "\n")
    (root / "split_setup" / "split100.csv").write_text(header + "\n".join(train100) + "\n")
    (root / "split_setup" / "test.csv").write_text(header + "\n".join(test) + "\n")
    return root


#: Overrides that make a shipped TAU22 config (configs/dcase2024, configs/dcase2025) train in seconds.
TINY_TAU22 = [
    "model.width=0.25",
    "optim.batch_size=16",
    "optim.epochs=1",
    "optim.warmup_fraction=0.5",
    "trainer.accelerator=cpu",
]


@pytest.fixture(scope="session")
def tau22_runs(tmp_path_factory):
    """A tiny TAU22 root, its waveform store, a general 2025 run (split 25, one epoch at ¼ width) and
    a device-specific run of devices a and b from it: (root, store, general config, device config).
    Trained once per session (tests/train/test_tau22_run.py and tests/deploy/test_commands.py use it);
    tests may add outputs to the runs (predictions, an export) but must not change what they hold."""
    from asckit.features.extraction import extract_dataset
    from asckit.train.config import load_config
    from asckit.train.run import train

    base = tmp_path_factory.mktemp("tau22")
    root = write_tau22_root(base / "t22")
    store = extract_dataset(root, base / "store", workers=1, progress=False)
    paths = [f"data.root={root}", f"data.store={base / 'store'}", f"runs_dir={base / 'runs'}", *TINY_TAU22]
    general = load_config(REPO / "configs/dcase2025/general.yaml", paths)
    assert train(general).finished
    devices = load_config(
        REPO / "configs/dcase2025/device_specific.yaml", [*paths, "model.devices=[a, b]", f"init_from={general.run_dir}"]
    )
    assert train(devices).finished
    return root, store, general, devices


#: The TAU22 frontend fixture (reference/dcase2025/frontend.npz) and the mark of tests that need it.
TAU22_FRONTEND = shared_reference("dcase2025") / "frontend.npz"
needs_frontend_fixture = pytest.mark.skipif(
    not TAU22_FRONTEND.is_file(),
    reason=f"the TAU22 frontend fixture is not at {TAU22_FRONTEND} (shared data beside the repository; set ASCKIT_SHARED)",
)


@pytest.fixture(scope="session")
def frontend_reference() -> dict[str, np.ndarray]:
    """The arrays of the TAU22 frontend fixture (``needs_frontend_fixture`` skips where it is absent)."""
    with np.load(TAU22_FRONTEND) as data:
        return {key: data[key] for key in data.files}


def random_cp_mobile(seed: int, **params) -> nn.Module:
    """A narrow CP-Mobile with random weights and BatchNorm statistics away from identity."""
    torch.manual_seed(seed)
    from asckit.models import build

    model = build("cp_mobile", **({"width": 0.25} | params))
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.BatchNorm2d):
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.uniform_(-0.2, 0.2)
                layer.running_mean.uniform_(-0.3, 0.3)
                layer.running_var.uniform_(0.5, 2.0)
    return model.eval()


def random_devices(devices=("a", "s2")):
    """A DeviceSpecificModel of ``random_cp_mobile``s, each device's model different."""
    from asckit.models.device_specific import DeviceSpecificModel

    model = DeviceSpecificModel(random_cp_mobile(0), devices)
    for offset, device in enumerate(devices, start=1):
        model.device_models[device].load_state_dict(random_cp_mobile(offset).state_dict())
    return model.eval()


def write_tau22_bundle(folder: Path, devices: tuple[str, ...] = ("a", "b"), task: str = "2025") -> Path:
    """A hand-made TAU22 export bundle (no torch, no exporter): a general model and one per device in
    ``devices``, each an fp32 ONNX graph of the bundle's input (n, 1, 256, 65) that averages it,
    scales it by 1e-3 and adds a bias favouring one class: the general model says ``SCENES_10[0]``
    (airport), the model of ``devices[i]`` says ``SCENES_10[i + 1]``, so a file's label tells which
    model classified it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from asckit.deploy.bundle import (
        GENERAL_MEMBER,
        INPUT_NAME,
        OUTPUT_NAME,
        Bundle,
        BundleMember,
        DeviceRouting,
        ModelInfo,
        device_member_name,
        member_file_name,
    )

    folder.mkdir(parents=True, exist_ok=True)
    info = ModelInfo.for_tau22(task, SCENES_10)
    names = [GENERAL_MEMBER, *(device_member_name(d) for d in devices)]
    members = []
    for index, name in enumerate(names):
        bias = np.zeros(len(SCENES_10), dtype=np.float32)
        bias[index] = 5.0
        weight = np.linspace(-1e-3, 1e-3, len(SCENES_10), dtype=np.float32)[None, :]
        graph = helper.make_graph(
            [
                helper.make_node("GlobalAveragePool", [INPUT_NAME], ["pooled"]),
                helper.make_node("Flatten", ["pooled"], ["flat"]),
                helper.make_node("MatMul", ["flat", "weight"], ["scores"]),
                helper.make_node("Add", ["scores", "bias"], ["logits"]),
                helper.make_node("Softmax", ["logits"], [OUTPUT_NAME], axis=-1),
            ],
            name,
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["n", *info.input_shape])],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["n", len(SCENES_10)])],
            [numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(bias, "bias")],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx.save(model, str(folder / member_file_name(name, "fp32")))
        members.append(BundleMember(name, {"fp32": member_file_name(name, "fp32")}))
    routing = DeviceRouting(GENERAL_MEMBER, {d: device_member_name(d) for d in devices})
    Bundle(info, tuple(members), precision="fp32", mel=None, routing=routing).write(folder)
    return folder
