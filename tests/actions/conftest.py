"""Fixtures for the end-to-end action tests: a named simcluster scenario, started in-process.

    def test_x(start):
        world = start("efs-shared")                   # 4 MiB models, no speed cap
        world = start(cache_in_emptydir("stalled-download"))   # a scenario changed (variants.py)

    def test_y(quiet):                                # efs-shared, shared by a module's tests
        ...                                           # that must change nothing

Every world (cluster, scenario, connections) is stopped when its test (or module) ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.actions.world import SELECTOR, World, efs_shared

MODEL = 4 * 2**20


def _maker(stack: ExitStack, root: Path) -> Callable[..., World]:
    """A function that starts one scenario per call under ``root``; ``stack`` stops them."""
    cluster_mod = pytest.importorskip("simcluster.cluster")
    from simcluster.scenarios import ScenarioOptions, start_scenario

    count = 0

    def make(
        scenario: Any,
        *,
        model_size: int | None = MODEL,
        speed: int | None = 0,
        stall_after: float = 60.0,
        selector: str = SELECTOR,
        tls: bool = False,
        node_monitor_grace: float = 1.0,
    ) -> World:
        nonlocal count
        count += 1
        where = root / f"world{count}"
        # tls: HTTPS, as kubectl sends a bearer token only over TLS. A node that stops
        # answering is NotReady after node_monitor_grace (50 s on a real 1.32 cluster).
        sim = stack.enter_context(
            cluster_mod.SimCluster.run_in_thread(
                where / "sim", nodes=0, tls=tls, node_monitor_grace=node_monitor_grace
            )
        )
        options = ScenarioOptions(model_size=model_size, speed=speed)
        runtime = start_scenario(sim, scenario, options)
        world = World(sim, runtime, where, selector=selector, stall_after=stall_after)
        stack.callback(world.close)
        return world

    return make


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Factory: start(scenario, model_size=4 MiB, speed=0 (uncapped), stall_after=60 s, ...)."""
    with ExitStack() as stack:
        yield _maker(stack, tmp_path)


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, list[str]]]:
    """efs-shared with its four ready pods, shared by one module's tests that change nothing
    (refusals, forbidden actions, dry runs): each checks that nothing changed."""
    with ExitStack() as stack:
        yield efs_shared(_maker(stack, tmp_path_factory.mktemp("quiet")))
