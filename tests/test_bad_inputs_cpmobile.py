"""Bad-input corpus, CP-Mobile and the 2022-2025 complexity rules: `asckit models` (widths whose
models cannot be built).

Each case asserts the exit status, the one error line and that nothing was written or changed
(``bad_input_corpus.check_case``); no case needs the shared trained project.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_input_corpus import Case, check_case


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """An empty base folder: these cases need no shared project."""
    return {"base": tmp_path_factory.mktemp("corpus_cpmobile")}


MODELS = [
    # A width whose tensors' byte size overflows 64 bits: torch refuses to make them, even on the meta device.
    Case("models width too large to build", ["models", "--width", "1e12"], ("too large to build", "use a smaller --width"), 2),
    Case("models markdown with a value", ["models", "--markdown=yes"],
         ("--markdown: ignored explicit argument 'yes'", "see asckit models --help"), 2),
]

ALL = [*MODELS]


@pytest.mark.parametrize("case", [c.param() for c in ALL])
def test_refuses_bad_input_and_writes_nothing(case: Case, tmp_path: Path, shared, capfd) -> None:
    check_case(case, tmp_path, shared, capfd)
