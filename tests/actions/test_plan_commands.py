"""A runnable plan's commands to run by hand are no part of what confirming runs: they come after
its steps, under a line that says so and when to run them; a refused plan's are its advice."""

from __future__ import annotations

import dataclasses

from actions.plan import ActionPlan, ApiCall


def test_a_runnable_plan_says_its_commands_are_not_what_confirming_runs() -> None:
    plan = ActionPlan(
        action="fix",
        title="Restart pod p",
        target="pod/p",
        namespace="ns",
        steps=(ApiCall("delete", "pods", "ns", "p", body={"propagationPolicy": "Background"}),),
        destructive=True,
        commands=("kubectl -n ns delete pod p --grace-period=0 --force",),
        commands_when="only when node n is really down",
    )
    lines = plan.describe().splitlines()
    step = lines.index("1. DELETE pods/p (namespace ns)")
    label = lines.index("Not run when confirmed; to run by hand, only when node n is really down:")
    command = lines.index("run by hand: kubectl -n ns delete pod p --grace-period=0 --force")
    body = lines.index("body of step 1 (DELETE pods):")
    assert step < label < command < body, lines
    assert plan.consequence == (
        "This changes the cluster. Confirming runs the numbered steps, not the command to run "
        "by hand."
    )
    # A refused plan's commands are its advice: right after the reason, nothing to confirm.
    refused = dataclasses.replace(plan, steps=(), refused="No.", commands_when="")
    lines = refused.describe().splitlines()
    assert lines[lines.index("REFUSED: No.") + 1].startswith("run by hand: kubectl")
    assert not any(line.startswith("Not run when confirmed") for line in lines)
