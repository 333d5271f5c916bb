"""The ``asckit`` command: a thin argparse front end over the pipeline modules.

Each pipeline module that offers commands defines ``add_commands(subparsers)``; heavy imports
(torch, Lightning, librosa) stay inside the handlers so that ``asckit --help`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from asckit.errors import AsckitError

# Modules that register sub-commands, in the order they appear in `asckit --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "asckit.data.commands",
    "asckit.features.commands",
    "asckit.features.augment_commands",
    "asckit.models.commands",
    "asckit.train.commands",
    "asckit.fusion",
    "asckit.evaluate",
    "asckit.significance",
    "asckit.reproduce",
    "asckit.deploy.commands",
    "asckit.submission",
)


class _Parser(argparse.ArgumentParser):
    """argparse, plus a note on commands this install cannot offer when a command is not found."""

    unavailable: dict[str, str] = {}

    def error(self, message: str):
        if self.unavailable and "invalid choice" in message:
            missing = ", ".join(f"{module.rsplit('.', 1)[-1]} (needs {package})" for module, package in self.unavailable.items())
            message += f"; not available in this install: {missing}; install the full package: pip install asckit"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="asckit", description="Device-robust acoustic scene classification (DCASE 2020 Task 1).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    unavailable: dict[str, str] = {}
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a dependency missing from this install (e.g. `asckit[infer]` only)
                unavailable[name] = (exc.name or "?").split(".")[0]
            continue
        module.add_commands(sub)
    parser.unavailable = unavailable
    if unavailable:
        parser.epilog = "Not available in this install (missing packages): " + ", ".join(
            f"{module.rsplit('.', 1)[-1]} needs {package}" for module, package in unavailable.items()
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except AsckitError as exc:
        print(f"asckit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("asckit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stderr.close()
        return 0
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
