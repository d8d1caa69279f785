"""oom-on-load: the model downloads and verifies, every start is OOMKilled while loading it,
and raising the memory limit lets the new pods load the cached model and serve."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.polling import wait_until
from tests.scenarios.conftest import MODEL, NS, World

LOADING = b"INFO: Loading model into GPU memory...\n"


def oom_looping(w: World) -> list[Any]:
    """The lightning-asr containers in back-off after being OOMKilled at least twice."""
    out = []
    for p in w.pods():
        for c in p.status.container_statuses or []:
            last = c.last_state.terminated
            waiting = c.state.waiting
            if (
                c.restart_count >= 1
                and waiting is not None
                and waiting.reason == "CrashLoopBackOff"
                and last is not None
                and (last.reason, last.exit_code) == ("OOMKilled", 137)
            ):
                out.append(c)
    return out


def killed_while_loading(w: World) -> int:
    """How many pods in back-off show a log (the instance just killed) that found the model in
    the cache and stops at the loading line."""
    count = 0
    for p in w.pods():
        (c,) = p.status.container_statuses or [None]
        if c is None or c.state.waiting is None:
            continue  # running again: its log is a new instance's
        log = w.log(p.metadata.name)
        found = b"INFO: Model found in cache: /app/models/v1/model.bin\n" in log
        if found and log.endswith(LOADING) and b"Server ready" not in log:
            count += 1
    return count


def serving_from_cache(w: World, requests: int) -> bool:
    """Two new pods serve the model they found on the claim; nothing was fetched again."""
    ready = w.ready()
    return (
        len(ready) == 2
        and len(w.pods()) == 2
        and all(b"INFO: Model found in cache" in w.log(p.metadata.name) for p in ready)
        and w.stats("v1").requests == requests
    )


def test_every_start_is_oomkilled_until_the_limit_is_raised(start: Callable[..., World]) -> None:
    w = start("oom-on-load")
    wait_until(lambda: len(oom_looping(w)) == 2, 10, "both pods OOMKilled twice")
    assert not w.ready()
    # The model on the claim is good: downloaded once, verified, found by every later start.
    cached = w.claim_dir("models-aws-efs-pvc") / "v1" / "model.bin"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == w.runtime.models["v1"].sha256
    deploy = w.apps.read_namespaced_deployment("lightning-asr", NS)
    limit = deploy.spec.template.spec.containers[0].resources.limits["memory"]
    assert int(limit) == MODEL // 2
    wait_until(lambda: killed_while_loading(w) == 2, 5, "the killed instances' logs")
    assert len(w.warnings("BackOff")) >= 2
    requests = w.stats("v1").requests  # the one download, split in ranges

    def raise_limit(memory: int) -> None:
        path = "/spec/template/spec/containers/0/resources/limits/memory"
        w.apps.patch_namespaced_deployment(
            "lightning-asr", NS, [{"op": "replace", "path": path, "value": str(memory)}]
        )

    # A limit of the model's exact size is not enough: loading takes a quarter more.
    raise_limit(MODEL)

    def new_pod_oomkilled() -> bool:
        return any(
            c.last_state.terminated is not None
            for p in w.pods()
            for c in p.status.container_statuses or []
            if p.spec.containers[0].resources.limits["memory"] == str(MODEL)
        )

    wait_until(new_pod_oomkilled, 10, "a pod with the model's size as its limit OOMKilled")
    raise_limit(2 * MODEL)
    wait_until(lambda: serving_from_cache(w, requests), 15, "two new pods serving")
    for p in w.ready():
        assert p.spec.containers[0].resources.requests["memory"] == str(2 * MODEL)
        assert p.status.container_statuses[0].restart_count == 0


@pytest.mark.kubectl
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_set_resources_ends_the_crash_loop(start: Callable[..., World]) -> None:
    w = start("oom-on-load", tls=True)  # kubectl sends its token only over https
    wait_until(lambda: len(oom_looping(w)) == 2, 10, "both pods OOMKilled twice")
    requests = w.stats("v1").requests

    def kubectl(*args: str) -> str:
        argv = ["kubectl", f"--kubeconfig={w.kubeconfig}", "-n", NS, *args]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        assert r.returncode == 0, r.stderr
        return r.stdout

    limit = f"{2 * MODEL // (1024 * 1024)}Mi"
    out = kubectl(
        "set",
        "resources",
        "deployment",
        "lightning-asr",
        "-c",
        "lightning-asr",
        f"--limits=memory={limit}",
    )
    assert "resource requirements updated" in out
    out = kubectl("rollout", "status", "deployment/lightning-asr", "--timeout=15s")
    assert "successfully rolled out" in out
    wait_until(lambda: serving_from_cache(w, requests), 10, "two new pods serving")
    for p in w.ready():
        assert p.spec.containers[0].resources.limits["memory"] == limit
