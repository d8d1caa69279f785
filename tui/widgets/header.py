"""The header line (context, namespace, server, health) and the stale-data banner."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from collectors.model import ClusterSnapshot
from collectors.redact import redact_text, redact_url
from tui.format import format_age
from tui.health import health

_LEVEL_STYLE = {
    "ok": "bold green",
    "busy": "bold cyan",
    "bad": "bold white on red",
    "stale": "bold black on dark_orange",
    "unknown": "grey62",
}


class ClusterHeader(Static):
    """One line; re-rendered only when its text would change."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._last: str | None = None

    def show(
        self,
        context: str,
        namespace: str,
        snapshot: ClusterSnapshot | None,
        read_only: bool = False,
    ) -> None:
        h = health(snapshot)
        server = redact_url(snapshot.server) if snapshot and snapshot.server else ""
        text = Text()
        text.append(" asr-cache ", style="bold reverse")
        if read_only:  # said where the eye lands first: no key here changes the cluster
            text.append(" READ-ONLY ", style="bold black on yellow")
        text.append("  ctx ", style="grey62")
        text.append(context or "?", style="bold")
        text.append("  ns ", style="grey62")
        text.append(namespace or "?", style="bold")
        if server:
            text.append(f"  {server}", style="grey50")
        text.append("   ")
        text.append(f" {h.text} ", style=_LEVEL_STYLE[h.level])
        key = text.markup
        if key != self._last:
            self._last = key
            self.update(text)


class StaleBanner(Static):
    """Shown while the API is unreachable (with the data's age), or before any data came."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._last: str | None = None

    def show(self, snapshot: ClusterSnapshot | None, now: float, waiting_for: str = "") -> None:
        if snapshot is None:
            message = f"Connecting to {waiting_for or 'the cluster'}… no data yet."
        elif snapshot.stale and snapshot.stale_since is not None:
            message = (
                f"⚠ API unreachable for {format_age(now - snapshot.stale_since)}: showing data "
                f"{format_age(now - snapshot.taken_at)} old. Reconnecting…"
            )
            if snapshot.error:
                message += f"  ({redact_text(snapshot.error)})"
        else:
            message = ""
        if message != self._last:
            self._last = message
            self.update(message)
            self.display = bool(message)
