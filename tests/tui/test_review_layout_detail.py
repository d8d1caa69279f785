"""The pod detail on a small terminal: long log lines wrap, the summary's evidence is whole,
and the rate is "now" only while bytes move (review findings 4 and 5)."""

from __future__ import annotations

import dataclasses

from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import RichLog

from collectors.model import ClusterSnapshot, DownloadPhase, LogLine, ModelState
from tests.tui.conftest import STALLED, make_app
from tests.tui.fakes import (
    NOW,
    FakeActions,
    FakeFeed,
    GiB,
    MiB,
    progress,
    sample_log,
    sample_snapshot,
)
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


async def test_the_summary_evidence_is_whole_on_a_small_terminal() -> None:
    evidence = tuple(
        f"evidence {i}: the download of model.bin stopped at 9.6 GiB and the server still "
        f"holds the connection open but sends nothing, end-of-evidence-{i}"
        for i in range(4)
    )
    snap = with_pod(sample_snapshot(), STALLED, evidence=evidence)
    app = make_app(FakeFeed(snap))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_detail(pilot, app, STALLED)
        box = screen.query_one("#summary-box", VerticalScroll)
        seen = flat(screen_text(app))
        box.scroll_end(animate=False)
        await pilot.pause()
        seen += flat(screen_text(app))
        for i in range(4):
            assert f"end-of-evidence-{i}" in seen, seen
        assert screen.query_one("#log").region.height >= 8  # the log keeps its room


async def rate_label_of(snapshot: ClusterSnapshot, pod: str) -> str:
    app = make_app(FakeFeed(snapshot))
    async with app.run_test(size=(150, 42)) as pilot:
        screen = await open_detail(pilot, app, pod)
        return str(screen.query_one("#rate-label").render())


async def test_a_stalled_download_has_no_rate_now() -> None:
    snap = with_pod(
        sample_snapshot(),
        STALLED,
        progress=progress(int(9.6 * GiB), 24 * GiB, 4.1 * KiB, DownloadPhase.STALLED),
    )
    label = await rate_label_of(snap, STALLED)
    assert "now" not in label and "not moving" in label and "peak 4.1 KiB/s" in label, label


async def test_a_finished_download_has_no_rate_now() -> None:
    done = progress(24 * GiB, 24 * GiB, 24 * MiB, DownloadPhase.DONE)
    snap = with_pod(sample_snapshot(), STALLED, progress=done, model_state=ModelState.READY)
    label = await rate_label_of(snap, STALLED)
    assert "now" not in label and "peak 24.0 MiB/s" in label, label


async def test_a_moving_download_shows_its_rate_now() -> None:
    moving = "lightning-asr-7d9f8c6b5-8mz2p"
    label = await rate_label_of(sample_snapshot(), moving)
    assert "now 85.0 MiB/s" in label, label


async def test_a_pod_never_seen_downloading_promises_no_rate() -> None:
    cached = progress(24 * GiB, 24 * GiB, None, DownloadPhase.DONE)
    snap = with_pod(sample_snapshot(), STALLED, progress=cached, model_state=ModelState.READY)
    label = await rate_label_of(snap, STALLED)
    assert "none (not downloading while watched)" in label and "yet" not in label, label


async def test_read_only_help_promises_no_actions_in_the_palette() -> None:
    app = make_app(actions=FakeActions(), read_only=True)
    async with app.run_test(size=(150, 50)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "offers every action" not in text.replace("Command palette: every action", "")
        assert "Keys (read-only)" in text  # the box's title says so
        assert "views only (--read-only)" in text
        assert "esc / q / ? close" in text
