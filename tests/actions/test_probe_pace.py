"""The startup probe fix gives is sized by the download's rate and size: when the run under way
shows none (between runs, or in its first seconds), the last run's, from its log, so the advice
does not depend on when ``f`` is pressed."""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Callable

import pytest

from actions import registry
from actions.evidence import ContainerLog
from actions.fix import PROBE_KILLS, plan_fix
from actions.options import ActionOptions
from actions.pace import Pace, pace_of
from actions.plan import ActionPlan
from collectors.model import (
    ClusterSnapshot,
    ContainerInfo,
    DownloadPhase,
    DownloadProgress,
    ModelState,
    PodInfo,
    ProbeDeadline,
    ProbeKill,
    ProbeSpec,
)
from tests.actions.builders import pod, snapshot
from tests.actions.by_hand import first
from tests.actions.world import World

OPTS = ActionOptions()
KiB = 1024
MiB = 2**20


def _json(event: str, **fields: object) -> str:
    return json.dumps({"v": 1, "event": event, "file": "model.bin", **fields})


KILLED_RUN = "\n".join(
    [
        "INFO: Downloading model from URL...",
        _json("start", total=4 * MiB, resumed_from=0, workers=1),
        _json("progress", done=0, total=4 * MiB, rate=0.0),
        _json("progress", done=MiB, total=4 * MiB, rate=float(MiB)),
        _json("progress", done=2 * MiB, total=4 * MiB, rate=float(MiB)),
    ]
)


def test_the_last_runs_log_gives_its_rate_and_size() -> None:
    assert pace_of(KILLED_RUN) == Pace(rate=float(MiB), total=4 * MiB)
    assert pace_of("INFO: Starting\r\n") == Pace()


def _killed_again(progress: DownloadProgress | None) -> PodInfo:
    """Killed by its liveness probe: between runs (no progress), or in a new run that its probe
    will end too."""
    liveness = ProbeSpec(
        "liveness",
        "http-get http://:2269/health",
        initial_delay=2,
        period=1,
        check='{"httpGet":{"path":"/health","port":2269}}',
    )
    server = ContainerInfo(
        name="lightning-asr",
        init=False,
        image="smallest/lightning-asr:1",
        state="waiting" if progress is None else "running",
        restarts=2,
        exit_code=137 if progress is None else None,
        started_at=None if progress is None else 1000.0,
        probes=(liveness,),
    )
    kill = ProbeKill("lightning-asr", "liveness", 2, 990.0, spec=liveness, rate=0.0)
    deadline = ProbeDeadline(
        "lightning-asr",
        "liveness",
        3.0,
        None,
        "container lightning-asr's liveness probe will end this run in about 3 s",
    )
    return dataclasses.replace(
        pod("asr-a", state=ModelState.FAILED, ready=False, kind="emptyDir"),
        containers=(server,),
        probe_kill=kill,
        probe_deadline=None if progress is None else deadline,
        progress=progress,
        restarts=2,
    )


def _threshold(plan: ActionPlan) -> int:
    (command,) = plan.commands
    patch = json.loads(shlex.split(command)[-1])
    probe = patch["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    return int(probe["failureThreshold"])


@pytest.mark.parametrize(
    "progress",
    [
        None,  # between runs: nothing shown
        DownloadProgress(DownloadPhase.DOWNLOADING, "bundled", 0, 4 * MiB, 0.0),  # just begun
        DownloadProgress(DownloadPhase.DOWNLOADING, "bundled", 0, None, None),
    ],
)
def test_the_startup_probe_is_sized_by_the_last_run_when_this_one_shows_no_rate(
    progress: DownloadProgress | None,
) -> None:
    killed = _killed_again(progress)
    logs = (ContainerLog("lightning-asr", current="", previous=KILLED_RUN, restarts=2),)
    plan = plan_fix(snapshot(killed), "asr-a", OPTS, log=logs)
    assert plan.decision == PROBE_KILLS, plan.describe()
    refusal = plan.refused or ""
    assert "the whole download takes about 4 s, so allow about 10 min" in refusal, refusal
    # Twice the download, at least ten minutes beyond it, in the probe's 1 s periods.
    assert _threshold(plan) == 604
    # While the run downloads at that rate, the advice is the same.
    seen = DownloadProgress(DownloadPhase.DOWNLOADING, "bundled", MiB, 4 * MiB, float(MiB))
    during = plan_fix(snapshot(_killed_again(seen)), "asr-a", OPTS, log=logs)
    assert _threshold(during) == _threshold(plan)
    # With no log to read, nothing tells the length: the fallback, said as such.
    blind = plan_fix(snapshot(killed), "asr-a", OPTS)
    assert "its length is not known" in (blind.refused or "") and _threshold(blind) == 1800


def _killed_and_running_again(s: ClusterSnapshot) -> PodInfo | None:
    """A later run, downloading, that shows no rate yet (its first moments)."""
    return first(
        s,
        lambda p: (
            p.restarts
            and p.probe_deadline is not None
            and (p.progress is None or not p.progress.rate)
        ),
    )


def test_the_startup_probe_advice_does_not_depend_on_when_it_is_asked(
    start: Callable[..., World],
) -> None:
    # 4 MiB over one 640 KiB/s connection: about 6.4 s; the liveness probe kills at about 5 s.
    world = start("liveness-kills-download", speed=640 * KiB)
    world.watch()
    snap = world.wait_snapshot(_killed_and_running_again, 40, "a new run, no rate yet")
    pod = _killed_and_running_again(snap)
    assert pod is not None
    plan = world.plan(registry.FIX, pod.name, on=snap)
    assert plan.decision == PROBE_KILLS, plan.describe()
    refusal = plan.refused or ""
    assert "its length is not known" not in refusal, refusal
    assert "at the rate seen the whole download takes about" in refusal, refusal
    (command,) = plan.commands
    patch = json.loads(shlex.split(command)[-1])
    probe = patch["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    # Twice a download of a few seconds is less than ten minutes: about ten minutes more.
    assert 600 <= probe["failureThreshold"] < 700, probe
