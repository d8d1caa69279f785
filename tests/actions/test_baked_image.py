"""A model baked into the container's image: no volume holds it, so it is not offered for
deletion (the image's file system is read-only) and a fix of a bad one says only a new image
helps, on the grounds pre-warming one is refused on."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from actions import registry
from actions.fix import CORRUPT, plan_fix
from actions.options import ActionOptions, DeploymentFacts
from actions.prewarm import plan_prewarm
from actions.purge import plan_purge
from collectors.model import ModelState
from simcluster.scenarios import load_scenario
from tests.actions.builders import pod, snapshot
from tests.actions.by_hand import cli, first
from tests.actions.test_plans import deployment_object
from tests.actions.variants import with_env
from tests.actions.world import World
from tui.action_cmds import EXIT_REFUSED

OPTS = ActionOptions()


def test_a_model_baked_into_the_image_cannot_be_purged_and_says_why() -> None:
    baked = dataclasses.replace(
        pod("asr-a", kind="image", state=ModelState.CORRUPT, ready=False),
        cache_volume=None,
        cache_claim=None,
    )
    purge = plan_purge(snapshot(baked), "asr-a", OPTS)
    refusal = purge.refused or ""
    assert not purge.steps and refusal.startswith(
        "No volume of pod asr-a is mounted at /app/models: the model lives in the container's "
        "own file system (a baked image), so it cannot be deleted"
    ), refusal
    assert "Only a new image replaces the model" in refusal
    assert "deployment/lightning-asr" in refusal and "None" not in refusal
    fix = plan_fix(snapshot(baked), "asr-a", OPTS)
    assert fix.decision == "corrupt" and fix.refused == purge.refused
    # Pre-warming one is refused on the same grounds, in the same words.
    unmounted = deployment_object(mount_path="/data")
    prewarm = plan_prewarm(
        snapshot(baked), "lightning-asr", OPTS, DeploymentFacts.from_object(unmounted)
    )
    assert "the model lives in the container's own file system (a baked image)" in (
        prewarm.refused or ""
    )


def test_a_model_baked_into_the_image_is_not_offered_for_deletion(
    start: Callable[..., World],
) -> None:
    world = start("baked-image")
    (serving, _other) = world.wait_ready("lightning-asr", 2)
    plan = world.plan(registry.PURGE, serving)
    assert not plan.runnable and not plan.steps, plan.describe()
    refusal = plan.refused or ""
    assert "(a baked image), so it cannot be deleted" in refusal, refusal
    assert "on image None" not in plan.describe() and "volume None" not in plan.describe()
    code, out, _err = cli(world, "purge", serving, "--dry-run")
    assert code == EXIT_REFUSED and "REFUSED: No volume of pod" in out, out


def test_fix_of_a_corrupt_baked_model_says_only_a_new_image_helps(
    start: Callable[..., World],
) -> None:
    wrong = "sha256:" + "0" * 64  # the baked file is fine; the checksum it is held to is not
    world = start(with_env(load_scenario("baked-image"), "lightning-asr", MODEL_CHECKSUM=wrong))
    world.watch()
    snap = world.wait_snapshot(
        lambda s: first(s, lambda p: p.model_state is ModelState.CORRUPT), 30, "corrupt"
    )
    pod = first(snap, lambda p: p.model_state is ModelState.CORRUPT)
    assert pod is not None
    plan = world.plan(registry.FIX, pod.name, on=snap)
    assert plan.decision == CORRUPT and not plan.runnable, plan.describe()
    assert "Only a new image replaces the model" in (plan.refused or ""), plan.refused
