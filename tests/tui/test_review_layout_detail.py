"""The pod detail on a small terminal: long log lines wrap, the summary's evidence is whole,
and the rate is "now" only while bytes move (review findings 4 and 5)."""

from __future__ import annotations

import dataclasses

from textual.pilot import Pilot
from textual.widgets import RichLog

from collectors.model import ClusterSnapshot, LogLine
from tests.tui.conftest import STALLED, make_app
from tests.tui.fakes import NOW, FakeFeed, sample_log, sample_snapshot
from tests.tui.screen import screen_text
from tui.app import AsrCacheApp
from tui.screens.detail import PodDetailScreen

KiB = 2**10
HASH = "e9093aac4d5af59e2782acd754db7e22beb4ffb020a9fa3293344c5572f945a4"
ERROR = f"ERROR: Model validation failed: checksum mismatch, got 3f1c0d, expected {HASH}"
JSON = (
    '{"event": "progress", "file": "model.bin", "done": 1048576, "total": 4194304, '
    '"rate": 25165824.0, "eta": 0.1, "attempt": 1, "phase": "downloading-final-chunk"}'
)


def with_pod(snapshot: ClusterSnapshot, name: str, **changes: object) -> ClusterSnapshot:
    pods = tuple(dataclasses.replace(p, **changes) if p.name == name else p for p in snapshot.pods)  # type: ignore[arg-type]
    return dataclasses.replace(snapshot, pods=pods)


async def open_detail(pilot: Pilot[int], app: AsrCacheApp, pod: str) -> PodDetailScreen:
    await pilot.pause()
    app.open_detail(pod)
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, PodDetailScreen)
    return screen


def flat(text: str) -> str:
    """The screen with its line breaks and the boxes' side borders taken out."""
    return "".join(line.replace("│", "").strip() for line in text.splitlines())


async def test_long_log_lines_wrap_in_the_narrow_log_pane() -> None:
    log = [
        *sample_log(STALLED),
        LogLine(STALLED, "downloader", JSON, kind="progress", received_at=NOW - 5),
        LogLine(STALLED, "lightning-asr", ERROR, kind="error", received_at=NOW - 4),
    ]
    app = make_app(FakeFeed(sample_snapshot(), logs={STALLED: log}))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_detail(pilot, app, STALLED)
        pane = screen.query_one("#log", RichLog)
        await pilot.pause()
        pane.scroll_end(animate=False)
        await pilot.pause()
        shown = flat(screen_text(app))
        assert HASH[-12:] in shown, shown  # the end of the error line is on screen
        assert '"downloading-final-chunk"}' in shown  # and the end of the JSON line
