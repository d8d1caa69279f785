"""Fixtures for the end-to-end action tests: a simulated cluster with a model file on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SIZE = 4 * 2**20


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Any]:
    simcluster = pytest.importorskip("simcluster.cluster")
    with simcluster.SimCluster.run_in_thread(tmp_path / "sim") as cluster:
        yield cluster


@pytest.fixture
def model(sim: Any) -> Any:
    """A 4 MiB model file on the simulator's model server (v1)."""
    return sim.model_server.add_file("/models/v1/model.bin", size=SIZE, seed=1)


@pytest.fixture
def world(sim: Any, tmp_path: Path) -> Iterator[Any]:
    from tests.actions.world import World

    w = World(sim, tmp_path)
    yield w
    w.close()
