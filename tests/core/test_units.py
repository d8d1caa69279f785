"""Sizes as the model-storage guide and Kubernetes write them."""

from __future__ import annotations

import pytest

from collectors.units import SizeError, format_bytes, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50GB", 50 * 10**9),
        ("50GiB", 50 * 2**30),
        ("500M", 500 * 2**20),
        ("500Mi", 500 * 2**20),
        ("5Gi", 5 * 2**30),
        ("23.5GB", 23_500_000_000),
        ("1048576", 1048576),
        (" 10 kb ", 10_000),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "GB", "50XB", "-5GB", "five"])
def test_parse_size_rejects_with_the_input_named(text: str) -> None:
    with pytest.raises(SizeError, match="not a size"):
        parse_size(text)


def test_format_bytes() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(25 * 2**30) == "25.0 GiB"
