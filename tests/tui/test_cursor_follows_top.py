"""The pods table's cursor starts on the most urgent pod and follows the top until the user
moves it (a key, a click, Enter, ``l``, a filter); from then on it keeps its pod.

The audit's case (image-pull-backoff): the ready pods come first, the blocked pod a moment
later, sorted above them; ``f`` must act on the blocked pod, not on the ready one the cursor
happened to be on.
"""

from __future__ import annotations

import dataclasses

from collectors.model import ModelState
from tests.polling import pilot_until
from tests.tui.conftest import CORRUPT, SIZE, STALLED, make_app
from tests.tui.fakes import FakeActions, FakeFeed, pod, sample_snapshot
from tui.screens.detail import PodDetailScreen
from tui.widgets.pods import PodsTable

READY_A = "lightning-asr-74cbd869d-lnm7h"
READY_B = "lightning-asr-74cbd869d-wmrjw"
BLOCKED = "lightning-asr-7d88b55864-xzrjx"
FAILED = "lightning-asr-7d88b55864-aaaaa"


def ready_only():
    return sample_snapshot(
        pods=(
            pod(READY_A, ModelState.READY, ready=True),
            pod(READY_B, ModelState.READY, ready=True),
        )
    )


def with_pod(snap, name: str, state: ModelState):
    return dataclasses.replace(snap, pods=(*snap.pods, pod(name, state, phase="Pending")))


async def test_a_more_urgent_pod_that_arrives_later_takes_the_cursor_and_f_fixes_it() -> None:
    feed, actions = FakeFeed(ready_only()), FakeActions()
    app = make_app(feed, actions)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(PodsTable)
        await pilot_until(pilot, lambda: table.row_count == 2)
        assert table.selected_key == READY_A
        feed.push(with_pod(ready_only(), BLOCKED, ModelState.BLOCKED))
        await pilot_until(pilot, lambda: table.row_count == 3)
        assert table.selected_key == BLOCKED  # the top row, where the cursor is drawn
        assert table.cursor_row == 0
        await pilot.press("f")
        await pilot_until(pilot, lambda: actions.plan_calls)
        assert actions.plan_calls == [("fix", BLOCKED)]


async def test_once_the_user_moved_the_cursor_it_keeps_its_pod_even_back_on_top() -> None:
    feed = FakeFeed(ready_only())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(PodsTable)
        await pilot_until(pilot, lambda: table.row_count == 2)
        await pilot.press("j", "k")  # down and back: the user chose the top pod
        assert table.selected_key == READY_A
        feed.push(with_pod(ready_only(), BLOCKED, ModelState.BLOCKED))
        await pilot_until(pilot, lambda: table.row_count == 3)
        assert str(table.get_row_at(0)[0]) == BLOCKED
        assert table.selected_key == READY_A


async def test_a_click_on_a_row_is_a_choice_too() -> None:
    feed = FakeFeed(ready_only())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(PodsTable)
        await pilot_until(pilot, lambda: table.row_count == 2)
        await pilot.click(PodsTable, offset=(4, 2))  # the second row (under the header)
        assert table.selected_key == READY_B
        feed.push(with_pod(ready_only(), BLOCKED, ModelState.BLOCKED))
        await pilot_until(pilot, lambda: table.row_count == 3)
        assert table.selected_key == READY_B


async def test_opening_the_top_pods_logs_keeps_it_selected_afterwards() -> None:
    feed = FakeFeed(ready_only())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(PodsTable)
        await pilot_until(pilot, lambda: table.row_count == 2)
        await pilot.press("l")
        await pilot_until(pilot, lambda: isinstance(app.screen, PodDetailScreen))
        await pilot.press("escape")
        await pilot_until(pilot, lambda: not isinstance(app.screen, PodDetailScreen))
        feed.push(with_pod(ready_only(), BLOCKED, ModelState.BLOCKED))
        await pilot_until(pilot, lambda: table.row_count == 3)
        assert table.selected_key == READY_A


async def test_a_filter_keeps_the_cursors_pod_or_goes_to_the_first_match_then_holds() -> None:
    feed = FakeFeed(sample_snapshot())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(PodsTable)
        await pilot_until(pilot, lambda: table.row_count == 6)
        assert table.selected_key == CORRUPT  # the most urgent
        await pilot.press("slash", *"node-b", "enter")  # corrupt is on node-c: filtered out
        await pilot_until(pilot, lambda: table.row_count == 2)
        assert table.selected_key == STALLED  # the first match
        snap = sample_snapshot()
        failed = dataclasses.replace(
            pod(FAILED, ModelState.FAILED, node="node-b"), created_at=snap.taken_at
        )
        feed.push(dataclasses.replace(snap, pods=(*snap.pods, failed)))
        await pilot_until(pilot, lambda: table.row_count == 3)
        assert str(table.get_row_at(0)[0]) == FAILED
        assert table.selected_key == STALLED  # the filter was a choice: it keeps its pod
