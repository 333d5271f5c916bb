"""Bad-input corpus, CP-Mobile and the 2022-2025 complexity rules: `asckit models` (widths whose
models cannot be built) and `asckit import-ckpt` (files that are not CP-Mobile checkpoints, keys,
devices and shapes no CP-Mobile has, a frontend other than asckit's, options that do not fit).

Each case asserts the exit status, the one error line and that nothing was written or changed
(``bad_input_corpus.check_case``); no case needs the shared trained project, only two small
checkpoints made here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from bad_input_corpus import Case, check_case, copy_of, write
from torch import nn


def _random_cp_mobile(seed: int, **params) -> nn.Module:
    from asckit.models import build

    torch.manual_seed(seed)
    return build("cp_mobile", width=0.25, **params)


def _frontend_buffers(shift: float = 0.0) -> dict[str, torch.Tensor]:
    """The frontend buffers as a CPJKU checkpoint holds them, asckit's own values (+ ``shift`` on the mel bank)."""
    from asckit.pretrained.cpjku_checkpoint import FRONTEND_BUFFERS, asckit_frontend

    values = asckit_frontend()
    buffers = {name: torch.from_numpy(values[value].astype("float32").reshape(shape)) for name, (value, shape) in FRONTEND_BUFFERS.items()}
    buffers["mel.1.mel_scale.fb"] = buffers["mel.1.mel_scale.fb"] + shift
    return buffers


def _lightning(state: dict, prefix: str = "model.", frontend: dict | None = None) -> dict:
    return {"epoch": 1, "state_dict": {f"{prefix}{k}": v for k, v in state.items()} | (frontend or {})}


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """Valid checkpoints (a general model with asckit's frontend buffers; the organizers' layout with
    device models a and b) and a log-mel feature store, in one base folder."""
    from asckit.features.logmel import settings_for
    from asckit.features.store import FeatureStore
    from asckit.models.device_specific import DeviceSpecificModel

    base = tmp_path_factory.mktemp("corpus_cpmobile")
    general = _random_cp_mobile(0)
    torch.save(_lightning(general.state_dict(), frontend=_frontend_buffers()), base / "general.ckpt")
    torch.save(DeviceSpecificModel(general, ["a", "b"]).state_dict(), base / "devices.pt")
    FeatureStore.create(base / "logmel", settings_for("1a"), frames=10).close()
    return {"base": base, "general": base / "general.ckpt", "devices": base / "devices.pt", "logmel": base / "logmel"}


def _saved(rel: str, make):
    """A setup that writes ``make()`` with torch.save to ``c/rel``."""

    def setup(c: Path, w: dict) -> None:
        torch.save(make(), c / rel)

    return setup


def _cp_mobile_state(**changes) -> dict:
    state = _random_cp_mobile(1).state_dict()
    for key, value in changes.items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    return state


def _two_trainings() -> dict:
    """A Lightning file holding both a 2024-style general model and a 2025 device container."""
    general = _lightning(_cp_mobile_state())["state_dict"]
    container = _lightning(_cp_mobile_state(), "multi_device_model.base_model.")["state_dict"]
    return {"state_dict": general | container}


MODELS = [
    # A width whose tensors' byte size overflows 64 bits: torch refuses to make them, even on the meta device.
    Case("models width too large to build", ["models", "--width", "1e12"], ("too large to build", "use a smaller --width"), 2),
    Case("models markdown with a value", ["models", "--markdown=yes"],
         ("--markdown: ignored explicit argument 'yes'", "see asckit models --help"), 2),
]

CKPT = ["import-ckpt", "{c}/m.ckpt", "--out", "{c}/run"]
NOT_CP_MOBILE = "give a checkpoint of CPJKU's models/net.py"

