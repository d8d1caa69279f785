"""Measuring cache volumes: a volume that could not be measured at first is measured again
soon, not a whole --refresh later; a failed df or du says why.

Against the simulated cluster, whose EFS-like claim gets no kubelet stats (every figure comes
from df/du run in a pod); the last tests feed the poller command output directly."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from collectors import execs
from collectors.execs import ExecOutcome
from collectors.live import UNMEASURED_TRIES
from collectors.model import ClusterSnapshot, VolumeUsage
from collectors.volumes import PodMount, VolumePoller, VolumeTarget
from simcluster.kubelet.commands import EXTRA_COMMANDS
from simcluster.kubelet.context import ProcContext
from tests.collectors.conftest import sim_cluster_handle
from tests.collectors.setups import MiB, asr_deployment, pvc
from tests.polling import wait_until

STALE = "Transport endpoint is not connected"  # what a stale NFS/EFS mount answers
WAITER = {"name": "gate", "image": "busybox", "command": ["wait-for-gate"]}


def _usage(s: ClusterSnapshot) -> VolumeUsage | None:
    return s.volumes[0].usage if len(s.volumes) == 1 else None


def _efs_cluster(make_sim, init_containers: list[dict] | None = None):
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=1 * MiB, seed=5)
    deployment = asr_deployment(sim.model_server.url(f.path), f.sha256, replicas=1)
    if init_containers:
        deployment["spec"]["template"]["spec"]["initContainers"] = init_containers
    sim.apply([pvc(), deployment])
    return sim


@dataclass
class Gate:
    """``wait-for-gate``: a command that says it started, then exits 0 once ``opened`` is set."""

    started: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    g = Gate()

    async def wait_for_gate(_argv: list[str], _ctx: ProcContext) -> int:
        g.started.set()
        while not g.opened.is_set():  # noqa: ASYNC110 - set from the test's thread, not this loop
            await asyncio.sleep(0.05)
        return 0

    monkeypatch.setitem(EXTRA_COMMANDS, "wait-for-gate", wait_for_gate)
    yield g
    g.opened.set()


def test_a_volume_not_measurable_at_first_is_measured_well_before_the_refresh(
    make_sim, start_feed, gate: Gate
) -> None:
    # The pod waits in its init container: the container that mounts the cache is not
    # running, so the first poll has nowhere to run df or du.
    sim = _efs_cluster(make_sim, [WAITER])
    _feed, rec = start_feed(sim, refresh=30)
    snap = rec.wait(
        lambda s: (u := _usage(s)) is not None and u.source == "none",
        15,
        "the first poll, which could not measure the volume",
    )
    note = (_usage(snap) or VolumeUsage("none")).note or ""
    assert "cannot exec df in pod" in note or "no container is running" in note, note

    gate.opened.set()  # the cache container starts now; the next full poll is 30 s away
    snap = rec.wait(
        lambda s: (u := _usage(s)) is not None and u.source in ("df", "du"),
        8,
        "the volume measured once a container runs, long before the 30 s refresh",
    )
    measured = _usage(snap)
    assert measured is not None and measured.used_bytes is not None


def test_an_init_container_filling_the_cache_is_where_it_is_measured(
    make_sim, start_feed, gate: Gate
) -> None:
    """s3-init's way: the init container that writes the model mounts the cache while the
    server's container waits; that is when the volume fills, so it is measured there."""
    fetcher = {**WAITER, "volumeMounts": [{"name": "models", "mountPath": "/app/models"}]}
    sim = _efs_cluster(make_sim, [fetcher])
    assert gate.started.wait(15), "the pod waits in its init container"
    _feed, rec = start_feed(sim, refresh=30)
    snap = rec.wait(
        lambda s: (u := _usage(s)) is not None and u.source == "du",
        15,
        "the volume measured in the running init container",
    )
    (pod,) = snap.pods
    assert not any(c.state == "running" for c in pod.containers if not c.init)
    assert f"in pod {pod.name}" in ((_usage(snap) or VolumeUsage("none")).note or "")


