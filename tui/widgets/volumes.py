"""The volumes panel: each cache volume's usage against an honest denominator, with its source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from collectors.model import VolumeInfo
from tui.format import usage_cell
from tui.widgets.keyed_table import KeyedTable


class VolumesTable(KeyedTable):
    COLUMNS = (
        ("name", "VOLUME", 44),
        ("kind", "KIND", 26),
        ("usage", "USAGE", 34),
        ("source", "SOURCE", 7),
        ("pods", "PODS", 22),
    )

    def show(self, volumes: Sequence[VolumeInfo]) -> bool:
        rows = [(v.name, v) for v in sorted(volumes, key=lambda v: v.name)]
        return self.sync(rows, _cells)


def _cells(volume: Any) -> tuple[Any, ...]:
    kind = volume.kind
    if "ReadWriteMany" in volume.access_modes:
        kind += " RWX"
    if volume.storage_class:
        kind += f" {volume.storage_class}"
    source = volume.usage.source if volume.usage else "none"
    pods = (
        f"{len(volume.pods)}: " + ", ".join(_short(p) for p in volume.pods) if volume.pods else "-"
    )
    return (volume.name, kind, usage_cell(volume, width=8), source, pods)


def _short(pod: str) -> str:
    """A pod by its hash suffix, as it is recognised in the pods table above."""
    return pod.rsplit("-", 1)[-1] if "-" in pod else pod


def notes(volumes: Sequence[VolumeInfo]) -> Text:
    """One line per volume whose number needs explaining (EFS, fallbacks)."""
    text = Text()
    for v in sorted(volumes, key=lambda v: v.name):
        if v.usage is not None and v.usage.note:
            if text:
                text.append("\n")
            text.append(f"{v.name}: ", style="bold")
            text.append(v.usage.note, style="italic")
    return text


class VolumesPanel(Vertical):
    """The table plus the notes that say why a number is measured the way it is."""

    def compose(self) -> ComposeResult:
        yield VolumesTable(id="volumes-table", show_cursor=False)
        yield Static(id="volume-notes")

    def on_mount(self) -> None:
        self.border_title = "Cache volumes"

    _last_note: str | None = None

    def show(self, volumes: Sequence[VolumeInfo]) -> None:
        self.query_one(VolumesTable).show(volumes)
        note = notes(volumes)
        if note.markup != self._last_note:  # an update re-lays out: only when it changed
            self._last_note = note.markup
            static = self.query_one("#volume-notes", Static)
            static.display = bool(note)
            static.update(note)
