"""Tests for asckit.train.datamodule (and the batch → model-input path of asckit.train.module):
which clips train, how epochs are cut into batches across ranks, and what a batch holds."""

from __future__ import annotations

import pickle
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import STATIC_FRAMES, write_feature_dataset

from asckit.core.errors import AsckitError
from asckit.features.store import FeatureStore
from asckit.labels import SCENES_3, SCENES_10
from asckit.train.config import config_from_dict
from asckit.train.datamodule import (
    ClipTable,
    EpochBatches,
    ResidentRows,
    RowReader,
    StoreBatches,
    balanced_pool,
    class_indices,
    clip_table,
    resident_placement,
    split_validation,
    steps_per_epoch,
)

torch.set_num_threads(1)



def _config(root: Path, store: Path, **overrides):
    raw = {"name": "t", "data": {"root": str(root), "store": str(store)}}
    for key, value in overrides.items():
        node = raw
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return config_from_dict(raw)


# ----------------------------------------------------------------------------- model input
def test_batch_path_equals_feature_extraction_up_to_float16(tau_root: Path, tmp_path: Path) -> None:
    from asckit.features import extract
    from asckit.features.extraction import extract_dataset
    from asckit.train.module import model_input

    store = extract_dataset(tau_root, tmp_path / "store", workers=1, progress=False)
    keys = store.keys()[:3]
    table = clip_table(
        store,
        pd.DataFrame({"filename": keys, "device": ["a"] * 3}),
        np.zeros(3, dtype=np.int64),
        ["original"],
        "test",
    )
    batch = StoreBatches(store, table)[[0, 1, 2]]
    x = model_input(batch["x"])
    for i, position in enumerate(batch["index"].tolist()):
        expected = extract(tau_root / keys[position], task="1a", clip_seconds=store.settings.clip_seconds)
        assert x[i].shape == expected.shape
        # float16 storage rounds [0, 1] values by at most 2^-12; deltas combine 6 such errors / 10.
        np.testing.assert_allclose(x[i].numpy(), expected, rtol=0, atol=6e-4)
    assert x.dtype == torch.float32


def test_row_reader_matches_the_store_and_survives_pickling(tmp_path: Path) -> None:
    _root, store_path = write_feature_dataset(tmp_path)
    store = FeatureStore.open(store_path)
    rows = np.array([5, 0, 17, 17, len(store) - 1])
    reader = RowReader(store)
    np.testing.assert_array_equal(reader.read(rows), store.get_rows(rows))
    clone = pickle.loads(pickle.dumps(reader))  # what a DataLoader worker receives
    np.testing.assert_array_equal(clone.read(rows), store.get_rows(rows))


GB = 2**30


@pytest.mark.parametrize(
    ("mode", "device", "free", "host", "expected"),
    [
        ("auto", "cuda", 80 * GB, 100 * GB, "device"),  # 1.5 GB of rows on an 80 GB GPU
        ("auto", "cuda", 4 * GB, 100 * GB, "host"),  # more than a quarter of the GPU's free memory
        ("auto", "cuda", 4 * GB, 2 * GB, "off"),  # fits nowhere: read per batch
        ("auto", "cpu", None, 100 * GB, "off"),  # a CPU reads from the page cache; RSS stays flat
        ("host", "cpu", None, 2 * GB, "host"),
        ("device", "cpu", None, 2 * GB, "device"),  # the CPU is the training device
        ("off", "cuda", 80 * GB, 100 * GB, "off"),
    ],
)
def test_rows_are_held_where_they_fit(mode, device, free, host, expected) -> None:
    assert resident_placement(mode, int(1.5 * GB), device, free, host) == expected


def test_an_explicit_placement_that_cannot_fit_is_refused() -> None:
    with pytest.raises(AsckitError, match=r"data.store_in_memory: device needs 1.50 GB .* the GPU has 1.00 GB"):
        resident_placement("device", int(1.5 * GB), "cuda", 1 * GB, 100 * GB)
    with pytest.raises(AsckitError, match=r"host needs 1.50 GB .* host memory has 1.00 GB free; use auto or off"):
        resident_placement("host", int(1.5 * GB), "cuda", 80 * GB, 1 * GB)