def test_quick_tries_are_a_few_then_the_refresh_decides(make_sim, start_feed, gate: Gate) -> None:
    """A volume that cannot be measured at all (the gate never opens) is tried again a few
    times, then waits for the next full poll: no poll a second for ever."""
    sim = _efs_cluster(make_sim, [WAITER])
    assert gate.started.wait(15), "the pod waits in its init container"
    feed, _rec = start_feed(sim, refresh=30)
    # The first full poll, then one per try: each asks the one node for its stats/summary.
    polls = 1 + UNMEASURED_TRIES
    wait_until(lambda: feed.poller.summary_requests >= polls, 15, "the quick tries")
    with pytest.raises(AssertionError, match="timed out"):
        wait_until(lambda: feed.poller.summary_requests > polls, 2.5, "a try too many")
    assert feed.poller.summary_requests == polls


def test_a_volume_measured_fine_is_not_measured_again_for_the_others_tries(
    make_sim, start_feed, gate: Gate
) -> None:
    """Full polls that come while another volume has tries left keep what df/du measured
    (cached for fallback_interval): only the volumes tried are measured anew."""
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=1 * MiB, seed=6)
    url = sim.model_server.url(f.path)
    gated = asr_deployment(url, f.sha256, name="asr-b", replicas=1, claim="models-b-efs")
    gated["spec"]["template"]["spec"]["initContainers"] = [WAITER]
    sim.apply(
        [
            pvc("models-a-efs"),
            pvc("models-b-efs"),
            asr_deployment(url, f.sha256, name="asr-a", replicas=1, claim="models-a-efs"),
            gated,
        ]
    )
    feed, rec = start_feed(sim, refresh=2, fallback_interval=60)

    def usage_of(s: ClusterSnapshot, name: str) -> VolumeUsage | None:
        return next((v.usage for v in s.volumes if v.name == name), None)

    snap = rec.wait(
        lambda s: (
            (a := usage_of(s, "models-a-efs")) is not None
            and a.source == "du"
            and (b := usage_of(s, "models-b-efs")) is not None
            and b.source == "none"
        ),
        20,
        "one volume measured, the other not",
    )
    first = usage_of(snap, "models-a-efs")
    polls = feed.poller.summary_requests
    wait_until(lambda: feed.poller.summary_requests >= polls + 4, 10, "four more polls")
    seen = {usage_of(s, "models-a-efs") for s in list(rec.snapshots)[rec.snapshots.index(snap) :]}
    assert seen == {first}, seen
    assert usage_of(feed.build_snapshot(), "models-a-efs") == first


@pytest.fixture
def stale_mount(monkeypatch: pytest.MonkeyPatch) -> None:
    """df and du fail as on a stale EFS mount: exit 1, the reason on stderr (du's long)."""

    async def df(argv: list[str], ctx: ProcContext) -> int:
        await ctx.io.write_stderr(f"df: {argv[-1]}: {STALE}\ndf: a second line\n".encode())
        return 1

    async def du(argv: list[str], ctx: ProcContext) -> int:
        deep = argv[-1] + "/v1" * 60
        await ctx.io.write_stderr(f"du: cannot read directory '{deep}': {STALE}\n".encode())
        return 1

    monkeypatch.setitem(EXTRA_COMMANDS, "df", df)
    monkeypatch.setitem(EXTRA_COMMANDS, "du", du)


def test_a_failed_measurement_says_which_command_and_why(
    make_sim, start_feed, stale_mount: None
) -> None:
    sim = _efs_cluster(make_sim)
    feed, rec = start_feed(sim, refresh=1)
    snap = rec.wait(
        lambda s: (u := _usage(s)) is not None and u.source == "none" and "df -P" in (u.note or ""),
        20,
        "df and du failing in the running pod",
    )
    (pod,) = snap.pods
    usage = _usage(snap)
    assert usage is not None
    note = usage.note or ""
    assert (
        f"df -P -B1 /app/models in pod {pod.name} failed: exit code 1 "
        f"(df: /app/models: {STALE})" in note
    ), note
    # du's three forms all failed: the last one's words, cut short, on the same line.
    assert f"du -sk /app/models in pod {pod.name} failed: exit code 1 (du: cannot read" in note
    assert "…)" in note and "second line" not in note and "\n" not in note, note
    assert len(note) < 400, note

    # The pod detail's cache panel measures the same way and says the same.
    detail = feed.disk_usage(pod.name)
    assert detail.source == "none" and f"(df: /app/models: {STALE})" in (detail.note or "")


