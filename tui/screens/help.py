"""Help (``?``): every key from the registry, with whether it is available and why not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.commands import Command

PALETTE_READ_ONLY = "views only (--read-only)"


def help_table(entries: Sequence[tuple[Command, str | None]], read_only: bool = False) -> Table:
    """``entries``: each command with None (available) or why it is not.

    A key bound on two screens (``esc``: back on the overview, back from the detail) is one
    row, its descriptions joined.
    """
    table = Table(box=None, expand=True, show_header=True, header_style="bold")
    table.add_column("KEY", style="bold cyan", no_wrap=True, width=7)
    table.add_column("WHAT", width=48)  # room for a key bound twice: two descriptions
    table.add_column("", ratio=1)
    order = {"nav": 0, "view": 1, "action": 2}
    rows: dict[tuple[str, str], list[tuple[Command, str | None]]] = {}
    for command, why_not in sorted(entries, key=lambda e: order[e[0].kind]):
        rows.setdefault((command.kind, command.key_display), []).append((command, why_not))
    section = None
    for (kind, key), same_key in rows.items():
        title = {"nav": "Navigation", "view": "Views", "action": "Actions"}[kind]
        if title != section:
            section = title
            table.add_row("", Text(title, style="bold underline"), "")
        command, why_not = same_key[0]
        description = " · ".join(c.description for c, _ in same_key)
        note = Text("")
        if why_not:
            note = Text(why_not, style="bold red")
        elif command.destructive:
            note = Text("asks for confirmation; changes the cluster", style="dark_orange")
        elif command.is_action:
            note = Text("asks for confirmation", style="grey62")
        elif command.id == "palette" and read_only:
            note = Text(PALETTE_READ_ONLY, style="grey62")
        table.add_row(key, description, note)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", key_display="esc"),
    ]

    def __init__(self, entries: Sequence[tuple[Command, str | None]], read_only: bool) -> None:
        super().__init__(id="help")
        self.entries = tuple(entries)
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            with VerticalScroll():
                yield Static(help_table(self.entries, self.read_only), id="help-keys")
            if self.read_only:
                # The palette then offers views only: promising actions there would mislead.
                foot = "Actions are off: started with --read-only.  esc / q / ? close"
            else:
                foot = "esc / q / ? close · ctrl+p offers every action by name"
            yield Static(foot, id="help-foot")

    def on_mount(self) -> None:
        box = self.query_one("#help-box")
        box.border_title = "Keys (read-only)" if self.read_only else "Keys"
