"""A DataTable that is synchronised with keyed rows: only changed cells are touched.

Each tick the owner passes every row as ``(key, source)``; a row whose source equals the last
one is skipped without even building its cells, a changed row updates only the cells whose
text or style differ, and rows are re-sorted only when the wanted order changed. The cursor
stays on the same row key through inserts, removals and re-sorts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist, RowKey

Cells = Sequence[Any]


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

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        super().__init__(**kwargs)
        self._sources: dict[str, Hashable] = {}
        self._shown: dict[str, tuple[Hashable, ...]] = {}
        self._order: list[str] = []
        self.cell_updates = 0  # cells written since mount (tests and benchmarks read it)
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
        selected = self.selected_key
        wanted = [key for key, _ in rows]
        changed = False
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
                self.cell_updates += len(cells)
                self._order.append(key)
            else:
                old = self._shown[key]
                for (col, _, _), cell, sig, before in zip(
                    self.COLUMNS, cells, sigs, old, strict=True
                ):
                    if sig != before:
                        self.update_cell(key, col, cell)
                        self.cell_updates += 1
            self._sources[key] = source
            self._shown[key] = sigs
            changed = True
        if self._order != wanted:
            position = {key: i for i, key in enumerate(wanted)}
            first = self.COLUMNS[0][0]
            self.sort(first, key=lambda cell: position[_plain(cell)])
            self._order = wanted
            self.sorts += 1
            changed = True
        if changed and selected is not None and selected in self._sources:
            index = self.get_row_index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)
        return changed

    def _drop(self, key: str) -> None:
        with contextlib.suppress(RowDoesNotExist):
            self.remove_row(key)
        self._sources.pop(key, None)
        self._shown.pop(key, None)
        self._order.remove(key)

    def select_key(self, key: str) -> bool:
        """Put the cursor on a row by key; False when there is no such row."""
        if key not in self._sources:
            return False
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
