"""Regenerate the README's screenshots from the deterministic test data:
``.venv/bin/python -m tests.tui.make_screenshots`` writes tui/screenshots/*.svg."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.tui.conftest import make_app
from tests.tui.fakes import FakeActions

OUT = Path(__file__).resolve().parents[2] / "tui" / "screenshots"
SIZE = (150, 42)


async def shoot(name: str, keys: tuple[str, ...] = ()) -> Path:
    app = make_app(actions=FakeActions())
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


if __name__ == "__main__":
    asyncio.run(main())