async def _hang(_argv: list[str], _ctx: ProcContext) -> int:
    await asyncio.sleep(5)
    return 0


def _timed_out_note(make_sim, start_feed) -> tuple[str, str]:
    """The volume's note once a measurement timed out, and the pod's name."""
    sim = _efs_cluster(make_sim)
    _feed, rec = start_feed(sim, refresh=1, exec_timeout=0.5)
    snap = rec.wait(
        lambda s: (u := _usage(s)) is not None and "no exit status" in (u.note or ""),
        20,
        "a measurement timing out",
    )
    (pod,) = snap.pods
    usage = _usage(snap)
    assert usage is not None and usage.source == "none"
    return usage.note or "", pod.name


def test_a_mount_that_does_not_answer_df_is_not_asked_du(make_sim, start_feed, monkeypatch):
    monkeypatch.setitem(EXTRA_COMMANDS, "df", _hang)
    monkeypatch.setitem(EXTRA_COMMANDS, "du", _hang)
    note, pod = _timed_out_note(make_sim, start_feed)
    assert f"df -P -B1 /app/models in pod {pod} failed: no exit status within 0.5 s" in note
    assert "du not tried" in note and "du -s" not in note, note


def test_a_timed_out_du_says_so_and_is_not_tried_in_other_forms(
    make_sim, start_feed, monkeypatch
) -> None:
    monkeypatch.setitem(EXTRA_COMMANDS, "du", _hang)  # df answers: EFS's 8 EiB
    note, pod = _timed_out_note(make_sim, start_feed)
    assert "df shows an 8 EiB file system" in note, note
    assert f"du -s -B1 /app/models in pod {pod} failed: no exit status within 1.5 s" in note
    assert "du -sb" not in note, note


def _answering(monkeypatch: pytest.MonkeyPatch, answers: dict[str, ExecOutcome]) -> VolumePoller:
    """A poller whose execs get ``answers`` by command name (no cluster: output parsing only)."""
    monkeypatch.setattr(execs, "run", lambda _cluster, _pod, argv, **_kw: answers[argv[0]])
    return VolumePoller(cast(Any, None))


def test_df_output_that_cannot_be_read_is_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    odd = ExecOutcome(0, "Filesystem Size\nsomething\todd\n", "")
    poller = _answering(monkeypatch, {"df": odd, "du": ExecOutcome(0, "123\t/app/models\n", "")})
    usage = poller.measure_in_pod("asr-1", None, "/app/models", None, 100.0)
    assert usage.source == "du" and usage.used_bytes == 123
    assert (
        "df -P -B1 /app/models in pod asr-1 answered, but df printed no byte counts: "
        "'something odd'" in (usage.note or "")
    ), usage.note


@pytest.mark.parametrize(
    ("du", "said"),
    [
        (ExecOutcome(0, "", ""), "du -sk /app/models in pod asr-1 printed nothing"),
        (ExecOutcome(0, "total: many\n", ""), "printed no size: 'total: many'"),
        (ExecOutcome(None, "", ""), "du -s -B1 /app/models in pod asr-1 failed: the stream ended"),
    ],
)
def test_du_that_gives_no_size_says_what_it_did(
    monkeypatch: pytest.MonkeyPatch, du: ExecOutcome, said: str
) -> None:
    efs = ExecOutcome(
        0,
        "Filesystem 1-blocks Used Available Capacity Mounted on\n"
        "fs-1:/ 9223372036854771712 0 9223372036854771712 0% /app/models\n",
        "",
    )
    poller = _answering(monkeypatch, {"df": efs, "du": du})
    usage = poller.measure_in_pod("asr-1", None, "/app/models", None, 100.0)
    assert usage.source == "none" and said in (usage.note or ""), usage.note
    assert (usage.note or "").startswith("df shows an 8 EiB file system (EFS)")


