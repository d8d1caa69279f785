"""Never block Textual's event loop: the real dashboard on a simulated cluster, driven through
the keys that reach the cluster (the detail's log, df and cache listing; the timeline's read of
every pod's log; verify planned and run on a helper pod; fix planned; a namespace switch,
which connects again and asks whether the namespace exists; the context picker, help and the
palette), makes no blocking socket call and no name lookup on the loop's thread."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from tests.actions.world import World
from tests.tui.conftest import SIZE, Recorder
from tests.tui.loopguard import LoopGuard
from tests.tui.test_e2e_scenarios import (
    confirm,
    confirmation,
    dashboard,
    in_state,
    on_screen,
    select,
    until,
)
from tui.screens.detail import PodDetailScreen
from tui.screens.overview import OverviewScreen


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopGuard]:
    g = LoopGuard(monkeypatch)
    yield g
    g.disarm()


async def test_the_guard_sees_a_blocking_call_on_the_loop(
    start: Callable[..., World], guard: LoopGuard
) -> None:
    """The witness can fail: a plain request to the API server from the loop is seen."""
    world = start("efs-shared")
    host, port = world.sim.url.split("//")[1].split(":")
    guard.arm()
    with socket.create_connection((host, int(port)), timeout=5):
        pass
    guard.disarm()
    assert [s.split(" on ")[0] for s in guard.seen][:2] == [
        f"getaddrinfo({host!r}, {int(port)})",
        "socket.connect",
    ], guard.seen


async def test_the_dashboard_never_blocks_its_event_loop(
    start: Callable[..., World],
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    guard: LoopGuard,
) -> None:
    world = start("corrupt-model")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        guard.arm()
        corrupt = await until(pilot, lambda: in_state(app, "corrupt"), "a pod shown corrupt")
        select(app, corrupt[0])
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PodDetailScreen), "the detail")
        await pilot.pause(3.0)  # its log, df and cache listing come in meanwhile
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen), "the overview")
        await pilot.press("t")  # the timeline: every pod's kept log, then live lines
        await until(pilot, lambda: getattr(app.screen, "model", None) is not None, "timeline")
        await pilot.pause(2.0)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen), "the overview")
        await confirmation(pilot, "v")
        result = await confirm(pilot, recorder)
        assert "mismatch" in result.message, result.message
        await confirmation(pilot, "f")  # fix plans from the evidence (a purge here)
        await pilot.press("escape")
        for key in ("c", "question_mark", "ctrl+p"):  # the context picker, help, the palette
            await pilot.press(key)
            await pilot.pause(0.5)
            await pilot.press("escape")
        # A namespace switch connects again (and asks whether the namespace exists) and
        # starts a new feed: away to one that does not exist, and back.
        await pilot.press("n", "ctrl+u", *"prod", "enter")
        await until(
            pilot,
            lambda: 'namespace "prod" does not exist' in on_screen(pilot),
            "the missing namespace said",
        )
        await pilot.press("n", "ctrl+u", *"smallest", "enter")
        await until(pilot, lambda: in_state(app, "corrupt"), "the pods again, after the switch")
        guard.disarm()
    assert not guard.seen, "\n\n".join(guard.seen[:3])
