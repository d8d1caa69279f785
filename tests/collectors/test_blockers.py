"""Why a pod cannot start, from pod objects and events as the API gives them."""

from __future__ import annotations

import dataclasses

from collectors.blockers import start_blocker
from collectors.model import (
    ClusterSnapshot,
    DownloadPhase,
    EventInfo,
    ModelState,
    PodInfo,
    StartBlocker,
)
from collectors.pods import pod_info
from collectors.progress import ProgressTracker
from collectors.report import attention
from collectors.state import model_state
from tests.collectors.podfactory import make_pod, waiting

GRACE = 60.0
IMAGE = "smallest/lightning-asr:v2.0-typo"
PULL_ANSWER = (
    f'Failed to pull image "{IMAGE}": rpc error: code = NotFound desc = failed to pull and '
    f'unpack image "docker.io/{IMAGE}": not found'
)
MULTI_ATTACH = (
    'Multi-Attach error for volume "pvc-1234" Volume is already used by pod(s) lightning-asr-old'
)
UNBOUND = (
    "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: "
    "0/3 nodes are available: 3 Preemption is not helpful for scheduling."
)


def _event(reason: str, message: str, at: float, kind: str = "Pod", name: str = "") -> EventInfo:
    return EventInfo(kind, name or "lightning-asr-abc", "Warning", reason, message, 1, at)


def _pending(**kw: object) -> PodInfo:
    containers = [{"name": "lightning-asr", "image": IMAGE}]
    pod = make_pod(phase="Pending", containers=containers, **kw)  # type: ignore[arg-type]
    return pod_info(pod)


def _unscheduled(message: str, since: str = "2026-11-27T10:00:05Z") -> PodInfo:
    pod = make_pod(node=None, phase="Pending", statuses=[])
    pod["status"]["conditions"] = [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastTransitionTime": since,
        }
    ]
    return pod_info(pod)


def _state(info: PodInfo, blocker: StartBlocker | None, now: float) -> tuple[ModelState, str]:
    verdict = model_state(info, None, None, now, GRACE, blocker=blocker)
    return verdict.state, verdict.evidence[0]


def test_image_that_cannot_be_pulled_blocks_at_once_with_the_registrys_answer() -> None:
    info = _pending(
        statuses=[
            waiting(
                "lightning-asr", "ImagePullBackOff", message=f'Back-off pulling image "{IMAGE}"'
            )
        ]
    )
    t0 = info.created_at
    b = start_blocker(info, [_event("Failed", PULL_ANSWER, t0 + 3)], [], t0 + 5, GRACE)
    assert b is not None and b.kind == "image" and b.settled
    assert b.cause == (
        f"container lightning-asr: image {IMAGE} cannot be pulled "
        f'(ImagePullBackOff: Back-off pulling image "{IMAGE}")'
    )
    assert b.details == (PULL_ANSWER,)
    state, first = _state(info, b, t0 + 5)
    assert (state, first) == (ModelState.BLOCKED, b.cause)


def test_another_images_pull_failure_is_not_quoted() -> None:
    info = _pending(statuses=[waiting("lightning-asr", "ErrImagePull")])
    other = _event("Failed", 'Failed to pull image "busybox:nope": not found', info.created_at)
    b = start_blocker(info, [other], [], info.created_at + 1, GRACE)
    assert b is not None and b.details == () and b.cause.endswith("(ErrImagePull)")


def test_missing_secret_blocks_an_init_container_too() -> None:
    pod = make_pod(
        phase="Pending",
        init_containers=[{"name": "fetch", "image": "asr-cache-download:0.1"}],
        init_statuses=[
            waiting("fetch", "CreateContainerConfigError", message='secret "hf-token" not found')
        ],
        statuses=[waiting("lightning-asr", "PodInitializing")],
    )
    info = pod_info(pod)
    b = start_blocker(info, [], [], info.created_at + 1, GRACE)
    assert b == StartBlocker(
        kind="config",
        cause="init container fetch cannot be created (CreateContainerConfigError): secret "
        '"hf-token" not found',
        gist='secret "hf-token" not found',
        settled=True,
    )
    assert _attention_line(info, b) == f"pod lightning-asr-abc: blocked: {b.cause}"