IMPORT_CKPT = [
    Case("import-ckpt missing file", ["import-ckpt", "{c}/none.ckpt", "--out", "{c}/run"], ("none.ckpt: file not found", "check the path"), 2),
    Case("import-ckpt text file", CKPT, ("not a PyTorch checkpoint", "give a .ckpt or .pt file"), 2, write("m.ckpt", "epoch: 3\n")),
    Case("import-ckpt pickled module", CKPT, ("holds Python objects other than tensors", "save the model's state_dict alone"), 2,
         _saved("m.ckpt", lambda: nn.Linear(2, 2))),
    Case("import-ckpt empty state_dict", CKPT, ("holds no state_dict", NOT_CP_MOBILE), 2, _saved("m.ckpt", dict)),
    Case("import-ckpt entry not a tensor", CKPT, ("entry 'model.in_c.0.0.weight' of the state_dict is not a tensor", NOT_CP_MOBILE), 2,
         _saved("m.ckpt", lambda: {"state_dict": {"model.in_c.0.0.weight": [1.0, 2.0]}})),
    Case("import-ckpt another architecture", CKPT, ("key 'model.block1.0.conv.weight' is not part of a CP-Mobile", NOT_CP_MOBILE), 2,
         _saved("m.ckpt", lambda: {"state_dict": {"mel.0.kernel": torch.zeros(1), "model.block1.0.conv.weight": torch.zeros(1)}})),
    Case("import-ckpt unknown prefix", CKPT, ("key 'net.in_c.0.0.weight' is not part of a CP-Mobile checkpoint", NOT_CP_MOBILE), 2,
         _saved("m.ckpt", lambda: _lightning(_cp_mobile_state(), prefix="net."))),
    Case("import-ckpt extra layer", CKPT, ("key 'model.stages.s3.b7.block.0.0.weight' is not part of a CP-Mobile", NOT_CP_MOBILE), 2,
         _saved("m.ckpt", lambda: _lightning(_cp_mobile_state(**{"stages.s3.b7.block.0.0.weight": torch.zeros(1)})))),
    Case("import-ckpt shape no CP-Mobile has", CKPT, ("stages.s1.b2.block.1.0.weight has shape (16, 1, 5, 5)", "no CP-Mobile has this shape set"), 2,
         _saved("m.ckpt", lambda: _lightning(_cp_mobile_state(**{"stages.s1.b2.block.1.0.weight": torch.zeros(16, 1, 5, 5)})))),
    Case("import-ckpt widths no CP-Mobile has", CKPT, ("fit no CP-Mobile", "no CP-Mobile has this shape set"), 2,
         _saved("m.ckpt", lambda: _lightning(_cp_mobile_state(**{"stages.s3.b6.block.2.0.weight": torch.zeros(1000, 16, 1, 1)})))),
    Case("import-ckpt key missing", CKPT, ("model.stages.s2.b5.block.1.1.running_var is missing", "the checkpoint is incomplete: get it again"), 2,
         _saved("m.ckpt", lambda: _lightning(_cp_mobile_state(**{"stages.s2.b5.block.1.1.running_var": None})))),
    Case("import-ckpt device without own model in 2025", CKPT, ("device 's4', which cannot have its own model in DCASE 2025", "remove it"), 2,
         _saved("m.ckpt", lambda: {**{f"base_model.{k}": v for k, v in _cp_mobile_state().items()},
                                   **{f"device_models.s4.{k}": v for k, v in _cp_mobile_state().items()}})),
    Case("import-ckpt device models without the general one", CKPT, ("has device models but no general model", "give the whole checkpoint"), 2,
         _saved("m.ckpt", lambda: {f"device_models.a.{k}": v for k, v in _cp_mobile_state().items()})),
    Case("import-ckpt two trainings mixed", CKPT,
         ("mixes a general model (model.*) with a device-specific container", "give the checkpoint of one training"), 2,
         _saved("m.ckpt", lambda: _two_trainings())),
    Case("import-ckpt another frontend", CKPT,
         ("mel.1.mel_scale.fb differs from asckit's mel_fb", "trained on other features than asckit's tau22 frontend"), 2,
         _saved("m.ckpt", lambda: _lightning(_cp_mobile_state(), frontend=_frontend_buffers(shift=1e-3)))),
    Case("import-ckpt three classes", CKPT, ("a CP-Mobile with 3 classes", "give a model of the TAU22 scenes"), 2,
         _saved("m.ckpt", lambda: _lightning(_random_cp_mobile(2, num_classes=3).state_dict()))),
    Case("import-ckpt device models as 2024", ["import-ckpt", "{w_devices}", "--out", "{c}/run", "--task", "2024"],
         ("holds device models (a, b), which only DCASE 2025 has", "use --task 2025"), 2),
    Case("import-ckpt split not of 2024", ["import-ckpt", "{w_general}", "--out", "{c}/run", "--split", "30"],
         ("task 2024 trains on split 5, 10, 25, 50, 100", "use one of them"), 2),
    Case("import-ckpt split not of 2025", ["import-ckpt", "{w_devices}", "--out", "{c}/run", "--split", "10"],
         ("task 2025 trains on split 25", "use one of them"), 2),
    Case("import-ckpt split text", ["import-ckpt", "{w_general}", "--out", "{c}/run", "--split", "quarter"],
         ("--split", "is not a whole number; write one in digits"), 2),
    Case("import-ckpt task 1a", ["import-ckpt", "{w_general}", "--out", "{c}/run", "--task", "1a"],
         ("--task", "invalid choice", "choose from '2024', '2025'"), 2),
    Case("import-ckpt out is a file", ["import-ckpt", "{w_general}", "--out", "{c}/f.txt"], ("is a file", "--out names the new run folder"), 2,
         write("f.txt", "mine")),
    Case("import-ckpt out is a non-empty folder", ["import-ckpt", "{w_general}", "--out", "{c}/mine"],
         ("folder exists and is not empty", "choose a new --out"), 2, write("mine/notes.txt", "mine")),
    Case("import-ckpt out names the file", ["import-ckpt", "{c}/general.ckpt", "--out", "{c}/general.ckpt"],
         ("is also an input of this command", "give another output path"), 2, copy_of("general")),
    Case("import-ckpt out holds the file", ["import-ckpt", "{c}/general.ckpt", "--out", "{c}"],
         ("holds an input of this command", "give another output folder"), 2, copy_of("general")),
    Case("import-ckpt store missing", ["import-ckpt", "{w_general}", "--out", "{c}/run", "--store", "{c}/none"],
         ("not a feature store", "create one with `asckit features"), 2),
    Case("import-ckpt store of log-mel features", ["import-ckpt", "{w_general}", "--out", "{c}/run", "--store", "{w_logmel}"],
         ("not a TAU22 waveform store", "make one with `asckit features TAU22_ROOT --out STORE`"), 2),
]

ALL = [*MODELS, *IMPORT_CKPT]


@pytest.mark.parametrize("case", [c.param() for c in ALL])
def test_refuses_bad_input_and_writes_nothing(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)


def test_the_shared_checkpoints_import(tmp_path: Path, shared, capsys) -> None:
    """The cases' files differ from checkpoints that import: the damage is what they refuse."""
    from asckit.cli import main

    assert main(["import-ckpt", str(shared["general"]), "--out", str(tmp_path / "general")]) == 0
    assert main(["import-ckpt", str(shared["devices"]), "--out", str(tmp_path / "devices")]) == 0
    assert "device models a, b, task 2025, split 25" in capsys.readouterr().out
    assert (tmp_path / "devices" / "finished.json").is_file()
