"""A fix on a pod that downloads or serves has nothing to fix: it must not run, and it says so
in those words, not as a refusal (the dialog, the plan, the command line)."""

from __future__ import annotations

import dataclasses

from actions.fix import plan_fix
from actions.options import ActionOptions
from collectors.model import ModelState
from tests.actions.builders import pod, snapshot
from tests.actions.by_hand import cli
from tests.actions.world import World
from tui.action_cmds import EXIT_OK

OPTS = ActionOptions()


def test_a_nothing_to_fix_plan_is_not_called_refused() -> None:
    downloading = pod("asr-a", state=ModelState.DOWNLOADING, ready=False)
    plan = plan_fix(snapshot(downloading), "asr-a", OPTS)
    assert plan.nothing_to_do and not plan.runnable
    assert plan.refusal == "Nothing to fix: Pod asr-a is downloading."
    # A plan refused for a cause keeps its name.
    bare = dataclasses.replace(pod("asr-b", state=ModelState.STALLED), owner=None)
    refused = plan_fix(snapshot(bare), "asr-b", OPTS)
    assert refused.refused_as == "Refused" and not refused.nothing_to_do


def test_a_loaded_model_whose_pod_is_not_ready_yet_is_not_said_to_be_ready() -> None:
    loaded = pod("asr-a", state=ModelState.READY, ready=False)
    plan = plan_fix(snapshot(loaded), "asr-a", OPTS)
    assert plan.refusal == (
        "Nothing to fix: The model of pod asr-a is loaded; the pod is not Ready yet."
    )


def test_the_command_line_says_nothing_to_fix(quiet: tuple[World, list[str]]) -> None:
    world, pods = quiet
    code, out, err = cli(world, "fix", pods[0], "--yes")
    assert code == EXIT_OK, (out, err)  # nothing to fix is no failure (a cron job's fix --yes)
    assert f"NOTHING TO FIX: Pod {pods[0]} is ready." in out, out
    assert err.strip() == f"Nothing to fix: Pod {pods[0]} is ready.", err
    assert "REFUSED" not in out and "Refused" not in err
