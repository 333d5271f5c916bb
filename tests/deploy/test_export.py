"""Tests for asckit.deploy.export: ONNX export of snapshot averages, BN folding, int8 (static QDQ and
dynamic), size accounting, the budget, parity, and ``asckit export RUN`` on run directories.

Models are 1b small-FCNNs at ¼ width on 2 s clips (86 frames), fitted for a few steps on
synthetic features whose class is a band of raised energy, so outputs are not uniform.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from conftest import shared_reference

from asckit.core.errors import AsckitError
from asckit.deploy.export import (
    Evaluation,
    Member,
    check_budget,
    export_bundle,
    parity_of_predictions,
    quantize_onnx,
)
from asckit.deploy.runtime import load_exported_model
from asckit.features.logmel import settings_for
from asckit.labels import SCENES_3, SCENES_10
from asckit.models import build
from asckit.tasks import task_facts

SETTINGS = settings_for("1b", clip_seconds=2.0)
FRAMES = SETTINGS.frames() - 8  # 86 model frames


def synthetic_features(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features in [0, 1] whose class c has raised energy in mel bands 40c .. 40c + 29."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.random((n, 6, 128, FRAMES), dtype=np.float32) * 0.5
    for i, c in enumerate(y):
        x[i, :, 40 * c : 40 * c + 30, :] += 0.5
    return x, y


def fit_briefly(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, steps: int, seed: int) -> torch.nn.Module:
    """A few SGD steps, then BN statistics recomputed on the data (Keras momentum 0.99 barely
    moves them in so few steps)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        rows = rng.choice(len(x), 16, replace=False)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x[rows])), torch.from_numpy(y[rows]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for layer in model.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.reset_running_stats()
            layer.momentum = None  # cumulative average over the passes below
    with torch.no_grad():
        for start in range(0, len(x), 16):
            model(torch.from_numpy(x[start : start + 16]))
    return model.eval()


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = synthetic_features(96, seed=0)
    first = fit_briefly(build("small_fcnn", width=0.25), x, y, steps=30, seed=0)
    second = fit_briefly(copy.deepcopy(first), x, y, steps=5, seed=1)  # a later "snapshot"
    test_x, test_y = synthetic_features(60, seed=1)
    return {"snapshots": [first, second], "train_x": x, "test_x": test_x, "test_y": test_y}


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """A 1b bundle: the two snapshots averaged in one graph, static int8, parity on 60 clips."""
    parent = tmp_path_factory.mktemp("export")
    labels = [SCENES_3[k] for k in trained["test_y"]]
    report = export_bundle(
        parent / "bundle",
        [Member("sfcnn", trained["snapshots"])],
        "1b",
        SETTINGS,
        int8="static",
        calibration=trained["train_x"][:16],
        evaluation=Evaluation(labels, features=trained["test_x"], source="synthetic test features"),
    )
    return {"dir": parent / "bundle", "parent": parent, "report": report}


def torch_average(snapshots, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.mean([torch.softmax(m(torch.from_numpy(x)), dim=-1).numpy() for m in snapshots], axis=0)


def graph(path: Path) -> onnx.GraphProto:
    return onnx.load(str(path)).graph


# ------------------------------------------------------------------------------------ graphs


def test_snapshot_average_is_one_graph_with_a_dynamic_batch(trained, exported):
    bundle = exported["dir"]
    assert sorted(p.name for p in bundle.glob("*.onnx")) == ["sfcnn.fp32.onnx", "sfcnn.int8.onnx"]
    fp32 = load_exported_model(bundle, precision="fp32", threads=1)
    for batch in (1, 3):
        x = trained["test_x"][:batch]
        np.testing.assert_allclose(fp32.predict_features(x), torch_average(trained["snapshots"], x), atol=1e-5)


def test_batchnorm_is_folded_into_convs_and_the_others_survive(trained, exported):
    """BN right after a conv is folded; the input BN and the head's BN after its ReLU (affine=False),
    which no conv precedes, remain in fp32 and int8 (2 per snapshot), and outputs still match."""
    for name in ("sfcnn.fp32.onnx", "sfcnn.int8.onnx"):
        g = graph(exported["dir"] / name)
        producer = {out: node for node in g.node for out in node.output}
        bns = [n for n in g.node if n.op_type == "BatchNormalization"]
        assert len(bns) == 2 * len(trained["snapshots"]), name
        for bn in bns:
            assert producer.get(bn.input[0]) is None or producer[bn.input[0]].op_type != "Conv", name
    int8 = load_exported_model(exported["dir"], precision="int8", threads=1)
    x = trained["test_x"][:8]
    assert np.max(np.abs(int8.predict_features(x) - torch_average(trained["snapshots"], x))) < 0.05


def test_static_int8_is_qdq_with_per_channel_weights(exported):
    g = graph(exported["dir"] / "sfcnn.int8.onnx")
    ops = {n.op_type for n in g.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops and "ConvInteger" not in ops
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    per_channel = [
        n for n in g.node
        if n.op_type == "DequantizeLinear" and inits.get(n.input[0]) is not None
        and inits[n.input[0]].dtype == np.int8 and inits[n.input[0]].ndim == 4 and inits[n.input[1]].size > 1
    ]
    assert per_channel, "conv weights should be int8 with one scale per output channel"
    # Probabilities stay float: from the output back to the Softmaxes, nothing is quantized.
    producer = {out: node for node in g.node for out in node.output}
    tail, seen = [g.output[0].name], []
    while tail:
        node = producer.get(tail.pop())
        if node is None or node.op_type == "Softmax":
            continue
        seen.append(node.op_type)
        tail.extend(node.input)
    assert seen and not {"QuantizeLinear", "DequantizeLinear"} & set(seen), seen
    description = json.loads({p.key: p.value for p in onnx.load(str(exported["dir"] / "sfcnn.int8.onnx")).metadata_props}["asckit"])
    assert description["precision"] == "int8-static" and description["classes"] == list(SCENES_3)


def test_static_int8_convolutions_run_on_aligned_integer_inputs(trained, exported, tmp_path):
    """The 6-channel first convolutions reach ONNX Runtime with 8 input channels (its fast int8
    kernels need a multiple of 4), padded on the uint8 values rather than in float, while the file
    stores the 6-channel weights and each distinct constant once."""
    import onnxruntime as ort

    path = exported["dir"] / "sfcnn.int8.onnx"
    g = graph(path)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    producer = {out: node for node in g.node for out in node.output}
    pads = [n for n in g.node if n.op_type == "Pad"]
    activation_pads = [n for n in pads if n.input[0] not in inits]
    # at least each snapshot's first conv (6 feature channels); at 1/4 width some others too
    assert len(activation_pads) >= len(trained["snapshots"])
    for pad in activation_pads:
        assert producer[pad.input[0]].op_type == "QuantizeLinear" and pad.input[2] == producer[pad.input[0]].input[2]
    stored = [(inits[n.input[0]], int(inits[n.input[1]][5])) for n in pads if n.input[0] in inits]
    assert len(stored) == len(activation_pads)
    assert any(w.shape[1] == 6 for w, _ in stored)
    assert all(w.dtype == np.int8 and w.shape[1] % 4 and (w.shape[1] + extra) % 4 == 0 for w, extra in stored)
    keys = [(str(a.dtype), a.shape, a.tobytes()) for a in inits.values()]
    assert len(keys) == len(set(keys)), "identical constants are stored once"

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.log_severity_level = 3  # its warning that a saved ORT_ENABLE_ALL model is hardware-specific
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    optimized = graph(tmp_path / "optimized.onnx")
    weights = {t.name: t.dims for t in optimized.initializer}
    convs = [n for n in optimized.node if n.op_type == "QLinearConv"]
    assert convs and all(weights[n.input[3]][1] % 4 == 0 for n in convs)
    made_by = {out: node.op_type for node in optimized.node for out in node.output}
    assert all(made_by.get(n.input[0]) != "DequantizeLinear" for n in optimized.node if n.op_type == "Pad")


def test_dynamic_int8_uses_convinteger_shrinks_the_file_and_leaves_no_files(exported, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # ORT's pre-processing writes temporaries into the working directory
    fp32 = exported["dir"] / "sfcnn.fp32.onnx"
    out = quantize_onnx(fp32, tmp_path / "dynamic.onnx", "dynamic")
    assert os.listdir(work) == []
    assert sorted(os.listdir(tmp_path)) == ["cwd", "dynamic.onnx"]
    ops = {n.op_type for n in graph(out).node}
    assert "ConvInteger" in ops and "Conv" not in ops
    assert out.stat().st_size < 0.5 * fp32.stat().st_size


def test_static_quantization_leaves_no_files_in_the_working_directory(trained, exported, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    quantize_onnx(exported["dir"] / "sfcnn.fp32.onnx", tmp_path / "out" / "static.onnx", "static", trained["train_x"][:4])
    assert os.listdir(tmp_path) == ["out"] and os.listdir(tmp_path / "out") == ["static.onnx"]
    # The bundle was assembled in a staging folder that is gone; the writer lock file stays (asckit.core.locking).
    assert sorted(os.listdir(exported["parent"])) == [".bundle.lock", "bundle"]


def test_static_quantization_needs_calibration(exported, tmp_path):
    with pytest.raises(AsckitError, match="calibration"):
        quantize_onnx(exported["dir"] / "sfcnn.fp32.onnx", tmp_path / "x.onnx", "static", None)


# ------------------------------------------------------------------------------------ size


class HandCounted(torch.nn.Module):
    """A model small enough to count by hand: 3x3 conv (6 → 4, no bias, 'same'), BN, ReLU,
    global average pooling, linear 4 → 3."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(6, 4, 3, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(4)
        self.head = torch.nn.Linear(4, 3)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.head(x.mean(dim=(2, 3)))


def hand_counted(seed: int) -> HandCounted:
    torch.manual_seed(seed)
    model = HandCounted()
    with torch.no_grad():
        model.conv.weight[0] = 0.0  # one output channel pruned: 6 x 3 x 3 = 54 zero weights
        model.bn.weight.copy_(torch.tensor([1.0, 0.5, 2.0, 1.5]))
        model.bn.bias.copy_(torch.tensor([0.1, -0.1, 0.2, 0.0]))  # one zero
        model.bn.running_mean.copy_(torch.tensor([0.0, 0.2, 0.4, 0.6]))  # one zero
        model.bn.running_var.copy_(torch.tensor([1.0, 2.0, 0.5, 1.0]))
    return model.eval()


# Counted by hand for one HandCounted on a (6, 128, 86) clip:
#   parameters: conv 4·6·3·3 = 216, BN weight + bias 4 + 4 = 8, linear 4·3 + 3 = 15 → 239;
#   BN running mean + variance: 8 more stored values → 247, of which 54 + 1 + 1 = 56 are zero → 191;
#   MACs: the conv keeps 128 x 86 positions, 4 · (128·86) · (6·3·3) = 2,377,728, the linear 4·3 = 12
#   (BN, ReLU and pooling are not counted) → 2,377,740.
HAND_PARAMS, HAND_NONZERO, HAND_MACS = 239, 191, 2_377_740


def test_every_artifact_reports_bytes_counts_and_the_dcase_size(tmp_path):
    """Two snapshots of a hand-counted model in one graph: every count is twice the hand count,
    and the DCASE size is non-zero values x bits / 8 / 1024 (the 1b rule)."""
    x = np.random.default_rng(0).random((4, 6, 128, FRAMES), dtype=np.float32)
    report = export_bundle(
        tmp_path / "bundle", [Member("hand", [hand_counted(0), hand_counted(1)])], "1b", SETTINGS, int8="static", calibration=x
    )
    artifacts = {a["file"]: a for a in report["artifacts"]}
    assert set(artifacts) == {"hand.fp32.onnx", "hand.int8.onnx"}
    for name, artifact in artifacts.items():
        assert artifact["file_bytes"] == (tmp_path / "bundle" / name).stat().st_size
        assert (artifact["params"], artifact["nonzero"], artifact["macs"]) == (2 * HAND_PARAMS, 2 * HAND_NONZERO, 2 * HAND_MACS)
    assert artifacts["hand.fp32.onnx"]["bits"] == 32 and artifacts["hand.int8.onnx"]["bits"] == 8
    assert artifacts["hand.fp32.onnx"]["dcase_kb"] == 2 * 191 * 4 / 1024  # 382 values x 4 bytes
    assert artifacts["hand.int8.onnx"]["dcase_kb"] == 2 * 191 / 1024  # 382 values x 1 byte
    bundle = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert bundle["precision"] == "int8"
    assert bundle["complexity"]["file_bytes"] == artifacts["hand.int8.onnx"]["file_bytes"]
    assert bundle["complexity"]["total_parameters"] == 2 * HAND_PARAMS
    assert bundle["complexity"]["total_parameters_non_zero"] == 2 * HAND_NONZERO
    # Against every edition's limits: both snapshots count, MACs per second of audio counted on a 10 s clip
    # (the conv's positions grow with the frames: 128 x 431 of a 10 s 1b clip, vs 128 x 86 of this 2 s one).
    ten_seconds = 2 * (4 * 128 * 461 * 6 * 9 + 12) / 10
    assert all(a["macs_per_second"] == pytest.approx(ten_seconds) for a in artifacts.values())
    limits = {(c["limit"], c["quantity"]): c for c in report["limits"]}
    assert limits[("DCASE 2022", "params")]["value"] == 2 * HAND_PARAMS
    assert limits[("DCASE 2022", "params")]["bound"] == 128_000 and limits[("DCASE 2022", "params")]["ok"]
    assert limits[("DCASE 2022", "MACs/s")]["value"] == pytest.approx(ten_seconds)
    assert f"{ten_seconds / 1e6:.2f} M ≤ 30.00 M: ok" in limits[("DCASE 2022", "MACs/s")]["text"]
    assert limits[("DCASE 2020 1b", "int8 KB")]["value"] == pytest.approx(2 * 191 / 1024)
    # 2023-2025: parameter bytes at the two precisions the bundle deploys.
    assert limits[("DCASE 2023-2025", "fp32 param bytes")]["value"] == 2 * HAND_PARAMS * 4
    assert limits[("DCASE 2023-2025", "int8 param bytes")]["value"] == 2 * HAND_PARAMS
    assert ("DCASE 2023-2025", "fp16 param bytes") not in limits


def test_int8_files_store_the_weights_as_int8_and_are_smaller(exported):
    artifacts = {a["file"]: a for a in exported["report"]["artifacts"]}
    assert artifacts["sfcnn.int8.onnx"]["file_bytes"] < artifacts["sfcnn.fp32.onnx"]["file_bytes"]
    int8_graph = artifacts["sfcnn.int8.onnx"]["graph_values"]
    assert int8_graph.get("int8", 0) >= 0.9 * artifacts["sfcnn.int8.onnx"]["params"]  # weights stored as int8


def test_budget_is_checked_on_file_bytes():
    files = [{"file": "a.onnx", "file_bytes": 300 * 1024}, {"file": "b.onnx", "file_bytes": 200 * 1024}]
    check_budget(files, 500.0)  # exactly at the budget passes
    check_budget(files, None)
    files[1]["file_bytes"] += 1
    with pytest.raises(AsckitError, match=r"500\.0 KB.*a\.onnx 300\.0 KB.*over the 500 KB budget"):
        check_budget(files, 500.0)


def test_an_export_over_the_1b_budget_is_refused_and_writes_nothing(tmp_path):
    """The full-width small-FCNN in fp32 (1.4 MB) against the default 500 KB of Task 1b."""
    assert task_facts("1b").budget_kb == 500.0
    model = build("small_fcnn").eval()
    with pytest.raises(AsckitError, match=r"KB.*over the 500 KB budget"):
        export_bundle(tmp_path / "bundle", [Member("big", [model])], "1b", SETTINGS, int8=None)
    assert os.listdir(tmp_path) == [".bundle.lock"]  # only the writer lock file (asckit.core.locking)


def test_export_refuses_a_folder_that_is_not_a_bundle(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(AsckitError, match="not an export bundle"):
        export_bundle(tmp_path / "out", [Member("m", [build("small_fcnn", width=0.25)])], "1b", SETTINGS, int8=None)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_bad_inputs_are_refused_before_any_member_is_exported(tmp_path, monkeypatch):
    """A logistic fusion fitted on other members or classes, and static int8 without calibration clips,
    are found before the first member is exported: nothing is exported, nothing written, no lock taken."""
    import asckit.deploy.export as export_module

    def exporting(*args, **kwargs):
        raise AssertionError("a member was exported before the inputs were checked")

    monkeypatch.setattr(export_module, "export_onnx", exporting)
    members = [Member("a", [hand_counted(0)]), Member("b", [hand_counted(1)])]
    other_members = {"members": ["a", "c", "b"], "classes": list(SCENES_3), "coef": [], "intercept": []}
    with pytest.raises(AsckitError, match=r"fitted on 3 members \(a, c, b\).*this export has 2 \(a, b\).*same members, in the same order"):
        export_bundle(tmp_path / "bundle", members, "1b", SETTINGS, int8=None, logistic=other_members)
    other_classes = {**other_members, "members": ["a", "b"], "classes": ["x", "y", "z"]}
    with pytest.raises(AsckitError, match=r"of classes x y z; this export has 2 \(a, b\) of indoor outdoor transportation"):
        export_bundle(tmp_path / "bundle", members, "1b", SETTINGS, int8="dynamic", logistic=other_classes)
    with pytest.raises(AsckitError, match="static int8 quantization needs calibration clips"):
        export_bundle(tmp_path / "bundle", members, "1b", SETTINGS, int8="static", calibration=None)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------------ parity


def test_parity_report_matches_independent_scores(trained, exported):
    from asckit.scoring.metrics import metrics_from_arrays

    parity = exported["report"]["parity"]
    labels = [SCENES_3[k] for k in trained["test_y"]]
    x = trained["test_x"]
    for precision in ("fp32", "int8"):
        probs = load_exported_model(exported["dir"], precision=precision, threads=1).predict_features(x)
        metrics = metrics_from_arrays(labels, probs, SCENES_3)
        assert parity[precision]["accuracy"] == pytest.approx(metrics["macro_accuracy"])
        assert parity[precision]["log_loss"] == pytest.approx(metrics["log_loss"])
    torch_accuracy = metrics_from_arrays(labels, torch_average(trained["snapshots"], x), SCENES_3)["macro_accuracy"]
    assert parity["fp32"]["accuracy"] == pytest.approx(torch_accuracy)
    assert parity["fp32"]["accuracy"] > 0.5  # the fitted model is better than chance (1/3)
    assert parity["agreement"] >= 0.9
    assert abs(parity["int8"]["log_loss"] - parity["fp32"]["log_loss"]) < 0.05
    difference = parity["difference"]
    assert difference["points"] == pytest.approx(100 * (parity["int8"]["accuracy"] - parity["fp32"]["accuracy"]), abs=1e-4)
    assert difference["low_points"] <= difference["points"] <= difference["high_points"]
    assert parity["holds"] == (parity["agreement"] >= 0.98 and difference["high_points"] >= 0) and parity["holds"] == (not parity["problems"])


def _constructed(flips_to_wrong: int, flips_to_right: int, clips_per_class: int = 63):
    """630 labelled clips (the demo's evaluate split), fp32 right on about 60 % of them, and an
    int8 that differs from fp32 on exactly the given numbers of clips, each flip in another class."""
    labels = [scene for scene in SCENES_10 for _ in range(clips_per_class)]
    y = np.array([SCENES_10.index(label) for label in labels])
    right = np.random.default_rng(0).random(len(y)) < 0.6
    guess = np.where(right, y, (y + 1) % 10)
    p32 = np.full((len(y), 10), 0.02)
    p32[np.arange(len(y)), guess] = 0.82
    int8_guess = guess.copy()
    by_class = [np.flatnonzero(y == k) for k in range(10)]
    right_ones = [i for k in range(10) for i in by_class[k] if right[i]]
    wrong_ones = [i for k in range(10) for i in by_class[k] if not right[i]]
    for i in right_ones[::clips_per_class // 2][:flips_to_wrong]:
        int8_guess[i] = (y[i] + 2) % 10
    for i in wrong_ones[::clips_per_class // 4][:flips_to_right]:
        int8_guess[i] = y[i]
    assert (int8_guess != guess).sum() == flips_to_wrong + flips_to_right
    p8 = np.full((len(y), 10), 0.02)
    p8[np.arange(len(y)), int8_guess] = 0.82
    return labels, p32, p8


@pytest.mark.parametrize(
    ("lost", "gained", "holds", "problem"),
    [
        (0, 0, True, None),
        (3, 0, True, None),  # 0.5 points of 630 clips: 3 clips, within the noise (a fixed 0.5-point target failed it)
        (2, 2, True, None),
        (6, 0, False, "less accurate than fp32 beyond the noise"),  # 99.0 % agreement, but every flip a loss
        (4, 4, True, None),  # 98.7 % agreement, no net loss
        (7, 7, False, "agree on the top class of 97.8 % of the clips (target ≥ 98 %)"),  # no net loss, too many flips
        (0, 14, False, "agree on the top class of 97.8 %"),  # int8 better, but not the same model
    ],
)
def test_parity_is_judged_by_agreement_and_the_paired_interval(lost, gained, holds, problem):
    labels, p32, p8 = _constructed(lost, gained)
    parity = parity_of_predictions(labels, p32, p8, SCENES_10, task="1a")
    assert parity["clips"] == 630 and parity["agreement"] == pytest.approx(1 - (lost + gained) / 630)
    assert parity["holds"] is holds
    if problem is None:
        assert parity["problems"] == []
    else:
        assert len(parity["problems"]) == 1 and problem in parity["problems"][0]
    difference = parity["difference"]
    assert difference["points"] == pytest.approx(100 * (parity["int8"]["accuracy"] - parity["fp32"]["accuracy"]), abs=1e-4)
    assert (difference["points"] < 0) == (lost > gained) and difference["low_points"] <= difference["points"] <= difference["high_points"]


# ------------------------------------------------------------------------------------ runs


def make_run(runs: Path, name: str, root: Path, store: Path, seed: int) -> Path:
    """A run directory as ``asckit train`` leaves it: resolved config and three cycle-end checkpoints."""
    from conftest import write_run_dir

    from asckit.train.config import config_from_dict

    config = config_from_dict(
        {
            "name": name,
            "task": "1b",
            "runs_dir": str(runs),
            "snapshots": 2,
            "data": {"root": str(root), "store": str(store)},
            "model": {"name": "small_fcnn", "width": 0.25},
        }
    )
    states = {}
    for epoch in (0, 2, 6):
        torch.manual_seed(seed + epoch)
        states[epoch] = build("small_fcnn", width=0.25).state_dict()
    return write_run_dir(config, states)


def test_export_command_on_two_runs_with_logistic_fusion(tmp_path, capsys):
    """``asckit export RUN1 RUN2 --fusion F.json``: last 2 cycle-end checkpoints of each run in one
    graph, static int8 calibrated on the run's training clips, parity on its evaluate split."""
    from conftest import write_tau_root

    from asckit.cli import main
    from asckit.features.store import FeatureStore
    from asckit.fusion.core import apply_logistic
    from asckit.fusion.logistic import LogisticFusion

    train = ["indoor-lisbon-1000-40000-a.wav", "outdoor-lisbon-1001-40001-a.wav", "transportation-lyon-1002-40002-a.wav"]
    evaluate = ["indoor-vienna-2000-50000-a.wav", "outdoor-vienna-2001-50001-a.wav"]
    root = write_tau_root(tmp_path / "data", train, evaluate, seconds=1.0, sample_rate=48000, channels=2)
    settings = settings_for("1b", clip_seconds=1.0)
    FeatureStore.create(tmp_path / "store", settings, frames=settings.frames())
    runs = [make_run(tmp_path / "runs", name, root, tmp_path / "store", seed) for seed, name in enumerate(("mob", "sf"))]
    rng = np.random.default_rng(0)
    fusion = LogisticFusion("1b", ("mob", "sf"), rng.normal(size=(3, 6)), rng.normal(size=3))
    fusion.save(tmp_path / "fusion.json")

    out = tmp_path / "bundle"
    code = main(["export", *map(str, runs), "--out", str(out), "--fusion", str(tmp_path / "fusion.json")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "mob.int8.onnx" in printed and "parity on 2 clips" in printed
    assert "limits: DCASE 2022 params" in printed and "limits: DCASE 2020 1b int8 KB" in printed

    bundle = json.loads((out / "bundle.json").read_text())
    assert [m["name"] for m in bundle["members"]] == ["mob", "sf"]
    assert [m["snapshots"] for m in bundle["members"]] == [2, 2]
    assert bundle["fusion"] == {"method": "logistic", "file": "fusion_logistic.json"}
    assert bundle["window"]["seconds"] == 1.0 and bundle["input"]["frames"] == settings.frames() - 8

    # The bundle applies the logistic fusion to its members' int8 outputs.
    model = load_exported_model(out, threads=1)
    x = np.random.default_rng(1).random((2, 6, 128, settings.frames() - 8), dtype=np.float32)
    expected = apply_logistic(fusion.to_dict(), model.member_outputs(x))
    np.testing.assert_allclose(model.predict_features(x), expected, atol=1e-12)
    result = model.predict([root / "audio" / evaluate[0]])
    assert result.probs.shape == (1, 3) and not result.errors


def test_a_store_with_other_front_end_settings_carries_them_to_the_bundle_and_predict(tmp_path, capsys):
    """Features at 64 mels and hop 512 → a run → `asckit export` → `asckit predict`: the deployed
    front end computes what the store holds, so the ONNX input shape matches on real audio."""
    from conftest import write_run_dir, write_tau_root

    from asckit.cli import main
    from asckit.features.extraction import extract_dataset
    from asckit.train.config import config_from_dict

    train = ["park-lisbon-1000-40000-a.wav", "bus-lyon-1002-40002-a.wav"]
    evaluate = ["park-vienna-2000-50000-a.wav", "tram-vienna-2001-50001-a.wav"]
    root = write_tau_root(tmp_path / "data", train, evaluate, seconds=1.0)
    store = extract_dataset(root, tmp_path / "store", workers=1, progress=False, front_end=["n_mels=64", "hop_length=512"])
    config = config_from_dict(
        {"name": "narrow", "task": "1a", "runs_dir": str(tmp_path / "runs"), "snapshots": 1,
         "data": {"root": str(root), "store": str(store.path)}, "model": {"name": "fcnn", "width": 0.0625}}
    )
    torch.manual_seed(0)
    run = write_run_dir(config, {0: build("fcnn", width=0.0625).state_dict()})

    out = tmp_path / "bundle"
    assert main(["export", str(run), "--out", str(out), "--fp32-only", "--no-parity"]) == 0
    bundle = json.loads((out / "bundle.json").read_text())
    frames = 1 + 44100 // 512 - 8
    assert bundle["input"]["frames"] == frames
    model = load_exported_model(out, threads=1)
    assert (model.info.settings.n_mels, model.info.settings.hop_length) == (64, 512)
    result = model.predict([root / "audio" / evaluate[0]])
    assert not result.errors and result.probs.shape == (1, 10)
    assert np.isclose(result.probs.sum(), 1.0, atol=1e-5)


# ------------------------------------------------------------------------------------ TAU22 (DCASE 2024/2025)

REFERENCE = shared_reference("dcase2025")
needs_reference = pytest.mark.skipif(
    not (REFERENCE / "outputs.npz").is_file(), reason=f"the reference fixtures are not at {REFERENCE} (set ASCKIT_SHARED)"
)


def test_fp16_storage_keeps_the_graph_float32_with_half_the_weight_bytes(tmp_path):
    """Every weight of more than one value stored as float16 and cast back; the graph computes in
    float32 and gives the fp32 graph's output within float16 rounding of the weights."""
    from conftest import write_tau22_bundle
    from onnx import TensorProto

    from asckit.deploy.export import onnx_size, store_weights_fp16

    fp32 = write_tau22_bundle(tmp_path / "b", devices=()) / "general.fp32.onnx"
    fp16 = store_weights_fp16(fp32, tmp_path / "general.fp16.onnx", {"precision": "fp16"})
    g = graph(fp16)
    assert {t.data_type for t in g.initializer} == {TensorProto.FLOAT16}
    assert [n.op_type for n in g.node].count("Cast") == len(g.initializer) == 2
    assert onnx_size(fp16)["graph_values"] == {"float16": 20}
    x = np.random.default_rng(0).random((2, 1, 256, 65), dtype=np.float32)
    import onnxruntime as ort

    run = {p: ort.InferenceSession(str(p)).run(None, {"features": x})[0] for p in (fp32, fp16)}
    assert run[fp16].dtype == np.float32
    np.testing.assert_allclose(run[fp16], run[fp32], atol=1e-4)
    assert json.loads(dict((p.key, p.value) for p in onnx.load(str(fp16)).metadata_props)["asckit"]) == {"precision": "fp16"}


def test_a_weight_beyond_float16_is_refused(tmp_path):
    from conftest import write_tau22_bundle
    from onnx import numpy_helper

    from asckit.deploy.export import store_weights_fp16

    path = write_tau22_bundle(tmp_path / "b", devices=()) / "general.fp32.onnx"
    model = onnx.load(str(path))
    model.graph.initializer[1].CopyFrom(numpy_helper.from_array(np.full(10, 1e6, np.float32), "bias"))
    onnx.save(model, str(path))
    with pytest.raises(AsckitError, match="beyond float16's ±65504; deploy int8 or fp32"):
        store_weights_fp16(path, tmp_path / "x.fp16.onnx")
    assert not (tmp_path / "x.fp16.onnx").exists()


@pytest.mark.slow
@needs_reference
def test_an_imported_2025_checkpoint_exports_to_the_references_probabilities_per_device(tmp_path):
    """cpmobile_2025_devices.ckpt through `import-ckpt`'s API and `asckit export`'s run loading (all six
    device models found), fp32 and fp16 ONNX of the general model and device a's: on the fixture's
    log-mel each gives the reference's softmax within 1e-4 (fp16: within its rounding), a mixed batch
    is routed clip by clip, an id without a model of its own gets the general model."""
    from asckit.deploy.commands import load_run
    from asckit.pretrained.cpjku_checkpoint import import_cpjku_checkpoint

    torch.set_num_threads(1)
    run = import_cpjku_checkpoint(REFERENCE / "cpmobile_2025_devices.ckpt", tmp_path / "run").run_dir
    members, routing = load_run(run).members()
    assert [m.name for m in members] == ["general", *(f"device-{d}" for d in ("a", "b", "c", "s1", "s2", "s3"))]
    assert routing.devices == {d: f"device-{d}" for d in ("a", "b", "c", "s1", "s2", "s3")}
    # One of the six device models (each full-width export costs seconds): a; s2 then has no model of its own.
    tested = ("a",)
    members = [m for m in members if m.name in ("general", *(f"device-{d}" for d in tested))]
    routing = type(routing)(routing.general, {d: routing.devices[d] for d in tested})
    report = export_bundle(tmp_path / "bundle", members, "2025", int8=None, routing=routing)
    assert report["precisions"] == ["fp32", "fp16"] and report["deployed"] == "fp32"
    logmel = np.load(REFERENCE / "frontend.npz")["logmel"].reshape(3, 1, 256, 65)
    outputs = np.load(REFERENCE / "outputs.npz")

    def softmax(logits: np.ndarray) -> np.ndarray:
        return torch.softmax(torch.from_numpy(logits).double(), dim=1).numpy()

    for precision, tolerance in (("fp32", 1e-4), ("fp16", 2e-3)):
        model = load_exported_model(tmp_path / "bundle", precision, threads=1)
        for device in tested:
            np.testing.assert_allclose(model.predict_features(logmel, device), softmax(outputs[f"logits_2025_{device}"]), atol=tolerance)
        np.testing.assert_allclose(model.predict_features(logmel, "s4"), softmax(outputs["logits_2025_unknown"]), atol=tolerance)
        np.testing.assert_allclose(model.predict_features(logmel), softmax(outputs["logits_2025_base"]), atol=tolerance)
        mixed = model.predict_features(logmel, ["a", "s2", "s7"])  # the fixture's mixed batch, s2 here by the general model
        expected = softmax(outputs["logits_2025_mixed_devices"])
        expected[1] = softmax(outputs["logits_2025_base"])[1]
        np.testing.assert_allclose(mixed, expected, atol=tolerance)
        assert np.abs(expected[1] - softmax(outputs["logits_2025_s2"])[1]).max() > 10 * tolerance  # so routing shows
    # the baseline's figures per device model: 61,148 parameters, 122,296 B at fp16, torchinfo's 29,419,156 MACs
    fp16 = {a["member"]: a for a in report["artifacts"] if a["precision"] == "fp16"}
    assert {a["params"] for a in fp16.values()} == {61_148} and {a["param_bytes"] for a in fp16.values()} == {122_296}
    assert {a["macs"] for a in fp16.values()} == {29_419_156}
    verdicts = {(c["member"], c["precision"]): c["ok"] for c in report["limits"] if c["quantity"].endswith("param bytes")}
    assert verdicts[("device-a", "fp32")] is False and verdicts[("device-a", "fp16")] is True  # 244,592 B > 128,000 B


def test_padded_average_pools_become_the_depthwise_convolutions_they_equal(tmp_path):
    """cp_mobile's shortcut pool (3×3, stride (1, 2), padding 1 counted) as a depthwise conv: the same
    output; a pool that does not count its padding is kept."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from asckit.deploy.export import average_pools_as_convs

    nodes = [
        helper.make_node("AveragePool", ["x"], ["counted"], kernel_shape=[3, 3], strides=[1, 2], pads=[1, 1, 1, 1], count_include_pad=1),
        helper.make_node("AveragePool", ["x"], ["uncounted"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0),
    ]
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, 8, 8])
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("counted", "uncounted")]
    path = tmp_path / "pools.onnx"
    onnx.save(helper.make_model(helper.make_graph(nodes, "pools", [x_info], outputs), opset_imports=[helper.make_opsetid("", 17)]), str(path))
    x = np.random.default_rng(0).random((2, 4, 8, 8), dtype=np.float32)
    before = ort.InferenceSession(str(path)).run(None, {"x": x})
    assert average_pools_as_convs(path) == 1
    assert [n.op_type for n in graph(path).node] == ["Conv", "AveragePool"]
    after = ort.InferenceSession(str(path)).run(None, {"x": x})
    np.testing.assert_allclose(after[0], before[0], atol=1e-6)
    np.testing.assert_array_equal(after[1], before[1])
