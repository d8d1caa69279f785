"""``FittedTable``: a keyed table whose columns share out the width they are given, giving way
in order of importance on a narrow terminal (the pods, volumes and jobs tables)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from rich.text import Text
from textual import events
from textual.widgets.data_table import ColumnKey

from tui.format import ColumnFit, fit_columns, fit_text
from tui.widgets.keyed_table import KeyedTable

GAP = 2  # empty cells after each column
Layout = tuple[tuple[str, int], ...]  # (column key, content width); 0 = not shown


class FittedTable(KeyedTable):
    """A keyed table whose columns give way in order of importance when it is narrow.

    The first column is the row key, zero cells wide (the table re-sorts by it, so it must read
    exactly as the key); the name shown beside it can then be shortened. Cells have no padding:
    each column's width is its content plus ``GAP``, so a dropped column takes no room at all.
    The layout is worked out again only when the table's width or the widest values change;
    a new layout is part of every row's source, so each row is built again once.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cell_padding", 0)
        super().__init__(**kwargs)
        self.column_layout: Layout = tuple((key, width) for key, _, width in self.COLUMNS)
        self._fit_for: tuple[int, tuple[ColumnFit, ...]] | None = None

    def column_fits(self) -> Sequence[ColumnFit]:
        """Subclasses: how each shown column (all but the key) gives way."""
        return ()

    def redraw(self) -> None:
        """Subclasses: sync again with the last rows shown (after the layout changed)."""

    def widths(self) -> dict[str, int]:
        return dict(self.column_layout)

    def fit(self) -> bool:
        """Work the layout out for the current width; True when it changed."""
        # Room for the vertical scrollbar, shown or not: ``size`` counts its column when it
        # shows, and reserving it always means its coming does not re-lay out.
        available = self.size.width - 1
        if available <= 0:
            return False
        fits = tuple(self.column_fits())
        if self._fit_for == (available, fits):
            return False
        self._fit_for = (available, fits)
        widths = fit_columns(available, fits, GAP)
        layout = tuple((key, widths.get(key, 0)) for key, _, _ in self.COLUMNS)
        if layout == self.column_layout:
            return False
        self.column_layout = layout
        for key, width in layout:
            column = self.columns.get(ColumnKey(key))
            if column is not None:
                column.width = width + GAP if width else 0
        self._require_update_dimensions = True
        self._clear_caches()
        self.refresh()
        return True

    def on_resize(self, event: events.Resize) -> None:
        if self.fit():
            self.redraw()


def fitted(cells: Sequence[Any], layout: Layout) -> list[Hashable]:
    """Each cell cut to its column (a dropped column's cells are empty)."""
    out: list[Hashable] = []
    for cell, (_, width) in zip(cells, layout, strict=True):
        text = cell if isinstance(cell, Text) else Text(str(cell))
        out.append(fit_text(text, width) if width else Text(""))
    return out
