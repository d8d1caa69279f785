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
from tui.health import Health

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
    """The header for ``width`` cells. What gives way when it does not fit, first to last:
    the API server's address, the health's last parts (it is ordered most urgent first; "…"
    says some are cut), then the context: which cluster this is matters more than a count,
    but less than what is red. The context stays unless without it the first part would
    show, or, when the health is red, the first red part after ``N/M ready``."""
    full = f" {facts.health.text} "
    text = _lead(facts, server=True, context=True)
    if width <= 0 or text.cell_len + len(full) <= width:
        said = full
    else:
        text = _lead(facts, server=False, context=True)
        said = _shortened(facts.health.text, width - text.cell_len)
        parts = facts.health.text.count(" · ") + 1
        wanted = min(parts, 2 if facts.health.level == "bad" else 1)
        if _parts_in(said) < wanted:
            bare = _lead(facts, server=False, context=False)
            bare_said = _shortened(facts.health.text, width - bare.cell_len)
            if _parts_in(bare_said) > _parts_in(said):
                text, said = bare, bare_said
    text.append(said, style=_LEVEL_STYLE[facts.health.level])
    return text


def _parts_in(said: str) -> int:
    """How many of the health's parts a shortened health shows whole."""
    kept = said.strip().removesuffix("…").strip()
    return kept.count(" · ") + 1 if kept else 0


def _lead(facts: HeaderFacts, server: bool, context: bool) -> Text:
    text = Text()
    text.append(" asr-cache ", style="bold reverse")
    if facts.read_only:  # said where the eye lands first: no key here changes the cluster
        text.append(" READ-ONLY ", style="bold black on yellow")
    if context:
        text.append("  ctx ", style="grey62")
        text.append(facts.context or "?", style="bold")
    text.append("  ns ", style="grey62")
    text.append(facts.namespace or "?", style="bold")
    if server and facts.server:
        text.append(f"  {facts.server}", style="grey50")
    text.append("   ")
    return text


def _shortened(health: str, room: int) -> str:
    """The health in ``room`` cells: whole parts from the first, then "…"; just "…" when not
    even the first part fits."""
    said = f" {health} "
    if len(said) <= room:
        return said
    parts = health.split(" · ")
    while parts and len(f" {' · '.join(parts)} … ") > room:
        parts.pop()
    return f" {' · '.join(parts)} … " if parts else " … "


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
        health: Health,
        read_only: bool = False,
    ) -> None:
        """``health``: the snapshot's (the app works it out once per snapshot)."""
        server = redact_url(snapshot.server) if snapshot and snapshot.server else ""
        facts = HeaderFacts(context, namespace, server, health, read_only)
        if facts != self._facts:
            self._facts = facts
            self.refresh()

    def render(self) -> Text:
        if self._facts is None:
            return Text("")
        return header_text(self._facts, self.size.width)


class StaleBanner(Static):
    """Shown while the API fails us (how, and the data's age), or before any data came."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._last: str | None = None

    def show(self, snapshot: ClusterSnapshot | None, now: float, waiting_for: str = "") -> None:
        if snapshot is None:
            message = f"Connecting to {waiting_for or 'the cluster'}… no data yet."
        elif snapshot.stale and snapshot.stale_since is not None:
            message = (
                f"⚠ API {snapshot.trouble or 'unreachable'} for "
                f"{format_age(now - snapshot.stale_since)}: showing data "
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