def test_du_that_could_not_read_some_files_still_gives_its_total(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GNU du exits 1 when a file went away while it ran (a .part renamed into place): its
    total of the rest is a lower bound, not a failure to try in other forms."""
    efs = ExecOutcome(
        0,
        "Filesystem 1-blocks Used Available Capacity Mounted on\n"
        "fs-1:/ 9223372036854771712 0 9223372036854771712 0% /app/models\n",
        "",
    )
    gone = "du: cannot access '/app/models/v1/model.bin.part': No such file or directory\n"
    du = ExecOutcome(1, "4096\t/app/models\n", gone * 2)
    poller = _answering(monkeypatch, {"df": efs, "du": du})
    usage = poller.measure_in_pod("asr-1", None, "/app/models", None, 100.0)
    assert usage.source == "du" and usage.used_bytes == 4096, usage
    assert (
        "measured /app/models with du in pod asr-1 (at least: it could not read some files: "
        f"{gone.strip()})" in (usage.note or "")
    ), usage.note
    # Exit 1 with no total (BusyBox refusing -B1) is no figure: the next form is tried.
    refused = ExecOutcome(1, "", "du: invalid option -- 'B'\nBusyBox v1.36.1 multi-call binary.\n")
    poller = _answering(monkeypatch, {"df": efs, "du": refused})
    usage = poller.measure_in_pod("asr-1", None, "/app/models", None, 100.0)
    assert usage.source == "none" and "du -sk /app/models in pod asr-1 failed: exit code 1" in (
        usage.note or ""
    ), usage.note


def test_a_container_between_two_runs_is_said_in_words_and_another_pod_measures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An exec refused because the container is restarting (a crash loop's back-off) is no
    error to quote: the note says so, and another running pod on the volume measures it."""
    df = ExecOutcome(
        0,
        "Filesystem 1-blocks Used Available Capacity Mounted on\n"
        "/dev/sdb 1073741824 4096 1073737728 1% /app/models\n",
        "",
    )

    def run(_cluster: Any, pod: str, argv: list[str], **_kw: Any) -> ExecOutcome:
        if pod != "asr-2":
            raise execs.ContainerNotRunning(
                f"cannot exec df in pod {pod}: the API server https://api answered 400 to create "
                "pods/exec in namespace 'smallest': unable to upgrade connection: container not "
                'found ("lightning-asr")'
            )
        return df

    monkeypatch.setattr(execs, "run", run)
    poller = VolumePoller(cast(Any, None))
    mounts = tuple(
        PodMount(name, "node-1", "lightning-asr", "/app/models", True, ready)
        for name, ready in (("asr-1", True), ("asr-2", False), ("asr-3", False))
    )
    target = VolumeTarget("models-pvc", "pvc", "models", "models-pvc", mounts)
    usage = poller.fallback(target, "no stats", 100.0)
    assert (usage.source, usage.used_bytes) == ("df", 4096), usage
    assert "in pod asr-2" in (usage.note or ""), usage.note
    alone = VolumeTarget("models-pvc", "pvc", "models", "models-pvc", mounts[:1])
    note = poller.fallback(alone, "no stats", 200.0, fresh=True).note or ""
    assert note == (
        "no stats; not measured: container lightning-asr in pod asr-1 was restarting (not "
        "running when asked); measured again at the next refresh"
    ), note
    opened = poller.measure_in_pod("asr-3", "lightning-asr", "/app/models", None, 300.0)
    assert opened.source == "none" and "400" not in (opened.note or ""), opened.note
    assert "asr-3 was restarting" in (opened.note or ""), opened.note


def test_the_kubelets_refusal_for_a_container_not_running_is_told_apart(start) -> None:
    """corrupt-model: every run fails and waits out a back-off, when exec is refused."""
    world = start("corrupt-model")
    cluster = sim_cluster_handle(world.cluster, world.kubeconfig.parent)

    def refused() -> str | None:
        for pod in world.pods():
            statuses = pod.status.container_statuses or []
            if any(s.state.waiting for s in statuses):
                try:
                    execs.run(cluster, pod.metadata.name, ["true"], container="lightning-asr")
                except execs.ContainerNotRunning as exc:
                    return str(exc)
                except execs.ExecError:
                    return None
        return None

    said = wait_until(refused, 30, "an exec refused in a crash loop's back-off", every=0.05)
    assert "container not found" in said, said
    cluster.close()
