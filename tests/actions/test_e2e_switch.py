"""blue-green -> switch: refused while v2 downloads, allowed once it is ready; the api-server then
points at v2, and the way back works.

v2's download is held part way (``variants.held``) so "still downloading" is a state the test
holds, not a race against a 4 MiB download; clearing the model's faults lets it finish.
"""

from __future__ import annotations

from collections.abc import Callable

from actions import registry
from actions.options import ActionOptions
from collectors.model import ModelState
from tests.actions.variants import held
from tests.actions.world import NS, World, ready_pods
from tests.polling import wait_until

V1_URL = "http://lightning-asr:2269"
V2_URL = "http://lightning-asr-v2:2269"


def _base_url(world: World) -> str:
    dep = world.cluster.apps.read_namespaced_deployment("api-server", NS)
    env = dep.spec.template.spec.containers[0].env
    return str(next(e.value for e in env if e.name == "LIGHTNING_ASR_BASE_URL"))


def _serving_pod_url(world: World) -> set[str]:
    """LIGHTNING_ASR_BASE_URL as the api-server's live, Ready pods have it."""
    pods = world.cluster.core.list_namespaced_pod(NS, label_selector="app=api-server").items
    urls = set()
    for p in pods:
        ready = all(c.ready for c in p.status.container_statuses or [])
        if p.metadata.deletion_timestamp is None and ready:
            env = p.spec.containers[0].env
            urls.add(next(e.value for e in env if e.name == "LIGHTNING_ASR_BASE_URL"))
    return urls


def test_switch_refused_while_v2_downloads_then_done_and_undone(
    start: Callable[..., World],
) -> None:
    world = start(held("blue-green", "v2"))
    world.wait_ready("lightning-asr", 2)
    snap = world.wait_snapshot(
        lambda s: any(
            p.release == "lightning-asr-v2" and p.model_state == ModelState.DOWNLOADING
            for p in s.pods
        ),
        30,
        "v2 downloading",
    )
    assert not ready_pods(snap, "lightning-asr-v2")
    # Every response v2 has open is held (so clearing the faults below releases them all).
    wait_until(
        lambda: (st := world.stats("v2")).active > 0 and st.stalls == st.active,
        30,
        "every v2 response held",
    )
    assert snap.serving_url == V1_URL
    plan = world.service.plan(registry.SWITCH, snap, "lightning-asr-v2", ActionOptions())
    assert not plan.runnable and "still getting the model" in (plan.refused or ""), plan.describe()
    refused = world.execute(plan)
    assert not refused.ok and refused.details.get("refused")
    assert _base_url(world) == V1_URL, "nothing changed"
    assert world.audit_lines() == [] and world.events("AsrCacheTuiSwitch") == []

    world.on_loop(world.runtime.clear_faults, "v2")  # v2's download goes on and finishes
    world.wait_ready("lightning-asr-v2", 2)
    plan = world.plan(registry.SWITCH, "lightning-asr-v2")
    assert plan.runnable, plan.refused
    result = world.execute(plan)
    assert result.ok, result.message
    assert result.details["previous_url"] == V1_URL
    # Traffic points at v2: the Deployment, its rolled-out pod, and the dashboard's view agree.
    assert _base_url(world) == V2_URL
    wait_until(lambda: _serving_pod_url(world) == {V2_URL}, 10, "api-server pods on v2")
    snap = world.wait_snapshot(lambda s: s.serving_url == V2_URL, 10, "the view follows")
    serving = {r.name: r.serving for r in snap.rollouts}
    assert serving["lightning-asr-v2"] is True and serving["lightning-asr"] is False
    world.assert_recorded("switch", "AsrCacheTuiSwitch", "deployment/api-server")

    back = world.plan(registry.SWITCH, None, back=True)
    assert back.runnable and V1_URL in back.summary, back.describe()
    result = world.execute(back)
    assert result.ok, result.message
    assert _base_url(world) == V1_URL
    wait_until(lambda: _serving_pod_url(world) == {V1_URL}, 10, "api-server pods back on v1")
    assert [line["action"] for line in world.audit_lines()] == ["switch", "switch"]
    assert len(world.events("AsrCacheTuiSwitch")) == 2
