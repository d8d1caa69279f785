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


def format_bytes(n: int | float) -> str:
    """Binary units with one decimal: ``1.5 GiB``; what every screen and log line uses."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