def _attention_line(info: PodInfo, b: StartBlocker) -> str:
    verdict = model_state(info, None, None, info.created_at + 1, GRACE, blocker=b)
    pod = dataclasses.replace(info, model_state=verdict.state, evidence=verdict.evidence)
    lines = attention(ClusterSnapshot("ctx", "smallest", "https://api", 0.0, pods=(pod,)))
    return lines[0]


def test_unscheduled_is_pending_with_its_cause_then_blocked_after_the_grace() -> None:
    info = _unscheduled(UNBOUND)
    since = info.unscheduled_since
    assert since is not None and info.unscheduled == UNBOUND
    claim = _event(
        "ProvisioningFailed",
        'storageclass.storage.k8s.io "models-aws-efs-sc2" not found',
        since,
        kind="PersistentVolumeClaim",
        name="models-aws-efs-pvc",
    )
    early = start_blocker(info, [], [claim], since + 10, GRACE)
    assert early is not None and not early.settled
    assert early.cause == f"not scheduled for 10 s: {UNBOUND}"
    assert early.details == (
        'models-aws-efs-pvc: ProvisioningFailed: storageclass.storage.k8s.io "models-aws-efs-sc2"'
        " not found",
    )
    assert _state(info, early, since + 10) == (ModelState.PENDING, early.cause)
    late = start_blocker(info, [], [claim], since + 300, GRACE)
    assert late is not None and late.settled and late.cause.startswith("not scheduled for 5 min:")
    assert _state(info, late, since + 300) == (ModelState.BLOCKED, late.cause)


def test_multi_attach_blocks_at_once_and_outranks_the_mount_time_out() -> None:
    info = _pending(statuses=[waiting("lightning-asr", "ContainerCreating")])
    t0 = info.created_at
    timed_out = _event(
        "FailedMount",
        "Unable to attach or mount volumes: unmounted volumes=[models], unattached "
        "volumes=[models]: timed out waiting for the condition",
        t0 + 125,
    )
    attach = _event("FailedAttachVolume", MULTI_ATTACH, t0 + 2)
    b = start_blocker(info, [timed_out, attach], [], t0 + 130, GRACE)
    assert b is not None and b.kind == "volume" and b.settled
    assert b.cause == f"volume cannot be attached: {MULTI_ATTACH}"
    early = start_blocker(info, [attach], [], t0 + 3, GRACE)
    assert early is not None and early.settled


def test_a_mount_failure_waits_for_the_grace() -> None:
    info = _pending(statuses=[waiting("lightning-asr", "ContainerCreating")])
    t0 = info.created_at
    failed = _event("FailedMount", 'MountVolume.SetUp failed for volume "models": timeout', t0)
    early = start_blocker(info, [failed], [], t0 + 20, GRACE)
    assert early is not None and not early.settled
    assert _state(info, early, t0 + 20)[0] is ModelState.PENDING
    late = start_blocker(info, [failed], [], t0 + 61, GRACE)
    assert late is not None and late.settled and late.cause.startswith("volume cannot be mounted:")


def test_nothing_blocks_a_started_or_leaving_pod() -> None:
    running = pod_info(make_pod())
    attach = _event("FailedAttachVolume", MULTI_ATTACH, running.created_at)
    assert start_blocker(running, [attach], [], running.created_at + 300, GRACE) is None
    leaving = _pending(statuses=[waiting("lightning-asr", "ImagePullBackOff")], deleting=True)
    assert start_blocker(leaving, [], [], leaving.created_at + 300, GRACE) is None
    creating = _pending(statuses=[waiting("lightning-asr", "ContainerCreating")])
    assert start_blocker(creating, [], [], creating.created_at + 300, GRACE) is None


def test_an_evicted_pod_says_which_limit() -> None:
    pod = make_pod(phase="Failed", statuses=[])
    pod["status"]["reason"] = "Evicted"
    pod["status"]["message"] = 'Usage of EmptyDir volume "models" exceeds the limit "20Gi". '
    info = pod_info(pod)
    assert _state(info, None, info.created_at + 1) == (
        ModelState.FAILED,
        'pod phase Failed (Evicted): Usage of EmptyDir volume "models" exceeds the limit "20Gi".',
    )
    # The download it was running is over, whatever its last progress line said.
    tracker = ProgressTracker()
    line = '{"v": 1, "event": "progress", "file": "model.bin", "bytes": 5, "total": 10, "rate": 1}'
    tracker.feed_text(line, info.created_at)
    verdict = model_state(info, tracker.facts(), None, info.created_at + 1, GRACE)
    assert verdict.progress is not None and verdict.progress.phase is DownloadPhase.FAILED
    assert verdict.progress.eta_seconds is None and verdict.progress.rate is None


