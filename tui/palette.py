"""The command palette's provider: the same registry commands as the keys, by name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.commands import Command

if TYPE_CHECKING:
    from tui.app import AsrCacheApp


# Moves worth finding by name: the filters (a cursor move or "back" is not).
_NAV_BY_NAME = frozenset({"filter", "log-filter"})


def palette_commands(
    app: AsrCacheApp, screen_id: str | None = "overview"
) -> list[tuple[Command, str | None]]:
    """Commands worth offering by name on a screen (no cursor moves, nothing bound to another
    screen), each with why it is unavailable."""
    return [
        (c, why)
        for c, why in app.command_states()
        if c.kind != "nav" or c.id in _NAV_BY_NAME
        if "app" in c.scopes or screen_id in c.scopes
    ]


class ActionsProvider(Provider):
    """Offers every view and action command; read-only hides actions, RBAC marks them."""

    def _entries(self) -> list[tuple[str, str, Command]]:
        from tui.app import AsrCacheApp

        app = self.app
        assert isinstance(app, AsrCacheApp)
        out = []
        for command, why_not in palette_commands(app, self.screen.id):
            name = f"{command.description} ({command.key_display})"
            help_text = f"unavailable: {why_not}" if why_not else command.id
            out.append((name, help_text, command))
        return out

    def _runner(self, command: Command) -> Callable[[], Awaitable[None]]:
        from tui.app import AsrCacheApp

        app = self.app
        assert isinstance(app, AsrCacheApp)
        return partial(app.run_command, command, self.screen)

    async def discover(self) -> Hits:
        for name, help_text, command in self._entries():
            yield DiscoveryHit(name, self._runner(command), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, command in self._entries():
            score = matcher.match(f"{name} {command.id}")
            if score > 0:
                yield Hit(
                    score, matcher.highlight(name), self._runner(command), text=name, help=help_text
                )
