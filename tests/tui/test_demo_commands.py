"""``--demo SCENARIO`` works for the subcommands too: they run on the embedded simulated
cluster, as the dashboard does, and it is stopped when they end."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_status_on_a_demo_scenario_prints_its_pods(tmp_path: Path) -> None:
    """The real command, as a user types it (no kubeconfig anywhere: it must not need one)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--demo", "stalled-download", "status", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: something needs attention
    assert "no kubeconfig" not in done.stderr
    doc = json.loads(done.stdout)
    assert doc["namespace"] == "smallest" and doc["context"] == "simcluster-admin"
    names = [p["name"] for p in doc["pods"]]
    assert names and all(n.startswith("lightning-asr-") for n in names), names


def test_an_action_runs_on_the_demo_cluster_and_the_cluster_stops_after(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = set(threading.enumerate())
    code = main(["--demo", "stalled-download", "restart", "deployment/lightning-asr", "--dry-run"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "deployment/lightning-asr" in out.out and "no kubeconfig" not in out.err
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, left  # the simulator's loop, kubelets and model server are stopped


def test_an_unknown_demo_scenario_is_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo", "no-such-scenario", "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("asr-cache-tui --demo: scenario 'no-such-scenario' cannot start: ")
