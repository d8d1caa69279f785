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


def help_table(entries: Sequence[tuple[Command, str | None]]) -> Table:
    """``entries``: each command with None (available) or why it is not."""
    table = Table(box=None, expand=True, show_header=True, header_style="bold")
    table.add_column("KEY", style="bold cyan", no_wrap=True, width=7)
    table.add_column("WHAT", no_wrap=True, width=40)
    table.add_column("", ratio=1)
    section = None
    order = {"nav": 0, "view": 1, "action": 2}
    for command, why_not in sorted(entries, key=lambda e: order[e[0].kind]):
        title = {"nav": "Navigation", "view": "Views", "action": "Actions"}[command.kind]
        if title != section:
            section = title
            table.add_row("", Text(title, style="bold underline"), "")
        note = Text("")
        if why_not:
            note = Text(why_not, style="bold red")
        elif command.destructive:
            note = Text("asks for confirmation; changes the cluster", style="dark_orange")
        elif command.is_action:
            note = Text("asks for confirmation", style="grey62")
        table.add_row(command.key_display, command.description, note)
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
                yield Static(help_table(self.entries), id="help-keys")
            foot = "esc / q / ? close · ctrl+p offers every action by name"
            if self.read_only:
                foot = "Actions are off: started with --read-only.  " + foot
            yield Static(foot, id="help-foot")

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = "Keys"
