"""Probes through the live feed, on the simulator's probe scenarios: a download the liveness
probe kills, seen down and between kills; fix's startup probe, applied with kubectl as a
person would copy it, ends the loop; a loaded server its readiness probe fails says why."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable

from actions.fix import PROBE_KILLS, plan_fix
from actions.options import ActionOptions
from collectors.model import ClusterSnapshot, ModelState, PodInfo
from collectors.report import attention
from simcluster.faultcli import fault_main
from tests.collectors.conftest import Recorder
from tests.scenarios.conftest import NS, World

KiB = 1024
ASR = "lightning-asr"


def _probed(s: ClusterSnapshot) -> PodInfo | None:
    return next((p for p in s.pods if p.probe_kill is not None), None)


def _down(s: ClusterSnapshot) -> bool:
    pod = _probed(s)
    return pod is not None and pod.model_state is ModelState.FAILED


def _doomed(s: ClusterSnapshot) -> bool:
    pod = _probed(s)
    return pod is not None and pod.probe_deadline is not None


def _apply(w: World, command: str) -> None:
    """Run fix's advice: with kubectl when it is here, as given; else the same patch through
    the official client (a strategic merge, as kubectl's default)."""
    argv = shlex.split(command)
    if shutil.which("kubectl") is not None and w.kubeconfig.exists():
        env = {**os.environ, "KUBECONFIG": str(w.kubeconfig)}
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert "deployment.apps/lightning-asr patched" in done.stdout, done.stdout
        return
    w.apps.patch_namespaced_deployment(argv[5], NS, json.loads(argv[7]))


def test_a_probe_killed_download_is_failed_then_warned_and_fix_gives_what_ends_it(
    start: Callable[..., World], start_feed: Callable[..., tuple[object, Recorder]]
) -> None:
    # 4 MiB over one 640 KiB/s connection: about 6.4 s; the liveness probe kills at about 5 s.
    w = start("liveness-kills-download", speed=640 * KiB, tls=True)
    _feed, rec = start_feed(w.cluster, refresh=1)
    down = rec.wait(_down, 30, "the pod down after its liveness probe killed it")
    pod = _probed(down)
    assert pod is not None and pod.probe_kill is not None
    assert pod.probe_kill.probe == "liveness" and pod.probe_kill.spec is not None
    assert pod.evidence[0].startswith(
        "container lightning-asr was killed by its liveness probe ("
    ), pod.evidence
    assert (
        "it allows a start about 5 s (initialDelaySeconds 2 + failureThreshold 3 * "
        in (pod.evidence[0])
    )
    assert "connect: connection refused" in pod.evidence[0]
    # Its next run downloads again, and is told when the probe will end it.
    doomed = rec.wait(_doomed, 30, "the next run warned before the probe ends it")
    pod = _probed(doomed)
    assert pod is not None and pod.probe_deadline is not None
    assert pod.evidence[0] == pod.probe_deadline.said
    assert "liveness probe will end this run" in pod.evidence[0], pod.evidence

    plan = plan_fix(down, _probed(down).name, ActionOptions())  # type: ignore[union-attr]
    assert plan.decision == PROBE_KILLS and not plan.steps, plan.describe()
    # Down, its progress has no rate now; the advice sizes the probe by the rate last seen.
    assert "at the rate seen the whole download takes about " in (plan.refused or "")
    (command,) = plan.commands
    probe = json.loads(shlex.split(command)[7])["spec"]["template"]["spec"]["containers"][0]
    assert probe["startupProbe"]["httpGet"] == {"path": "/health", "port": 2269, "scheme": "HTTP"}
    _apply(w, command)
    # The rollout's pod has room for its download: it serves, and no probe is said to kill it.
    served = rec.wait(
        lambda s: len(s.pods) == 1 and s.pods[0].ready and s.pods[0].name != pod.name,
        60,
        "the patched pod serving",
    )
    (fixed,) = served.pods
    assert fixed.model_state is ModelState.READY and fixed.probe_kill is None
    assert fixed.probe_deadline is None and fixed.unready_because is None
    # Liveness waited for the startup probe: only it failed, while the model downloaded.
    failed = {
        e.message.split(":")[0]
        for e in served.events
        if e.object_name == fixed.name and e.reason == "Unhealthy"
    }
    assert failed <= {"Startup probe failed", "Readiness probe failed"}, failed


def test_a_loaded_server_its_readiness_probe_fails_says_why_until_it_answers(
    start: Callable[..., World], start_feed: Callable[..., tuple[object, Recorder]]
) -> None:
    w = start("readiness-failing")
    _feed, rec = start_feed(w.cluster, refresh=1)
    snap = rec.wait(
        lambda s: any(p.unready_because for p in s.pods), 30, "a ready server not Ready"
    )
    (pod,) = snap.pods
    assert pod.model_state is ModelState.READY and not pod.ready
    assert pod.unready_because == "HTTP probe failed with statuscode: 503"
    said = "not Ready: its readiness probe fails: HTTP probe failed with statuscode: 503"
    assert said in pod.evidence, pod.evidence
    assert f"pod {pod.name}: {said}" in attention(snap)
    argv = ["--kubeconfig", str(w.kubeconfig), "health", f"deployment/{ASR}", "--clear"]
    assert fault_main(argv) == 0
    rec.wait(
        lambda s: len(s.pods) == 1 and s.pods[0].ready and s.pods[0].unready_because is None,
        30,
        "Ready once the health endpoint answers",
    )
