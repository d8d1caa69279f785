"""The one registry of commands: it feeds key bindings, the footer, the help screen and the
command palette, so a key can never be documented in one place and missing in another.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from tui import actions_port as ids


@dataclass(frozen=True)
class Command:
    """One thing the user can do, and where it is bound.

    ``scope`` says whose BINDINGS carry it: ``app`` (everywhere but in dialogs), ``table`` (the
    pods table and the timeline's list), ``overview`` / ``detail`` / ``timeline`` (screens; a
    key two screens share names both, space-separated), or ``builtin`` (bound by Textual
    itself; listed for help only).
    """

    id: str
    key: str  # Textual key names, comma-separated
    key_display: str  # what help and footer show
    description: str
    action: str  # the Textual action string the binding runs
    scope: str = "app"
    kind: str = "view"  # nav | view | action
    needs_selection: bool = False
    destructive: bool = False
    footer: bool = True
    short: str = ""  # the footer's label (the description when empty)

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.scope.split())

    @property
    def is_action(self) -> bool:
        """True for cluster-changing actions (off in read-only, subject to RBAC)."""
        return self.kind == "action"

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.short or self.description,
            show=self.footer,
            key_display=self.key_display,
            id=self.id,
            tooltip=self.description,
        )


def _act(
    action_id: str,
    key: str,
    short: str,
    description: str,
    *,
    needs_selection: bool = False,
    destructive: bool = False,
) -> Command:
    return Command(
        id=action_id,
        key=key,
        key_display=key,
        description=description,
        action=f"app.perform('{action_id}')",
        kind="action",
        short=short,
        needs_selection=needs_selection,
        destructive=destructive,
    )


COMMANDS: tuple[Command, ...] = (
    Command(
        "cursor-down", "j,down", "j/↓", "Move down", "cursor_down", "table", "nav", footer=False
    ),
    Command("cursor-up", "k,up", "k/↑", "Move up", "cursor_up", "table", "nav", footer=False),
    Command(
        "open",
        "enter",
        "⏎/l",  # l opens it too (``logs``); the footer says both in one place
        "Open the pod's detail",
        "select_cursor",
        "table",
        "nav",
        short="detail",
    ),
    Command(
        "back", "escape", "esc", "Back / clear the filter", "back", "overview", "nav", footer=False
    ),
    Command(
        "detail-back",
        "escape",
        "esc",
        "Back to the overview",
        "back",
        "detail timeline",
        "nav",
        short="back",
    ),
    Command("filter", "slash", "/", "Filter pods", "filter", "overview", "nav", short="filter"),
    Command(
        "log-filter",
        "slash",
        "/",
        "Filter the log",
        "filter",
        "detail timeline",
        "nav",
        short="filter",
    ),
    Command(
        "logs",
        "l",
        "l",
        "Logs of the selected pod",
        "app.logs",
        needs_selection=True,
        footer=False,  # said with Enter's ("⏎/l detail"), which does the same
        short="logs",
    ),
    Command(
        "timeline",
        "t",
        "t",
        "Timeline: every pod's log and events",
        "app.timeline",
        short="timeline",
    ),
    Command(
        "timeline-progress",
        "a",
        "a",
        "Show or hide progress lines",
        "toggle_progress",
        "timeline",
        short="progress",
    ),
    Command("namespace", "n", "n", "Switch namespace", "app.switch_namespace", footer=False),
    Command("context", "c", "c", "Switch context", "app.switch_context", footer=False),
    _act(ids.PREWARM, "p", "pre-warm", "Pre-warm the model (a Job)", destructive=True),
    _act(ids.VERIFY, "v", "verify", "Verify the model checksum", needs_selection=True),
    _act(
        ids.PURGE, "d", "delete", "Delete the corrupt model", needs_selection=True, destructive=True
    ),
    _act(
        ids.RESTART_POD, "r", "restart", "Restart the pod", needs_selection=True, destructive=True
    ),
    _act(
        ids.ROLLOUT_RESTART,
        "R",
        "rollout",
        "Rollout restart the deployment",
        needs_selection=True,
        destructive=True,
    ),
    _act(
        ids.FIX,
        "f",
        "fix",
        "Fix the selected pod's download",
        needs_selection=True,
        destructive=True,
    ),
    _act(ids.SWITCH, "s", "switch", "Blue-green switch", destructive=True),
    Command("help", "question_mark", "?", "Help: every key", "app.help", short="help"),
    Command(
        "palette",
        "ctrl+p",
        "^p",
        "Command palette: every action by name",
        "app.command_palette",
        "builtin",
        footer=False,
    ),
    Command("quit", "q", "q", "Quit", "app.quit", short="quit"),
)

# The footer's first keys: what matters at 3 a.m. (fix the pod, look at it, find it, help,
# quit), as a narrow footer cuts from the end. The others follow in Textual's order (the
# focused widget's keys, the screen's, the app's); ``DataScreen.active_bindings`` sorts.
FOOTER_FIRST: tuple[str, ...] = (
    ids.FIX,
    "open",
    "detail-back",
    "filter",
    "log-filter",
    "help",
    "quit",
)

BY_ID = {c.id: c for c in COMMANDS}
ACTION_COMMANDS = tuple(c for c in COMMANDS if c.is_action)
ACTION_KEYS = {key: c for c in ACTION_COMMANDS for key in c.key.split(",")}


def footer_rank(binding_id: str | None) -> int:
    """Where a binding stands in the footer: by ``FOOTER_FIRST``, anything else after."""
    try:
        return FOOTER_FIRST.index(binding_id or "")
    except ValueError:
        return len(FOOTER_FIRST)


def bindings(scope: str) -> list[Binding]:
    """The Textual bindings of one scope, in registry order."""
    return [c.binding() for c in COMMANDS if scope in c.scopes]


def by_action_id(action_id: str) -> Command:
    """The registry entry of an action id; a KeyError names an id nobody registered."""
    try:
        return BY_ID[action_id]
    except KeyError:
        raise KeyError(f"no command with id {action_id!r} in the registry") from None
