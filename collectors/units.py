"""Byte sizes as people write them (`50GB`, `50GiB`, `500M`, `23.5GB`) and back."""

from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?)(b?)\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


class SizeError(ValueError):
    """A size string that cannot be read; the message says what was given."""


def parse_size(text: str) -> int:
    """Parse ``50GB`` (decimal), ``50GiB`` (binary), ``500M`` or ``500Mi`` (binary, as
    Kubernetes quantities are) or a plain byte count into bytes."""
    match = _SIZE.match(text)
    if not match:
        raise SizeError(f"not a size: {text!r} (expected e.g. 50GB, 50GiB, 500M or 1048576)")
    number, prefix, binary, byte_suffix = match.groups()
    power = _POWERS[prefix.lower()]
    # "500M" and "500Mi" are binary (Kubernetes and coreutils style); "500MB" is decimal.
    base = 1024 if (binary or (prefix and not byte_suffix)) else 1000
    return int(float(number) * base**power)


BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def format_bytes(n: int | float, decimal: bool = False) -> str:
    """One decimal: ``1.5 GiB``, binary as every screen and log line measures; ``decimal``
    for a figure shown beside a size someone wrote in decimal units (``13.2 GB of 50.0 GB``)."""
    base, units = (1000, DECIMAL_UNITS) if decimal else (1024, BINARY_UNITS)
    value = float(n)
    for unit in units:
        if abs(value) < base or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= base
    raise AssertionError("unreachable")


def written_in_decimal(n: int) -> bool:
    """Whether a size someone wrote (a PVC's ``50G``, ``MODEL_CACHE_MAX_SIZE=50GB``) reads back
    exactly in decimal units and not in binary ones: it is then shown as ``50.0 GB``, not as
    ``46.6 GiB``, which nobody wrote."""
    return _round_in(n, 1000) and not _round_in(n, 1024)


def _round_in(n: int, base: int) -> bool:
    """``n`` is a whole number of tenths of its largest ``base`` unit (``2.5 GiB``, ``50 GB``)."""
    if n < base:
        return False
    unit = base
    while unit * base <= n:
        unit *= base
    return (n * 10) % unit == 0


def format_written(n: int) -> str:
    """A size someone wrote, in the unit family it was written in."""
    return format_bytes(n, decimal=written_in_decimal(n))


def format_duration(seconds: float) -> str:
    """How long something has lasted, in words for evidence: ``45 s``, ``12 min``, ``3.5 h``."""
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
