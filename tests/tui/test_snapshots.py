"""Snapshot tests (pytest-textual-snapshot) of the main screens, from deterministic data and an
injected clock. Regenerate after an intended change with ``pytest --snapshot-update``."""

from __future__ import annotations

from textual.pilot import Pilot

from tests.tui.conftest import make_app
from tests.tui.fakes import FakeActions

SIZE = (150, 42)


async def settle(pilot: Pilot[object]) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_overview(snap_compare) -> None:
    assert snap_compare(make_app(actions=FakeActions()), terminal_size=SIZE, run_before=settle)


def test_pod_detail(snap_compare) -> None:
    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press("j", "enter")
        await settle(pilot)

    assert snap_compare(make_app(actions=FakeActions()), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare) -> None:
    actions = FakeActions({"restart-pod": "needs delete pods in smallest"})

    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(make_app(actions=actions), terminal_size=SIZE, run_before=run_before)


def test_confirmation(snap_compare) -> None:
    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press("d")  # delete the corrupt model: destructive
        await settle(pilot)

    assert snap_compare(make_app(actions=FakeActions()), terminal_size=SIZE, run_before=run_before)


def test_refused_switch(snap_compare) -> None:
    actions = FakeActions(refuse={"switch": "lightning-asr-v2 has 0/1 pods ready"})

    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)

    assert snap_compare(make_app(actions=actions), terminal_size=SIZE, run_before=run_before)
