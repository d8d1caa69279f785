"""``FilterBox``: the ``/`` filter line, shared by the overview, the pod detail and the timeline
so that all behave alike: hidden until asked for, Enter keeps it, Esc clears it first, and a
word typed fast after ``/`` is the filter's whole."""

from __future__ import annotations

from textual import events, on
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
        """Show it and take the focus at once: ``Widget.focus`` only schedules that, after the
        keys already queued, and the rest of ``/ready`` typed in one burst would be judged
        against the list's bindings, where ``r`` plans a restart and ``y`` confirms."""
        self.display = True
        self.screen.set_focus(self)

    def take_stray(self, event: events.Key) -> bool:
        """The app's ``on_key``: a printable key that reached the app while the box has the
        focus was queued for the list before the box took it (``/ready`` typed in one burst,
        or pasted). It is the filter's: typed into it, not lost. (The box's own printable keys
        stop in the box; bindings never see such a key, as an ``Input`` consumes it.)"""
        if not (self.screen.focused is self and event.is_printable and event.character):
            return False
        event.stop()
        self.insert_text_at_cursor(event.character)
        return True

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