@pytest.mark.parametrize("gather_on_device", [False, True])
def test_resident_rows_give_the_batches_read_from_the_store(tmp_path: Path, gather_on_device: bool) -> None:
    _root, store_path = write_feature_dataset(tmp_path)
    store = FeatureStore.open(store_path)
    rows = np.arange(len(store))[::-1][:20]  # a subset, out of order
    table = ClipTable(tuple(f"k{i}" for i in range(20)), tuple(f"k{i}" for i in range(20)), rows,
                      np.arange(20) % 3, np.zeros(20, dtype=np.int64))
    resident = ResidentRows(RowReader(store), rows, torch.device("cpu"), pin=False, gather_on_device=gather_on_device)
    assert resident.data.shape[0] == 20
    positions = [7, 2, 19, 0]
    expected = StoreBatches(store, table)[positions]
    batch = StoreBatches(store, table, resident)[positions]
    if gather_on_device:
        assert "x" not in batch
        batch["x"] = resident.data.index_select(0, batch.pop("resident_rows"))
    assert batch.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(batch[key], expected[key], rtol=0, atol=0)


# ----------------------------------------------------------------------------- epochs and ranks
@pytest.mark.parametrize("n, batch, world", [(27, 4, 1), (27, 4, 2), (65, 32, 2), (10, 3, 3), (5, 32, 2)])
def test_every_clip_once_per_epoch_across_ranks_with_equal_step_counts(n: int, batch: int, world: int) -> None:
    labels = np.arange(n) % 3
    samplers = [EpochBatches(labels, batch, seed=1, rank=r, world_size=world) for r in range(world)]
    for epoch in (0, 1):
        seen = []
        for sampler in samplers:
            sampler.set_epoch(epoch)
            batches = list(sampler)
            assert len(batches) == len(sampler) == steps_per_epoch(n, batch, world)
            assert all(1 <= len(b) <= batch for b in batches)
            seen += [i for b in batches for i in b]
        assert sorted(seen) == list(range(n))


def test_epoch_order_depends_on_seed_and_epoch_only() -> None:
    labels = np.zeros(50, dtype=np.int64)
    a, b = EpochBatches(labels, 8, seed=3), EpochBatches(labels, 8, seed=3)
    a.set_epoch(4)
    b.set_epoch(4)
    assert list(a) == list(b)  # a resumed epoch is the same epoch
    b.set_epoch(5)
    assert list(a) != list(b)
    other_seed = EpochBatches(labels, 8, seed=4)
    other_seed.set_epoch(4)
    assert list(a) != list(other_seed)
    unshuffled = EpochBatches(labels, 8, seed=3, shuffle=False)
    assert [i for batch in unshuffled for i in batch] == list(range(50))


def test_class_balancing_evens_out_classes_and_keeps_the_epoch_size() -> None:
    labels = np.array([0] * 90 + [1] * 10)
    samplers = [EpochBatches(labels, 8, seed=0, rank=r, world_size=2, balance_classes=True) for r in range(2)]
    counts = Counter()
    for epoch in range(20):
        drawn = []
        for sampler in samplers:
            sampler.set_epoch(epoch)
            drawn += [i for batch in sampler for i in batch]
        assert len(drawn) == 100  # N rows per pass, split across the ranks
        assert Counter(drawn) == Counter(samplers[0].epoch_order().tolist())
        counts.update(labels[drawn].tolist())
    share = counts[1] / sum(counts.values())
    assert 0.4 < share < 0.6, share  # 10 % without balancing


