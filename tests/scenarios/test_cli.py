"""`asr-cache-sim` as a user runs it: --list, replay, and the kubectl walk-through."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.polling import wait_until
from tests.scenarios.conftest import NS

KUBECTL = shutil.which("kubectl")
SCRIPT = Path(sys.executable).parent / "asr-cache-sim"
RECORDED = (
    b"INFO: Downloading model from URL...\r\n"
    b"\x1b[33mWARNING: Download attempt 1 failed: Connection timeout\x1b[0m\r\n"
    b"Completed 1.0 MiB/2.0 MiB (1.0 MiB/s) with 1 file(s) remaining\r"
    b"Completed 2.0 MiB/2.0 MiB (1.0 MiB/s) with 1 file(s) remaining\r"
    b"ERROR: Download failed after 3 attempts\n"
)


def sim_command() -> list[str]:
    return [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "simcluster.cli"]


@contextmanager
def running_sim(*args: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Start asr-cache-sim, wait for its kubectl hint, stop it with SIGINT afterwards."""
    proc = subprocess.Popen(
        [*sim_command(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        while not any(line.startswith("Faults:") for line in seen):
            try:
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"asr-cache-sim did not start: {''.join(seen)}") from None
            if proc.poll() is not None and lines.empty():
                raise AssertionError(f"asr-cache-sim exited: {''.join(seen)}")
        yield proc, seen
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_list_prints_one_line_per_scenario() -> None:
    r = subprocess.run([*sim_command(), "--list"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 23
    assert lines[0].split()[0] == "baked-image"
    # The descriptions start in one column, however long a name is.
    starts = {len(line) - len(line.split(maxsplit=1)[1]) for line in lines}
    assert len(starts) == 1, r.stdout


def test_bad_arguments_say_so_in_one_line() -> None:
    r = subprocess.run(
        [*sim_command(), "--model-size", "huge"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert (
        r.stderr
        == "asr-cache-sim: argument --model-size: not a size: 'huge' (e.g. 256MiB or 1GB)\n"
    )


def test_a_node_monitor_grace_that_is_no_duration_is_refused() -> None:
    r = subprocess.run(
        [*sim_command(), "--node-monitor-grace", "0"], capture_output=True, text=True, timeout=60
    )
    assert (r.returncode, r.stderr) == (
        2,
        "asr-cache-sim: argument --node-monitor-grace: a grace is more than 0 and at most "
        "3600 seconds, got '0'\n",
    )


def test_node_monitor_grace_says_how_soon_a_silent_node_turns_not_ready(tmp_path: Path) -> None:
    """Outside a scenario's own grace a node-down shows after 50 s, as on 1.32; the flag
    makes it seconds (and wins over a scenario's)."""
    kc = tmp_path / "kubeconfig"
    args = ["--scenario", "emptydir", "--model-size", "1MiB", "--node-monitor-grace", "1"]
    with running_sim(*args, "--kubeconfig", str(kc)):
        down = subprocess.run(
            [*sim_command(), "fault", "--kubeconfig", str(kc), "node-down", "node-2"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert down.returncode == 0, down.stderr
        assert down.stdout.rstrip().endswith("; NotReady after 1 s)"), down.stdout
        api = config.new_client_from_config(str(kc))
        try:
            core = client.CoreV1Api(api)

            def ready() -> str:
                conds = core.read_node("node-2").status.conditions
                return next(c.status for c in conds if c.type == "Ready")

            wait_until(lambda: ready() == "Unknown", 10, "node-2 Unknown after its 1 s grace")
        finally:
            api.close()


def test_the_flags_grace_wins_over_the_scenarios_own(tmp_path: Path) -> None:
    from simcluster.cluster import SimCluster
    from simcluster.scenarios.runner import ScenarioOptions, start_scenario

    graces = []
    for n, flag in enumerate((None, 2.0)):
        with SimCluster.run_in_thread(tmp_path / f"c{n}", nodes=0) as cluster:
            options = ScenarioOptions(model_size=2**20, node_monitor_grace=flag)
            start_scenario(cluster, "node-lost", options)
            graces.append((cluster.node_monitor_grace, cluster.controllers.nodes.grace))
    assert graces == [(5.0, 5.0), (2.0, 2.0)]  # node-lost's own is 5 s


def test_replay_plays_a_recorded_log_into_a_pod(tmp_path: Path) -> None:
    log = tmp_path / "user-report.log"
    log.write_bytes(RECORDED)
    kc = tmp_path / "kubeconfig"
    with running_sim("replay", str(log), "--exit-code", "3", "--kubeconfig", str(kc)) as (
        proc,
        out,
    ):
        assert f"  export KUBECONFIG={kc}\n" in out
        api = config.new_client_from_config(str(kc))
        core = client.CoreV1Api(api)
        pod = wait_until(
            lambda: (
                (p := core.read_namespaced_pod("lightning-asr-replay", NS)).status.phase == "Failed"
                and p
            ),
            20,
            "the replay pod to finish",
        )
        assert pod.metadata.labels["app"] == "lightning-asr"
        assert pod.status.container_statuses[0].state.terminated.exit_code == 3
        data = core.read_namespaced_pod_log("lightning-asr-replay", NS, _preload_content=False).data
        assert bytes(data) == RECORDED  # \r, CRLF and escape codes exactly as recorded
        api.close()
    assert proc.returncode == 0
    assert not kc.exists()  # the kubeconfig went with the cluster


def test_replay_follows_a_timing_file_next_to_the_log(tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    log.write_bytes(b"first\n" + b"second\n")
    (tmp_path / "slow.log.timing").write_text("0.0 6\n1.5 7\n")
    kc = tmp_path / "kubeconfig"
    with running_sim("replay", str(log), "--kubeconfig", str(kc)):
        api = config.new_client_from_config(str(kc))
        core = client.CoreV1Api(api)

        def log_now() -> bytes:
            try:
                return bytes(
                    core.read_namespaced_pod_log(
                        "lightning-asr-replay", NS, _preload_content=False
                    ).data
                )
            except client.exceptions.ApiException:
                return b""

        wait_until(lambda: log_now() == b"first\n", 10, "the first recorded write")
        wait_until(lambda: log_now() == b"first\nsecond\n", 10, "the second write, 1.5 s later")
        pod = wait_until(
            lambda: (
                (p := core.read_namespaced_pod("lightning-asr-replay", NS)).status.phase
                == "Succeeded"
                and p
            ),
            10,
        )
        assert pod.status.container_statuses[0].state.terminated.exit_code == 0
        api.close()


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
def test_kubectl_walkthrough_on_efs_shared(tmp_path: Path) -> None:
    kc = tmp_path / "kubeconfig"
    args = ["--scenario", "efs-shared", "--model-size", "4MiB", "--speed", "1MiB/s"]
    with running_sim(*args, "--kubeconfig", str(kc)) as (_proc, out):
        assert "  kubectl get pods -n smallest\n" in out
        assert "  kubectl logs -f -l app=lightning-asr -n smallest\n" in out
        env = {**os.environ, "KUBECONFIG": str(kc)}
        assert KUBECTL is not None

        def get_pods() -> str:
            r = subprocess.run(
                [KUBECTL, "get", "pods", "-n", "smallest"],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert r.returncode == 0, r.stderr
            return r.stdout

        def four_ready() -> str:
            text = get_pods()
            rows = [ln.split() for ln in text.splitlines() if ln.startswith("lightning-asr-")]
            return (
                text if len(rows) == 4 and all(r[1:3] == ["1/1", "Running"] for r in rows) else ""
            )

        text = wait_until(four_ready, 30, "kubectl to show four ready lightning-asr pods")
        assert text.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert sum(line.startswith("lightning-asr-") for line in text.splitlines()) == 4
        follow = subprocess.Popen(
            [KUBECTL, "logs", "-f", "-l", "app=lightning-asr", "-n", "smallest"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Read until all four pods' logs are in (kubectl opens one stream per pod), rather
        # than for a fixed 3 s: a loaded machine may take longer to start kubectl.
        followed: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            assert follow.stdout is not None
            for line in follow.stdout:
                followed.put(line)

        threading.Thread(target=pump, daemon=True).start()
        got: list[str] = []

        def all_in() -> bool:
            while not followed.empty():
                got.append(followed.get())
            logs = "".join(got)
            return logs.count("INFO: Server ready on port 2269") >= 4 and '"event": "done"' in logs

        try:
            wait_until(all_in, 30, "kubectl logs -f to show the four pods' logs")
        finally:
            follow.terminate()
            follow.wait(10)
            assert follow.stderr is not None
            follow.stderr.close()
