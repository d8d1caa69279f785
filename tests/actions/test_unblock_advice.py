"""A refused fix of a pod that cannot start, was evicted or is killed for memory gives the
command that changes what it names (hand-made snapshots; the commands run against the simulator
in test_e2e_unblock.py): the Secret and its keys, the rollout to undo, the replica count, the
StorageClass to look for, the memory limit and the emptyDir's sizeLimit, each an estimate said
as one."""

from __future__ import annotations

import dataclasses
import json
import shlex
from typing import Any

from actions.fix import plan_fix
from actions.options import ActionOptions, PodFacts
from actions.sources import CONFIG_MAP, SECRET, SourceRef, sources_of
from collectors.model import (
    ContainerInfo,
    DownloadPhase,
    DownloadProgress,
    EventInfo,
    ModelState,
    PodInfo,
    RolloutInfo,
    StartBlocker,
    VolumeInfo,
)
from tests.actions.builders import pod, snapshot

OPTS = ActionOptions()
MiB = 2**20
GiB = 2**30
UNBOUND = (
    "not scheduled for 20 s: 0/3 nodes are available: pod has unbound immediate "
    "PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful "
    "for scheduling."
)


def blocked(kind: str, cause: str, settled: bool = True) -> PodInfo:
    return dataclasses.replace(
        pod("asr-a", state=ModelState.BLOCKED, running=False, evidence=(cause,)),
        blocker=StartBlocker(kind=kind, cause=cause, settled=settled),
    )


def test_the_secrets_a_pod_reads_and_their_keys_come_from_its_spec() -> None:
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "lightning-asr",
                "env": [
                    {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "t"}}},
                    {"name": "HF_TOKEN_FILE", "value": "/var/run/secrets/hf/token"},
                    {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "m"}}},
                ],
                "envFrom": [{"secretRef": {"name": "all"}}],
                "volumeMounts": [
                    {"name": "hf-vol", "mountPath": "/var/run/secrets/hf"},
                    {"name": "items-vol", "mountPath": "/etc/x"},
                ],
            }
        ],
        "volumes": [
            {"name": "hf-vol", "secret": {"secretName": "hf-file"}},
            {"name": "items-vol", "configMap": {"name": "x", "items": [{"key": "k", "path": "p"}]}},
        ],
    }
    assert sources_of(spec) == (
        SourceRef(SECRET, "hf", ("t",)),
        SourceRef(CONFIG_MAP, "cfg", ("m",)),
        SourceRef(SECRET, "all"),
        SourceRef(SECRET, "hf-file", ("token",)),
        SourceRef(CONFIG_MAP, "x", ("k",)),
    )


def test_a_missing_secret_is_created_with_the_keys_the_pod_reads_and_no_value() -> None:
    cause = (
        "container lightning-asr cannot be created (CreateContainerConfigError): "
        'secret "hf" not found'
    )
    facts = PodFacts("asr-a", sources=(SourceRef(SECRET, "hf", ("token", "user")),))
    plan = plan_fix(snapshot(blocked("config", cause)), "asr-a", OPTS, facts=facts)
    refusal = plan.refused or ""
    assert refusal.startswith("Create Secret hf in namespace smallest with keys token, user")
    assert "Put the real value in place of <value> before running it." in refusal
    (command,) = plan.commands
    assert shlex.split(command) == [
        "kubectl", "-n", "smallest", "create", "secret", "generic", "hf",
        "--from-literal=token=<value>", "--from-literal=user=<value>",
    ]  # fmt: skip
    # Without the pod's spec the key is not known: said as a placeholder too.
    plan = plan_fix(snapshot(blocked("config", cause)), "asr-a", OPTS)
    assert plan.commands == (
        "kubectl -n smallest create secret generic hf '--from-literal=<key>=<value>'",
    )


def test_a_missing_key_is_added_to_the_secret_that_exists() -> None:
    cause = (
        "container lightning-asr cannot be created (CreateContainerConfigError): couldn't find "
        "key token in Secret smallest/hf"
    )
    plan = plan_fix(snapshot(blocked("config", cause)), "asr-a", OPTS)
    assert (plan.refused or "").startswith("Add key token to Secret hf in namespace smallest")
    (command,) = plan.commands
    argv = shlex.split(command)
    assert argv[:6] == ["kubectl", "-n", "smallest", "patch", "secret", "hf"]
    assert json.loads(argv[-1]) == {"stringData": {"token": "<value>"}}


def test_an_image_a_rollout_brought_is_undone_by_a_command() -> None:
    cause = "container lightning-asr: image x:typo cannot be pulled (ErrImagePull: not found)"
    rollout = RolloutInfo("lightning-asr", 2, 1, 2, 2, revision="2")
    plan = plan_fix(snapshot(blocked("image", cause), rollouts=(rollout,)), "asr-a", OPTS)
    assert "is at revision 2: if its last rollout brought this image" in (plan.refused or "")
    assert plan.commands == ("kubectl -n smallest rollout undo deployment/lightning-asr",)
    first = dataclasses.replace(rollout, revision="1")  # nothing before it to go back to
    plan = plan_fix(snapshot(blocked("image", cause), rollouts=(first,)), "asr-a", OPTS)
    assert not plan.commands and "rollout undo" in (plan.refused or "")


