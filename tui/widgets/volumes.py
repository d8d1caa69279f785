"""The volumes panel: each cache volume's usage against an honest denominator, with its source."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from collectors.model import VolumeInfo
from tui.format import ColumnFit, shorten_middle, usage_cell
from tui.widgets.fitted_table import FittedTable, fitted

USAGE_FULL = 8 + 1 + 26  # bar, then "100% 123.4/252.0 GiB quota"


class VolumesTable(FittedTable):
    COLUMNS = (
        ("key", "", 0),
        ("name", "VOLUME", 44),
        ("kind", "KIND", 26),
        ("usage", "USAGE", 34),
        ("source", "SOURCE", 7),
        ("pods", "PODS", 22),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._wants: tuple[int, int, int] = (20, 12, 8)  # longest name, kind, pods list
        self._last: Sequence[VolumeInfo] = ()

    def column_fits(self) -> Sequence[ColumnFit]:
        name, kind, pods = self._wants
        return (
            ColumnFit("name", 16, 24, name, grow=1),
            ColumnFit("kind", 8, 12, kind, drop=2, grow=3),
            ColumnFit("usage", 14, 24, USAGE_FULL, grow=2),
            ColumnFit("source", 7, 7, 7, drop=1, grow=4),
            ColumnFit("pods", 8, 16, pods, grow=0),
        )

    def show(self, volumes: Sequence[VolumeInfo]) -> bool:
        self._last = volumes
        wants = (
            max((len(v.name) for v in volumes), default=6),
            max((len(_kind(v)) for v in volumes), default=4),
            max((len(_pods(v, 999)) for v in volumes), default=4),
        )
        self._wants = wants
        self.fit()  # nothing to do unless the widest values or the width changed
        layout = self.column_layout
        rows = [(v.name, (v, layout)) for v in sorted(volumes, key=lambda v: v.name)]
        return self.sync(rows, _cells)

    def redraw(self) -> None:
        self.show(self._last)


def _kind(volume: VolumeInfo) -> str:
    kind = volume.kind
    if "ReadWriteMany" in volume.access_modes:
        kind += " RWX"
    if volume.storage_class:
        kind += f" {volume.storage_class}"
    return kind


def _pods(volume: VolumeInfo, room: int) -> str:
    """``4: 2schj, 69gwx +2``: the count, and as many pods as fit, by their suffix."""
    if not volume.pods:
        return "-"
    head = f"{len(volume.pods)}: "
    names = [_short(p) for p in volume.pods]
    for shown in range(len(names), 0, -1):
        more = f" +{len(names) - shown}" if shown < len(names) else ""
        text = head + ", ".join(names[:shown]) + more
        if len(text) <= room:
            return text
    return f"{len(names)} pods" if len(f"{len(names)} pods") <= room else head.strip()


def _cells(source: Any) -> tuple[Any, ...]:
    volume, layout = source
    widths = dict(layout)
    usage_source = volume.usage.source if volume.usage else "none"
    cells = (
        shorten_middle(volume.name, widths["name"]),
        _kind(volume),
        usage_cell(volume, width=_bar_width(widths["usage"]), room=widths["usage"]),
        usage_source,
        _pods(volume, widths["pods"]),
    )
    return (volume.name, *fitted(cells, layout[1:]))


def _bar_width(room: int) -> int:
    """The bar shortens, then goes, before the numbers do."""
    bar = min(8, room - 27)
    return bar if bar >= 3 else 0


def _short(pod: str) -> str:
    """A pod by its hash suffix, as it is recognised in the pods table above."""
    return pod.rsplit("-", 1)[-1] if "-" in pod else pod


def notes(volumes: Sequence[VolumeInfo], problems: Mapping[str, str] | None = None) -> Text:
    """First what makes a volume need room (what the header counts), in red; then one line
    per volume whose number needs explaining (EFS, fallbacks)."""
    text = Text()
    for name, problem in sorted((problems or {}).items()):
        if text:
            text.append("\n")
        text.append(f"{name}: ", style="bold")
        text.append(f"⚠ {problem}", style="bold red")
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

    def show(
        self, volumes: Sequence[VolumeInfo], problems: Mapping[str, str] | None = None
    ) -> None:
        """``problems``: volume name -> why it needs room (collectors.report.volume_problems)."""
        self.query_one(VolumesTable).show(volumes)
        note = notes(volumes, problems)
        if note.markup != self._last_note:  # an update re-lays out: only when it changed
            self._last_note = note.markup
            static = self.query_one("#volume-notes", Static)
            static.display = bool(note)
            static.update(note)
