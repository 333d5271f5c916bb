"""Count the bad-input corpus (issue 15) per command: `python tests/count_bad_inputs.py`.

Reads the ``Case`` lists of every ``tests/test_bad_inputs_*.py`` and counts them by the command
they run, plus the corpus's other test functions (repairs, the two-writer lock test, ...) by file.
Run with ``PYTHONPATH=src`` from the repository root.
"""

from __future__ import annotations

import collections
import importlib
import inspect
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    sys.path.insert(0, str(HERE))
    from bad_input_corpus import Case

    per_command: collections.Counter[str] = collections.Counter()
    other: dict[str, list[str]] = {}
    for path in sorted(HERE.glob("test_bad_inputs_*.py")):
        module = importlib.import_module(path.stem)
        seen: set[int] = set()
        for value in vars(module).values():
            if isinstance(value, list) and value and all(isinstance(c, Case) for c in value):
                for case in value:
                    if id(case) not in seen:
                        seen.add(id(case))
                        per_command[case.command] += 1
        other[path.name] = [
            name for name, f in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("test_") and f.__module__ == module.__name__ and "case" not in inspect.signature(f).parameters
        ]
    for command, count in sorted(per_command.items(), key=lambda item: (-item[1], item[0])):
        print(f"{command:18s} {count:4d}")
    print(f"{'cases in all':18s} {sum(per_command.values()):4d}")
    for name, tests in other.items():
        if tests:
            print(f"{name}: also {', '.join(tests)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