def test_each_cause_has_a_gist_for_the_row() -> None:
    image = _pending(statuses=[waiting("lightning-asr", "ImagePullBackOff")])
    t0 = image.created_at
    gists = [
        start_blocker(image, [], [], t0, GRACE),
        start_blocker(
            _pending(statuses=[waiting("lightning-asr", "ContainerCreating")]),
            [_event("FailedAttachVolume", MULTI_ATTACH, t0)],
            [],
            t0,
            GRACE,
        ),
        start_blocker(_unscheduled(UNBOUND), [], [], t0, GRACE),
        start_blocker(
            _pending(
                statuses=[
                    waiting(
                        "lightning-asr",
                        "CreateContainerConfigError",
                        message='secret "hf-token" not found',
                    )
                ]
            ),
            [],
            [],
            t0,
            GRACE,
        ),
    ]
    assert [b.gist if b else None for b in gists] == [
        f"cannot pull {IMAGE}",
        "volume attached to another node",
        "unscheduled: its claim is not bound",
        'secret "hf-token" not found',
    ]


def test_a_node_being_added_gets_the_autoscalers_time() -> None:
    info = _unscheduled("0/3 nodes are available: 3 Insufficient cpu.")
    since = info.unscheduled_since or 0.0
    scale_up = EventInfo(
        "Pod",
        "lightning-asr-abc",
        "Normal",
        "TriggeredScaleUp",
        "pod triggered scale-up: [{gpu-pool 2->3 (max: 6)}]",
        1,
        since + 5,
    )
    b = start_blocker(info, [scale_up], [], since + 300, GRACE)
    assert b is not None and not b.settled
    assert b.details == (
        "a node is being added: pod triggered scale-up: [{gpu-pool 2->3 (max: 6)}]",
    )
    late = start_blocker(info, [scale_up], [], since + 16 * 60, GRACE)
    assert late is not None and late.settled
    alone = start_blocker(info, [], [], since + 300, GRACE)
    assert alone is not None and alone.settled and alone.gist == "unscheduled: 3 Insufficient cpu"


def test_a_secret_volume_that_does_not_exist_blocks_at_once() -> None:
    """Mounted as a volume rather than read into the environment, a missing Secret keeps the
    pod in ContainerCreating with FailedMount events; it will not pass until it is created,
    and the kubelet's time-out that follows does not hide it."""
    info = _pending(statuses=[waiting("lightning-asr", "ContainerCreating")])
    t = info.created_at
    missing = 'MountVolume.SetUp failed for volume "hf" : secret "hf-token" not found'
    timed_out = (
        "Unable to attach or mount volumes: unmounted volumes=[hf], unattached volumes=[]: "
        "timed out waiting for the condition"
    )
    events = [_event("FailedMount", timed_out, t + 130), _event("FailedMount", missing, t + 2)]
    b = start_blocker(info, events, [], t + 3, GRACE)
    assert b == StartBlocker(
        kind="config",
        cause='volume hf cannot be mounted: secret "hf-token" not found',
        gist='secret "hf-token" not found',
        settled=True,
    )
    assert _state(info, b, t + 3) == (ModelState.BLOCKED, b.cause)
    key = (
        'MountVolume.SetUp failed for volume "config" : configmap references non-existent '
        "config key: lightning_asr.toml"
    )
    b = start_blocker(info, [_event("FailedMount", key, t + 2)], [], t + 3, GRACE)
    assert b is not None and b.gist == (
        "configmap references non-existent config key: lightning_asr.toml"
    )
    secret_key = (
        'MountVolume.SetUp failed for volume "hf" : references non-existent secret key: token'
    )
    b = start_blocker(info, [_event("FailedMount", secret_key, t + 2)], [], t + 3, GRACE)
    assert b is not None and b.gist == "references non-existent secret key: token"
    # Any other mount failure may be a slow start: a volume, after the grace.
    other = 'MountVolume.SetUp failed for volume "models" : mount failed: exit status 32'
    b = start_blocker(info, [_event("FailedMount", other, t + 2)], [], t + 3, GRACE)
    assert b is not None and b.kind == "volume" and not b.settled
