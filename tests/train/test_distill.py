"""Tests for knowledge distillation (asckit.train.module, datamodule, predict): the loss against a
hand computation, teacher targets mixed by mixup with the inputs' λ, refusal of rows the teacher
file lacks, teacher predictions on the training rows (augmented copies included), and a tiny
teacher → student run end to end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, tiny_config_file, write_feature_dataset

from asckit.cli import main
from asckit.core.errors import AsckitError
from asckit.data.tau import load_split
from asckit.features.store import FeatureStore
from asckit.labels import SCENES_10
from asckit.predictions.file_format import read_provenance
from asckit.predictions.reader import read_predictions, write_predictions
from asckit.train import batch_augment
from asckit.train.config import load_config
from asckit.train.datamodule import StoreDataModule
from asckit.train.module import distillation_loss, tempered
from asckit.train.predict import predict_split

torch.set_num_threads(1)


def test_the_loss_is_lambda_ce_plus_tau_squared_kl_by_hand() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 1.5]])
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.3, 0.7]])
    teacher_probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    tau, lam = 3.0, 0.25
    teacher = tempered(teacher_probs, tau)
    expected = 0.0
    for i in range(2):
        z = logits[i].tolist()
        log_s = [v - math.log(sum(math.exp(u) for u in z)) for v in z]
        ce = -sum(y * ls for y, ls in zip(labels[i].tolist(), log_s))
        zt = [v / tau for v in z]
        log_st = [v - math.log(sum(math.exp(u) for u in zt)) for v in zt]
        powered = [p ** (1 / tau) for p in teacher_probs[i].tolist()]
        t = [p / sum(powered) for p in powered]
        kl = sum(ti * (math.log(ti) - ls) for ti, ls in zip(t, log_st))
        expected += (lam * ce + (1 - lam) * tau**2 * kl) / 2
    got = distillation_loss(logits, labels, teacher, tau, lam)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # λ = 1 is plain cross-entropy; the KL term is zero when the student matches the teacher.
    assert distillation_loss(logits, labels, teacher, tau, 1.0).item() == pytest.approx(
        -(labels * torch.log_softmax(logits, 1)).sum(1).mean().item(), rel=1e-6
    )
    matched = torch.log(teacher_probs) * 1.0
    assert distillation_loss(matched, labels, tempered(teacher_probs, 1.0), 1.0, 0.0).item() == pytest.approx(0.0, abs=1e-6)


def test_cpjku_kl_reduction_is_the_reference_formula_and_a_tenth_of_batchmean() -> None:
    g = torch.Generator().manual_seed(4)
    student, teacher_logits = torch.randn(6, 10, generator=g) * 3, torch.randn(6, 10, generator=g) * 3
    labels = torch.nn.functional.one_hot(torch.arange(6) % 10, 10).float()
    tau = 2.0
    teacher = tempered(torch.softmax(teacher_logits, 1), tau)
    # [CP23 run_training.py]: the teacher's log-probabilities at τ, KLDivLoss(log_target=True,
    # reduction="none")(...).mean() × τ², loss = 0.02·CE + 0.98·KD.
    kd = torch.nn.KLDivLoss(log_target=True, reduction="none")(
        torch.log_softmax(student / tau, dim=-1), torch.log_softmax(teacher_logits / tau, dim=-1)
    ).mean() * tau**2
    reference = 0.02 * torch.nn.functional.cross_entropy(student, labels.argmax(1)) + 0.98 * kd
    got = distillation_loss(student, labels, teacher, tau, 0.02, kl_reduction="batch_and_classes")
    assert got.item() == pytest.approx(reference.item(), rel=1e-5)
    # Only the KL term's average differs: over batch and 10 classes, a tenth of the per-sample mean.
    per_sample = distillation_loss(student, labels, teacher, tau, 0.0, kl_reduction="batchmean")
    per_element = distillation_loss(student, labels, teacher, tau, 0.0, kl_reduction="batch_and_classes")
    assert per_sample.item() == pytest.approx(10 * per_element.item(), rel=1e-6)
    assert distillation_loss(student, labels, teacher, tau, 0.5).item() == pytest.approx(
        distillation_loss(student, labels, teacher, tau, 0.5, kl_reduction="batchmean").item()
    )  # batchmean stays the default
    with pytest.raises(ValueError, match="kl_reduction"):
        distillation_loss(student, labels, teacher, tau, 0.5, kl_reduction="mean")


def test_tempered_probabilities_are_the_softmax_of_logits_over_tau() -> None:
    logits = torch.tensor([[1.0, -2.0, 0.5]])
    assert torch.allclose(tempered(torch.softmax(logits, 1), 2.5), torch.softmax(logits / 2.5, 1), atol=1e-6)


def test_mixup_mixes_teacher_targets_with_the_inputs_lambda() -> None:
    generator = torch.Generator().manual_seed(3)
    batch, k = 6, 10
    x = torch.arange(batch, dtype=torch.float32).view(batch, 1, 1, 1).expand(batch, 3, 4, 8).clone()
    labels = torch.nn.functional.one_hot(torch.arange(batch) % k, k).float()
    teacher = torch.softmax(torch.randn(batch, k, generator=torch.Generator().manual_seed(1)), 1)
    cfg = batch_augment.BatchAugment(spec_augment=False, crop_frames=None, mixup_alpha=0.4)
    mixed_x, mixed = batch_augment.apply(x, torch.cat([labels, teacher], 1), cfg, generator)
    for i in range(batch):
        value = mixed_x[i, 0, 0, 0].item()  # λ·i + (1 − λ)·j for partner j
        j = int(np.argmax(mixed[i, :k].numpy() * (np.arange(k) != i % k))) if mixed[i, i % k] < 1 else i
        lam = 1.0 if j == i else (value - j) / (i - j)
        assert torch.allclose(mixed[i, :k], lam * labels[i] + (1 - lam) * labels[j], atol=1e-5)
        assert torch.allclose(mixed[i, k:], lam * teacher[i] + (1 - lam) * teacher[j], atol=1e-5)
        assert mixed[i, k:].sum().item() == pytest.approx(1.0, abs=1e-5)


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory: pytest.TempPathFactory):
    """A tiny 10-class FCNN teacher, on a store with one augmented copy of every training clip."""
    base = tmp_path_factory.mktemp("distill")
    root, store_path = write_feature_dataset(base, locations_per_scene=2, clips_per_location=2)
    store = FeatureStore.open(store_path, writable=True)

    train = load_split(root, "train")["filename"].tolist()
    copies = store.get(train)
    store.append([f"{f}#noise" for f in train], copies[:, :, ::-1].copy(), kind="noise", sources=train)
    config = tiny_config_file(base, root, store_path, name="teacher")
    argv = ["train", str(config)] + [a for item in [*TINY, "optim.epochs=2"] for a in ("--set", item)]
    assert main(argv) == 0
    return {"base": base, "root": root, "store": store_path, "run": base / "runs" / "teacher", "train": train}


@pytest.mark.slow
def test_predict_split_train_writes_one_row_per_store_row_keyed_by_store_key(teacher_run) -> None:
    out = teacher_run["base"] / "teacher-train.tsv"
    argv = ["predict-split", str(teacher_run["run"]), "--split", "train", "--kinds", "original", "noise", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    preds = read_predictions(out)
    train = teacher_run["train"]
    assert sorted(preds.filenames) == sorted(train + [f"{f}#noise" for f in train])
    source = read_provenance(out)
    assert source["split"] == "train" and source["kinds"] == ["original", "noise"] and source["rows"] == 2 * len(train)
    # The run's own kinds (originals only) are the default.
    default = teacher_run["base"] / "teacher-original.tsv"
    assert main(["predict-split", str(teacher_run["run"]), "--split", "train", "--out", str(default), "--quiet"]) == 0
    assert sorted(read_predictions(default).filenames) == sorted(train)
    # Fusing teacher files keeps the keys and records its inputs.
    fused = teacher_run["base"] / "fused.tsv"
    assert main(["fuse", "--average", str(out), str(out), "--out", str(fused)]) == 0
    assert read_predictions(fused).filenames == preds.filenames
    assert read_provenance(fused)["inputs"][0]["source"]["made_by"] == "asckit predict-split"


@pytest.mark.slow
def test_predict_split_validation_needs_a_held_out_split(teacher_run) -> None:
    with pytest.raises(AsckitError, match="holds out no validation clips"):
        predict_split(teacher_run["run"], "validation", progress=False)


def _student_config(teacher_run, teacher: Path, *extra: str):
    config = tiny_config_file(teacher_run["base"], teacher_run["root"], teacher_run["store"], name="student")
    return config, [*TINY, "optim.epochs=2", "model.name=mobnet", f"distill.teacher={teacher}", *extra]


@pytest.mark.slow
def test_rows_missing_from_the_teacher_file_are_refused_naming_file_and_row(teacher_run) -> None:
    teacher = teacher_run["base"] / "partial.tsv"
    train = teacher_run["train"]
    write_predictions(teacher, train[1:], np.full((len(train) - 1, 10), 0.1), "1a")
    config, overrides = _student_config(teacher_run, teacher)
    module = StoreDataModule(load_config(config, overrides))
    with pytest.raises(AsckitError, match=rf"{teacher}.*no row for training row {train[0]}"):
        module.prepare()
    # The CLI says so in one line and leaves no half-made run directory behind.
    assert main(["train", str(config)] + [a for item in overrides for a in ("--set", item)]) == 2
    assert not (teacher_run["base"] / "runs" / "student").exists()
    # Augmented rows need their own teacher rows too.
    full = teacher_run["base"] / "originals.tsv"
    write_predictions(full, train, np.full((len(train), 10), 0.1), "1a")
    config, overrides = _student_config(teacher_run, full, "data.kinds=[original, noise]")
    with pytest.raises(AsckitError, match=r"#noise"):
        StoreDataModule(load_config(config, overrides)).prepare()


@pytest.mark.slow
def test_a_student_trains_on_teacher_targets_with_freq_mixstyle_and_resumes(teacher_run) -> None:
    teacher = teacher_run["base"] / "student-teacher.tsv"
    argv = ["predict-split", str(teacher_run["run"]), "--split", "train", "--kinds", "original", "noise", "--out", str(teacher), "--quiet"]
    assert main(argv) == 0
    config, overrides = _student_config(
        teacher_run, teacher, "data.kinds=[original, noise]", "batch_augment.freq_mixstyle={p: 0.5, alpha: 0.3}",
        "debug.record_batches=true",
    )
    module = StoreDataModule(load_config(config, overrides))
    module.prepare()
    expected = read_predictions(teacher)
    row = {name: i for i, name in enumerate(expected.filenames)}
    for i, key in enumerate(module.train_table.keys):
        assert np.allclose(module.train_teacher[i], expected.probs[row[key]], atol=1e-6)
    assert main(["train", str(config)] + [a for item in overrides for a in ("--set", item)]) == 0
    run = teacher_run["base"] / "runs" / "student"
    assert (run / "finished.json").is_file()
    # More epochs continue the same run from its checkpoint.
    longer = [*overrides, "optim.epochs=3"]
    assert main(["train", str(config), "--resume"] + [a for item in longer for a in ("--set", item)]) == 0
    assert main(["predict-split", str(run), "--split", "evaluate", "--quiet"]) == 0
    assert read_predictions(run / "predictions" / "evaluate.tsv").classes == SCENES_10