def test_reference_balancing_draws_every_class_and_leaves_clips_out() -> None:
    labels = np.array([0] * 300 + [1] * 100)
    reference = balanced_pool(labels, seed=0, how="reference")
    keep_all = balanced_pool(labels, seed=0, how="keep_all")
    for pool in (reference, keep_all):
        assert Counter(labels[pool].tolist()) == {0: 300, 1: 300}  # every class at the largest's size
    assert set(keep_all.tolist()) == set(range(400))  # keep_all: nothing left out
    unseen_largest = 300 - len(set(reference[labels[reference] == 0].tolist()))
    assert 0.30 < unseen_largest / 300 < 0.44  # about 1/e of the largest class never drawn
    assert np.array_equal(reference, balanced_pool(labels, seed=0, how="reference"))  # once per run, from the seed
    sampler = EpochBatches(labels, 8, seed=0, balance_classes=True, balance="reference")
    sampler.set_epoch(3)
    assert set(sampler.epoch_order().tolist()) <= set(reference.tolist())
    with pytest.raises(ValueError):
        balanced_pool(labels, seed=0, how="other")


# ----------------------------------------------------------------------------- which clips
def _frame(scenes_locations: list[tuple[str, str, int]]) -> pd.DataFrame:
    rows = []
    for scene, location, n in scenes_locations:
        for i in range(n):
            rows.append({"filename": f"audio/{scene}-x-{location}-{i}-a.wav", "scene_label": scene, "identifier": f"x-{location}"})
    return pd.DataFrame(rows)


def test_validation_holds_out_whole_locations_per_scene() -> None:
    frame = _frame([("bus", "1", 10), ("bus", "2", 10), ("bus", "3", 10), ("park", "4", 12), ("park", "5", 12), ("tram", "6", 5)])
    train, val = split_validation(frame, 0.3, seed=0)
    assert set(train["identifier"]).isdisjoint(val["identifier"])
    assert sorted(train["filename"].tolist() + val["filename"].tolist()) == sorted(frame["filename"])
    # Each scene with several locations gives at least one; the single-location scene stays whole.
    assert set(val["scene_label"]) == {"bus", "park"}
    assert 0.15 < len(val) / len(frame) < 0.45
    again, _ = split_validation(frame, 0.3, seed=0)
    assert again["filename"].tolist() == train["filename"].tolist()
    assert split_validation(frame, 0.0, seed=0)[1].empty


def test_clip_table_adds_augmented_rows_of_training_clips_only(tmp_path: Path) -> None:
    root, store_path = write_feature_dataset(tmp_path)
    store = FeatureStore.open(store_path, writable=True)
    frame = pd.read_csv(root / "evaluation_setup" / "fold1_train.csv", sep="\t")
    frame["device"] = frame["filename"].str.extract(r"-([a-z0-9]+)\.wav$")[0]
    kept, dropped = frame.iloc[:4], frame.iloc[4:6]
    sources = kept["filename"].tolist()[:2] + dropped["filename"].tolist()
    store.append(
        [f"mix/{i}" for i in range(4)],
        np.zeros((4, 1, 128, STATIC_FRAMES), dtype=np.float16),
        kind="mix",
        sources=sources,
    )
    config = _config(root, store_path)
    labels = class_indices(kept["scene_label"], config, "csv")
    table = clip_table(store, kept, labels, ["original", "mix"], "csv")
    assert table.keys == tuple(kept["filename"]) + ("mix/0", "mix/1")
    assert table.sources[-2:] == tuple(sources[:2])
    source_label = dict(zip(kept["filename"], labels.tolist()))
    assert table.labels[-2:].tolist() == [source_label[s] for s in sources[:2]]
    np.testing.assert_array_equal(table.rows, store.row_indices(table.keys))

    only_mix = clip_table(store, kept, labels, ["mix"], "csv")
    assert only_mix.keys == ("mix/0", "mix/1")
    with pytest.raises(AsckitError, match="data.kinds.*'pitch'"):
        clip_table(store, kept, labels, ["original", "pitch"], "csv")


