"""Sizes as the model-storage guide and Kubernetes write them."""

from __future__ import annotations

import pytest

from collectors.units import (
    SizeError,
    format_bytes,
    format_written,
    parse_size,
    written_in_decimal,
)


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


def test_a_written_size_is_shown_in_the_units_it_was_written_in() -> None:
    # 50GB (MODEL_CACHE_MAX_SIZE) or a PVC's 50G read back as 50.0 GB, not 46.6 GiB.
    assert written_in_decimal(parse_size("50GB")) and format_written(50 * 10**9) == "50.0 GB"
    assert not written_in_decimal(parse_size("50GiB"))
    assert format_written(parse_size("50GiB")) == "50.0 GiB"
    assert format_written(parse_size("2.5GiB")) == "2.5 GiB"
    assert format_written(parse_size("500MB")) == "500.0 MB"
    assert format_written(12_345_678) == "11.8 MiB"  # round in neither: measured, binary
    assert format_bytes(36.5 * 10**9, decimal=True) == "36.5 GB"
    assert format_bytes(999, decimal=True) == "999 B" and format_bytes(1000, True) == "1.0 kB"
