"""``TimelineView``: the timeline's lines, one screen line each, with a cursor that follows.

Up to a thousand lines that are filtered again on a key and re-sorted when an event comes in
late: it is drawn with Textual's line API, so a change costs a list and a frame renders only
the lines on screen (an ``OptionList`` measured all thousand options again on each change,
hundreds of milliseconds). The line under the cursor is shown whole elsewhere (the screen's
job), so one line each, cut at the width, loses nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from collectors.model import EventInfo, LogLine
from collectors.redact import redact_text
from tui import commands
from tui.format import shorten_middle
from tui.logtext import log_text
from tui.timeline import Entry

WHO_WIDTH = (8, 34)  # the pod column: at least, at most (longer names lose their middle)
RENDERED_LINES = 400  # rendered lines kept across frames (a few screenfuls)
# Pod colours: blues, greens and purples, none near the red, yellow and cyan that mark
# errors, warnings and progress.
POD_COLOURS = (
    "dodger_blue1",
    "spring_green3",
    "medium_purple1",
    "green_yellow",
    "steel_blue1",
    "orchid",
    "dark_sea_green2",
    "slate_blue1",
    "plum2",
    "sky_blue2",
)
COLOURS_KEPT = 100  # pods remembered; past that, those no longer shown are forgotten


class PodColours:
    """A colour per pod, given when it first shows and kept while the timeline is open:
    pods on screen together get different colours while there are colours left (a hash of
    the name, as stern does, gave two of four sample pods the same one)."""

    def __init__(self) -> None:
        self._of: dict[str, str] = {}

    def __getitem__(self, who: str) -> str:
        return self._of.get(who, POD_COLOURS[0])

    def assign(self, rows: Sequence[Entry]) -> bool:
        """Give the rows' new pods theirs, oldest line first; True when any was given."""
        present = {e.who for e in rows}
        new = [who for who in dict.fromkeys(e.who for e in rows) if who not in self._of]
        if not new:
            return False
        if len(self._of) + len(new) > COLOURS_KEPT:
            self._of = {who: c for who, c in self._of.items() if who in present}
        used = Counter(c for who, c in self._of.items() if who in present)
        for who in new:
            colour = min(POD_COLOURS, key=lambda c: used[c])  # the first of the least used
            self._of[who] = colour
            used[colour] += 1
        return True


def clock_time(at: float) -> str:
    """HH:MM:SS, local time: what the engineer's own clock says."""
    return time.strftime("%H:%M:%S", time.localtime(at))


def _one_line(line: LogLine) -> LogLine:
    """One screen line: a tab or a stray line break would break the row apart."""
    text = line.text.rstrip("\r\n")
    if any(c in text for c in "\r\n\t"):
        text = text.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    return line if text == line.text else dataclasses.replace(line, text=text)


def _event_line(who: str, event: EventInfo, kind: str) -> tuple[LogLine, int]:
    """An event as a log line (marked as the detail marks one) and the length of its
    ``event Reason`` head."""
    head = f"event {event.reason}"
    count = f" x{event.count}" if event.count > 1 else ""
    return LogLine(who, "", f"{head}{count}  {redact_text(event.message)}", kind), len(head)


def entry_text(entry: Entry, who_width: int, colour: str) -> Text:
    """``12:03:41  lightning-asr-…-c4w7d  ✗ ERROR …``: time, whose (a colour per pod), then the
    line as the detail draws it; an event says ``event Reason``; folded progress, how many."""
    who = entry.who
    text = Text(clock_time(entry.at) + "  ", style="grey62")
    text.append(shorten_middle(who, who_width).ljust(who_width), style=colour)
    text.append("  ")
    source = entry.source
    if isinstance(source, LogLine):
        text.append_text(log_text(_one_line(source), entry.labelled))
        if entry.repeats:
            text.append(f"  (+{entry.repeats} earlier)", style="grey50")
        return text
    line, head = _event_line(who, source, entry.kind)
    start = len(text) + 2  # after the mark
    text.append_text(log_text(_one_line(line)))
    text.stylize("bold", start, start + head)
    return text


def whole_text(entry: Entry, colour: str) -> Text:
    """The line under the cursor, whole (it wraps): what one screen line may cut."""
    return entry_text(entry, len(entry.who), colour)


