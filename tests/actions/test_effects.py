"""Which cache volumes an action changes (the dashboard measures them again when it ends)."""

from __future__ import annotations

import dataclasses

from actions.effects import cache_volumes, may_have_changed
from actions.plan import ActionPlan, ActionResult
from tests.actions.builders import pod, snapshot


def _plan(action: str, target: str, affected: tuple[str, ...] = ()) -> ActionPlan:
    return ActionPlan(action, "t", target, "smallest", affected_pods=affected)


def test_cache_changing_actions_name_their_pods_volumes() -> None:
    snap = snapshot(
        pod("asr-a"),
        pod("asr-b", claim=None, kind="emptyDir"),
        pod("other", release="lightning-asr-v2", claim="models-v2"),
    )
    assert cache_volumes(_plan("purge", "pod/asr-a", ("asr-a",)), snap) == ("models-aws-efs-pvc",)
    assert cache_volumes(_plan("fix", "pod/asr-b"), snap) == ("asr-b/cache",)
    assert cache_volumes(_plan("prewarm", "deployment/lightning-asr-v2"), snap) == ("models-v2",)
    # Verifying or restarting leaves what the cache holds as it was.
    assert cache_volumes(_plan("verify", "pod/asr-a"), snap) == ()
    assert cache_volumes(_plan("restart-pod", "pod/asr-a"), snap) == ()


def test_only_a_run_that_may_have_changed_something_counts() -> None:
    result = ActionResult(_plan("purge", "pod/asr-a"), ok=False, message="failed half way")
    assert may_have_changed(result)
    assert not may_have_changed(dataclasses.replace(result, dry_run=True))
    assert not may_have_changed(dataclasses.replace(result, details={"refused": True}))
    assert not may_have_changed(dataclasses.replace(result, details={"forbidden": ["x"]}))
