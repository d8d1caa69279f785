"""Regenerate the README's screenshots from the deterministic test data:
``.venv/bin/python -m tests.tui.make_screenshots`` writes tui/screenshots/*.svg."""

from __future__ import annotations

import asyncio
from pathlib import Path

from collectors.model import LogLine
from tests.tui.conftest import CORRUPT, STALLED, make_app
from tests.tui.fakes import NOW, FakeActions, FakeFeed, sample_log, sample_snapshot

OUT = Path(__file__).resolve().parents[2] / "tui" / "screenshots"
SIZE = (150, 42)
DOWNLOADING = "lightning-asr-7d9f8c6b5-8mz2p"
WAITING = "lightning-asr-7d9f8c6b5-h8r3t"


def timeline_feed() -> FakeFeed:
    """Several pods' logs for the timeline: a stall, a checksum mismatch, a lock wait."""

    def lines(pod: str, *said: tuple[float, str, str]) -> list[LogLine]:
        return [LogLine(pod, "lightning-asr", text, kind, NOW - ago) for ago, kind, text in said]

    logs = {
        STALLED: sample_log(STALLED),
        CORRUPT: lines(
            CORRUPT,
            (240, "plain", "INFO validating /app/models/v1/model.bin (sha256)"),
            (236, "error", "ERROR: Model validation failed: checksum mismatch: expected ab…ab"),
            (70, "plain", "INFO validating /app/models/v1/model.bin (sha256)"),
            (66, "error", "ERROR: Model validation failed: checksum mismatch: expected ab…ab"),
        ),
        DOWNLOADING: lines(
            DOWNLOADING,
            (238, "plain", "INFO starting lightning-asr 1.4"),
            (237, "progress", "model.bin   1% 0.2 GiB/24.0 GiB  85.0 MiB/s  ETA 4m46s"),
            (3, "progress", "model.bin  42% 10.1 GiB/24.0 GiB  85.3 MiB/s  ETA 2m48s"),
        ),
        WAITING: lines(
            WAITING,
            (229, "plain", "INFO starting lightning-asr 1.4"),
            (228, "warning", f"WARNING waiting for lock held by pid 7 on {DOWNLOADING}"),
        ),
    }
    return FakeFeed(sample_snapshot(), logs=logs)


async def shoot(name: str, keys: tuple[str, ...] = (), feed: FakeFeed | None = None) -> Path:
    app = make_app(feed, actions=FakeActions())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            await app.workers.wait_for_complete()
        await pilot.pause()
        return Path(app.save_screenshot(filename=f"{name}.svg", path=str(OUT)))


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, keys in (("overview", ()), ("pod-detail", ("j", "enter")), ("confirm", ("j", "f"))):
        print(await shoot(name, keys))
    print(await shoot("timeline", ("t", "k", "k"), timeline_feed()))


if __name__ == "__main__":
    asyncio.run(main())
