"""The probe scenarios, as the official client sees them: liveness-kills-download (killed mid
download, over and over, each run starting over) and readiness-failing (up and serving, but 0/1
while its health endpoint answers 503)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from simcluster.faultcli import fault_main
from simcluster.scenarios.loader import ScenarioError, parse_scenario
from tests.polling import wait_until
from tests.scenarios.conftest import NS, World

KiB = 1024
ASR = "lightning-asr"


def container(w: World) -> Any:
    pods = w.pods()
    if len(pods) != 1 or not pods[0].status.container_statuses:
        return None
    return pods[0], pods[0].status.container_statuses[0]


def event_counts(w: World, pod: str) -> dict[tuple[str, str], int]:
    items = w.core.list_namespaced_event(NS, field_selector=f"involvedObject.name={pod}").items
    return {(e.reason, e.message): e.count for e in items}


def start_lines(log: bytes) -> list[dict[str, Any]]:
    out = []
    for line in log.decode().splitlines():
        if line.startswith("{") and '"start"' in line:
            out.append(json.loads(line))
    return out


def test_liveness_kills_the_download_and_the_next_run_starts_over(
    start: Callable[..., World],
) -> None:
    # 4 MiB over one 640 KiB/s connection: about 6.4 s; liveness kills at about 5 s
    w = start("liveness-kills-download", speed=640 * KiB)

    def killed() -> Any:
        found = container(w)
        return found and found[1].restart_count >= 1 and found

    pod, cs = wait_until(killed, 12, "the first liveness kill")
    name = pod.metadata.name
    assert (cs.last_state.terminated.exit_code, cs.last_state.terminated.reason) == (137, "Error")
    seen = event_counts(w, name)
    assert seen[("Killing", f"Container {ASR} failed liveness probe, will be restarted")] >= 1
    ip = pod.status.pod_ip
    refused = f'Get "http://{ip}:2269/health": dial tcp {ip}:2269: connect: connection refused'
    assert seen[("Unhealthy", f"Liveness probe failed: {refused}")] >= 3

    previous = w.log(name, previous=True)
    assert b"INFO: Downloading model from URL..." in previous
    assert b"Model downloaded" not in previous and b'"event": "progress"' in previous
    # The next run starts the download over (MODEL_DOWNLOAD_RESUME is off).
    starts = wait_until(lambda: start_lines(w.log(name)), 5, "the next run's download")
    assert starts[0]["resumed_from"] == 0

    # The fix, a startup probe with room for the download, is applied with kubectl (as fix
    # gives it) in tests/collectors/test_probes_sim.py.


def test_readiness_failing_keeps_a_serving_pod_unready_until_health_recovers(
    start: Callable[..., World], capsys: pytest.CaptureFixture[str]
) -> None:
    w = start("readiness-failing")
    message = "Readiness probe failed: HTTP probe failed with statuscode: 503"

    def failing() -> Any:
        found = container(w)
        if not found:
            return None
        counts = event_counts(w, found[0].metadata.name)
        return counts.get(("Unhealthy", message), 0) >= 2 and found

    pod, cs = wait_until(failing, 15, "503 readiness failures")
    assert (cs.ready, cs.started, cs.restart_count) == (False, True, 0)
    assert cs.state.running is not None
    assert w.log(pod.metadata.name).endswith(b"INFO: Server ready on port 2269\n")
    conds = {c.type: c for c in pod.status.conditions}
    assert (conds["Ready"].status, conds["Ready"].reason) == ("False", "ContainersNotReady")
    assert w.ready() == []

    argv = ["--kubeconfig", str(w.kubeconfig), "health", "deployment/lightning-asr", "--clear"]
    assert fault_main(argv) == 0
    assert capsys.readouterr().out == f"health of deployment {NS}/lightning-asr answers 200 again\n"
    wait_until(lambda: len(w.ready()) == 1, 10, "the pod ready once /health answers 200")
    assert container(w)[1].restart_count == 0


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("{deployment: a, pod: b, status: 503}", "exactly one of: deployment, pod"),
        ("{deployment: a, status: 99}", "status must be between 100 and 599, got 99"),
        ("{deployment: a}", "a health entry needs a 'status' field"),
        ("{service: a, status: 503}", "unknown field 'service' in a health entry"),
    ],
)
def test_a_bad_health_entry_names_its_line(entry: str, why: str, tmp_path: Path) -> None:
    text = f"name: h\ndescription: d\nhealth:\n  - {entry}\n"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "h.yaml")
    assert info.value.line == 4 and why in info.value.why
