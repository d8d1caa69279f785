"""What must never change anything, on efs-shared: the viewer's token, --read-only, hostile
paths (../../etc, /, empty, a symlink out of the cache) and dry runs.

The tests share one efs-shared world (``quiet``) and each checks that nothing changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actions import registry
from actions.options import ActionOptions
from actions.provider import ServiceActionProvider
from actions.service import READ_ONLY, ActionService
from tests.actions.world import CLAIM, World, fingerprint

Quiet = tuple[World, list[str]]


@pytest.fixture
def unchanged(quiet: Quiet) -> Iterator[Quiet]:
    """The shared world, checked to be exactly as it was once the test is done."""
    world, _pods = quiet
    before = fingerprint(world)
    yield quiet
    assert fingerprint(world) == before


def _targets(pods: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """A target and options for every action, each runnable for a user allowed to act."""
    return {
        registry.PREWARM: ("deployment/lightning-asr", {"version": "v2", "schedule": "0 8 * * *"}),
        registry.VERIFY: (pods[0], {}),
        registry.PURGE: (pods[0], {}),
        registry.RESTART_POD: (pods[0], {}),
        registry.ROLLOUT_RESTART: ("deployment/lightning-asr", {}),
        registry.FIX: (pods[0], {}),
        registry.SWITCH: ("lightning-asr", {}),
    }


def test_viewer_sees_every_action_forbidden_and_nothing_changes(unchanged: Quiet) -> None:
    admin, pods = unchanged
    viewer = admin.as_user("viewer")
    try:
        perms = viewer.service.permissions()
        assert set(perms) == {s.id for s in registry.SPECS}
        for action_id, why in perms.items():
            assert why and why.startswith("needs "), (action_id, why)
        assert "delete pods in smallest" in (perms[registry.RESTART_POD] or "")
        assert "create pods/exec in smallest" in (perms[registry.VERIFY] or "")
        assert "patch deployments.apps in smallest" in (perms[registry.SWITCH] or "")
        assert "create jobs.batch in smallest" in (perms[registry.PREWARM] or "")
        forbidden = []
        for action_id, (target, options) in _targets(pods).items():
            plan = viewer.plan(action_id, target, **options)
            result = viewer.execute(plan)
            assert not result.ok, (action_id, result.message)
            if plan.runnable:  # fix has nothing to fix here: refused before RBAC is asked
                assert result.message.startswith("Forbidden: needs"), result.message
                forbidden.append(action_id)
        assert len(forbidden) == len(registry.SPECS) - 1, forbidden
        assert viewer.audit_lines() == []
        # The admin's view agrees that the viewer was the one refused.
        assert all(v is None for v in admin.service.permissions().values())
    finally:
        viewer.close()


def test_read_only_offers_nothing_and_runs_nothing(unchanged: Quiet) -> None:
    world, pods = unchanged
    provider = ServiceActionProvider(ActionService(world.cluster, read_only=True))
    assert set(provider.permissions().values()) == {READ_ONLY}
    snap = world.snapshot()
    for action_id in (s.id for s in registry.SPECS):
        plan = provider.plan(action_id, snap, pods[0])
        result = provider.execute(plan)
        assert not result.ok and "read-only" in result.message, (action_id, result.message)


@pytest.mark.parametrize(("path", "words"), [("../../etc", "'..'"), ("/", "'/'"), ("", "empty")])
def test_hostile_paths_never_reach_the_pod(unchanged: Quiet, path: str, words: str) -> None:
    world, pods = unchanged
    plan = world.plan(registry.PURGE, pods[0], path=path)
    assert not plan.runnable and words in (plan.refused or ""), plan.describe()
    result = world.execute(plan)
    assert not result.ok and result.details.get("refused")


def test_a_symlink_out_of_the_cache_is_refused_in_the_pod(quiet: Quiet, tmp_path: Path) -> None:
    world, pods = quiet
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    link = world.claim_dir(CLAIM) / "evil.bin"
    hop = world.claim_dir(CLAIM) / "v9"
    os.symlink(outside, link)
    os.symlink(tmp_path, hop)
    try:
        before = fingerprint(world)
        plan = world.plan(registry.PURGE, pods[0], path="evil.bin")
        assert plan.runnable, "the name is fine on its face; only the pod can see it is a symlink"
        result = world.execute(plan)
        assert not result.ok and "symbolic link" in result.message, result.message
        # A symlinked directory on the way is refused too.
        result = world.execute(world.plan(registry.PURGE, pods[0], path="v9/precious.txt"))
        assert not result.ok and "symbolic link" in result.message, result.message
        assert outside.read_text() == "keep me" and link.is_symlink() and hop.is_symlink()
        after = fingerprint(world)
        assert after.pop("events") != before.pop("events")
        assert after == before, "nothing deleted, no pod restarted"
        # The attempts ran checks in the pod: they are recorded, as failures, for the team.
        world.assert_recorded("purge", "AsrCacheTuiPurge", f"pod/{pods[0]}", ok=False)
    finally:
        link.unlink()
        hop.unlink()


def test_dry_run_changes_nothing(unchanged: Quiet) -> None:
    world, pods = unchanged
    audited = len(world.audit_lines())
    for action_id, (target, options) in _targets(pods).items():
        if action_id == registry.FIX:
            continue  # nothing to fix here
        plan = world.service.plan(
            action_id, world.snapshot(), target, ActionOptions(dry_run=True, **options)
        )
        assert plan.runnable, plan.describe()
        result = world.execute(plan, dry_run=True)
        assert result.ok and result.dry_run, (action_id, result.message)
        assert "Dry run" in result.message, result.message
    assert len(world.audit_lines()) == audited, "a dry run writes no audit line"
