"""What every data screen shares: it is handed snapshots and clock ticks by the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.binding import ActiveBinding
from textual.screen import Screen
from textual.widgets import Static

from collectors.model import ClusterSnapshot
from tui import commands
from tui.widgets.header import ClusterHeader, StaleBanner

if TYPE_CHECKING:
    from tui.app import AsrCacheApp


class DataScreen(Screen[None]):
    """A screen that shows the latest snapshot; redraws pause while a dialog covers it.

    Subclasses implement ``draw``; ``show`` calls it once the screen's widgets exist.
    """

    ready = False

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, in the registry's footer order (``commands.FOOTER_FIRST`` first): the footer
        lists them in this order and cuts the end on a narrow terminal."""
        found = super().active_bindings
        ranked = sorted(found.items(), key=lambda kv: commands.footer_rank(kv[1].binding.id))
        return dict(ranked)

    @property
    def dash(self) -> AsrCacheApp:
        from tui.app import AsrCacheApp

        app = self.app
        assert isinstance(app, AsrCacheApp)
        return app

    def show(self, snapshot: ClusterSnapshot | None, now: float) -> None:
        """Draw what changed since the last call (nothing before the screen is mounted)."""
        if not self.ready:
            return
        self._draw_header(snapshot, now)
        self.draw(snapshot, now)

    def draw(self, snapshot: ClusterSnapshot | None, now: float) -> None:
        """Subclasses: update their widgets from the snapshot."""

    def _draw_header(self, snapshot: ClusterSnapshot | None, now: float) -> None:
        dash = self.dash
        context = snapshot.context if snapshot else dash.context_name
        namespace = snapshot.namespace if snapshot else dash.namespace_name
        self.query_one(ClusterHeader).show(
            context, namespace, snapshot, dash.health, dash.read_only
        )
        self.query_one(StaleBanner).show(snapshot, now, dash.server_name)

    def show_activity(self, text: str) -> None:
        """Running actions' latest progress lines ('' hides the line)."""
        if not self.ready:
            return
        line = self.query_one("#activity", Static)
        line.update(text)
        line.display = bool(text)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Catch up on whatever arrived while a dialog was on top.
        self.show(self.dash.snapshot, self.dash.now())
