"""Actions through the UI: plan in a thread, confirmation showing the plan, execute only on
confirm, results notified; read-only offers nothing; RBAC-forbidden actions shown as such."""

from __future__ import annotations

import threading

from textual.widgets import Button

from tests.polling import pilot_until
from tests.tui.conftest import CORRUPT, SIZE, STALLED, Recorder, make_app
from tests.tui.fakes import FakeActions
from tests.tui.screen import screen_text
from tui import commands
from tui.messages import (
    ActionConfirmed,
    ActionFinished,
    ActionPlanned,
    ActionProgressed,
    PermissionsLoaded,
)
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.overview import OverviewScreen


async def confirmation(pilot, *keys: str) -> ConfirmScreen:
    """Press keys that plan an action and wait for its confirmation. The plan is made in a
    worker thread, so a fixed pause is not enough on a busy machine: wait for the screen."""
    await pilot.press(*keys)
    screen = await pilot_until(
        pilot, lambda: pilot.app.screen if isinstance(pilot.app.screen, ConfirmScreen) else None
    )
    await pilot.pause()  # composed and drawn
    return screen


def footer_keys(app) -> set[str]:
    """Keys the footer offers (enabled or greyed)."""
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show}


async def test_confirmation_shows_the_plan_and_executes_only_on_confirm(
    recorder: Recorder,
) -> None:
    actions = FakeActions()
    app = make_app(actions=actions, recorder=recorder)
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        await pilot.pause()
        await confirmation(pilot, "j", "f")  # the stalled pod, fix
        assert actions.plan_calls == [("fix", STALLED)]
        text = screen_text(app)
        assert f"target: pod/{STALLED} (namespace smallest)" in text
        assert f"1. DELETE pods/{STALLED} (namespace smallest)" in text
        assert "the download has not moved for 130s" in text
        await pilot.press("n")  # cancel
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        assert actions.executed == [] and not recorder.of(ActionConfirmed)

        await confirmation(pilot, "f")
        await pilot.press("y")
        await pilot_until(pilot, lambda: f"fix done on pod/{STALLED}" in recorder.texts())
        assert [p.action for p in actions.executed] == ["fix"]
        assert recorder.of(ActionPlanned) and recorder.of(ActionConfirmed)
        assert [m.text for m in recorder.of(ActionProgressed)] == ["step 1 of 2"]
        finished = recorder.of(ActionFinished)
        assert len(finished) == 1 and finished[0].result.ok
        assert f"fix done on pod/{STALLED}" in recorder.texts()
        # planning, permissions and execution all ran off the event loop
        assert actions.threads and "MainThread" not in actions.threads


async def test_a_destructive_plan_warns_and_starts_on_cancel() -> None:
    actions = FakeActions()
    app = make_app(actions=actions)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await confirmation(pilot, "d")  # the first row: the corrupt pod
        text = screen_text(app)
        assert "⚠ This changes the cluster and cannot be undone." in text
        assert "EXEC in lightning-asr-7d9f8c6b5-tq5vn/lightning-asr: rm -f -- " in text
        assert app.focused is not None and app.focused.id == "confirm-no"
        await pilot.press("enter")  # enter on the focused button = cancel
        await pilot.pause()
        assert actions.executed == [] and actions.plan_calls == [("purge", CORRUPT)]


async def test_a_refused_plan_cannot_be_confirmed(recorder: Recorder) -> None:
    actions = FakeActions(refuse={"switch": "lightning-asr-v2 has 0/1 pods ready"})
    app = make_app(actions=actions, recorder=recorder)
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        await pilot.pause()
        await confirmation(pilot, "s")
        text = screen_text(app)
        assert "Refused: lightning-asr-v2 has 0/1 pods ready" in text
        assert not app.screen.query("#confirm-yes")
        await pilot.press("y")  # no effect on a refused plan
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert actions.executed == [] and not recorder.of(ActionConfirmed)


async def test_clicking_confirm_runs_and_a_failure_is_notified(recorder: Recorder) -> None:
    actions = FakeActions(result_ok=False)
    app = make_app(actions=actions, recorder=recorder)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await confirmation(pilot, "j", "r")
        screen.query_one("#confirm-yes", Button).press()
        await pilot_until(pilot, lambda: ("API said 500", "error") in recorder.notes)
        assert [p.action for p in actions.executed] == ["restart-pod"]
        assert ("API said 500", "error") in recorder.notes


async def test_read_only_offers_no_action(recorder: Recorder) -> None:
    actions = FakeActions()
    app = make_app(actions=actions, recorder=recorder, read_only=True)
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        await pilot.pause()
        assert "READ-ONLY" in screen_text(app).splitlines()[0]  # the header says so first
        action_keys = {c.key for c in commands.ACTION_COMMANDS}
        assert not footer_keys(app) & action_keys
        assert "slash" in footer_keys(app) and "q" in footer_keys(app)
        for key in ("p", "v", "d", "r", "R", "f", "s"):
            await pilot.press(key)
        await pilot.pause()
        assert actions.plan_calls == [] and not recorder.of(PermissionsLoaded)
        assert isinstance(app.screen, OverviewScreen)
        assert len(recorder.notes) == 7
        assert all("read-only: actions are off" in text for text, _ in recorder.notes)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = " ".join(c.description for c, _ in app.screen.entries)
        assert "Fix the selected pod's download" not in shown and "Filter pods" in shown
        assert "Actions are off: started with --read-only." in screen_text(app)
        offered = {c.id for c, _ in app.command_states()}
        assert not offered & {c.id for c in commands.ACTION_COMMANDS}


async def test_forbidden_actions_are_shown_with_what_is_missing(recorder: Recorder) -> None:
    why = "needs delete pods in smallest"
    actions = FakeActions({"restart-pod": why, "purge": "needs create pods/exec in smallest"})
    app = make_app(actions=actions, recorder=recorder)
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        active = app.screen.active_bindings
        assert active["r"].enabled is False and active["r"].binding.show  # shown, greyed
        assert active["f"].enabled is True
        await pilot.press("r")
        await pilot.pause()
        assert actions.plan_calls == []
        assert f"Restart the pod: forbidden: {why}" in recorder.texts()
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert f"forbidden: {why}" in text
        assert "forbidden: needs create pods/exec in smallest" in text


async def test_an_action_needing_a_pod_says_so_when_none_is_selected(
    recorder: Recorder,
) -> None:
    from tests.tui.fakes import FakeFeed, sample_snapshot

    actions = FakeActions()
    app = make_app(FakeFeed(sample_snapshot(pods=())), actions=actions, recorder=recorder)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("v")
        await pilot.pause()
        assert actions.plan_calls == []
        assert "Verify the model checksum: select a pod first." in recorder.texts()


async def test_quitting_cancels_a_running_action_and_stops_the_feed() -> None:
    hold = threading.Event()
    actions = FakeActions(hold=hold)
    app = make_app(actions=actions)
    feed = app.feed
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await confirmation(pilot, "j", "f")
        await pilot.press("y")
        # the activity line shows progress
        await pilot_until(pilot, lambda: "⟳ fix pod/" in screen_text(app))
        assert len(app.running) == 1
        running_cancel = next(iter(app.running.values()))[1]
        hold_release = threading.Timer(0.2, hold.set)
        hold_release.start()
        await pilot.press("q")
    hold_release.join()
    assert running_cancel.is_set()
    assert feed.stopped.is_set()  # type: ignore[attr-defined]
