"""A probe that kills a container before its model is ready: read from the pod spec and the
kubelet's events, a failure that says what the probe allows, and a warning before the kill."""

from __future__ import annotations

import dataclasses
import json
import shlex
from typing import Any

from actions.audit import plan_record
from actions.fix import PROBE_KILLS, diagnose, plan_fix
from actions.options import ActionOptions
from actions.purge import plan_purge
from collectors import kube
from collectors.model import (
    ClusterSnapshot,
    DownloadPhase,
    DownloadProgress,
    EventInfo,
    ModelState,
    PodInfo,
    ProbeKill,
    VolumeInfo,
    VolumeUsage,
)
from collectors.pods import pod_info
from collectors.probes import probe_deadline, probe_kill, probes_of, readiness_failure
from collectors.state import model_state
from tests.actions import builders
from tests.collectors.podfactory import make_pod
from tui.format import cause_cell

STARTED = "2026-11-27T10:00:00Z"
T0 = kube.timestamp(STARTED) or 0.0
LIVENESS = {
    "httpGet": {"path": "/health", "port": 2269, "scheme": "HTTP"},
    "initialDelaySeconds": 30,
}
KILLED = "Container lightning-asr failed liveness probe, will be restarted"
REFUSED = 'Get "http://10.0.0.7:2269/health": dial tcp 10.0.0.7:2269: connect: connection refused'


def _pod(
    state: dict[str, Any], probes: dict[str, Any] | None = None, started: bool = False, **last: Any
) -> PodInfo:
    container = {
        "name": "lightning-asr",
        "image": "smallest/lightning-asr:v1",
        "env": [{"name": "MODEL_URL", "value": "http://models/v1/model.bin"}],
        "volumeMounts": [{"name": "models", "mountPath": "/app/models"}],
        **(probes if probes is not None else {"livenessProbe": LIVENESS}),
    }
    status = {"name": "lightning-asr", "ready": False, "restartCount": 2, "state": state}
    status["started"] = started
    if last:
        status["lastState"] = {"terminated": {"reason": "Error", **last}}
    return pod_info(make_pod(containers=[container], statuses=[status]))


def _event(reason: str, message: str, at: float, count: int = 1) -> EventInfo:
    kind = "Normal" if reason == "Killing" else "Warning"
    return EventInfo("Pod", "lightning-asr-abc", kind, reason, message, count, at)


RUNNING = {"running": {"startedAt": STARTED}}
BACKING_OFF = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}}
EVENTS = [  # newest first, as the snapshot keeps them
    _event("Killing", KILLED, T0 - 5, count=2),
    _event("Unhealthy", f"Liveness probe failed: {REFUSED}", T0 - 6, count=6),
]


def test_a_probe_is_read_with_the_api_servers_defaults_and_what_it_allows() -> None:
    (probe,) = probes_of({"livenessProbe": LIVENESS})
    assert (probe.kind, probe.handler) == ("liveness", "http-get http://:2269/health")
    assert (probe.period, probe.timeout, probe.failure_threshold) == (10, 1, 3)
    assert probe.allows == 60 and json.loads(probe.check) == {"httpGet": LIVENESS["httpGet"]}
    tcp, startup = probes_of(
        {
            "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 30},
            "startupProbe": {"exec": {"command": ["cat", "/tmp/up"]}, "failureThreshold": 60},
        }
    )
    assert (tcp.kind, tcp.handler, tcp.period) == ("readiness", "tcp-socket :http", 30)
    assert (startup.handler, startup.allows) == ("exec [cat /tmp/up]", 600)
    # A malformed value is the default, never a crash.
    (odd,) = probes_of({"livenessProbe": {"periodSeconds": "ten", "failureThreshold": -1}})
    assert (odd.handler, odd.period, odd.failure_threshold) == ("unknown", 10, 3)


def test_a_container_down_after_its_probe_killed_it_is_failed_with_what_the_probe_allows() -> None:
    info = _pod(BACKING_OFF, exitCode=137)
    info = dataclasses.replace(info, probe_kill=probe_kill(info, EVENTS))
    assert info.probe_kill is not None and info.probe_kill.kills == 2
    verdict = model_state(info, None, None, T0, 60.0)
    assert verdict.state is ModelState.FAILED, verdict
    assert verdict.evidence[0] == (
        "container lightning-asr was killed by its liveness probe (2 times): it allows a start "
        "about 60 s (initialDelaySeconds 30 + failureThreshold 3 * periodSeconds 10); the "
        f"probe's last failure: {REFUSED}"
    )
    # A crash of its own (exit 3) after an older kill is not the probe's doing.
    crashed = dataclasses.replace(info, containers=(_pod(BACKING_OFF, exitCode=3).containers))
    assert "probe" not in " ".join(model_state(crashed, None, None, T0, 60.0).evidence)
    # Without a Killing event, exit 137 is no probe's.
    assert probe_kill(info, EVENTS[1:]) is None


