"""The dashboard driven like on-call would, on the named simcluster scenarios: the real app on a
real LiveFeed and the real action provider, connected through a kubeconfig over loopback.

- stalled-download: the pod shows stalled; ``f``; the plan restarts it and resumes; the server
  then sends only the rest of the file and the new pod shows ready.
- corrupt-model: the pods show corrupt; ``v`` shows the mismatch; ``d`` deletes the copy; the
  pods download again and show ready.
- blue-green: ``s`` while v2 downloads opens as Refused and cannot be confirmed; once v2 is
  ready ``s`` runs, and the rollouts panel shows traffic on v2.

Every wait is on a condition (what the screen shows, or the cluster) with a generous timeout.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from actions.plan import ActionResult
from tests.actions.conftest import MODEL
from tests.actions.variants import held
from tests.actions.world import NS, SELECTOR, World
from tests.polling import wait_until
from tests.tui.conftest import SIZE, Recorder, record_notifications
from tests.tui.screen import screen_text
from tui.app import AsrCacheApp
from tui.cli import build_parser
from tui.launch import build_app, connect
from tui.messages import ActionFinished
from tui.screens.confirm import ConfirmScreen
from tui.screens.overview import OverviewScreen
from tui.widgets.pods import PodsTable
from tui.widgets.rollouts import RolloutsTable

V1_URL = "http://lightning-asr:2269"
V2_URL = "http://lightning-asr-v2:2269"


def dashboard(
    world: World, recorder: Recorder, monkeypatch: pytest.MonkeyPatch, *extra: str
) -> AsrCacheApp:
    """``asr-cache-tui`` as a user launches it, on the world's kubeconfig (actions on). Its
    audit log goes where the world reads it, not to the user's state directory."""
    monkeypatch.setenv("XDG_STATE_HOME", str(world.tmp / "state"))
    argv = ["--kubeconfig", str(world.kubeconfig), "-n", NS, "-l", world.selector, *extra]
    args = build_parser().parse_args(argv)
    connection = connect(args)
    assert connection.actions is not None, "the real action provider is connected"
    app = build_app(args, connection)
    record_notifications(app, recorder)
    return app


