"""Fixtures for the dashboard's Pilot tests: a fake feed, a recording action provider, and an
app whose notifications and posted messages are recorded for assertions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.message import Message

from tests.actions.conftest import start  # noqa: F401  (re-exported fixture, see below)
from tests.tui.fakes import FakeActions, FakeFeed, clock, sample_log, sample_snapshot
from tui.app import AsrCacheApp

# ``start`` (the actions' end-to-end factory, tests/actions/conftest.py) is a fixture here too:
# ``start("stalled-download", stall_after=1.5)`` runs a named simcluster scenario in-process
# with 4 MiB models, for the dashboard's end-to-end scenario tests.

SIZE = (150, 42)
STALLED = "lightning-asr-7d9f8c6b5-c4w7d"
CORRUPT = "lightning-asr-7d9f8c6b5-tq5vn"


class Recorder:
    """Notifications and messages the app produced, in order."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, str]] = []
        self.messages: list[Message] = []

    def hook(self, message: Message) -> None:
        self.messages.append(message)

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]

    def texts(self) -> str:
        return "\n".join(text for text, _ in self.notes)


def make_app(
    feed: FakeFeed | None = None,
    actions: FakeActions | None = None,
    recorder: Recorder | None = None,
    **kwargs: Any,
) -> AsrCacheApp:
    feed = feed or FakeFeed(sample_snapshot(), logs={STALLED: sample_log(STALLED)})
    kwargs.setdefault("clock", clock)
    # Draw each pushed snapshot at once, and leave the test process's collector alone: the
    # pacing of redraws and the heap are tested on their own (test_redraw.py).
    kwargs.setdefault("redraw_interval", 0.0)
    kwargs.setdefault("settle_heap", False)
    app = AsrCacheApp(feed, actions, **kwargs)
    if recorder is not None:
        record_notifications(app, recorder)
    return app


def record_notifications(app: AsrCacheApp, recorder: Recorder) -> None:
    """Keep every notification the app shows (text, severity) in ``recorder.notes``."""
    original: Callable[..., None] = app.notify

    def notify(message: str, **kw: Any) -> None:
        recorder.notes.append((message, str(kw.get("severity", "information"))))
        original(message, **kw)

    app.notify = notify  # type: ignore[method-assign]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
