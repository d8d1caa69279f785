"""The followers' shared loop: done, timed out or cancelled, from a stub gateway (no cluster)."""

from __future__ import annotations

from typing import Any, cast

from actions.context import ActionContext
from actions.follow import follow_job, follow_replacements, follow_rollout
from actions.kube import KubeGateway


class Stub:
    """Answers with the objects it holds; ``on_look`` runs at every request (e.g. to cancel)."""

    def __init__(self, **objects: Any) -> None:
        self.objects = objects
        self.on_look = lambda: None

    def deployment(self, namespace: str, name: str) -> Any:
        self.on_look()
        return self.objects.get("deployment")

    def job(self, namespace: str, name: str) -> Any:
        self.on_look()
        return self.objects.get("job")

    def list_pods(self, namespace: str, selector: str | None = None) -> list[Any]:
        self.on_look()
        return list(self.objects.get("pods", []))

    def log_tail(self, *args: Any, **kwargs: Any) -> str:
        return ""


def context(stub: Stub, timeout: float = 5.0) -> tuple[ActionContext, list[str]]:
    said: list[str] = []
    ctx = ActionContext(cast(KubeGateway, stub), timeout=timeout, poll=0.0, progress=said.append)
    return ctx, said


def deployment(updated: int, ready: int, replicas: int = 2, generation: int = 3) -> Any:
    return {
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": generation,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "replicas": replicas,
        },
    }


def test_a_finished_rollout_is_done_at_the_first_look() -> None:
    ctx, said = context(Stub(deployment=deployment(2, 2)))
    outcome = follow_rollout(ctx, "ns", "api", generation=3)
    assert outcome.ok and outcome.message == "Deployment api rolled out: 2/2 new pods Ready."
    assert said == []


def test_a_rollout_that_does_not_finish_times_out_with_its_last_line() -> None:
    ctx, said = context(Stub(deployment=deployment(1, 1)), timeout=0.0)
    outcome = follow_rollout(ctx, "ns", "api", generation=3)
    assert not outcome.ok
    assert outcome.message == (
        "The rollout of api did not finish within 0 s (rollout of api: 1/2 updated, 1/2 ready)."
    )
    assert outcome.details == {"deployment": "api", "ready": 1, "replicas": 2}
    assert said == ["rollout of api: 1/2 updated, 1/2 ready"]


def test_a_cancel_stops_following_and_keeps_what_was_seen() -> None:
    stub = Stub(job={"metadata": {"name": "warm", "uid": "u1"}, "status": {"active": 1}})
    ctx, said = context(stub)
    looks = 0

    def cancel_on_the_second_look() -> None:
        nonlocal looks
        looks += 1
        if looks > 2:  # a look asks for the job, then its pods
            ctx.cancel.set()

    stub.on_look = cancel_on_the_second_look
    outcome = follow_job(ctx, "ns", "warm")
    assert not outcome.ok
    assert outcome.message == "Cancelled while following; Job warm keeps running."
    assert outcome.details == {"cancelled": True, "job": "warm"}
    assert said == ["job warm: 1 active, 0 failed; no pod yet"], "said once, not per look"


def test_a_cancel_before_the_first_look_still_names_what_was_followed() -> None:
    ctx, _ = context(Stub())
    ctx.cancel.set()
    old = {"metadata": {"name": "asr-a", "uid": "u1", "labels": {"app": "asr"}}}
    outcome = follow_replacements(ctx, "ns", [old])
    assert outcome.message == (
        "Cancelled while following; the replacement pods go on by themselves."
    )
    assert outcome.details == {"cancelled": True, "ready_pods": []}
