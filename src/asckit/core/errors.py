"""User-facing errors: one line that names the file and the fix, never a traceback.

Raise ``AsckitError`` for anything a user can cause (bad path, bad CSV, bad config); the CLI
prints its message on one line (``asckit: error: ...``) and exits with status 2 (a usage error).
Raise ``ProblemsFound`` when a command ran and found problems in what it processed (clips that
could not be read and were skipped): the CLI lists each on its own line (``asckit: problem: ...``),
then the summary, and exits with status 1.
"""

from __future__ import annotations


class AsckitError(Exception):
    """An error caused by input the user controls; its message is shown as is."""


class ProblemsFound(AsckitError):
    """The command ran, kept what it could, and found ``problems`` (one line each); the message sums them up."""

    def __init__(self, problems: list[str], summary: str) -> None:
        super().__init__(summary)
        self.problems = list(problems)


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message (at most ``limit`` characters), or its type's name:
    what a one-line error quotes of a library's failure."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
