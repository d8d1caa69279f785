"""The dashboard application: routes feed messages to screens and runs actions through plans.

The app owns the feed's lifecycle (started on mount, stopped on unmount, off the event loop)
and the action flow: key → plan (thread) → confirmation → execute (thread) → notification.
Nothing here calls the Kubernetes API; every blocking call runs in a thread worker that only
posts a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

from textual import events, work
from textual.app import App
from textual.binding import BindingType
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.timer import Timer

from actions.effects import cache_volumes, may_have_changed
from actions.plan import ActionPlan, ActionResult
from collectors.feed import ClusterFeed
from collectors.model import ClusterSnapshot
from collectors.redact import redact_text
from tui import commands, heap
from tui.actions_port import ActionProvider
from tui.bell import TroubleBell, action_ended_is_news
from tui.bridge import FeedBridge
from tui.commands import Command
from tui.health import Health, health
from tui.history import RateHistory
from tui.messages import (
    ActionConfirmed,
    ActionFinished,
    ActionPlanFailed,
    ActionPlanned,
    ActionProgressed,
    ContextsListed,
    FeedSwitched,
    LogLinesReceived,
    PermissionsLoaded,
    SnapshotUpdated,
)
from tui.palette import ActionsProvider
from tui.screens.base import DataScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import PodDetailScreen
from tui.screens.help import HelpScreen
from tui.screens.overview import OverviewScreen
from tui.screens.prompts import ContextPicker, NamespacePrompt
from tui.screens.timeline import TimelineScreen
from tui.switching import Connection, FeedSwitcher
from tui.terminal import EXIT_HANGUP, TerminalWatch
from tui.widgets.filter_box import FilterBox

FEED_STOP_TIMEOUT = 5.0
# New data is drawn at most this often; a snapshot that arrives sooner waits, and a newer one
# replaces it while it waits, so the screen always ends on the latest. Two redraws a second
# keep progress moving and leave a key press less chance of waiting behind one.
REDRAW_INTERVAL = 0.5


class AsrCacheApp(App[int]):
    """``feed`` supplies snapshots; ``actions`` plans and runs actions (None = none offered)."""

    CSS_PATH = "app.tcss"
    TITLE = "asr-cache-tui"
    BINDINGS: ClassVar[list[BindingType]] = list(commands.bindings("app"))
    COMMANDS = App.COMMANDS | {ActionsProvider}

    def __init__(
        self,
        feed: ClusterFeed,
        actions: ActionProvider | None = None,
        *,
        read_only: bool = False,
        context: str = "",
        namespace: str = "",
        server: str = "",
        namespace_missing: bool = False,
        switcher: FeedSwitcher | None = None,
        clock: Callable[[], float] = time.time,
        cache_refresh: float = 5.0,
        tick: float = 1.0,
        redraw_interval: float = REDRAW_INTERVAL,
        settle_heap: bool = True,
    ) -> None:
        super().__init__()
        self.feed = feed
        self.actions = actions
        self.read_only = read_only
        self.context_name = context
        self.namespace_name = namespace
        self.server_name = server
        # The API said the namespace does not exist: an empty pods list says nothing else.
        self.namespace_missing = namespace_missing
        self.switcher = switcher
        self.now = clock
        self.cache_refresh = cache_refresh
        self.tick_seconds = tick
        self.snapshot: ClusterSnapshot | None = None
        self._health: tuple[ClusterSnapshot | None, Health] = (None, health(None))
        self.history = RateHistory()
        self.bridge = FeedBridge(self.post_message)
        # None until RBAC answered; then action id -> None (allowed) or why forbidden.
        self.permissions: dict[str, str | None] | None = None
        self.running: dict[int, tuple[ActionPlan, threading.Event, str]] = {}
        self._volumes_of: dict[int, tuple[str, ...]] = {}  # running plan -> volumes it changes
        self.redraw_interval = redraw_interval
        self._incoming: ClusterSnapshot | None = None  # newer than ``snapshot``, not drawn yet
        self._settle_heap = settle_heap  # still to do, once the first data is on screen
        self.redrawn_at = -math.inf  # time.monotonic() of the last redraw
        self._redraw_due: Timer | None = None  # the one redraw waiting for its turn
        self.trouble_bell = TroubleBell()
        self.terminal = TerminalWatch(None)  # the real one, once running in a terminal
        self.snapshots_received = 0  # (tests and benchmarks read these)
        self.redraws = 0

    # Lifecycle -------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.push_screen(OverviewScreen())
        self.feed.start(self.bridge)
        if not self.is_headless:
            self._watch_terminal()
        self._load_permissions()
        self.set_interval(self.tick_seconds, self._tick, name="tick")

    async def on_unmount(self) -> None:
        for _, cancel, _ in self.running.values():
            cancel.set()
        await self._stop_feed(self.feed)

    async def _stop_feed(self, feed: ClusterFeed) -> None:
        """``stop`` joins threads (up to a couple of seconds): never on the event loop."""
        try:
            await asyncio.wait_for(asyncio.to_thread(feed.stop), FEED_STOP_TIMEOUT)
        except Exception as exc:  # leaving anyway; say what stayed behind
            self.log.error(f"stopping the feed failed: {exc!r}")

    # Data in ---------------------------------------------------------------------------------
    def on_snapshot_updated(self, message: SnapshotUpdated) -> None:
        """Take the snapshot in (a newer one replaces it) and draw it when its turn comes."""
        if message.origin not in (None, self.bridge):
            return  # from a feed we switched away from
        self._incoming = message.snapshot
        self.snapshots_received += 1
        self.history.update(message.snapshot)
        self.bridge.snapshot_handled()
        self._redraw_soon()

    def on_log_lines_received(self, message: LogLinesReceived) -> None:
        if message.origin not in (None, self.bridge):
            return
        for screen in self.screen_stack:
            if isinstance(screen, PodDetailScreen):
                mine = [line for line in message.lines if line.pod == screen.pod_name]
                if mine:
                    screen.add_log_lines(mine)
            elif isinstance(screen, TimelineScreen):
                screen.add_log_lines(message.lines)
        self.bridge.logs_handled()

    @property
    def health(self) -> Health:
        """The shown snapshot's health, worked out once per snapshot: the bell asks when it
        comes, the header on every redraw (each clock tick, with the same snapshot)."""
        if self._health[0] is not self.snapshot:
            self._health = (self.snapshot, health(self.snapshot))
        return self._health[1]

    def _tick(self) -> None:
        """Ages and the stale banner move with the clock, even when no data arrives; and a
        terminal that went away ends the app, as ``q`` would."""
        if self.terminal.gone():
            self.exit(return_code=EXIT_HANGUP)
            return
        self._redraw_soon()

    def _watch_terminal(self) -> None:
        """Leave as on ``q`` (actions cancelled, the feed stopped) when the terminal hangs up
        or the app is asked to end, not killed half-way (see ``tui.terminal``)."""
        self.terminal = TerminalWatch.of_stdin()
        loop = asyncio.get_running_loop()
        for sig, code in ((signal.SIGHUP, EXIT_HANGUP), (signal.SIGTERM, 128 + signal.SIGTERM)):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.exit, None, code)

    def _redraw_soon(self) -> None:
        """Redraw now, or once ``redraw_interval`` has passed since the last redraw.

        At most one redraw waits; it draws whatever is newest when it runs.
        """
        if self._redraw_due is not None:
            return
        wait = self.redrawn_at + self.redraw_interval - time.monotonic()
        if wait <= 0:
            self._redraw()
        else:
            self._redraw_due = self.set_timer(wait, self._redraw_turn, name="redraw")

    def _redraw_turn(self) -> None:
        self._redraw_due = None
        self._redraw()

    def _redraw(self) -> None:
        if self._redraw_due is not None:  # drawn now: the waiting redraw has nothing to add
            self._redraw_due.stop()
            self._redraw_due = None
        if self._incoming is not None:  # ``snapshot`` is what the screens show
            self.snapshot, self._incoming = self._incoming, None
            if self.trouble_bell.should_ring(self.health.level, time.monotonic()):
                self.bell()
        self.redrawn_at = time.monotonic()
        self.redraws += 1
        if not self.screen_stack:  # shutting down (the feed is being stopped): nothing to draw on
            return
        screen = self.screen
        if isinstance(screen, DataScreen):  # a dialog on top: redraw when it closes
            # While the app shuts down the screen's widgets may already be gone.
            with contextlib.suppress(NoMatches):
                screen.show(self.snapshot, self.now())
        if self._settle_heap and self.snapshot is not None:
            self._settle_heap = False
            self.call_after_refresh(heap.settle)  # after the frame that shows the first data

    # What is offered -------------------------------------------------------------------------
    def unavailable(self, command: Command) -> str | None:
        """None when the command can run now, else why not (one sentence)."""
        if not command.is_action:
            return None
        if self.read_only:
            return "read-only: actions are off (started with --read-only)"
        if self.actions is None:
            return "no action provider is connected"
        if self.permissions is not None:
            why = self.permissions.get(command.id)
            if why:
                return f"forbidden: {why}"
        return None

    def command_states(self) -> list[tuple[Command, str | None]]:
        """Registry commands to offer (actions hidden when read-only), with why unavailable."""
        hide_actions = self.read_only or self.actions is None
        return [
            (c, self.unavailable(c))
            for c in commands.COMMANDS
            if not (c.is_action and hide_actions)
        ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "timeline":  # not offered on the timeline itself
            return not isinstance(self.screen, TimelineScreen)
        if action != "perform" or not parameters:
            return True
        command = commands.BY_ID.get(str(parameters[0]))
        if command is None:
            return False
        if self.read_only or self.actions is None:
            return False  # not offered: hidden from the footer, key says why
        return None if self.unavailable(command) else True  # forbidden: shown greyed

    def on_key(self, event: events.Key) -> None:
        """A key of an action that is off or forbidden says so instead of doing nothing; one
        meant for a filter that took the focus after it was queued goes to the filter."""
        if isinstance(self.focused, FilterBox) and self.focused.take_stray(event):
            return
        command = commands.ACTION_KEYS.get(event.key)
        if command is None or isinstance(self.screen, ModalScreen):
            return
        why = self.unavailable(command)
        if why:
            self.notify(f"{command.description}: {why}", severity="warning", timeout=4)
            event.stop()

    async def run_command(self, command: Command, screen: Screen[Any]) -> None:
        """The palette's way in: same checks and same action as the key."""
        why = self.unavailable(command)
        if why:
            self.notify(f"{command.description}: {why}", severity="warning", timeout=4)
            return
        await self.run_action(command.action, screen)

    @work(thread=True, group="rbac", name="permissions")
    def _load_permissions(self) -> None:
        if self.actions is None or self.read_only:
            return
        try:
            perms = dict(self.actions.permissions())
            self.post_message(PermissionsLoaded(perms))
        except Exception as exc:
            self.post_message(PermissionsLoaded({}, error=redact_text(str(exc))))

    def on_permissions_loaded(self, message: PermissionsLoaded) -> None:
        self.permissions = message.permissions
        if message.error:
            self.notify(f"Could not check permissions: {message.error}", severity="warning")
        self.refresh_bindings()

    # Selection and views ---------------------------------------------------------------------
    def selected_pod(self) -> str | None:
        screen = self.screen
        if isinstance(screen, (OverviewScreen, PodDetailScreen, TimelineScreen)):
            return screen.selected_pod
        return None

    def open_detail(self, pod: str) -> None:
        """The pod's detail; its log view has the focus, so arrows scroll the log. Opened from
        the overview, its pod is the user's choice: the cursor stays on it from now on."""
        if isinstance(self.screen, OverviewScreen):
            self.screen.hold_cursor()
        self.push_screen(PodDetailScreen(pod))

    def action_logs(self) -> None:
        if isinstance(self.screen, TimelineScreen):
            self.screen.open_current()  # says why when its line's pod is gone
            return
        pod = self.selected_pod()
        if pod is None:
            self.notify("Select a pod first.", severity="warning")
        elif not isinstance(self.screen, PodDetailScreen):
            self.open_detail(pod)

    async def action_timeline(self) -> None:
        """One timeline, over the overview: from a detail it replaces the detail (a detail
        opened from the timeline goes back to it), so the stack stays three screens deep."""
        while isinstance(self.screen, PodDetailScreen):
            await self.pop_screen()
        if not isinstance(self.screen, TimelineScreen):
            self.push_screen(TimelineScreen())

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.command_states(), self.read_only))

    # Actions: plan -> confirm -> execute -----------------------------------------------------
    def action_perform(self, action_id: str) -> None:
        command = commands.by_action_id(action_id)
        why = self.unavailable(command)
        if why:
            self.notify(f"{command.description}: {why}", severity="warning")
            return
        pod = self.selected_pod()
        if command.needs_selection and pod is None:
            self.notify(f"{command.description}: select a pod first.", severity="warning")
            return
        if self.snapshot is None:
            self.notify(f"{command.description}: no cluster data yet.", severity="warning")
            return
        self._plan(action_id, self.snapshot, pod)

    @work(thread=True, exclusive=True, group="plan", name="plan")
    def _plan(self, action_id: str, snapshot: ClusterSnapshot, pod: str | None) -> None:
        assert self.actions is not None
        try:
            plan = self.actions.plan(action_id, snapshot, pod)
        except Exception as exc:
            self.post_message(ActionPlanFailed(action_id, redact_text(str(exc)) or repr(exc)))
            return
        self.post_message(ActionPlanned(plan))

    def on_action_plan_failed(self, message: ActionPlanFailed) -> None:
        command = commands.by_action_id(message.action_id)
        self.notify(f"Could not plan: {message.error}", title=command.description, severity="error")

    def on_action_planned(self, message: ActionPlanned) -> None:
        plan = message.plan
        command = commands.BY_ID.get(plan.action)
        # A plan that only looks (a fix's first step) changes no file, whatever its action does.
        destructive = not plan.looks_only and (
            plan.destructive or bool(command and command.destructive)
        )

        def decided(confirmed: bool | None) -> None:
            if confirmed and plan.runnable:
                self.post_message(ActionConfirmed(plan))

        self.push_screen(ConfirmScreen(plan, destructive=destructive), decided)

    def on_action_confirmed(self, message: ActionConfirmed) -> None:
        cancel = threading.Event()
        self.running[id(message.plan)] = (message.plan, cancel, "starting")
        self._volumes_of[id(message.plan)] = cache_volumes(message.plan, self.snapshot)
        self._show_activity()
        self.notify(f"Started: {message.plan.title}", timeout=3)
        self._execute(message.plan, cancel)

    @work(thread=True, group="execute", name="execute")
    def _execute(self, plan: ActionPlan, cancel: threading.Event) -> None:
        assert self.actions is not None

        def progress(text: str) -> None:
            self.post_message(ActionProgressed(plan, text))

        started = time.monotonic()
        try:
            result = self.actions.execute(plan, progress, cancel)
        except Exception as exc:
            result = ActionResult(plan, ok=False, message=redact_text(str(exc)) or repr(exc))
        self.post_message(ActionFinished(result, time.monotonic() - started))

    def on_action_progressed(self, message: ActionProgressed) -> None:
        entry = self.running.get(id(message.plan))
        if entry is not None:
            self.running[id(message.plan)] = (entry[0], entry[1], message.text)
            self._show_activity()

    def on_action_finished(self, message: ActionFinished) -> None:
        result = message.result
        self.running.pop(id(result.plan), None)
        self._show_activity()
        volumes = self._volumes_of.pop(id(result.plan), ())
        if volumes and may_have_changed(result):
            self.feed.refresh_volumes(volumes)  # returns at once; the feed's poller measures
        prefix = "Dry run: " if result.dry_run else ""
        if action_ended_is_news(message.seconds, result.dry_run):
            self.bell()
        self.notify(
            prefix + redact_text(result.message),
            title=result.plan.title,
            severity="information" if result.ok else "error",
            timeout=8 if result.ok else 15,
        )
        if result.ok and result.replan and self.snapshot is not None and not result.dry_run:
            # The action only looked: its real plan comes from what it saw, confirmed anew.
            kind, _, name = result.plan.target.partition("/")
            self._plan(result.plan.action, self.snapshot, name if kind == "pod" else None)

    def _show_activity(self) -> None:
        text = "  ·  ".join(f"⟳ {plan.title}: {line}" for plan, _, line in self.running.values())
        for screen in self.screen_stack:
            if isinstance(screen, DataScreen):
                screen.show_activity(text)

    # Namespace and context -------------------------------------------------------------------
    def _current(self) -> tuple[str, str]:
        snap = self.snapshot
        return (
            snap.context if snap else self.context_name,
            snap.namespace if snap else self.namespace_name,
        )

    def action_switch_namespace(self) -> None:
        if self.switcher is None:
            self.notify("Switching namespace is not available here.", severity="warning")
            return
        context, namespace = self._current()

        def chosen(name: str | None) -> None:
            if name and name != namespace:
                self._switch(context, name)

        self.push_screen(NamespacePrompt(namespace), chosen)

    def action_switch_context(self) -> None:
        if self.switcher is None:
            self.notify("Switching context is not available here.", severity="warning")
            return
        self._list_contexts()

    @work(thread=True, exclusive=True, group="switch", name="contexts")
    def _list_contexts(self) -> None:
        assert self.switcher is not None
        try:
            names = list(self.switcher.contexts())
        except Exception as exc:
            self.post_message(ContextsListed((), redact_text(str(exc))))
            return
        self.post_message(ContextsListed(names))

    def on_contexts_listed(self, message: ContextsListed) -> None:
        if message.error:
            self.notify(f"Cannot list contexts: {message.error}", severity="error")
            return
        names = message.names
        context, namespace = self._current()

        def chosen(name: str | None) -> None:
            if name and name != context:
                self._switch(name, namespace)

        self.push_screen(ContextPicker(names, context), chosen)

    @work(thread=True, exclusive=True, group="switch", name="connect")
    def _switch(self, context: str, namespace: str) -> None:
        assert self.switcher is not None
        try:
            connection = self.switcher.connect(context, namespace)
        except Exception as exc:
            self.post_message(FeedSwitched(context, namespace, redact_text(str(exc))))
            return
        self.post_message(FeedSwitched(context, namespace, None, connection))

    async def _swap(self, connection: Connection) -> None:
        old = self.feed
        self.feed = connection.feed
        self.actions = connection.actions
        self.context_name = connection.context
        self.namespace_name = connection.namespace
        self.server_name = connection.server
        self.namespace_missing = connection.namespace_missing
        self.snapshot = self._incoming = None
        self.trouble_bell = TroubleBell()  # another namespace's first view is no news
        self.permissions = None
        self.bridge.close()
        self.bridge = FeedBridge(self.post_message)  # drops what the old feed still sends
        while isinstance(self.screen, (PodDetailScreen, TimelineScreen, ModalScreen)):
            await self.pop_screen()
        self._redraw()
        await self._stop_feed(old)
        self.feed.start(self.bridge)
        self._load_permissions()

    async def on_feed_switched(self, message: FeedSwitched) -> None:
        if message.connection is not None:
            await self._swap(message.connection)
        if message.error:
            self.notify(
                f"Cannot connect to {message.context}/{message.target_namespace}: {message.error}",
                severity="error",
                timeout=15,
            )
        elif message.connection is not None and message.connection.namespace_missing:
            self.notify(
                f"Now watching {message.target_namespace} in {message.context}: "
                f'namespace "{message.target_namespace}" does not exist.',
                severity="warning",
                timeout=8,
            )
        else:
            self.notify(f"Now watching {message.target_namespace} in {message.context}.", timeout=3)
