"""The terminal bell: new trouble after a good view, and a long action's end; nothing else."""

from __future__ import annotations

import dataclasses

from actions.plan import ActionResult
from collectors.model import ModelState
from tests.polling import pilot_until
from tests.tui.conftest import SIZE, make_app
from tests.tui.fakes import FakeFeed, pod, sample_plan, sample_snapshot
from tui.bell import LONG_ACTION, TROUBLE_PAUSE, TroubleBell, action_ended_is_news
from tui.messages import ActionFinished


def test_new_trouble_rings_once_a_pause_never_for_the_first_view() -> None:
    bell = TroubleBell()
    assert not bell.should_ring("bad", 0.0)  # the first view: the user knows why they came
    assert not bell.should_ring("ok", 1.0)
    assert bell.should_ring("bad", 2.0)
    assert not bell.should_ring("bad", 3.0)  # still the same trouble
    assert not bell.should_ring("busy", 4.0)
    assert not bell.should_ring("stale", 5.0)  # new, but within the pause
    assert not bell.should_ring("unknown", 6.0)  # no data: neither news nor all clear
    assert not bell.should_ring("ok", 7.0)
    assert bell.should_ring("stale", 2.0 + TROUBLE_PAUSE)  # the API lost is trouble too


def test_an_action_is_news_when_it_ran_long_and_was_real() -> None:
    assert action_ended_is_news(LONG_ACTION, dry_run=False)
    assert not action_ended_is_news(LONG_ACTION - 0.1, dry_run=False)
    assert not action_ended_is_news(LONG_ACTION * 10, dry_run=True)


def _all_ready():
    snap = sample_snapshot()
    pods = tuple(
        dataclasses.replace(p, model_state=ModelState.READY, ready=True, progress=None)
        for p in snap.pods
    )
    return dataclasses.replace(snap, pods=pods)


async def test_the_app_rings_for_a_pod_going_bad_and_a_long_fix_ending(monkeypatch) -> None:
    good = _all_ready()
    feed = FakeFeed(good)
    app = make_app(feed)
    rings: list[str] = []
    monkeypatch.setattr(app, "bell", lambda: rings.append("ding"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot_until(pilot, lambda: app.snapshot is not None)
        assert rings == []
        stalled = pod("stalled-pod", ModelState.STALLED)
        feed.push(dataclasses.replace(good, pods=(*good.pods, stalled)))
        await pilot_until(pilot, lambda: rings)
        assert rings == ["ding"]
        plan = sample_plan("fix", "stalled-pod")
        app.post_message(ActionFinished(ActionResult(plan, ok=True, message="Ready"), 0.5))
        await pilot.pause()
        assert rings == ["ding"], "a quick action is no news"
        app.post_message(ActionFinished(ActionResult(plan, ok=True, message="Ready"), 90.0))
        await pilot_until(pilot, lambda: len(rings) == 2)