def test_clip_table_order_does_not_depend_on_the_store_row_order(tmp_path: Path) -> None:
    """Two stores with the same rows appended in another order train on the same sequence of
    clips (a resumed or parallel augmentation may append in any order)."""
    root, store_path = write_feature_dataset(tmp_path)
    frame = pd.read_csv(root / "evaluation_setup" / "fold1_train.csv", sep="\t")
    frame["device"] = frame["filename"].str.extract(r"-([a-z0-9]+)\.wav$")[0]
    config = _config(root, store_path)
    labels = class_indices(frame["scene_label"], config, "csv")
    sources = frame["filename"].tolist()[:3]
    tables = []
    for name, order in (("forward", [0, 1, 2]), ("backward", [2, 1, 0])):
        copy = tmp_path / name
        shutil.copytree(store_path, copy)
        store = FeatureStore.open(copy, writable=True)
        for i in order:
            for kind in ("noise", "mix"):
                store.append([f"{sources[i]}#{kind}"], np.zeros((1, 1, 128, STATIC_FRAMES), np.float16), kind=kind, sources=[sources[i]])
        tables.append(clip_table(store, frame, labels, ["original", "mix", "noise"], "csv"))
    forward, backward = tables
    assert forward.keys == backward.keys and forward.labels.tolist() == backward.labels.tolist()
    assert forward.keys[-6:] == tuple(f"{s}#{k}" for k in ("mix", "noise") for s in sorted(sources))
    assert forward.rows.tolist() != backward.rows.tolist()  # same clips, other store rows


def test_missing_clips_and_unknown_labels_are_named(tmp_path: Path) -> None:
    root, store_path = write_feature_dataset(tmp_path)
    store = FeatureStore.open(store_path)
    frame = pd.DataFrame({"filename": ["audio/not-stored-1-1-a.wav"], "device": ["a"]})
    with pytest.raises(AsckitError, match="not in the feature store.*not-stored"):
        clip_table(store, frame, np.zeros(1, dtype=np.int64), ["original"], "csv")
    config = _config(root, store_path, task="1b")
    with pytest.raises(AsckitError, match="'bus' is not a class of task 1b"):
        class_indices(pd.Series(["bus"]), config, "csv")


def test_superclass_labels_map_scenes_to_the_three_classes(tmp_path: Path) -> None:
    root, store_path = write_feature_dataset(tmp_path)
    config = _config(root, store_path, labels="superclass")
    got = class_indices(pd.Series(["airport", "bus", "park", "tram"]), config, "csv")
    assert [SCENES_3[k] for k in got] == ["indoor", "transportation", "outdoor", "transportation"]
    scene_config = _config(root, store_path)
    assert class_indices(pd.Series(["tram"]), scene_config, "csv").tolist() == [SCENES_10.index("tram")]


def test_datamodule_checks_crop_and_masks_against_the_stored_frames(tmp_path: Path) -> None:
    from asckit.train.datamodule import StoreDataModule

    root, store_path = write_feature_dataset(tmp_path)
    with pytest.raises(AsckitError, match="batch_augment.crop_frames: 400 .* 36 model-input frames"):
        StoreDataModule(_config(root, store_path)).prepare()
    with pytest.raises(AsckitError, match="batch_augment.time_mask_max"):
        StoreDataModule(_config(root, store_path, **{"batch_augment.crop_frames": 30})).prepare()
    with pytest.raises(AsckitError, match="task 1b needs 2"):
        StoreDataModule(_config(root, store_path, task="1b")).prepare()
    ok = StoreDataModule(_config(root, store_path, **{"batch_augment.crop_frames": 30, "batch_augment.time_mask_max": 8,
                                                      "data.validation.fraction": 0.3}))
    ok.prepare()
    assert ok.in_channels == 3 and ok.input_frames == STATIC_FRAMES - 8
    assert set(ok.train_table.sources).isdisjoint(ok.val_table.sources)


def test_device_resident_rows_reach_loader_workers_without_their_data(tmp_path: Path) -> None:
    _root, store_path = write_feature_dataset(tmp_path)
    store = FeatureStore.open(store_path)
    rows = np.arange(10)
    on_device = ResidentRows(RowReader(store), rows, torch.device("cpu"), pin=False, gather_on_device=True)
    clone = pickle.loads(pickle.dumps(on_device))  # what a spawned DataLoader worker receives
    assert clone.data is None and np.array_equal(clone.positions(rows[::-1]), on_device.positions(rows[::-1]))
    in_host = ResidentRows(RowReader(store), rows, torch.device("cpu"), pin=False, gather_on_device=False)
    assert torch.equal(pickle.loads(pickle.dumps(in_host)).data, in_host.data)  # host rows are what workers gather from
