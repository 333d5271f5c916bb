"""argparse types for numeric options: a bad value is a one-line usage error (exit 2), not a
traceback from deep inside a command.

``type=positive_int`` accepts 1, 2, ...; ``type=at_least(0)`` 0, 1, ...; ``type=positive_float``
any finite number above 0; ``type=finite_float`` any finite number; ``type=fraction`` a number in [0, 1];
``type=float_between(low, high, why)`` a number in [low, high]. The CLI's parser prints
``asckit: error: CMD: argument --opt: <message> (see asckit CMD --help)`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def at_least(minimum: int) -> Callable[[str], int]:
    """A whole number ≥ ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; write one in digits, e.g. {max(minimum, 1)}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is too small; use {minimum} or more")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


positive_int = at_least(1)


def finite_float(text: str) -> float:
    """Any finite number (e.g. an SNR in dB)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; write one in digits, e.g. 2.5") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number; give one such as 2.5")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be above 0")
    return value


def non_negative_float(text: str) -> float:
    """A finite number ≥ 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be 0 or more")
    return value


def float_between(low: float, high: float, why: str) -> Callable[[str], float]:
    """A finite number from ``low`` to ``high``; ``why`` says what lies outside (shown in the error)."""

    def parse(text: str) -> float:
        value = finite_float(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value:g} is outside {low:g} to {high:g} ({why})")
        return value

    parse.__name__ = f"number in [{low:g}, {high:g}]"
    return parse


def fraction(text: str) -> float:
    """A number from 0 to 1."""
    value = finite_float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{value:g} must be between 0 and 1")
    return value


__all__ = ["at_least", "finite_float", "float_between", "fraction", "non_negative_float", "positive_float", "positive_int"]
