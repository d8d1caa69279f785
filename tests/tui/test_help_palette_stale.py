"""Help lists every key, the palette offers every action by name, the stale banner comes and
goes with the data's age, and namespace/context switching goes through the switcher port."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from textual.command import CommandPalette
from textual.widgets import Input, OptionList

from tests.polling import pilot_until
from tests.tui.conftest import SIZE, STALLED, Recorder, make_app
from tests.tui.fakes import NOW, FakeActions, FakeFeed, sample_snapshot
from tests.tui.screen import screen_text
from tui import commands
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.prompts import ContextPicker, NamespacePrompt
from tui.switching import Connection
from tui.widgets.header import StaleBanner


async def test_help_lists_every_key() -> None:
    app = make_app(actions=FakeActions())
    async with app.run_test(size=(150, 50)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for command in commands.COMMANDS:
            assert command.description in text, command.id
            assert f"  {command.key_display} " in text, command.key_display
        esc_rows = [ln for ln in text.splitlines() if "  esc  " in ln]
        assert len(esc_rows) == 1, esc_rows  # one row for a key with two uses
        assert "Back / clear the filter" in esc_rows[0] and "Back to the overview" in esc_rows[0]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_the_palette_offers_every_action_by_name() -> None:
    actions = FakeActions()
    app = make_app(actions=actions)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert CommandPalette.is_open(app)  # type: ignore[arg-type]  # App is invariant
        await pilot.press(*"verify")
        options = app.screen.query_one(OptionList)

        def prompts() -> list[str]:
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

        def verify_highlighted() -> bool:
            at = options.highlighted
            return at is not None and "Verify" in str(options.get_option_at_index(at).prompt)

        # The palette searches in a worker (results come in batches, the list of an earlier
        # keystroke's search may still show), and the plan is made in a thread: wait for each.
        await pilot_until(pilot, verify_highlighted)
        assert any("Verify the model checksum (v)" in p for p in prompts())
        await pilot.press("enter")
        await pilot_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert actions.plan_calls and actions.plan_calls[0][0] == "verify"


async def test_palette_entries_follow_read_only_and_rbac() -> None:
    from tui.palette import palette_commands

    app = make_app(actions=FakeActions({"fix": "needs delete pods in smallest"}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        entries = dict((c.id, why) for c, why in palette_commands(app))
        assert set(commands.BY_ID) - {
            "cursor-up",
            "cursor-down",
            "open",
            "back",
            "detail-back",
            "log-filter",  # the detail's and the timeline's
            "timeline-progress",  # the timeline's
            "palette",
        } == set(entries)
        assert entries["fix"] == "forbidden: needs delete pods in smallest"
        assert entries["verify"] is None
        on_detail = {c.id for c, _ in palette_commands(app, "detail")}
        assert "filter" not in on_detail and {"logs", "fix", "help", "log-filter"} <= on_detail
    read_only = make_app(actions=FakeActions(), read_only=True)
    async with read_only.run_test(size=SIZE) as pilot:
        await pilot.pause()
        ids = {c.id for c, _ in palette_commands(read_only)}
        assert not ids & {c.id for c in commands.ACTION_COMMANDS}
        assert "filter" in ids and "help" in ids


async def test_the_stale_banner_comes_and_goes() -> None:
    now = [NOW]
    feed = FakeFeed(sample_snapshot())
    app = make_app(feed, clock=lambda: now[0], tick=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        banner = app.screen.query_one(StaleBanner)
        assert not banner.display
        feed.push(
            sample_snapshot(
                stale_since=NOW - 5,
                taken_at=NOW - 6,
                error="connection refused by https://127.0.0.1:6443",
            )
        )
        await pilot.pause()
        assert banner.display
        text = screen_text(app)
        assert "API unreachable for 5s: showing data 6s old. Reconnecting…" in text
        assert "connection refused" in text
        now[0] += 60  # the next tick (every 0.05 s) redraws with the new time
        await pilot_until(
            pilot, lambda: "API unreachable for 1m: showing data 1m old." in screen_text(app)
        )
        feed.push(sample_snapshot(taken_at=now[0]))
        await pilot.pause()
        assert not banner.display
        assert "unreachable" not in screen_text(app)


async def test_the_stale_banner_says_how_the_api_fails_us() -> None:
    feed = FakeFeed(sample_snapshot())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        feed.push(
            sample_snapshot(
                stale_since=NOW - 5,
                taken_at=NOW - 6,
                trouble="throttling us (429)",
                error="the API server answered 429 to watch pods: Too many requests.",
            )
        )
        await pilot.pause()
        text = screen_text(app)
        assert "API throttling us (429) for 5s: showing data 6s old." in text
        assert "unreachable" not in text


async def test_the_stale_banner_shows_on_the_detail_too() -> None:
    feed = FakeFeed(sample_snapshot())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        feed.push(sample_snapshot(stale_since=NOW - 30))
        await pilot.pause()
        assert "API unreachable for 30s" in screen_text(app)


class FakeSwitcher:
    def __init__(self) -> None:
        self.feeds: list[FakeFeed] = []
        self.calls: list[tuple[str, str]] = []
        self.threads: list[str] = []

    def contexts(self) -> Sequence[str]:
        self.threads.append(threading.current_thread().name)
        return ["kind-asr", "prod-eu"]

    def connect(self, context: str, namespace: str) -> Connection:
        self.threads.append(threading.current_thread().name)
        self.calls.append((context, namespace))
        if namespace == "nowhere":
            raise RuntimeError("namespace 'nowhere' does not exist")
        feed = FakeFeed(sample_snapshot(context=context, namespace=namespace, pods=()))
        self.feeds.append(feed)
        return Connection(feed, FakeActions(), context, namespace)


async def test_n_switches_namespace_and_c_switches_context(recorder: Recorder) -> None:
    switcher = FakeSwitcher()
    first = FakeFeed(sample_snapshot())
    app = make_app(first, switcher=switcher, recorder=recorder)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NamespacePrompt)
        box = app.screen.query_one(Input)
        assert box.value == "smallest"
        box.value = "Bad_NS"
        await pilot.press("enter")
        await pilot.pause()
        assert "is not a DNS label" in screen_text(app)
        box.value = "staging"
        await pilot.press("enter")
        # Switching connects in a worker thread, which may not have started when the key has
        # been handled: wait for its outcome (the new feed's first data drawn, which comes
        # after the old feed is stopped), not for the workers running at that moment.
        await pilot_until(pilot, lambda: app.snapshot and app.snapshot.namespace == "staging")
        assert switcher.calls == [("kind-asr", "staging")]
        assert first.stopped.is_set()
        assert "ns staging" in screen_text(app)
        await pilot.press("c")
        await pilot_until(pilot, lambda: isinstance(app.screen, ContextPicker))
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot_until(pilot, lambda: app.snapshot and app.snapshot.context == "prod-eu")
        assert switcher.calls[-1] == ("prod-eu", "staging")
        assert "ctx prod-eu" in screen_text(app)
        assert "MainThread" not in switcher.threads
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one(Input).value = "nowhere"
        await pilot.press("enter")
        await pilot_until(pilot, lambda: "namespace 'nowhere' does not exist" in recorder.texts())
        assert "ctx prod-eu" in screen_text(app)  # still on the last good connection


async def test_without_a_switcher_n_and_c_say_so(recorder: Recorder) -> None:
    app = make_app(recorder=recorder)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("n", "c")
        await pilot.pause()
        assert "Switching namespace is not available here." in recorder.texts()
        assert "Switching context is not available here." in recorder.texts()
        assert STALLED in screen_text(app)
