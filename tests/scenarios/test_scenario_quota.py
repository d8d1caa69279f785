"""quota-exceeded end to end, as the official client (and kubectl) see it: the v2 rollout's
surge pod is refused by the ResourceQuota, so no v2 pod exists and only the new ReplicaSet's
FailedCreate events and the ReplicaFailure condition say why; raising the quota lets the
rollout finish."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.polling import wait_until
from tests.scenarios.conftest import NS, World

ASR = "lightning-asr"
KUBECTL = shutil.which("kubectl")
REFUSED = re.compile(
    r'pods "lightning-asr-[a-z0-9]+-[a-z0-9]{5}" is forbidden: exceeded quota: compute, '
    r"requested: requests\.memory=128Mi, used: requests\.memory=288Mi, "
    r"limited: requests\.memory=300Mi"
)


def new_rs(w: World) -> Any:
    """The ReplicaSet of the v2 template, once the rollout has made it."""
    for rs in w.apps.list_namespaced_replica_set(NS, label_selector=f"app={ASR}").items:
        containers = rs.spec.template.spec.containers
        if containers[0].image.endswith(":v2"):
            return rs
    return None


def condition(obj: Any, kind: str) -> Any:
    return next((c for c in obj.status.conditions or [] if c.type == kind), None)


def stuck(w: World) -> Any:
    rs = new_rs(w)
    cond = rs and condition(rs, "ReplicaFailure")
    return cond and (rs, cond)


def test_the_rollout_is_refused_by_the_quota_until_it_is_raised(
    start: Callable[..., World],
) -> None:
    w = start("quota-exceeded")
    w.cluster.controllers.replicasets.max_create_backoff = 1.0  # a quick retry after the fix
    rs, cond = wait_until(lambda: stuck(w), 20, "the v2 ReplicaSet's ReplicaFailure")
    assert (cond.status, cond.reason) == ("True", "FailedCreate")
    assert REFUSED.fullmatch(cond.message), cond.message
    assert rs.spec.replicas == 1 and not rs.status.replicas  # wanted the surge pod, has none
    assert not [p for p in w.pods() if p.spec.containers[0].image.endswith(":v2")]
    assert len(w.ready()) == 2  # v1 keeps serving

    failed = [e for e in w.warnings("FailedCreate") if e.involved_object.name == rs.metadata.name]
    assert failed and all(e.source.component == "replicaset-controller" for e in failed)
    assert all(
        e.message.startswith("Error creating: ") and REFUSED.fullmatch(e.message[16:])
        for e in failed
    ), [e.message for e in failed]

    dep = wait_until(
        lambda: (
            (d := w.apps.read_namespaced_deployment(ASR, NS))
            and condition(d, "ReplicaFailure")
            and d
        ),
        5,
        "the Deployment's ReplicaFailure",
    )
    copied = condition(dep, "ReplicaFailure")
    assert (copied.status, copied.reason, copied.message) == ("True", "FailedCreate", cond.message)
    quota = w.core.read_namespaced_resource_quota("compute", NS)
    assert (quota.status.used, quota.status.hard) == (
        {"requests.memory": "288Mi"},
        {"requests.memory": "300Mi"},
    )

    # the deadline: shortened here (60 s in the scenario); nothing progresses, so it passes
    w.apps.patch_namespaced_deployment(ASR, NS, {"spec": {"progressDeadlineSeconds": 1}})

    def timed_out() -> Any:
        d = w.apps.read_namespaced_deployment(ASR, NS)
        c = condition(d, "Progressing")
        return c and c.reason == "ProgressDeadlineExceeded" and c

    progressing = wait_until(timed_out, 6, "ProgressDeadlineExceeded")
    assert progressing.status == "False"
    assert progressing.message == f'ReplicaSet "{rs.metadata.name}" has timed out progressing.'

    w.core.patch_namespaced_resource_quota(
        "compute", NS, {"spec": {"hard": {"requests.memory": "1Gi"}}}
    )

    def rolled_out() -> Any:
        d = w.apps.read_namespaced_deployment(ASR, NS)
        v2 = [p for p in w.ready() if p.spec.containers[0].image.endswith(":v2")]
        return len(v2) == 2 and len(w.pods()) == 2 and d

    done = wait_until(rolled_out, 25, "the v2 rollout after the quota was raised")
    assert condition(done, "ReplicaFailure") is None
    assert condition(new_rs(w), "ReplicaFailure") is None


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
def test_kubectl_shows_the_refusal(start: Callable[..., World]) -> None:
    w = start("quota-exceeded", tls=True)
    assert KUBECTL is not None

    def kubectl(*args: str) -> str:
        done = subprocess.run(
            [KUBECTL, f"--kubeconfig={w.kubeconfig}", "-n", NS, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    rs, _ = wait_until(lambda: stuck(w), 20, "the v2 ReplicaSet's ReplicaFailure")
    described = [line.split() for line in kubectl("describe", "deployment", ASR).splitlines()]
    assert ["ReplicaFailure", "True", "FailedCreate"] in described
    quota = [line.split() for line in kubectl("describe", "quota", "compute").splitlines()]
    assert ["requests.memory", "288Mi", "300Mi"] in quota
    row = kubectl("get", "rs", rs.metadata.name, "--no-headers").split()
    assert row[:4] == [rs.metadata.name, "1", "0", "0"]  # DESIRED CURRENT READY
    events = kubectl("get", "events", "--field-selector", "reason=FailedCreate")
    assert f"replicaset/{rs.metadata.name}" in events
    assert "Error creating: pods" in events and "exceeded quota: compute" in events