class TimelineView(ScrollView, can_focus=True):
    """The rows the screen hands over (already filtered), newest at the bottom.

    Following: while the cursor is on the last row, new rows move it along and the view
    scrolls with them; moved up, it stays on its line while rows come and go.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *commands.bindings("table"),  # j/k/↑/↓, Enter: the same keys as the pods table
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"timeline-view--cursor"}

    class Chosen(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, entry: Entry) -> None:
            super().__init__()
            self.entry = entry

    class Moved(Message):
        """The row under the cursor is another one (or there is none)."""

        def __init__(self, entry: Entry | None) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._rows: Sequence[Entry] = ()
        self._row_of: dict[int, int] = {}  # entry seq -> row
        self.cursor = -1  # row under the cursor; -1 when empty
        self.following = True
        self._who_width = WHO_WIDTH[0]
        self.colours = PodColours()
        self._current: Entry | None = None
        self._strips: LRUCache[Hashable, Strip] = LRUCache(RENDERED_LINES)

    @property
    def rows(self) -> Sequence[Entry]:
        return self._rows

    @property
    def current(self) -> Entry | None:
        """The row under the cursor."""
        return self._rows[self.cursor] if 0 <= self.cursor < len(self._rows) else None

    def show(self, rows: Sequence[Entry]) -> None:
        """Show these rows. The cursor stays on its entry when it is still shown, else on the
        row now at its place; following, it goes to the newest."""
        current = self.current
        self._rows = rows
        self._row_of = {e.seq: i for i, e in enumerate(rows)}
        widest = max((len(e.who) for e in rows), default=0)
        who_width = max(WHO_WIDTH[0], min(WHO_WIDTH[1], widest))
        if who_width != self._who_width:
            self._who_width = who_width
            self._strips.clear()
        self.colours.assign(rows)
        if self.following or current is None:
            row = len(rows) - 1
        else:
            row = self._row_of.get(current.seq, min(self.cursor, len(rows) - 1))
        self.virtual_size = Size(0, len(rows))
        self._move(row)
        self.refresh()

    # Keys ------------------------------------------------------------------------------------
    def action_cursor_down(self) -> None:
        self._move(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self._move(max(0, self.cursor - 1))

    def action_page_down(self) -> None:
        self._move(self.cursor + max(1, self.scrollable_content_region.height - 1))

    def action_page_up(self) -> None:
        self._move(max(0, self.cursor - max(1, self.scrollable_content_region.height - 1)))

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(len(self._rows) - 1)

    def action_select_cursor(self) -> None:
        if (entry := self.current) is not None:
            self.post_message(self.Chosen(entry))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        self._move(offset.y + round(self.scroll_y))
        if event.chain > 1:
            self.action_select_cursor()

    def _move(self, row: int) -> None:
        last = len(self._rows) - 1
        row = min(row, last)
        before = self.cursor
        self.cursor = row
        self.following = row == last
        if row >= 0:
            self._reveal(row)
        if before != row:
            for line in (before, row):
                if line >= 0:
                    self.refresh_line(line)
        current = self.current
        if current is not self._current:
            self._current = current
            self.post_message(self.Moved(current))

    def on_resize(self, event: events.Resize) -> None:
        if self.cursor >= 0:
            self._reveal(self.cursor)

    def _reveal(self, row: int) -> None:
        """Scroll just enough for the cursor's row to be on screen (forced: right after rows
        came, the scrollbar that allows scrolling waits for the next layout)."""
        height = self.scrollable_content_region.height
        top = round(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False, force=True)
        elif height and row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, force=True)

    # Drawing ---------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        row = round(self.scroll_y) + y
        width = self.scrollable_content_region.width
        if not 0 <= row < len(self._rows):
            return Strip.blank(width, self.rich_style)
        entry = self._rows[row]
        cursor = row == self.cursor
        colour = self.colours[entry.who]
        key = (entry.seq, width, self._who_width, colour, cursor)
        strip = self._strips.get(key)
        if strip is None:
            text = entry_text(entry, self._who_width, colour)
            text.truncate(width, overflow="ellipsis")
            strip = Strip(text.render(self.app.console), text.cell_len)
            if cursor:
                strip = strip.apply_style(self.get_component_rich_style("timeline-view--cursor"))
            strip = strip.crop_extend(0, width, self.rich_style).apply_style(self.rich_style)
            self._strips[key] = strip
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