def _downloading(eta: float | None) -> DownloadProgress:
    return DownloadProgress(
        phase=DownloadPhase.DOWNLOADING,
        source="bundled",
        bytes_done=10 * 2**20,
        bytes_total=100 * 2**20,
        rate=2**20,
        eta_seconds=eta,
    )


def test_a_run_under_way_is_warned_before_the_probe_ends_it() -> None:
    info = _pod(RUNNING, exitCode=137)
    info = dataclasses.replace(info, probe_kill=probe_kill(info, EVENTS))
    # 20 s into the run: 40 s left of the 60 s the probe allows, the download needs 90.
    deadline = probe_deadline(info, _downloading(90.0), EVENTS, T0 + 20)
    assert deadline is not None and (deadline.left, deadline.needs) == (40.0, 90.0)
    assert deadline.said == (
        "container lightning-asr's liveness probe will end this run in about 40 s (it allows a "
        "start about 60 s: initialDelaySeconds 30 + failureThreshold 3 * periodSeconds 10), and "
        "the download needs about 90 s more; it was killed 2 times before"
    )
    assert probe_deadline(info, _downloading(30.0), EVENTS, T0 + 20) is None, "it will finish"
    assert "will end this run now" in str(probe_deadline(info, None, EVENTS, T0 + 90))


def test_without_a_kill_a_failure_in_this_run_is_what_warns() -> None:
    info = _pod(RUNNING)
    assert probe_deadline(info, _downloading(90.0), [], T0 + 20) is None, "it may answer"
    before = [_event("Unhealthy", f"Liveness probe failed: {REFUSED}", T0 - 1)]
    assert probe_deadline(info, _downloading(90.0), before, T0 + 20) is None, "another run's"
    now = [_event("Unhealthy", f"Liveness probe failed: {REFUSED}", T0 + 15)]
    deadline = probe_deadline(info, _downloading(90.0), now, T0 + 20)
    assert deadline is not None and deadline.said.endswith(
        f"; the probe fails while the model downloads: {REFUSED}"
    )
    # A readiness probe ends no run; a startup probe is the one that bounds the start.
    assert probe_deadline(_pod(RUNNING, {"readinessProbe": LIVENESS}), None, now, T0 + 20) is None
    both = _pod(
        RUNNING, {"livenessProbe": LIVENESS, "startupProbe": {**LIVENESS, "failureThreshold": 30}}
    )
    startup = [_event("Unhealthy", f"Startup probe failed: {REFUSED}", T0 + 15)]
    deadline = probe_deadline(both, _downloading(900.0), startup, T0 + 20)
    assert deadline is not None and (deadline.probe, deadline.left) == ("startup", 310.0)


def test_a_startup_probe_that_passed_bounds_no_start_any_more() -> None:
    """``status.started``: once the startup probe passed, the start it bounded is over; without
    a startup probe the kubelet says started at once, and liveness still bounds the start."""
    probes = {"livenessProbe": LIVENESS, "startupProbe": {**LIVENESS, "failureThreshold": 30}}
    failing = [_event("Unhealthy", f"Startup probe failed: {REFUSED}", T0 + 15)]
    waiting = _pod(RUNNING, probes, started=False)
    assert waiting.containers[0].start_limit is not None
    assert waiting.containers[0].start_limit.kind == "startup"
    passed = _pod(RUNNING, probes, started=True)
    assert passed.containers[0].started and passed.containers[0].start_limit is None
    assert probe_deadline(passed, _downloading(900.0), failing, T0 + 20) is None
    alone = _pod(RUNNING, {"livenessProbe": LIVENESS}, started=True)
    assert alone.containers[0].start_limit is not None
    assert alone.containers[0].start_limit.kind == "liveness"


def test_fix_refuses_and_gives_a_startup_probe_sized_to_the_download() -> None:
    info = _pod(BACKING_OFF, exitCode=137)
    info = dataclasses.replace(
        info,
        release="lightning-asr",
        # Down after the kill: its progress shows no rate; the kill keeps the one last seen.
        probe_kill=probe_kill(info, EVENTS, rate=2**20),
        progress=_downloading(None).stopped("killed"),
        model_state=ModelState.FAILED,
    )
    snap = ClusterSnapshot("ctx", "smallest", "https://api", T0, pods=(info,))
    assert diagnose(snap, info).kind == PROBE_KILLS
    plan = plan_fix(snap, info.name, ActionOptions())
    assert plan.decision == PROBE_KILLS and not plan.steps and plan.refused, plan.describe()
    said = plan.refused
    # 100 MiB at 1 MiB/s: 100 s; allowed: 100 s plus ten minutes, in periods of 10 s.
    assert "the whole download takes about 100 s, so allow about 12 min" in said, said
    assert "(the command below)." in said and "kubectl" not in said, said
    (command,) = plan.commands
    assert f"run by hand: {command}" in plan.describe().splitlines()
    assert plan_record(plan)["commands"] == [command]
    argv = shlex.split(command)
    assert argv[:7] == ["kubectl", "-n", "smallest", "patch", "deployment", "lightning-asr", "-p"]
    (container,) = json.loads(argv[7])["spec"]["template"]["spec"]["containers"]
    assert container == {
        "name": "lightning-asr",
        "startupProbe": {
            "httpGet": LIVENESS["httpGet"],
            "periodSeconds": 10,
            "failureThreshold": 70,
        },
    }
    assert "pre-warm the cache (key p)" in said


