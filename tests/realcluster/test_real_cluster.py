"""Read-only checks against a real cluster, run only when explicitly asked for.

    ASR_CACHE_TUI_REAL_KUBECONFIG=~/.kube/config [ASR_CACHE_TUI_REAL_CONTEXT=ctx]
    [ASR_CACHE_TUI_REAL_NAMESPACE=smallest] make test

Nothing here changes the cluster: ``status`` reads, and the action commands run with
``--dry-run``. No real cluster can run on the machines this project is built on, so these are
skipped there; the same code paths are exercised against simcluster by the rest of the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KUBECONFIG = os.environ.get("ASR_CACHE_TUI_REAL_KUBECONFIG")

pytestmark = [
    pytest.mark.realcluster,
    pytest.mark.skipif(
        not KUBECONFIG,
        reason="set ASR_CACHE_TUI_REAL_KUBECONFIG to run the read-only real-cluster checks",
    ),
]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--kubeconfig", str(Path(KUBECONFIG or "").expanduser())]
    if context := os.environ.get("ASR_CACHE_TUI_REAL_CONTEXT"):
        flags += ["--context", context]
    if namespace := os.environ.get("ASR_CACHE_TUI_REAL_NAMESPACE"):
        flags += ["-n", namespace]
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args, *flags],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_json_reads_the_real_cluster() -> None:
    result = _cli("status", "-o", "json")
    assert result.returncode in (0, 1), result.stderr
    doc = json.loads(result.stdout)
    assert doc["namespace"] and doc["stale"] is False
    for pod in doc["pods"]:
        assert pod["model_state"] in {
            "pending",
            "waiting",
            "downloading",
            "stalled",
            "verifying",
            "ready",
            "corrupt",
            "failed",
            "unknown",
        }
        url = (pod.get("model") or {}).get("url") or ""
        assert "X-Amz-Signature=" not in url or "REDACTED" in url


def test_action_plans_are_dry_runs_that_change_nothing() -> None:
    status = json.loads(_cli("status", "-o", "json").stdout)
    if not status["pods"]:
        pytest.skip("no ASR pods in the namespace")
    pod = status["pods"][0]["name"]
    result = _cli("restart", pod, "--dry-run", "-o", "json")
    assert result.returncode in (0, 3, 4), result.stderr
    after = json.loads(_cli("status", "-o", "json").stdout)
    assert pod in {p["name"] for p in after["pods"]}