def test_a_readwriteonce_volume_held_elsewhere_offers_one_replica() -> None:
    cause = (
        'volume cannot be attached: Multi-Attach error for volume "pvc-1" Volume is already used'
    )
    plan = plan_fix(snapshot(blocked("volume", cause)), "asr-a", OPTS)
    refusal = plan.refused or ""
    assert "Use a ReadWriteMany volume (EFS)" in refusal and "on one node" in refusal
    assert refusal.endswith("or scale it to one replica (the command below).")
    assert plan.commands == ("kubectl -n smallest scale deployment/lightning-asr --replicas=1",)


def test_an_unbound_claim_says_its_warning_and_the_storageclass_that_is_not_there() -> None:
    claim = VolumeInfo(
        "models-aws-efs-pvc", "pvc", phase="Pending", storage_class="sc2", pods=("asr-a",)
    )
    warning = EventInfo(
        "PersistentVolumeClaim", "models-aws-efs-pvc", "Warning", "ProvisioningFailed",
        'storageclass.storage.k8s.io "sc2" not found', 3, 1000.0,
    )  # fmt: skip
    older = dataclasses.replace(warning, message="something before", last_seen=900.0)
    waiting = blocked("schedule", UNBOUND, settled=False)
    snap = snapshot(waiting, volumes=(claim,), events=(older, warning))
    plan = plan_fix(snap, "asr-a", OPTS)
    # The evidence: the scheduler's words, one full stop, then the claim's latest warning.
    assert plan.summary == (
        "Evidence: not scheduled for 20 s: 0/3 nodes are available: pod has unbound immediate "
        "PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not "
        "helpful for scheduling; claim models-aws-efs-pvc: ProvisioningFailed: "
        'storageclass.storage.k8s.io "sc2" not found.'
    ), plan.summary
    refusal = plan.refused or ""
    # A class that does not exist does not pass by itself.
    assert refusal.startswith("Its claim asks for StorageClass sc2, which does not exist"), refusal
    assert "storageClassName cannot be changed" in refusal and "create StorageClass sc2" in refusal
    assert plan.commands == (
        "kubectl get storageclass",
        "kubectl -n smallest describe pvc models-aws-efs-pvc",
    )
    # Another warning: the claim's events, which may still pass.
    other = dataclasses.replace(warning, message="waiting for a volume to be created")
    plan = plan_fix(snapshot(waiting, volumes=(claim,), events=(other,)), "asr-a", OPTS)
    assert (plan.refused or "").startswith("This may still pass by itself")
    assert "see the claim's events" in (plan.refused or "")
    assert plan.commands == ("kubectl -n smallest describe pvc models-aws-efs-pvc",)


def _oom(limit: int | None, progress: DownloadProgress | None = None) -> PodInfo:
    killed = ContainerInfo(
        name="lightning-asr",
        init=False,
        image="smallest/lightning-asr:1",
        state="waiting",
        restarts=3,
        reason="CrashLoopBackOff",
        last_reason="OOMKilled",
        memory_limit=limit,
    )
    return dataclasses.replace(
        pod("asr-a", state=ModelState.FAILED, ready=False, progress=progress),
        containers=(killed,),
    )


def test_a_container_killed_for_memory_gets_a_limit_said_to_be_an_estimate() -> None:
    plan = plan_fix(snapshot(_oom(16 * GiB)), "asr-a", OPTS)
    assert plan.decision == "out-of-memory" and not plan.runnable
    refusal = plan.refused or ""
    assert "sets it to 32Gi, an estimate: twice the current limit of 16.0 GiB" in refusal
    assert "if it is killed again, raise it further" in refusal
    assert plan.commands == (
        "kubectl -n smallest set resources deployment/lightning-asr -c lightning-asr "
        "--limits=memory=32Gi",
    )
    # A model that needs more than twice the limit: its size plus half.
    size = int(25e9)
    done = DownloadProgress(DownloadPhase.DONE, "bundled", size, size)
    plan = plan_fix(snapshot(_oom(8 * GiB, done)), "asr-a", OPTS)
    assert "sets it to 35Gi, an estimate: the model's 23.3 GiB plus 50%" in (plan.refused or "")
    # No limit: the node ran out, and no limit to raise is known.
    assert not plan_fix(snapshot(_oom(None)), "asr-a", OPTS).commands


def test_an_eviction_over_the_emptydir_limit_says_sizes_in_words_and_the_patch() -> None:
    model = 256 * MiB
    evicted = dataclasses.replace(
        pod(
            "asr-a",
            state=ModelState.FAILED,
            running=False,
            kind="emptyDir",
            progress=DownloadProgress(DownloadPhase.DOWNLOADING, "bundled", 128 * MiB, model),
        ),
        phase="Failed",
        status_reason="Evicted",
        status_message='Usage of EmptyDir volume "models" exceeds the limit "134217728". ',
    )
    plan = plan_fix(snapshot(evicted), "asr-a", OPTS)
    assert plan.summary == (
        'Evidence: the pod was evicted: Usage of EmptyDir volume "models" exceeds the limit '
        '"134217728" (128.0 MiB).'
    ), plan.summary
    refusal = plan.refused or ""
    assert "sizeLimit of 128.0 MiB" in refusal and "(the model is 256.0 MiB)" in refusal
    assert "134217728" not in refusal and "sets it to 1Gi, an estimate" in refusal, refusal
    (command,) = plan.commands
    patch = json.loads(shlex.split(command)[-1])
    assert patch == {
        "spec": {
            "template": {
                "spec": {"volumes": [{"name": "models", "emptyDir": {"sizeLimit": "1Gi"}}]}
            }
        }
    }
