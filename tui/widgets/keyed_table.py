"""A DataTable that is synchronised with keyed rows: only changed cells are touched and drawn.

Each tick the owner passes every row as ``(key, source)``; a row whose source equals the last
one is skipped without even building its cells, a changed row updates only the cells whose
text or style differ, and rows are re-sorted only when the wanted order changed. The cursor
stays on the same row key through inserts, removals and re-sorts; in a table that follows its
top (``follow_top``), it stays on the first row instead until the user moves it.

Drawing follows the same rule. DataTable keys its render caches on one table-wide update
counter, so a single ``update_cell`` repaints the whole visible table, every cell through Rich
again: with 20 downloads moving that redraw took 20 to 90 ms and a key pressed meanwhile waited
for it. Here a changed row repaints only its own line, and rendered cells are cached by the
version of their content, so a repainted row renders again only the cells that changed.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Hashable, Sequence
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowDoesNotExist, RowKey

Cells = Sequence[Any]

# Rendered cells kept across repaints (a screenful of the pods table is ~250 cells; a cell
# drawn under the cursor or the hover is one more entry). Older ones fall off.
RENDERED_CELLS = 3000


def _signature(cell: Any) -> Hashable:
    if isinstance(cell, Text):
        return (
            cell.plain,
            str(cell.style),
            tuple((s.start, s.end, str(s.style)) for s in cell.spans),
        )
    return str(cell)


class KeyedTable(DataTable[Any]):
    """Subclasses declare ``COLUMNS`` as ``(key, label, width)``.

    The first cell of every row must read exactly as the row's key (it is how re-sorting finds
    a row: DataTable's sort sees cell values, not keys).
    """

    COLUMNS: ClassVar[tuple[tuple[str, str, int], ...]] = ()

    def __init__(self, *, follow_top: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        # The cursor stays on the first row (the most urgent, in a table sorted so) whatever
        # comes in above it, until the user moves it: a row that arrives first must not leave
        # the cursor on whatever row was first before. ``hold`` ends it.
        self.follow_top = follow_top
        # Before DataTable's own set-up, which already clears caches (ours included).
        self._rendered: LRUCache[tuple[Hashable, ...], list[list[Segment]]] = LRUCache(
            RENDERED_CELLS
        )
        super().__init__(**kwargs)
        self._sources: dict[str, Hashable] = {}
        self._shown: dict[str, tuple[Hashable, ...]] = {}
        self._order: list[str] = []
        # (row key, column key) -> a number no other content of any cell has had.
        self._versions: dict[tuple[str, str], int] = {}
        self._version_numbers = itertools.count(1)
        self.cell_updates = 0  # cells written since mount (tests and benchmarks read it)
        self.cells_rendered = 0  # cells rendered through Rich since mount (same)
        self.lines_rendered = 0  # lines asked of the table by the compositor (same)
        self.sorts = 0

    def on_mount(self) -> None:
        for key, label, width in self.COLUMNS:
            self.add_column(label, width=width, key=key)

    @property
    def selected_key(self) -> str | None:
        """The row key under the cursor, or None when the table is empty."""
        if not self._order or self.cursor_row < 0:
            return None
        try:
            row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return row_key.value

    def sync(self, rows: Sequence[tuple[str, Hashable]], build: Callable[[Any], Cells]) -> bool:
        """Make the table show exactly ``rows`` in this order; True when anything changed."""
        wanted = [key for key, _ in rows]
        selected = wanted[0] if self.follow_top and wanted else self.selected_key
        changed = False
        written: list[str] = []
        gone = set(self._sources) - set(wanted)
        for key in gone:
            self._drop(key)
            changed = True
        for key, source in rows:
            if key in self._sources and self._sources[key] == source:
                continue
            cells = tuple(_no_wrap(c) for c in build(source))
            sigs = tuple(_signature(c) for c in cells)
            if key not in self._sources:
                self.add_row(*cells, key=key)
                for col, _, _ in self.COLUMNS:
                    self._versions[key, col] = next(self._version_numbers)
                self.cell_updates += len(cells)
                self._order.append(key)
            else:
                old = self._shown[key]
                writes = [
                    (col, cell)
                    for (col, _, _), cell, sig, before in zip(
                        self.COLUMNS, cells, sigs, old, strict=True
                    )
                    if sig != before
                ]
                if writes:
                    self._write(key, writes)
                    written.append(key)
            self._sources[key] = source
            self._shown[key] = sigs
            changed = True
        if self._order != wanted:
            position = {key: i for i, key in enumerate(wanted)}
            first = self.COLUMNS[0][0]
            self.sort(first, key=lambda cell: position[_plain(cell)])  # repaints it all
            self._order = wanted
            self.sorts += 1
            changed = True
        elif written:
            self._repaint(written)
        if changed and selected is not None and selected in self._sources:
            index = self.get_row_index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)
        return changed

    # The user moving the cursor (keys, a click) ends following the top -----------------------
    def hold(self) -> None:
        """The cursor keeps its row from now on (the user chose it)."""
        self.follow_top = False

    def action_cursor_up(self) -> None:
        self.hold()
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self.hold()
        super().action_cursor_down()

    def action_page_up(self) -> None:
        self.hold()
        super().action_page_up()

    def action_page_down(self) -> None:
        self.hold()
        super().action_page_down()

    def action_scroll_top(self) -> None:
        self.hold()
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        self.hold()
        super().action_scroll_bottom()

    def action_select_cursor(self) -> None:
        self.hold()
        super().action_select_cursor()

    def on_click(self, event: events.Click) -> None:
        self.hold()

    def _write(self, key: str, cells: Sequence[tuple[str, Any]]) -> None:
        """Put new content in cells of one row, as ``update_cell`` does, without repainting.

        (``update_cell`` would repaint the whole table: it calls ``refresh()`` with no region.
        ``_repaint`` then repaints the rows written, once for all of them.)
        """
        row = self._data[RowKey(key)]
        for col, cell in cells:
            row[ColumnKey(col)] = cell
            self._versions[key, col] = next(self._version_numbers)
        self.cell_updates += len(cells)

    def _repaint(self, keys: Sequence[str]) -> None:
        """Repaint the lines of these rows that are on screen, nothing else, in one refresh.

        The update counter moves as ``update_cell`` moves it, so that DataTable's own caches
        never serve the old content; once, as it is what row positions are cached on. Rows are
        one line high (``sync`` adds them so), so a row's line is the header plus its index.
        """
        self._update_count += 1
        window = self.window_region
        top = self.header_height if self.show_header else 0
        width = max(self.size.width, self.virtual_size.width)
        lines = (Region(0, top + self.get_row_index(key), width, 1) for key in keys)
        on_screen = [line.translate(-self.scroll_offset) for line in lines if window.overlaps(line)]
        if on_screen:
            self.refresh(*on_screen)

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """DataTable's cell rendering, cached by content version rather than update count.

        Everything DataTable's own cell cache is keyed on is in the key, except its update
        counter, which stands for "any cell of the table changed": the content's version
        replaces it, and the row and column index come in because the rendered cell carries
        them (the mouse finds its cell by them).
        """
        version = None
        if row_index >= 0 and column_index >= 0:  # the header and row labels are not ours
            row_key = self._row_locations.get_key(row_index)
            column_key = self._column_locations.get_key(column_index)
            if row_key is not None and column_key is not None:
                version = self._versions.get((row_key.value or "", column_key.value or ""))
        if version is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (
            version,
            row_index,
            column_index,
            width,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        lines = self._rendered.get(key)
        if lines is None:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            self._rendered[key] = lines
            self.cells_rendered += 1
        return lines

    def render_line(self, y: int) -> Strip:
        self.lines_rendered += 1
        return super().render_line(y)

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._rendered.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()  # a theme or CSS change: render every cell again
        self._rendered.clear()

    def _drop(self, key: str) -> None:
        with contextlib.suppress(RowDoesNotExist):
            self.remove_row(key)
        self._sources.pop(key, None)
        self._shown.pop(key, None)
        for col, _, _ in self.COLUMNS:
            self._versions.pop((key, col), None)
        self._order.remove(key)

    def select_key(self, key: str) -> bool:
        """Put the cursor on a row by key; False when there is no such row."""
        if key not in self._sources:
            return False
        self.hold()
        self.move_cursor(row=self.get_row_index(RowKey(key)))
        return True


def _no_wrap(cell: Any) -> Text:
    """Cells never wrap into the next row: long values end in an ellipsis."""
    text = cell if isinstance(cell, Text) else Text(str(cell))
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)
