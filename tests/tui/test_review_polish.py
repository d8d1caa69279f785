"""Review findings from an on-call walkthrough of the demo, driven on the simulator: request
bodies in a confirmation read as indented JSON; an init container's log comes first, each line
labelled with its container; every pod of a baked image shows the same state; a volume an
action changed is measured again at once."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from textual.widgets import RichLog

from actions.plan import BODY_LINE_CHARS, BODY_LINES
from tests.actions.conftest import MODEL
from tests.actions.world import World
from tests.tui.conftest import SIZE, Recorder
from tests.tui.test_e2e_scenarios import (
    confirm,
    confirmation,
    dashboard,
    in_state,
    rows,
    select,
    until,
)
from tui.app import AsrCacheApp
from tui.screens.confirm import ConfirmScreen, plan_text
from tui.screens.detail import PodDetailScreen
from tui.screens.overview import OverviewScreen


async def test_a_job_body_in_the_confirmation_is_indented_json(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("efs-shared")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        ready = await until(pilot, lambda: in_state(app, "ready"), "a ready pod")
        select(app, ready[0])
        dialog, _ = await confirmation(pilot, "p")
        assert isinstance(dialog, ConfirmScreen)
        lines = plan_text(dialog.plan).plain.splitlines()
        create = next(i for i, line in enumerate(lines) if ". CREATE jobs/" in line)
        assert not lines[create].rstrip().endswith("}"), "the body is not on the step's line"
        step = lines[create].split(".")[0]
        create = lines.index(f"body of step {step} (CREATE jobs):")
        body = lines[create + 1 :]
        assert body[0] == "     {", body[:3]
        assert '       "apiVersion": "batch/v1",' in body, body
        assert '       "kind": "Job",' in body, body
        assert all(len(line) <= BODY_LINE_CHARS + 5 for line in body), body
        assert len([ln for ln in body if ln.startswith("     ")]) <= BODY_LINES + 1


async def test_an_init_containers_log_comes_first_labelled_by_container(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("s3-init")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        await until(pilot, lambda: len(in_state(app, "ready")) == 2, "both pods ready")
        pod = in_state(app, "ready")[0]
        select(app, pod)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PodDetailScreen), "the detail")
        await pilot.pause()
        screen = app.screen

        def shown() -> str:
            return "\n".join(s.text for s in screen.query_one("#log", RichLog).lines)

        await until(pilot, lambda: "Server ready" in shown(), "the log in the detail")
        text = shown()
        init = text.index("fetch-model │ download: s3://")
        main = text.index("lightning-asr │ INFO: Starting Lightning ASR server")
        assert init < main, text


async def test_every_pod_of_a_baked_image_shows_done_without_opening_it(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("baked-image")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        await until(pilot, lambda: len(in_state(app, "ready")) == 2, "both pods ready")
        await until(
            pilot,
            lambda: all(r["progress"] == "✓ done" for r in rows(app).values()),
            "every pod shown done",
        )
        assert isinstance(app.screen, OverviewScreen), "no detail was opened"


def _measured_at(app: AsrCacheApp, claim: str = "models-aws-efs-pvc") -> float:
    snapshot = app.snapshot
    volume = next((v for v in snapshot.volumes if v.name == claim), None) if snapshot else None
    usage = volume.usage if volume else None
    return usage.measured_at if usage and usage.source != "none" else 0.0


async def test_deleting_a_corrupt_model_measures_its_volume_again_at_once(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """corrupt-model, volumes polled every 5 minutes: once ``d`` has deleted the copy (and the
    pods fetched a good one), the panel shows the volume measured after the action, not the
    figure from before it."""
    world = start("corrupt-model")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "300")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        looping = await until(
            pilot,
            lambda: len(in_state(app, "corrupt")) == 2 and in_state(app, "corrupt"),
            "both pods shown corrupt",
        )
        select(app, looping[0])
        await confirmation(pilot, "d")
        # The next periodic poll is minutes away: a figure newer than this comes from the
        # measurement the finished action asked for.
        confirmed = time.time()
        result = await confirm(pilot, recorder)
        assert result.ok, result.message
        await until(pilot, lambda: _measured_at(app) >= confirmed, "the volume measured again", 20)
        assert app.snapshot is not None
        volume = next(v for v in app.snapshot.volumes if v.name == "models-aws-efs-pvc")
        used = volume.usage.used_bytes if volume.usage else None
        assert used is not None and MODEL <= used < 2 * MODEL, volume  # the good copy, once
