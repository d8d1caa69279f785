"""Review finding: opening a confirmation must not change the cluster. Planning only reads;
whatever an action creates, deletes or patches (a helper pod included) happens after ``y``.

Each action's dialog is opened and cancelled on the scenarios where planning has the most to
read (a crash-looping pod on a full volume, a corrupt shared model, four healthy pods); the
pods, Jobs, CronJobs and Deployments listed through the API are the same before and after,
and the simulator's store saw no object created or deleted in between (a helper pod that came
and went while the dialog was open would not show in the lists alone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from collectors.model import ClusterSnapshot, ModelState
from tests.actions.world import NS, World
from tests.tui.conftest import SIZE, Recorder
from tests.tui.test_e2e_scenarios import confirmation, dashboard, in_state, select, until
from tui.screens.confirm import ConfirmScreen
from tui.screens.overview import OverviewScreen

KEYS = ("f", "v", "d", "r", "R", "p", "s")


def objects(world: World) -> dict[str, Any]:
    """What a plan could create, delete or patch, as listed through the API."""
    c = world.cluster
    return {
        "pods": sorted(
            (p.metadata.name, p.metadata.uid, bool(p.metadata.deletion_timestamp))
            for p in c.core.list_namespaced_pod(NS, _request_timeout=5).items
        ),
        "jobs": sorted(j.metadata.uid for j in c.batch.list_namespaced_job(NS).items),
        "cronjobs": sorted(j.metadata.uid for j in c.batch.list_namespaced_cron_job(NS).items),
        "deployments": sorted(
            (d.metadata.name, d.metadata.generation, str(d.metadata.annotations))
            for d in c.apps.list_namespaced_deployment(NS, _request_timeout=5).items
        ),
    }


class Writes:
    """Objects created or deleted, and Deployments changed, as the simulator's store saw it."""

    def __init__(self, world: World) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.store = world.sim.store
        self.store.add_listener(self._on)

    def _on(self, plural: str, ev: Any) -> None:
        name = ev.object["metadata"]["name"]
        if plural in ("pods", "jobs", "cronjobs") and ev.type in ("ADDED", "DELETED"):
            self.seen.append((ev.type, plural, name))
        elif plural == "deployments" and ev.old is not None:
            old, new = ev.old["metadata"], ev.object["metadata"]
            if old.get("generation") != new.get("generation") or old.get("annotations") != new.get(
                "annotations"
            ):
                self.seen.append(("MODIFIED", plural, name))

    def close(self) -> None:
        self.store.remove_listener(self._on)


def _crash_looping(snap: ClusterSnapshot | None) -> str | None:
    """A pod whose download failed and whose container has restarted (not exec-able)."""
    for p in snap.pods if snap else ():
        if p.model_state == ModelState.FAILED and p.restarts >= 1 and not p.ready:
            return p.name
    return None


async def _open_and_cancel_each(pilot: Any, world: World, pod: str, keys: tuple[str, ...]) -> None:
    app = pilot.app
    for key in keys:
        select(app, pod)
        before = objects(world)
        writes = Writes(world)
        try:
            dialog, text = await confirmation(pilot, key)
            assert isinstance(dialog, ConfirmScreen)
            during = objects(world)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, OverviewScreen), "dialog closed")
            after = objects(world)
        finally:
            writes.close()
        assert writes.seen == [], (key, writes.seen, text)
        assert during == before, (key, text)
        assert after == before, (key, text)


@pytest.mark.parametrize("scenario", ["disk-full", "corrupt-model", "efs-shared"])
async def test_opening_and_cancelling_each_dialog_changes_nothing(
    start: Callable[..., World],
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    scenario: str,
) -> None:
    world = start(scenario)
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        if scenario == "disk-full":
            pod = await until(pilot, lambda: _crash_looping(app.snapshot), "a crash-looping pod")
        elif scenario == "corrupt-model":
            pod = (await until(pilot, lambda: in_state(app, "corrupt"), "a corrupt pod"))[0]
        else:
            ready = await until(
                pilot, lambda: len(in_state(app, "ready")) == 4 and in_state(app, "ready"), "4"
            )
            pod = ready[0]
        await _open_and_cancel_each(pilot, world, pod, KEYS)
