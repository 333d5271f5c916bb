"""User-facing errors: one line that names the file and the fix, never a traceback.

Raise ``AsckitError`` for anything a user can cause (bad path, bad CSV, bad config); the CLI
prints its message on one line and exits with status 2.
"""

from __future__ import annotations


class AsckitError(Exception):
    """An error caused by input the user controls; its message is shown as is."""


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message (at most ``limit`` characters), or its type's name:
    what a one-line error quotes of a library's failure."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
