"""Review findings on the confirmation dialogs, on the simulator: ``d`` never offers to delete
a model verified as matching its checksum, and says when one is not known corrupt; ``s`` with
no second release says so in words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from tests.actions.test_e2e_disk_full import _require_tmpfs, needs_root
from tests.actions.world import World
from tests.tui.conftest import SIZE, Recorder
from tests.tui.test_e2e_scenarios import (
    confirm,
    confirmation,
    dashboard,
    in_state,
    rows,
    select,
    until,
)
from tui.app import AsrCacheApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.overview import OverviewScreen


def said(dialog: ConfirmScreen) -> str:
    """Everything the dialog says (title, subtitle, banner, plan), one space between words."""
    box = dialog.query_one("#confirm-box")
    parts = [str(box.border_title), str(box.border_subtitle)]
    parts += [getattr(w.content, "plain", str(w.content)) for w in dialog.query(Static)]
    return " ".join(" ".join(parts).split())


async def all_four_ready(pilot: Pilot[Any], app: AsrCacheApp) -> list[str]:
    """efs-shared's four pods, once every one is ready (their names)."""
    ready: list[str] = await until(
        pilot, lambda: len(in_state(app, "ready")) == 4 and in_state(app, "ready"), "4 ready"
    )
    return ready


async def test_delete_refuses_a_verified_model_and_warns_on_an_unverified_one(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("efs-shared")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        ready = await all_four_ready(pilot, app)
        verified, other = ready[0], ready[1]
        select(app, verified)
        await confirmation(pilot, "v")
        result = await confirm(pilot, recorder)
        assert result.ok, result.message
        await until(
            pilot,
            lambda: rows(app).get(verified, {}).get("progress") == "✓ checksum verified",
            "the verified model in the pods table",
        )

        dialog, _ = await confirmation(pilot, "d")
        text = said(dialog)
        assert not dialog.plan.runnable, text
        assert "matches its checksum" in text and "nothing to delete" in text, text
        assert "will restart" not in text and "Confirm (y)" not in text, text
        assert not app.screen.query("#confirm-yes")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen), "dialog closed")

        select(app, other)
        dialog, _ = await confirmation(pilot, "d")
        text = said(dialog)
        assert dialog.plan.runnable, text
        assert "not known to be corrupt" in text and "press v to verify it first" in text, text
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen), "dialog closed")
    assert world.wait_ready("lightning-asr", 4) == ready, "no pod was restarted"


async def test_switch_without_a_second_release_says_so_in_words(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("efs-shared")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        ready = await all_four_ready(pilot, app)
        select(app, ready[0])
        dialog, _ = await confirmation(pilot, "s")
        text = said(dialog)
        assert not dialog.plan.runnable, text
        assert "There is no second release to switch to in namespace smallest" in text, text
        assert "lightning-asr-v2" in text and "lightning-asr serves now" in text, text
        assert "None" not in text and "No target given" not in text, text
        assert dialog.query_one("#confirm-box").border_subtitle == "deployment/api-server"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen), "dialog closed")


@pytest.mark.root
@needs_root
async def test_fix_on_a_volume_smaller_than_the_model_says_too_small_not_full(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("disk-full")
    _require_tmpfs(world, "lightning-asr")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        (pod,) = await until(pilot, lambda: in_state(app, "failed"), "the pod shown failed")
        select(app, pod)
        dialog, _ = await confirmation(pilot, "f")
        text = said(dialog)
        assert not dialog.plan.runnable, text
        box = dialog.query_one("#confirm-box")
        assert box.border_title == "Fix the download that ran out of space", text
        assert "The PVC models-ebs-pvc is too small for the model" in text, text
        assert "the model needs 4.0 MiB, the volume holds 2.0 MiB in all" in text, text
        assert "Grow PVC models-ebs-pvc to at least 4.0 MiB" in text, text
        assert "volume is full" not in text and "stalled" not in text, text
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen), "dialog closed")