def test_a_download_of_unknown_size_is_allowed_what_its_cache_can_hold() -> None:
    """Lightning's own download logs no size; the claim (else the cache cap) bounds it."""
    info = _pod(BACKING_OFF, exitCode=137)
    unsized = dataclasses.replace(_downloading(None), bytes_total=None).stopped("killed")
    info = dataclasses.replace(
        info,
        release="lightning-asr",
        probe_kill=probe_kill(info, EVENTS, rate=2**20),
        progress=unsized,
        model_state=ModelState.FAILED,
        cache_claim="models-ebs-pvc",
    )
    usage = VolumeUsage("kubelet", 0, 600 * 2**20, 600 * 2**20)
    ebs = VolumeInfo("models-ebs-pvc", "pvc", usage=usage, quota_bytes=50 * 10**9)
    snap = ClusterSnapshot("ctx", "smallest", "https://api", T0, pods=(info,), volumes=(ebs,))
    said = plan_fix(snap, info.name, ActionOptions()).refused or ""
    # 600 MiB at 1 MiB/s at most: 10 min; allowed twice that (more than 10 min on top).
    assert (
        "its size is not known, but its cache holds 600.0 MiB at most: at the rate seen that "
        "takes about 10 min, so allow about 20 min" in said
    ), said
    # An elastic claim (EFS): its cache cap bounds it, said in the units it was written in.
    efs = dataclasses.replace(ebs, usage=VolumeUsage("df", 0, 2**63, 2**63))
    capped = dataclasses.replace(snap, volumes=(efs,))
    assert "its cache holds 50.0 GB at most" in (
        plan_fix(capped, info.name, ActionOptions()).refused or ""
    )
    # Neither known: the plain fallback.
    bare = dataclasses.replace(snap, volumes=())
    assert "its length is not known: allow, say, 30 min" in (
        plan_fix(bare, info.name, ActionOptions()).refused or ""
    )


def test_a_purge_says_the_pods_are_killed_by_their_probe_not_by_the_model() -> None:
    killed = builders.pod("asr-a", state=ModelState.FAILED, running=False)
    (c,) = killed.containers
    down = dataclasses.replace(c, reason="CrashLoopBackOff", exit_code=137)
    kill = ProbeKill(c.name, "liveness", 2, T0)
    killed = dataclasses.replace(killed, containers=(down,), probe_kill=kill)
    plan = plan_purge(builders.snapshot(killed, builders.pod("asr-b")), "asr-a", ActionOptions())
    assert plan.runnable, plan.describe()
    said = "killed by their liveness or startup probe before the model is ready, not by a bad model"
    assert any(w.startswith(f"{said}: asr-a;") for w in plan.warnings), plan.warnings
    # Killed long ago and serving now: nothing to warn of.
    serving = dataclasses.replace(builders.pod("asr-a"), probe_kill=kill)
    plan = plan_purge(builders.snapshot(serving, builders.pod("asr-b")), "asr-a", ActionOptions())
    assert plan.runnable and not any("probe" in w for w in plan.warnings), plan.warnings


def test_a_ready_server_its_readiness_probe_fails_says_why_it_is_not_ready() -> None:
    readiness = {"readinessProbe": {**LIVENESS, "periodSeconds": 30}}
    info = _pod(RUNNING, readiness)
    failing = [
        _event(
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            T0 + 40,
            3,
        )
    ]
    assert readiness_failure(info, failing) == "HTTP probe failed with statuscode: 503"
    assert readiness_failure(info, []) is None, "not probed yet: the first success is coming"
    earlier = [dataclasses.replace(failing[0], last_seen=T0 - 30)]
    assert readiness_failure(info, earlier) is None, "an earlier run's"
    assert readiness_failure(dataclasses.replace(info, ready=True), failing) is None
    # Refused while the model loaded, before the server said it is ready: the start, not a fault.
    loading = [_event("Unhealthy", f"Readiness probe failed: {REFUSED}", T0 + 40)]
    assert readiness_failure(info, loading, ready_at=T0 + 41) is None
    assert readiness_failure(info, [*failing, *loading], ready_at=T0 + 39) is not None
    cell = cause_cell(
        dataclasses.replace(
            info,
            model_state=ModelState.READY,
            unready_because="HTTP probe failed with statuscode: 503",
        ),
        60,
    )
    assert cell is not None and cell.plain == "not Ready: HTTP probe failed with statuscode: 503"
