"""The ``asckit`` command: a thin argparse front end over the pipeline modules.

Each pipeline module that offers commands defines ``add_commands(subparsers)``; heavy imports
(torch, Lightning, librosa) stay inside the handlers so that ``asckit --help`` starts fast.

The same command serves both installs: the base install (``pip install asckit``, the torch-free
deployment runtime) and the full toolkit (``pip install 'asckit[train]'``). In the base install, a
module whose own imports need a missing package offers no commands (``asckit --help`` lists them
at the end), and a command whose handler needs one stops with a one-line error naming the package
and the extra to install, exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from asckit.core.errors import AsckitError, ProblemsFound

#: What installs every command's dependencies (the extras are defined in pyproject.toml).
FULL_INSTALL = "pip install 'asckit[train]'"

# Modules that register sub-commands, in the order they appear in `asckit --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "asckit.data.commands",
    "asckit.features.commands",
    "asckit.features.augment_commands",
    "asckit.models.commands",
    "asckit.pretrained.commands",
    "asckit.train.commands",
    "asckit.fusion.commands",
    "asckit.scoring.commands",
    "asckit.experiments.commands",
    "asckit.deploy.commands",
    "asckit.submission.commands",
)


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, like every other error of asckit:
    ``asckit: error: <command>: <message> (see asckit <command> --help)``, exit status 2, no usage block.

    ``add_subparsers`` makes its sub-parsers of the parser's own class, so every command and action
    (``asckit data check``) reports this way. The main parser also notes the commands this install lacks.
    """

    unavailable: dict[str, str] = {}

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if not hasattr(namespace, "asckit_prog"):  # the innermost (sub-)command parsed sets it first
            namespace.asckit_prog = self.prog
        return namespace, extras

    def parse_args(self, args=None, namespace=None):
        """As argparse's, but words no option takes are blamed on the command that was given them."""
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            self.exit(2, f"asckit: error: {usage_error(namespace.asckit_prog, 'unrecognized arguments: ' + ' '.join(extras))}\n")
        return namespace

    def error(self, message: str):
        message = " ".join(message.split())
        if self.unavailable and "invalid choice" in message:
            message = f"{message.split(' (choose from')[0]}. {_unavailable_note(self.unavailable)}"
        self.exit(2, f"asckit: error: {usage_error(self.prog, message)}\n")


def usage_error(prog: str, message: str) -> str:
    """'features: argument --task: ... (see asckit features --help)': a usage error of ``prog`` on one line."""
    command = prog.removeprefix("asckit").strip() if prog.split()[0] == "asckit" else ""
    return f"{command}: {message} (see {prog} --help)" if command else f"{message} (see {prog} --help)"


def _unavailable_note(unavailable: dict[str, str]) -> str:
    """'Not in this install: the commands of fusion (needs pandas), ...; for every command: pip install ...'."""
    modules = ", ".join(f"{_short_name(module)} (needs {package})" for module, package in unavailable.items())
    return f"Not in this install: the commands of {modules}; for every command: {FULL_INSTALL}"


def _short_name(module: str) -> str:
    """'asckit.experiments.commands' → 'experiments', 'asckit.features.augment_commands' → 'features.augment'."""
    return module.removeprefix("asckit.").removesuffix("commands").rstrip("._")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="asckit", description="Device-robust acoustic scene classification (DCASE 2020 Task 1).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    unavailable: dict[str, str] = {}
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if _is_asckit(exc):
                raise
            unavailable[name] = (exc.name or "?").split(".")[0]
            continue
        module.add_commands(sub)
    parser.unavailable = unavailable
    if unavailable:
        parser.epilog = _unavailable_note(unavailable)
    return parser


def _is_asckit(exc: ModuleNotFoundError) -> bool:
    """A missing asckit module is a bug in asckit, not a package missing from this install."""
    return (exc.name or "").split(".")[0] == "asckit"


def report_problems(exc: ProblemsFound) -> None:
    """Exit status 1's listing: one ``asckit: problem:`` line per problem, then the summary."""
    for line in [*exc.problems, str(exc)]:
        print(f"asckit: problem: {line}", file=sys.stderr)


def use_huge_pages_for_torch() -> None:
    """Let torch back its large tensors with transparent huge pages (``THP_MEM_ALLOC_ENABLE=1``, read when
    torch is imported; a user's own setting wins). Without it every training step gets its large
    activation tensors as fresh pages from the OS and pays for mapping them again: measured on the 2-core
    EPYC (no AMX), cp_mobile at batch 256 on 1 thread took 11.9 ms of CPU per clip, 5.7 with huge pages;
    on 2 threads 135 → 155 clips/s (``python benchmarks/train_tau22.py``, README "Measured"). Many short
    processes of tiny models pay a little for it (about 10 %); ``THP_MEM_ALLOC_ENABLE=0`` turns it off."""
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


def main(argv: list[str] | None = None) -> int:
    use_huge_pages_for_torch()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except ProblemsFound as exc:
        report_problems(exc)
        return 1
    except AsckitError as exc:
        print(f"asckit: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # the base install runs a command of the full toolkit
        if _is_asckit(exc):
            raise
        package = (exc.name or "?").split(".")[0]
        print(f"asckit: error: `asckit {args.command}` needs {package}, which this install lacks: {FULL_INSTALL}", file=sys.stderr)
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
