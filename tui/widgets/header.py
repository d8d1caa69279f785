"""The header line (context, namespace, server, health) and the stale-data banner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from collectors.model import ClusterSnapshot
from collectors.redact import redact_text, redact_url
from tui.format import format_age
from tui.health import Health, health

_LEVEL_STYLE = {
    "ok": "bold green",
    "busy": "bold cyan",
    "bad": "bold white on red",
    "stale": "bold black on dark_orange",
    "unknown": "grey62",
}


@dataclass(frozen=True)
class HeaderFacts:
    context: str
    namespace: str
    server: str
    health: Health
    read_only: bool = False


def header_text(facts: HeaderFacts, width: int) -> Text:
    """The header for ``width`` cells: the server goes first when it does not fit, then the
    health's last parts give way (it is ordered most urgent first), ending in "…"."""
    text = Text()
    text.append(" asr-cache ", style="bold reverse")
    if facts.read_only:  # said where the eye lands first: no key here changes the cluster
        text.append(" READ-ONLY ", style="bold black on yellow")
    text.append("  ctx ", style="grey62")
    text.append(facts.context or "?", style="bold")
    text.append("  ns ", style="grey62")
    text.append(facts.namespace or "?", style="bold")
    said = f" {facts.health.text} "
    if facts.server and text.cell_len + len(facts.server) + 5 + len(said) <= width:
        text.append(f"  {facts.server}", style="grey50")
    text.append("   ")
    room = width - text.cell_len
    if 0 < room < len(said):
        said = said[: max(room - 2, 0)].rstrip() + "… "
    text.append(said, style=_LEVEL_STYLE[facts.health.level])
    return text


class ClusterHeader(Widget):
    """One line, laid out for its width; repainted only when what it says would change."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._facts: HeaderFacts | None = None

    def show(
        self,
        context: str,
        namespace: str,
        snapshot: ClusterSnapshot | None,
        read_only: bool = False,
    ) -> None:
        server = redact_url(snapshot.server) if snapshot and snapshot.server else ""
        facts = HeaderFacts(context, namespace, server, health(snapshot), read_only)
        if facts != self._facts:
            self._facts = facts
            self.refresh()

    def render(self) -> Text:
        if self._facts is None:
            return Text("")
        return header_text(self._facts, self.size.width)


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
