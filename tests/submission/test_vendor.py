"""asckit.submission.vendor: asckit's modules copied into a self-contained package, their imports made
relative, and the closure refused where it reaches what may not travel."""

from __future__ import annotations

import pytest

from asckit.core.errors import AsckitError
from asckit.submission.dcase2025 import INFERENCE_TEMPLATE, TEMPLATE, VENDORED, VENDORED_MODULES
from asckit.submission.vendor import closure, imported_modules, relative_module, rewrite_imports, template_roots


def test_the_inference_templates_closure_is_the_model_and_frontend_code_and_nothing_else():
    roots = template_roots((TEMPLATE / INFERENCE_TEMPLATE).read_text(), INFERENCE_TEMPLATE, VENDORED)
    assert set(closure(roots, VENDORED_MODULES)) == VENDORED_MODULES  # every allowed module is needed, no other


def test_a_module_outside_the_allowed_list_is_refused():
    with pytest.raises(AsckitError, match=r"^asckit.features.fft \(imported by asckit.features.tau22_frontend\): needed by the self"):
        closure(["asckit.features.tau22_frontend"], VENDORED_MODULES - {"asckit.features.fft"})
    with pytest.raises(AsckitError, match=r"asckit.features.store \(imported by asckit.features.waves\)"):  # waves.py writes stores
        closure(["asckit.features.waves"], VENDORED_MODULES | {"asckit.features.waves"})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import pandas\n", "imports pandas, which the self-contained package cannot hold"),
        ("def f():\n    import soxr\n", "imports soxr"),  # a function's import counts: it runs when called
        ("import scipy.fft\n", "imports scipy"),  # optional only inside try/except ImportError
        ("import asckit.labels\n", "the copy rewrites only `from asckit.x import name`"),
        ("from .labels import SCENES_10\n", "a relative import"),
        ("from asckit.features import store\n", None),  # a submodule named through its package is fine
        ("from asckit.models import build\n", "imports build from the package asckit.models's __init__, which is not copied"),
        ("try:\n    import scipy.fft\nexcept ImportError:\n    pass\n", None),
        ("import json, torch, numpy, soundfile\n", None),
    ],
)
def test_imports_that_may_not_travel_are_refused(source, message):
    if message is None:
        imported_modules(source, "m")
    else:
        with pytest.raises(AsckitError, match=message):
            imported_modules(source, "m")


def test_asckit_imports_become_relative_on_their_own_line_and_nothing_else_changes():
    source = (
        '"""Mentions asckit.core.errors in prose."""\n'
        "from asckit.core.errors import AsckitError\n"
        "from asckit.features.tau22_frontend import (\n    N_FFT,\n    window,\n)\n\n"
        "def f():\n    from asckit.labels import SCENES_10\n    return SCENES_10\n"
    )
    rewritten = rewrite_imports(source, "asckit.features.tau22_torch")
    assert rewritten.splitlines() == [
        '"""Mentions asckit.core.errors in prose."""',
        "from ..core.errors import AsckitError",
        "from .tau22_frontend import (",
        "    N_FFT,",
        "    window,",
        ")",
        "",
        "def f():",
        "    from ..labels import SCENES_10",
        "    return SCENES_10",
    ]
    assert relative_module("asckit.labels", "asckit.core.errors") == ".core.errors"
    assert relative_module("asckit.models.blocks", "asckit.models.cp_mobile") == ".cp_mobile"


def test_a_template_must_import_the_copies_not_asckit():
    assert template_roots(f"from .{VENDORED}.models.cp_mobile import CPMobile\nfrom . import _inference\n", "t", VENDORED) == [
        "asckit.models.cp_mobile"
    ]
    with pytest.raises(AsckitError, match="imports asckit itself"):
        template_roots("from asckit.labels import SCENES_10\n", "t", VENDORED)
