"""Generated content: deterministic, position-dependent, readable at any offset."""

from __future__ import annotations

import hashlib

import pytest

from simcluster.modelserver import BLOCK_SIZE, ModelFile, generate


def test_any_slice_equals_the_same_slice_of_the_whole_file() -> None:
    f = ModelFile("/m.bin", 3 * BLOCK_SIZE + 12345, seed=7)
    whole = f.read(0, f.size)
    assert len(whole) == f.size
    assert hashlib.sha256(whole).hexdigest() == f.sha256
    spans = [(0, 1), (0, 16), (10, 30), (BLOCK_SIZE - 3, 10), (BLOCK_SIZE + 5, 2 * BLOCK_SIZE)]
    spans += [(f.size - 1, 1), (f.size - 100, 500), (f.size, 10)]
    for offset, length in spans:
        assert f.read(offset, length) == whole[offset : offset + length], (offset, length)
    assert b"".join(f.iter_bytes(100, 200_000, chunk_size=7777)) == whole[100:200_000]


def test_content_depends_on_position_seed_and_size() -> None:
    f = ModelFile("/m.bin", 64 * BLOCK_SIZE, seed=1)
    blocks = {f.read(i * BLOCK_SIZE, BLOCK_SIZE) for i in range(64)}
    assert len(blocks) == 64  # no block repeats, so a range at the wrong offset is detected
    # Blocks 16 apart share pool bytes; their headers still differ.
    assert f.read(0, BLOCK_SIZE) != f.read(16 * BLOCK_SIZE, BLOCK_SIZE)
    assert f.read(0, 4096) != ModelFile("/m.bin", f.size, seed=2).read(0, 4096)
    assert f.sha256 != ModelFile("/m.bin", f.size + 1, seed=1).sha256
    assert generate(f.size, 1, 5000, 100) == f.read(5000, 100)  # deterministic


def test_empty_file_hashes_as_empty() -> None:
    assert ModelFile("/e", 0).sha256 == hashlib.sha256(b"").hexdigest()


def test_validators_are_strong_quoted_and_change_when_asked() -> None:
    f = ModelFile("/m.bin", 10, seed=3)
    assert f.etag.startswith('"') and f.etag.endswith('"') and not f.etag.startswith("W/")
    assert f.changed_etag != f.etag and f.changed_etag.startswith('"')
    assert f.last_modified.endswith(" GMT")
    assert f.changed_last_modified != f.last_modified


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "m.bin", "size": 1}, "must start with '/'"),
        ({"path": "/m.bin", "size": -1}, "must not be negative"),
    ],
)
def test_bad_file_descriptions_are_refused_clearly(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelFile(**kwargs)
