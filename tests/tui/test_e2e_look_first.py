"""``f`` on a full volume that no running pod sees, from the dashboard: look, then evict.

The scenario is tests/actions/scenarios/disk-full-init.yaml: the only pod that downloads fails
in its init container for want of space, the other pod on the claim is Pending. The first
dialog only looks (one helper pod comes and goes, no file changes) and says a second
confirmation follows; once the look is done the eviction's dialog opens by itself. Declining
it leaves nothing behind; within two minutes ``f`` again goes straight to the eviction, and
confirming it evicts least recently used first, never a model a pod uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Static

from actions.fix import DISK_FULL, LOOK
from simcluster.kubelet.volumes import tmpfs_wanted
from tests.actions.test_e2e_disk_full import _failing
from tests.actions.test_e2e_disk_full_look import (
    CLAIM,
    FAILING,
    PodWrites,
    assert_eviction,
    files,
    helper_pods,
    require_tmpfs,
    scenario,
)
from tests.actions.world import World
from tests.tui.conftest import SIZE, Recorder
from tests.tui.test_e2e_scenarios import (
    confirm,
    confirmation,
    dashboard,
    in_state,
    on_screen,
    select,
    until,
)
from tui.app import AsrCacheApp
from tui.messages import ActionFinished
from tui.screens.confirm import ConfirmScreen
from tui.screens.overview import OverviewScreen


def shown_failed(app: AsrCacheApp) -> str | None:
    pod = _failing(app.snapshot, FAILING) if app.snapshot else None
    return pod.name if pod else None


async def fix_dialog(pilot: Pilot[Any], app: AsrCacheApp, pod: str) -> tuple[ConfirmScreen, str]:
    """``f`` on the failing pod. Its init container tries again after each back-off; the fix
    reads that container's previous run, so the fault shows whenever the key is pressed."""
    await until(pilot, lambda: shown_failed(app) == pod, "the v2 pod shown failed")
    select(app, pod)
    return await confirmation(pilot, "f")


def next_dialog(app: AsrCacheApp, after: ConfirmScreen) -> ConfirmScreen | None:
    screen = app.screen
    return screen if isinstance(screen, ConfirmScreen) and screen is not after else None


async def test_fix_looks_through_a_helper_then_asks_again_for_the_eviction(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start(scenario("enospc" if tmpfs_wanted() else "cache-cap"), model_size=None)
    if tmpfs_wanted():
        require_tmpfs(world)
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    writes = PodWrites(world)
    try:
        async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
            pod = await until(pilot, lambda: shown_failed(app), "the v2 pod shown failed")
            before = files(world)

            look, text = await fix_dialog(pilot, app, pod)
            assert look.plan.decision == LOOK and look.plan.looks_only, text
            assert "ⓘ This only looks: it creates one helper pod" in text, text  # on screen
            said = str(look.query_one("#confirm-look", Static).content)
            assert "it changes no file" in said and "a second confirmation" in said, said
            assert not look.query("#confirm-warning") and look.query_one("#confirm-yes", Button)
            assert "cannot be undone" not in text and "⚠" not in text, text
            assert "look at what the cache holds (step 1 of 2)" in text, text
            assert "EXEC in asr-cache-helper-" in text and "rm -f" not in text, text
            assert writes.seen == [], "opening the dialog created nothing"

            await pilot.press("y")
            evict = await until(pilot, lambda: next_dialog(app, look), "the eviction's dialog", 60)
            await pilot.pause()
            (seen,) = recorder.of(ActionFinished)
            assert seen.result.ok and seen.result.replan, seen.result.message
            helper = seen.result.details["helper_pod"]
            assert writes.helpers() == [("ADDED", helper), ("DELETED", helper)]
            assert_eviction(evict.plan)
            shown = on_screen(pilot)
            assert "⚠ This changes the cluster and cannot be undone." in shown, shown
            listed = str(evict.query_one("#confirm-plan Static", Static).content)
            assert "evict unused models" in listed and "rm -f /app/models/v9" in listed, listed

            # Declined: the helper is already gone, and no file changed.
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, OverviewScreen), "dialog closed")
            assert helper_pods(world) == [] and files(world) == before
            assert len(writes.helpers()) == 2 and len(recorder.of(ActionFinished)) == 1

            # f again, soon after: what the look saw still holds, so no second look.
            again, text = await fix_dialog(pilot, app, pod)
            assert again.plan.decision == DISK_FULL and again.plan.runnable, text
            result = await confirm(pilot, recorder)
            assert result.ok, result.message
            (new,) = await until(
                pilot, lambda: in_state(app, "ready", FAILING), "the new v2 pod shown ready", 60
            )
            assert new != pod
    finally:
        writes.close()
    claim = world.claim_dir(CLAIM)
    assert not (claim / "v9" / "model.bin").exists() and (claim / "v0" / "model.bin").exists()
    assert (claim / "v1" / "model.bin").exists(), "the Pending pod's model is kept"
    assert helper_pods(world) == []
    assert [line["plan"]["decision"] for line in world.audit_lines()] == [LOOK, DISK_FULL]
    world.assert_recorded("fix", "AsrCacheTuiFix", f"pod/{pod}")
