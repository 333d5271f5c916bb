"""asckit.models.counting (complexity) and the ``asckit models`` command / docs/models.md model card."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from asckit.cli import main
from asckit.models import complexity
from asckit.models.commands import format_markdown, model_rows

torch.set_num_threads(1)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def test_macs_of_plain_and_depthwise_convs_equal_the_textbook_count():
    # One MAC per kernel weight per output position: out·(in/groups)·kh·kw·H'·W'.
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1, groups=8))
    counts = complexity(model, (3, 16, 20))
    assert counts.macs == 8 * 3 * 9 * 16 * 20 + 8 * 1 * 9 * 16 * 20


def test_macs_are_per_clip_and_include_linear_layers():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    assert complexity(model, (4, 3, 4, 1)).macs == complexity(model, (3, 4, 1)).macs == 12 * 5


def test_size_follows_the_dcase_budget_arithmetic():
    # DCASE 2020 1b: 500 KB = 128,000 float32 values (1 KB = 1024 B).
    model = nn.Linear(999, 128)  # 999·128 + 128 = 128,000 parameters
    counts = complexity(model, (999,))
    assert counts.params == 128_000
    assert counts.size_kb(32) == pytest.approx(500.0)
    assert counts.size_kb(8) == pytest.approx(125.0)


def test_size_counts_nonzero_values_and_bn_statistics():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4))
    with torch.no_grad():
        model[0].weight[:2].zero_()  # 18 of 36 weights pruned
        model[1].running_mean.fill_(0.5)  # mean is 0 at init: make it count
    counts = complexity(model, (1, 8, 8))
    assert counts.params == 36 + 8
    assert counts.bn_statistics == 8
    assert counts.nonzero == 18 + 4 + 8  # weights left, BN gamma (beta is 0), running stats
    assert counts.size_kb(32) == pytest.approx(counts.nonzero * 4 / 1024)


def test_meta_models_have_no_nonzero_count_and_size_all_values():
    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    counts = complexity(model, (1, 8, 8))
    assert counts.nonzero is None
    assert counts.size_kb(16) == pytest.approx((40 + 8 + 8) * 2 / 1024)


def test_complexity_leaves_the_training_mode_alone():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).train()
    complexity(model, (1, 8, 8))
    assert model.training


def test_models_command_lists_every_reference_model(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for label, params in [("fcnn", "11,780,329"), ("resnet-d", "12,966,444"), ("mobnet", "145,328")]:
        line = next(line for line in out.splitlines() if line.startswith(label + " "))
        assert params in line


def test_limits_are_checked_per_edition_with_macs_per_second():
    from asckit.models.counting import Complexity, check_limits, macs_per_second

    at_limit = Complexity(params=128_000, bn_statistics=500, nonzero=None, macs=300_000_000)
    assert macs_per_second(at_limit, 10.0) == 30e6
    checks = {(c.limit, c.quantity): c for c in check_limits(at_limit, 10.0)}
    assert checks[("DCASE 2022", "params")].ok and checks[("DCASE 2022", "MACs/s")].ok
    assert checks[("DCASE 2023-2025", "int8 param bytes")].ok
    # 2023-2025 count bytes at the deployed precision: 128,000 parameters are 256,000 B in fp16.
    assert checks[("DCASE 2023-2025", "fp16 param bytes")].value == 256_000
    assert not checks[("DCASE 2023-2025", "fp16 param bytes")].ok
    assert checks[("DCASE 2020 1b", "int8 KB")].value == pytest.approx(128_500 / 1024)
    over = Complexity(params=128_001, bn_statistics=0, nonzero=None, macs=300_000_001)
    assert not any(c.ok for c in check_limits(over, 10.0) if c.limit in ("DCASE 2022", "DCASE 2023-2025"))
    assert "OVER" in check_limits(over, 10.0)[1].describe()
    assert check_limits(at_limit, 10.0, precisions=("fp32",))[3].describe() == "DCASE 2023-2025 fp32 param bytes 512,000 B ≤ 128,000 B: OVER"
    big = Complexity(params=600 * 1024, bn_statistics=0, nonzero=None, macs=0)
    assert not check_limits(big, 10.0)[0].ok  # 600 KB in int8 > 500 KB


def test_the_student_fits_the_current_limits_and_the_1b_mobnet_does_not(capsys):
    rows = {row.label: row for row in model_rows()}
    assert rows["mobnet-student"].params <= 128_000 and rows["mobnet-student"].mmacs_per_second <= 30
    # 85,752 parameters: 171,504 B in fp16, over 2023-2025's 128,000 B; 85,752 B in int8.
    assert rows["mobnet-student"].fits == ("DCASE 2020 1b", "DCASE 2022", "DCASE 2023-2025 int8")
    assert rows["mobnet-student"].param_bytes == {"fp32": 343_008, "fp16": 171_504, "int8": 85_752}
    assert rows["mobnet"].fits == ("DCASE 2020 1b",)  # 145,328 parameters
    assert rows["fcnn"].fits == ()
    assert main(["models"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("mobnet-student "))
    assert line.rstrip().endswith("DCASE 2020 1b, DCASE 2022, DCASE 2023-2025 int8")


def test_the_cp_mobile_row_has_the_organizers_figures():
    # reference/dcase2025/complexity.json: torchinfo on (1, 1, 256, 65); the baselines run fp16: 122,296 B.
    row = {row.label: row for row in model_rows()}["cp_mobile"]
    assert (row.params, row.clip_shape, row.clip_seconds, row.macs_by) == (61_148, (1, 256, 65), 1.0, "torchinfo")
    assert row.mmacs * 1e6 == pytest.approx(29_419_156) and row.mmacs_per_second == row.mmacs
    assert row.param_bytes["fp16"] == 122_296
    assert row.verdicts == {
        "DCASE 2020 1b": True, "DCASE 2022": True, "DCASE 2023-2025 fp16": True, "DCASE 2023-2025 int8": True,
    }


def test_torchinfo_counts_batchnorm_and_leaves_the_model_alone():
    from asckit.models.counting import torchinfo_macs

    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)).half().train()
    # torchinfo: conv 4·9 weights × 64 positions, BatchNorm its 2·4 parameters.
    assert torchinfo_macs(model, (1, 1, 8, 8)) == 36 * 64 + 8
    assert model.training and next(model.parameters()).dtype == torch.float16
    assert complexity(model.float(), (1, 8, 8), macs_by="torchinfo").macs == 36 * 64 + 8
    assert complexity(model, (1, 8, 8)).macs == 36 * 64  # asckit's counter leaves BN out


def test_parameter_bytes_count_parameters_at_their_own_dtype_without_buffers():
    from asckit.core.errors import AsckitError
    from asckit.models.counting import parameter_bytes

    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4))  # 36 + 8 parameters, 8 + 1 buffer values
    assert parameter_bytes(model) == 44 * 4
    assert parameter_bytes(model.half()) == 44 * 2
    assert parameter_bytes(model, "int8") == 44
    model[1].to(torch.bfloat16)
    assert parameter_bytes(model) == 44 * 2
    with pytest.raises(AsckitError, match="parameter 0.weight has dtype torch.float64") as info:
        parameter_bytes(nn.Sequential(nn.Conv2d(1, 4, 3)).double())
    assert "\n" not in str(info.value)


def test_models_command_rejects_a_bad_width(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["models", "--width", "-1"])
    assert stopped.value.code == 2
    assert "argument --width: -1 must be above 0" in capsys.readouterr().err


def test_narrow_rows_are_smaller():
    full = {row.label: row for row in model_rows()}
    for row in model_rows(width=0.5):
        assert row.params < full[row.label].params
        assert row.mmacs < full[row.label].mmacs


def test_model_card_in_docs_matches_the_code():
    assert format_markdown(model_rows()) in DOCS.read_text(encoding="utf-8"), (
        "docs/models.md is stale: regenerate its table with `asckit models --markdown`"
    )


def test_package_complexity_is_the_function_even_after_the_module_import():
    import asckit.models
    import asckit.models.counting  # (a submodule named like the function would shadow it)

    assert asckit.models.complexity(nn.Linear(2, 3), (2,)).params == 9


@pytest.mark.slow
def test_listing_models_does_not_import_torch():
    # `asckit --help` imports every command module; torch must wait for the handler.
    code = (
        "import sys, asckit.models.commands, asckit.models; "
        "print(asckit.models.names()); print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[1] == "False"
