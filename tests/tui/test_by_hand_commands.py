"""What the confirmation dialog says first, on the dashboard: a pod on a lost node is restarted
by ``y``, and the force delete comes after the steps, as a command to run by hand only when the
machine is down."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Static

from collectors.model import ModelState
from tests.actions.world import World
from tests.tui.conftest import SIZE, Recorder
from tests.tui.test_e2e_scenarios import confirmation, dashboard, in_state, select, until
from tui.screens.confirm import ConfirmScreen


async def test_on_a_lost_node_y_restarts_and_the_force_delete_is_apart_after_the_steps(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("emptydir", speed=256 * 1024)  # 4 MiB at 256 KiB/s: 16 s of downloading
    world.watch()
    snap = world.wait_snapshot(
        lambda s: any(p.model_state is ModelState.DOWNLOADING and p.node for p in s.pods),
        30,
        "a pod downloading",
    )
    victim = next(p for p in snap.pods if p.model_state is ModelState.DOWNLOADING and p.node)
    assert victim.node is not None
    world.sim.node_down(victim.node)
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        await until(
            pilot,
            lambda: victim.name in in_state(app, "failed"),
            "the pod on the lost node shown failed",
        )
        select(app, victim.name)
        dialog, text = await confirmation(pilot, "f")
        assert isinstance(dialog, ConfirmScreen) and dialog.plan.decision == "node-lost"
        (force,) = dialog.plan.commands
        # First: what y does, and that it is not the force delete.
        warning = str(dialog.query_one("#confirm-warning", Static).content)
        assert "Confirming runs the numbered steps, not the command to run by hand" in warning
        # In the plan: the steps, then the label, then the command -- never above the prose.
        shown = [w.id or "plan" for w in dialog.query_one(VerticalScroll).children]
        assert shown[:3] == ["plan", "confirm-by-hand", "confirm-commands"], shown
        label = str(dialog.query_one("#confirm-by-hand", Static).content)
        assert label.startswith(
            f"Not run when confirmed; to run by hand, only when node {victim.node} is really down"
        ), label
        assert str(dialog.query_one("#confirm-commands", Static).content) == force
        assert "Confirm (y)" in text
        steps, command = text.find("1. DELETE pods/"), text.find("--grace-period=0 --force")
        assert 0 <= steps < command, text
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == force


async def test_an_unbound_claim_gives_its_commands_to_copy_together(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pvc-pending: the claim's warning in the evidence, two commands apart, c copies both."""
    world = start("pvc-pending")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        (waiting, _other) = await until(
            pilot, lambda: in_state(app, "pending") or in_state(app, "blocked"), "pods waiting"
        )
        await until(
            pilot,
            lambda: (
                app.snapshot is not None
                and any(p.blocker is not None and p.blocker.details for p in app.snapshot.pods)
            ),
            "the claim's warning on the dashboard",
        )
        select(app, waiting)
        dialog, text = await confirmation(pilot, "f")
        assert isinstance(dialog, ConfirmScreen) and not dialog.plan.runnable
        said = 'ProvisioningFailed: storageclass.storage.k8s.io "models-aws-efs-sc2" not found.'
        assert dialog.plan.summary.endswith(said), dialog.plan.summary
        refused = str(dialog.query_one("#confirm-refused", Static).content)
        assert "StorageClass models-aws-efs-sc2, which does not exist" in refused, refused
        commands = "\n".join(dialog.plan.commands)
        assert str(dialog.query_one("#confirm-commands", Static).content) == commands
        assert "Copy commands (c)" in text, text
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == commands
