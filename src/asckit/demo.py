"""`make demo` runs ``python -m asckit.demo``: the demo itself is ``asckit.experiments.demo``."""

from __future__ import annotations

import sys

from asckit.cli import use_huge_pages_for_torch
from asckit.experiments.demo import run

if __name__ == "__main__":
    use_huge_pages_for_torch()
    sys.exit(run())