async def until(pilot: Pilot[Any], fn: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Let the app run until fn() is truthy; fail naming ``what`` and showing the screen."""
    deadline = time.monotonic() + timeout
    while not (value := fn()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen in {timeout:g} s\n{on_screen(pilot)}")
        await pilot.pause(0.1)
    return value


def on_screen(pilot: Pilot[Any]) -> str:
    return screen_text(pilot.app)


def rows(app: AsrCacheApp) -> dict[str, dict[str, str]]:
    """The pods table as shown: pod name -> column -> plain cell text."""
    if not isinstance(app.screen, OverviewScreen):
        return {}
    table = app.screen.query_one(PodsTable)
    shown: dict[str, dict[str, str]] = {}
    for row_key in table.rows:
        cells = table.get_row(row_key)
        name = str(row_key.value)
        shown[name] = {
            col: getattr(c, "plain", str(c))
            for (col, _, _), c in zip(PodsTable.COLUMNS, cells, strict=True)
        }
    return shown


def in_state(app: AsrCacheApp, state: str, prefix: str = "lightning-asr-") -> list[str]:
    """Pods the table shows in ``state`` (e.g. "ready": Running and all containers ready)."""
    names = []
    for name, cells in rows(app).items():
        if not name.startswith(prefix) or not cells["state"].endswith(state):
            continue
        if state == "ready" and not _all_ready(cells["status"]):
            continue
        names.append(name)
    return sorted(names)


def _all_ready(status: str) -> bool:
    phase, _, counts = status.partition(" ")
    ready, _, total = counts.partition("/")
    return phase == "Running" and ready == total != ""


async def confirmation(pilot: Pilot[Any], key: str) -> tuple[ConfirmScreen, str]:
    """Press an action key and wait for its confirmation (planned in a thread)."""
    await pilot.press(key)
    screen = await until(
        pilot,
        lambda: pilot.app.screen if isinstance(pilot.app.screen, ConfirmScreen) else None,
        f"the confirmation of {key!r}",
    )
    await pilot.pause()
    return screen, on_screen(pilot)


async def confirm(pilot: Pilot[Any], recorder: Recorder, timeout: float = 60.0) -> ActionResult:
    """``y`` on the confirmation, then wait for the action's result."""
    before = len(recorder.of(ActionFinished))
    await pilot.press("y")
    await until(pilot, lambda: not isinstance(pilot.app.screen, ConfirmScreen), "dialog closed")
    await until(
        pilot, lambda: len(recorder.of(ActionFinished)) > before, "the action's result", timeout
    )
    result: ActionResult = recorder.of(ActionFinished)[-1].result
    return result


async def helper_confirmation(
    pilot: Pilot[Any], app: AsrCacheApp, key: str, looping: list[str]
) -> str:
    """The confirmation of ``key`` on a crash-looping pod: it must be planned on a helper pod.

    A crash-looping container is never trusted as the exec host, even when a snapshot catches
    it in its second of running (the exec would find it gone again).
    """
    _, text = await confirmation(pilot, key)
    assert "EXEC in asr-cache-helper-" in text, text
    return text


def select(app: AsrCacheApp, pod: str) -> None:
    assert app.screen.query_one(PodsTable).select_key(pod), pod


async def test_stalled_download_fixed_from_the_dashboard_resumes_from_the_partial(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("stalled-download")
    app = dashboard(world, recorder, monkeypatch, "--stall-after", "1.5", "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        (stuck,) = await until(pilot, lambda: in_state(app, "stalled"), "the pod shown stalled")
        assert world.stats("v1").stalls == 1, "the server holds its one connection"
        progress = rows(app)[stuck]["progress"]
        # Stuck at about 40% (the last progress line the log gave may be a little earlier).
        percent = int(progress.split("%")[0].split()[-1])
        assert 0 < percent <= 45 and progress.endswith(" MiB stalled"), progress
        pod = app.snapshot.pod(stuck) if app.snapshot else None
        assert pod is not None and pod.progress is not None
        done = pod.progress.bytes_done
        assert done is not None and 0 < done <= 0.45 * MODEL
        sent_before = world.stats("v1").bytes_sent

        select(app, stuck)
        _, text = await confirmation(pilot, "f")
        assert f"target: pod/{stuck} (namespace {NS})" in text
        assert f"DELETE pods/{stuck} (namespace {NS})" in text
        assert "kept and resumed" in text
        assert "diagnosis: the download stalled; it can resume" in text, text
        assert "stalled-resumable" not in text and "Fix (" not in text, text
        assert "Fix the stalled download: restart pod" in text, text
        # A restart changes the cluster, but nothing is lost: it is not "cannot be undone".
        assert "⚠ This changes the cluster." in text and "cannot be undone" not in text, text
        result = await confirm(pilot, recorder)
        assert result.ok, result.message

        (new,) = await until(pilot, lambda: in_state(app, "ready"), "the new pod shown ready")
        assert new != stuck and stuck not in rows(app)
        assert result.details["ready_pods"] == [new]
    # The cluster agrees, and the download resumed: one Range from the partial's offset on,
    # less than a whole file sent again.
    assert world.wait_ready("lightning-asr", 1) == [new]
    stats = world.stats("v1")
    resumed = [r for r in stats.recent if r.range and not r.range.startswith("bytes=0-")]
    assert resumed, stats.recent
    start_at = int(resumed[-1].range.split("=")[1].split("-")[0])
    assert start_at >= done and resumed[-1].status == 206
    assert resumed[-1].bytes_sent == MODEL - start_at
    assert stats.bytes_sent - sent_before < MODEL, "not a second whole file"
    on_claim = world.claim_dir() / "model.bin"
    assert hashlib.sha256(on_claim.read_bytes()).hexdigest() == world.model("v1").sha256
    world.assert_recorded("fix", "AsrCacheTuiFix", f"pod/{stuck}")


async def test_corrupt_model_verify_then_delete_from_the_dashboard(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("corrupt-model")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        looping = await until(
            pilot,
            lambda: len(in_state(app, "corrupt")) == 2 and in_state(app, "corrupt"),
            "both pods shown corrupt",
        )
        picked = looping[1]
        select(app, picked)

        text = await helper_confirmation(pilot, app, "v", looping)
        assert f"target: pod/{picked}" in text
        result = await confirm(pilot, recorder)
        assert not result.ok and "mismatch" in result.message, result.message
        await until(
            pilot,
            lambda: rows(app).get(picked, {}).get("progress") == "✗ checksum mismatch",
            "the mismatch in the pods table",
        )
        sha = world.model("v1").sha256
        assert [
            severity
            for text, severity in recorder.notes
            if text.startswith("checksum mismatch: model.bin: sha256 mismatch, expected " + sha)
        ] == ["error"], recorder.notes

        assert app.screen.query_one(PodsTable).selected_key == picked
        text = await helper_confirmation(pilot, app, "d", looping)
        assert "⚠ This changes the cluster and cannot be undone." in text
        assert "/app/models/v1/model.bin" in text and "models-aws-efs-pvc" in text
        result = await confirm(pilot, recorder)
        assert result.ok, result.message

        ready = await until(
            pilot,
            lambda: len(in_state(app, "ready")) == 2 and in_state(app, "ready"),
            "two new pods shown ready",
        )
        assert not set(ready) & set(looping)
        assert not set(rows(app)) & set(looping), "the crash-looping pods are gone"
    assert world.wait_ready("lightning-asr", 2) == ready
    assert world.stats("v1").bytes_sent >= MODEL, "downloaded again"
    on_claim = world.claim_dir() / "v1" / "model.bin"
    assert hashlib.sha256(on_claim.read_bytes()).hexdigest() == world.model("v1").sha256
    world.assert_recorded("purge", "AsrCacheTuiPurge", f"pod/{picked}")


def _base_url(world: World) -> str:
    dep = world.cluster.apps.read_namespaced_deployment("api-server", NS, _request_timeout=5)
    env = dep.spec.template.spec.containers[0].env
    return str(next(e.value for e in env if e.name == "LIGHTNING_ASR_BASE_URL"))


def traffic(app: AsrCacheApp) -> dict[str, str]:
    """The rollouts panel's TRAFFIC column: deployment -> "◀ live" / "idle"."""
    if not isinstance(app.screen, OverviewScreen):
        return {}
    table = app.screen.query_one(RolloutsTable)
    return {
        str(key.value): getattr(c, "plain", str(c))
        for key in table.rows
        for c in [table.get_cell(key, "serving")]
    }


async def test_blue_green_switch_refused_while_v2_downloads_then_allowed(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start(held("blue-green", "v2"), selector=SELECTOR)
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        await until(
            pilot,
            lambda: (
                len(in_state(app, "ready", "lightning-asr-v2")) == 0
                and len(in_state(app, "downloading", "lightning-asr-v2")) >= 1
                and traffic(app).get("lightning-asr") == "◀ live"
            ),
            "v1 live while v2 is shown downloading",
        )
        wait_until(
            lambda: (st := world.stats("v2")).active > 0 and st.stalls == st.active,
            30,
            "every v2 response held",
        )
        dialog, text = await confirmation(pilot, "s")
        refused = str(dialog.query_one("#confirm-refused", Static).content)
        assert refused.startswith("Refused: lightning-asr-v2 is not ready"), refused
        assert "still getting the model" in refused and "Refusing" not in refused
        assert "Refused: lightning-asr-v2 is not ready" in text  # and on the screen
        assert text.count("still getting the model") == 1, text  # said once, not twice
        assert "Close (esc)" in text and "Confirm (y)" not in text
        assert not app.screen.query("#confirm-yes")
        await pilot.press("y")  # nothing to confirm
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen), "dialog closed")
        assert _base_url(world) == V1_URL and not recorder.of(ActionFinished)

        world.on_loop(world.runtime.clear_faults, "v2")  # v2's download goes on and finishes
        await until(
            pilot,
            lambda: len(in_state(app, "ready", "lightning-asr-v2")) == 2,
            "v2 shown ready",
            60,
        )
        _, text = await confirmation(pilot, "s")
        assert "Refused" not in text and V2_URL in text, text
        assert "⚠ This changes the cluster. Way back: asr-cache-tui switch --back." in text
        assert "cannot be undone" not in text, text
        result = await confirm(pilot, recorder)
        assert result.ok, result.message
        await until(
            pilot,
            lambda: (
                traffic(app).get("lightning-asr-v2") == "◀ live"
                and traffic(app).get("lightning-asr") == "idle"
            ),
            "traffic shown on v2",
        )
        assert f"api-server → {V2_URL}" in on_screen(pilot)
    assert _base_url(world) == V2_URL
    world.assert_recorded("switch", "AsrCacheTuiSwitch", "deployment/api-server")
