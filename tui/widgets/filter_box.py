"""``FilterBox``: the ``/`` filter line of a log, shared by the pod detail and the timeline so
that both behave alike: hidden until asked for, Enter keeps it, Esc clears it first."""

from __future__ import annotations

from textual import on
from textual.widgets import Input


class FilterBox(Input):
    """An ``Input`` that hides while unused and hands the focus back to ``returns_to``.

    The screen listens to ``Input.Changed`` for the needle; ``close`` is what its Esc does
    before going back, so a filtered view is never left by one stray key.
    """

    def __init__(self, placeholder: str, *, returns_to: str, id: str) -> None:
        super().__init__(placeholder=placeholder, id=id)
        self.returns_to = returns_to  # selector of the widget that has the focus after it
        self.display = False

    @property
    def needle(self) -> str:
        return self.value.strip()

    def open(self) -> None:
        self.display = True
        self.focus()

    def close(self) -> bool:
        """Empty and hide it; False when it was neither shown nor holding a needle."""
        if not self.display and not self.value:
            return False
        self.value = ""
        self.display = False
        self.screen.query_one(self.returns_to).focus()
        return True

    @on(Input.Submitted)
    def _kept(self) -> None:
        """Enter: the filter stays (an empty one hides) and the list has the keys again."""
        if not self.needle:
            self.display = False
        self.screen.query_one(self.returns_to).focus()
