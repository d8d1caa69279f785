"""A pod whose model is loaded but whose readiness probe fails: fix says the model is fine, which
probe fails and how, that it is no model-cache problem, and gives the command that shows the
server's log."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from actions import registry
from actions.fix import NOT_READY, plan_fix
from actions.options import ActionOptions
from collectors.model import ContainerInfo, ModelState, PodInfo, ProbeSpec
from tests.actions.builders import pod, snapshot
from tests.actions.by_hand import KUBECTL, cli, first, kubectl
from tests.actions.world import World
from tui.action_cmds import EXIT_REFUSED

OPTS = ActionOptions()


def _loaded_but_unready() -> PodInfo:
    probe = ProbeSpec("readiness", "http-get http://:2269/health", period=2)
    server = ContainerInfo(
        name="lightning-asr",
        init=False,
        image="smallest/lightning-asr:1",
        state="running",
        ready=False,
        started_at=1000.0,
        probes=(probe,),
    )
    return dataclasses.replace(
        pod("asr-a", state=ModelState.READY, ready=False),
        containers=(server,),
        unready_because="HTTP probe failed with statuscode: 503",
    )


def test_a_loaded_model_in_a_pod_failing_its_readiness_probe_is_no_cache_problem() -> None:
    plan = plan_fix(snapshot(_loaded_but_unready()), "asr-a", OPTS)
    assert plan.decision == NOT_READY and not plan.runnable and not plan.nothing_to_do
    assert plan.title == "Fix the pod that fails its readiness probe"
    refusal = plan.refused or ""
    assert "is ready" not in refusal and "nothing to fix" not in refusal.lower(), refusal
    assert refusal.startswith("The model is loaded and fine: this is not a model-cache problem.")
    assert "health endpoint (http-get http://:2269/health) depends on" in refusal, refusal
    assert "the server's log (the command below)" in refusal, refusal
    assert plan.summary == (
        "Evidence: the model is loaded (the server logged that it is ready), but pod asr-a is "
        "not Ready: its readiness probe (http-get http://:2269/health, every 2 s) fails: HTTP "
        "probe failed with statuscode: 503."
    )
    assert plan.commands == ("kubectl -n smallest logs asr-a -c lightning-asr --tail=100",)


def test_a_pod_failing_its_readiness_probe_is_told_apart_from_a_ready_one(
    start: Callable[..., World],
) -> None:
    world = start("readiness-failing", tls=True)
    world.watch()
    snap = world.wait_snapshot(
        lambda s: first(s, lambda p: p.unready_because), 30, "the readiness probe failing"
    )
    pod = first(snap, lambda p: p.unready_because)
    assert pod is not None and pod.model_state is ModelState.READY and not pod.ready
    plan = world.plan(registry.FIX, pod.name, on=snap)
    assert plan.decision == NOT_READY and not plan.runnable and not plan.nothing_to_do
    refusal = plan.refused or ""
    assert "is ready" not in refusal and "nothing to fix" not in refusal.lower(), refusal
    assert "The model is loaded and fine: this is not a model-cache problem." in refusal
    assert "HTTP probe failed with statuscode: 503" in plan.summary, plan.summary
    (command,) = plan.commands
    assert command == f"kubectl -n smallest logs {pod.name} -c lightning-asr --tail=100"
    # The same from the command line.
    code, out, err = cli(world, "fix", pod.name, "--dry-run")
    assert code == EXIT_REFUSED, (out, err)
    assert "REFUSED: The model is loaded and fine" in out, out
    assert f"run by hand: {command}" in out, out
    if KUBECTL is not None:  # the log it points at says the server came up
        assert "Server ready on port 2269" in kubectl(world, command)
