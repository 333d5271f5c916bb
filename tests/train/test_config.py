"""Tests for asckit.train.config: loading, --set overrides, reference values, and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from asckit.core.errors import AsckitError
from asckit.train.config import RESUMABLE_CHANGES, config_base, config_differences, load_config, run_precision

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "examples" / "fcnn_tiny.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


MINIMAL = "name: run1\ndata: {root: data/x, store: stores/x}\n"


def test_the_example_config_loads_and_keeps_its_values() -> None:
    config = load_config(EXAMPLE)
    raw = yaml.safe_load(EXAMPLE.read_text())
    assert config.name == raw["name"]
    assert config.model.width == raw["model"]["width"]
    assert config.batch_augment.crop_frames == raw["batch_augment"]["crop_frames"]
    assert config.optim.epochs == raw["optim"]["epochs"]
    assert config.trainer.progress_bar is False


def test_reference_values_follow_the_model_and_task(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL)
    fcnn = load_config(path)
    assert (fcnn.batch_augment.spec_augment, fcnn.batch_augment.crop_frames, fcnn.batch_augment.channel_swap) == (True, 400, False)
    assert (fcnn.optim.weight_decay, fcnn.optim.keras_decay, fcnn.optim.epochs) == (0.0, 1e-6, 254)
    assert fcnn.data.balance_classes is False and fcnn.num_classes == 10

    resnet = load_config(path, ["model.name=resnet"])
    assert resnet.batch_augment.spec_augment is False  # the reference Resnet had no SpecAugment
    assert (resnet.optim.weight_decay, resnet.optim.epochs) == (1e-3, 126)

    mobnet = load_config(path, ["task=1b", "model.name=mobnet"])
    assert (mobnet.batch_augment.crop_frames, mobnet.batch_augment.channel_swap, mobnet.data.balance_classes) == (None, True, True)
    assert (mobnet.optim.weight_decay, mobnet.optim.keras_decay, mobnet.optim.epochs) == (1e-3, 0.0, 500)
    assert mobnet.num_classes == 3 and mobnet.prediction_task == "1b"

    explicit = load_config(path, ["model.name=resnet", "batch_augment.spec_augment=true", "optim.weight_decay=0"])
    assert explicit.batch_augment.spec_augment is True and explicit.optim.weight_decay == 0.0


def test_freq_mixstyle_form_and_kl_reduction_keep_existing_configs_as_they_were(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "batch_augment: {freq_mixstyle: {p: 0.4}}\n")
    config = load_config(path)
    assert config.batch_augment.freq_mixstyle.form == "sample" and config.distill.kl_reduction == "batchmean"
    cpjku = load_config(path, ["batch_augment.freq_mixstyle.form=batch", "distill.kl_reduction=batch_and_classes"])
    assert cpjku.batch_augment.freq_mixstyle.form == "batch" and cpjku.distill.kl_reduction == "batch_and_classes"
    from asckit.train.module import augment_settings

    assert augment_settings(cpjku).freq_mixstyle_form == "batch" and augment_settings(config).freq_mixstyle_form == "sample"


def test_overrides_take_yaml_typed_values(tmp_path: Path) -> None:
    config = load_config(
        _write(tmp_path, MINIMAL),
        ["model.width=0.25", "batch_augment.crop_frames=null", "trainer.devices=[0, 1]", "model.params.num_filters=24",
         "trainer.strategy=ddp", "seed=7"],
    )
    assert config.model.width == 0.25
    assert config.batch_augment.crop_frames is None
    assert config.trainer.devices == [0, 1]
    assert config.model.params == {"num_filters": 24}
    assert config.trainer.strategy == "ddp" and config.seed == 7


def test_paths_in_a_config_file_are_read_from_its_project_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "configs" / "task1a").mkdir(parents=True)
    path = project / "configs" / "task1a" / "c.yaml"
    path.write_text(MINIMAL + "distill: {teacher: teachers/t.tsv}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd in (project, elsewhere, project / "configs"):
        monkeypatch.chdir(cwd)
        config = load_config(path.relative_to(cwd) if path.is_relative_to(cwd) else path)
        assert config.data.root == project / "data" / "x" and config.data.store == project / "stores" / "x", cwd
        assert config.distill.teacher == project / "teachers" / "t.tsv"
        assert config.run_dir == project / "runs" / "run1"  # the default runs_dir too: the project's runs/
    # --set paths are the command line's: read from the working directory
    monkeypatch.chdir(elsewhere)
    config = load_config(path, ["data.root=mine", "runs_dir=out"])
    assert config.data.root == elsewhere / "mine" and config.run_dir == elsewhere / "out" / "run1"
    assert config.data.store == project / "stores" / "x"


def test_a_config_file_outside_a_configs_folder_reads_paths_from_its_own_folder(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "mine").mkdir()
    path = _write(tmp_path / "mine", MINIMAL + f"runs_dir: {tmp_path / 'abs'}\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(path)
    assert config.data.root == tmp_path / "mine" / "data" / "x"
    assert config.run_dir == tmp_path / "abs" / "run1"  # absolute paths stay as written
    assert config_base(path) == tmp_path / "mine"
    assert config_base(tmp_path / "p" / "configs" / "a" / "b" / "c.yaml") == tmp_path / "p"  # the nearest configs folder
    assert config_base(tmp_path / "configs" / "x" / "configs" / "c.yaml") == tmp_path / "configs" / "x"


def test_the_checked_in_example_finds_the_repository_s_data_from_any_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(EXAMPLE)
    repo = EXAMPLE.parents[2]
    assert (config.data.root, config.data.store, config.run_dir) == (repo / "data/demo", repo / "stores/demo", repo / "runs/fcnn_tiny")


def test_unknown_keys_name_the_key_and_where_it_came_from(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "model: {name: fcnn, widht: 0.5}\n")
    with pytest.raises(AsckitError, match=rf"^{path}: unknown key 'model.widht'; valid keys here: name, width, params"):
        load_config(path)
    with pytest.raises(AsckitError, match=r"^--set: unknown key 'optim.lr'"):
        load_config(_write(tmp_path, MINIMAL), ["optim.lr=0.1"])


@pytest.mark.parametrize(
    "override, pattern",
    [
        ("optim.batch_size=many", r"--set: optim.batch_size: .*integer.*'many'"),
        ("batch_augment.crop_frames=-3", r"--set: batch_augment.crop_frames: use a positive number"),
        ("trainer.precision=bf16", r"--set: trainer.precision: .*'bf16-mixed'"),
        ("name=a/b", r"--set: name: use letters"),
        ("optim.lr_min=1", r"--set: optim: lr_min \(1.0\) must not exceed lr_max"),
        ("model.params.width=2", r"--set: model.params: width are set by the run"),
        ("width", r"--set 'width': use --set key=value"),
        ("model.width.x=1", r"--set: model.width: "),
        ("batch_augment.freq_mixstyle.form=batches", r"--set: batch_augment.freq_mixstyle.form: .*'sample' or 'batch'"),
        ("distill.kl_reduction=mean", r"--set: distill.kl_reduction: .*'batchmean' or 'batch_and_classes'"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, override: str, pattern: str) -> None:
    with pytest.raises(AsckitError, match=pattern):
        load_config(_write(tmp_path, MINIMAL), [override])


def test_missing_required_keys_and_bad_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(AsckitError, match="key 'data' is required"):
        load_config(_write(tmp_path, "name: x\n"))
    with pytest.raises(AsckitError, match="not valid YAML"):
        load_config(_write(tmp_path, "name: [x\n"))
    with pytest.raises(AsckitError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(AsckitError, match="superclass is for task 1a"):
        load_config(_write(tmp_path, MINIMAL + "task: 1b\nlabels: superclass\n"))


def test_superclass_labels_make_a_three_class_model(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL + "labels: superclass\n"))
    assert config.num_classes == 3 and config.prediction_task == "1b"


def test_differences_are_listed_by_dotted_key(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL)
    base = load_config(path)
    other = load_config(path, ["model.width=0.5", "optim.epochs=10", "trainer.progress_bar=true"])
    changed = config_differences(base, other)
    assert changed == ["model.width", "optim.epochs", "trainer.progress_bar"]
    assert [k for k in changed if k not in RESUMABLE_CHANGES] == ["model.width"]


def test_fast_precision_follows_the_hardware_and_stays_fast_in_the_config(monkeypatch, tmp_path):
    import asckit.train.config as config_module

    path = tmp_path / "fast.yaml"
    path.write_text(f"name: fast\ndata: {{root: {tmp_path}, store: {tmp_path}}}\ntrainer: {{accelerator: cpu, precision: fast}}\n")
    monkeypatch.setattr(config_module, "cpu_flags", lambda: {"avx2", "amx_bf16"})
    on_amx = config_module.load_config(path)
    assert on_amx.trainer.precision == "fast" and config_module.run_precision(on_amx.trainer) == "bf16-mixed"
    monkeypatch.setattr(config_module, "cpu_flags", lambda: {"avx2"})
    plain = config_module.load_config(path)
    assert plain.trainer.precision == "fast" and config_module.run_precision(plain.trainer) == "32-true"
    assert config_differences(on_amx, plain) == []  # the same run on either machine
    assert config_module.run_precision(load_config(path, ["trainer.precision=bf16-mixed"]).trainer) == "bf16-mixed"


def test_a_saved_concrete_precision_matches_fast_only_where_fast_means_it(monkeypatch, tmp_path):
    """Runs saved before `fast` was kept hold what it resolved to: reused where it resolves the same."""
    import asckit.train.config as config_module

    path = tmp_path / "fast.yaml"
    path.write_text(f"name: fast\ndata: {{root: {tmp_path}, store: {tmp_path}}}\ntrainer: {{accelerator: cpu, precision: fast}}\n")
    legacy = load_config(path, ["trainer.precision=bf16-mixed"])
    monkeypatch.setattr(config_module, "cpu_flags", lambda: {"amx_bf16"})
    assert config_differences(legacy, load_config(path)) == []
    monkeypatch.setattr(config_module, "cpu_flags", lambda: set())
    assert config_differences(legacy, load_config(path)) == ["trainer.precision"]
    assert config_differences(load_config(path), legacy) == ["trainer.precision"]  # a run asking fast is not a bf16 run


def test_the_old_augment_section_name_is_read_with_a_note(tmp_path: Path, capsys) -> None:
    """Configs (and saved runs) from before `augment:` became `batch_augment:` still load the same."""
    legacy = tmp_path / "legacy.yaml"
    legacy.write_text(MINIMAL + "augment: {crop_frames: 100, mixup_alpha: 0.0}\n")
    current = tmp_path / "current.yaml"
    current.write_text(MINIMAL + "batch_augment: {crop_frames: 100, mixup_alpha: 0.0}\n")
    assert config_differences(load_config(legacy), load_config(current)) == []
    note = capsys.readouterr().err
    assert "legacy.yaml" in note and "`augment` section is now called `batch_augment`" in note
    assert "current.yaml" not in note
    with pytest.raises(AsckitError, match="keep only `batch_augment`"):
        load_config(current, ["augment.crop_frames=50"])


@pytest.mark.parametrize(
    ("accelerator", "capability", "flags", "expected"),
    [
        ("auto", (9, 0), set(), "bf16-mixed"),  # H100 / H200
        ("gpu", (8, 0), set(), "bf16-mixed"),  # A100
        ("cuda", (7, 0), {"amx_bf16"}, "16-mixed"),  # V100: bf16 only emulated; the CPU's AMX is beside the point
        ("auto", None, {"avx512_bf16"}, "bf16-mixed"),  # no GPU: the CPU decides
        ("auto", None, {"avx2"}, "32-true"),
        ("cpu", (9, 0), {"avx2"}, "32-true"),  # training on the CPU of a GPU machine
        ("cpu", (9, 0), {"amx_bf16"}, "bf16-mixed"),
        ("mps", None, {"amx_bf16"}, "32-true"),
    ],
)
def test_fast_precision_resolves_per_device(accelerator, capability, flags, expected):
    from asckit.train.config import Hardware, fast_precision

    assert fast_precision(accelerator, Hardware(capability, frozenset(flags))) == expected


def test_fast_precision_asks_cuda_for_the_compute_capability(monkeypatch, tmp_path):
    import torch

    path = tmp_path / "fast.yaml"
    path.write_text(f"name: fast\ndata: {{root: {tmp_path}, store: {tmp_path}}}\ntrainer: {{precision: fast}}\n")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    assert run_precision(load_config(path).trainer) == "bf16-mixed"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    assert run_precision(load_config(path).trainer) == "16-mixed"


def test_data_placement_and_loader_keys_are_validated_and_resumable(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: c\ndata: {{root: {tmp_path}, store: {tmp_path}}}\n")
    base = load_config(path)
    assert base.data.store_in_memory == "auto" and base.trainer.pin_memory == "auto"
    with pytest.raises(AsckitError, match=r"--set: data.store_in_memory: .*'device'"):
        load_config(path, ["data.store_in_memory=gpu"])
    with pytest.raises(AsckitError, match=r"--set: trainer.prefetch_factor: .*greater than or equal to 1"):
        load_config(path, ["trainer.prefetch_factor=0"])
    other = load_config(path, ["data.store_in_memory=host", "trainer.pin_memory=false", "trainer.num_workers=4",
                               "trainer.persistent_workers=false", "trainer.prefetch_factor=4"])
    changed = config_differences(base, other)
    assert len(changed) == 5 and set(changed) <= RESUMABLE_CHANGES


def test_store_in_memory_off_survives_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: c\ndata: {{root: {tmp_path}, store: {tmp_path}, store_in_memory: off}}\n")
    assert load_config(path).data.store_in_memory == "off"  # YAML reads a bare off as false
    with pytest.raises(AsckitError, match="data.store_in_memory: use auto, host, device or off"):
        load_config(path, ["data.store_in_memory=on"])


def test_a_moved_run_reads_the_paths_under_its_old_project_from_the_new_one(tmp_path: Path) -> None:
    from asckit.train.config import relocated

    old, new, outside = tmp_path / "old", tmp_path / "new", tmp_path / "datasets" / "tau"
    for folder in (new / "data" / "demo", new / "stores" / "demo", outside):
        folder.mkdir(parents=True)
    path = tmp_path / "c.yaml"
    path.write_text(f"name: fcnn\nruns_dir: {old / 'runs' / 'demo'}\ndata: {{root: {old / 'data' / 'demo'}, store: {old / 'stores' / 'demo'}}}\n")
    saved = load_config(path)
    moved = relocated(saved, new / "runs" / "demo" / "fcnn")
    assert (moved.run_dir, moved.data.root, moved.data.store) == (new / "runs/demo/fcnn", new / "data/demo", new / "stores/demo")
    # A dataset kept outside the project stays where it is; a path the new place lacks is not invented.
    path.write_text(f"name: fcnn\nruns_dir: {old / 'runs'}\ndata: {{root: {outside}, store: {old / 'stores' / 'gone'}}}\n")
    kept = relocated(load_config(path), new / "runs" / "fcnn")
    assert (kept.data.root, kept.data.store) == (outside, old / "stores" / "gone")
    assert relocated(saved, saved.run_dir) is saved
