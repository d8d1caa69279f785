"""The rollouts panel: a stuck rollout's reason is said whole, and "◀ live" (the release the
api-server points at) is shown with the version its Ready pods serve, not the template's."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from collectors.model import ModelState, PodInfo, RolloutInfo
from tests.actions.world import World
from tests.polling import pilot_until
from tests.tui.conftest import Recorder, make_app
from tests.tui.fakes import FakeFeed, pod, sample_snapshot
from tests.tui.screen import screen_text
from tests.tui.test_e2e_scenarios import dashboard, until
from tui.widgets.rollouts import RolloutsTable, model_cell, serving_line, serving_versions

QUOTA = (
    'FailedCreate: pods "lightning-asr-595b95db77-rr692" is forbidden: exceeded quota: '
    "compute, requested: requests.memory=128Mi, used: requests.memory=288Mi, "
    "limited: requests.memory=384Mi"
)


def _v1_pods() -> tuple[PodInfo, ...]:
    return tuple(
        pod(f"lightning-asr-6bdc97c6c-{s}", ModelState.READY, ready=True, version="v1")
        for s in ("82gr2", "gf87f")
    )


def _stuck() -> RolloutInfo:
    """The template moved to v2; the quota refuses its first pod: v1's pods serve on."""
    return RolloutInfo("lightning-asr", 2, 0, 2, 2, model_version="v2", serving=True, problem=QUOTA)


def test_model_says_what_the_ready_pods_serve() -> None:
    pods = _v1_pods()
    assert serving_versions("lightning-asr", pods) == ("v1",)
    assert model_cell("v2", ("v1",)).plain == "v1→v2"
    assert model_cell("v1", ("v1",)).plain == "v1"
    assert model_cell("v2", ()).plain == "v2"  # nothing Ready yet: the template's, greyed
    assert model_cell("v2", ()).style == "grey50"
    unready = dataclasses.replace(pods[0], ready=False, model=dataclasses.replace(pods[0].model))
    assert serving_versions("lightning-asr", (unready,)) == ()
    line = serving_line("http://lightning-asr-internal:2269", (_stuck(),), pods).plain
    assert line == "api-server → http://lightning-asr-internal:2269 (serving v1)"
    assert serving_line("http://x:2269", (_stuck(),), ()).plain.endswith("(no Ready pod)")


@pytest.mark.parametrize("size", [(160, 45), (160, 60), (100, 30)])
async def test_a_stuck_rollouts_reason_is_said_whole_and_live_is_true(
    size: tuple[int, int],
) -> None:
    snap = sample_snapshot(
        pods=_v1_pods(),
        rollouts=(_stuck(),),
        serving_url="http://lightning-asr-internal:2269",
        jobs=(),
    )
    app = make_app(FakeFeed(snap))
    async with app.run_test(size=size) as pilot:
        table = app.screen.query_one(RolloutsTable)
        await pilot_until(pilot, lambda: table.row_count == 1)
        await pilot.pause()
        assert table.get_cell("lightning-asr", "version").plain == "v1→v2"
        text = " ".join(line.strip("│ ") for line in screen_text(app).splitlines())
        assert "limited: requests.memory=384Mi" in " ".join(text.split()), text
        assert "http://lightning-asr-internal:2269 (serving v1)" in text


async def test_quota_exceeded_on_the_simulator(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("quota-exceeded")
    app = dashboard(world, recorder, monkeypatch)
    async with app.run_test(size=(160, 45)) as pilot:

        def said() -> Any:
            text = " ".join(screen_text(app).split())
            whole = "limited: requests.memory=" in text
            return whole and "http://lightning-asr-internal:2269 (serving v1)" in text

        await until(pilot, said, "the quota's whole reason, and what the live release serves")
        table = app.screen.query_one(RolloutsTable)
        assert table.get_cell("lightning-asr", "version").plain == "v1→v2"
