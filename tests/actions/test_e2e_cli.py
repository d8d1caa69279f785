"""The headless subcommands on efs-shared: plan printed, confirmation, exit codes, audit."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pty
import select
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import pytest

from actions.plan import ActionPlan
from tests.actions.world import World, efs_shared, fingerprint
from tui.action_cmds import (
    EXIT_FORBIDDEN,
    EXIT_NOT_CONFIRMED,
    EXIT_OK,
    EXIT_REFUSED,
    confirm,
    run,
)
from tui.cli import build_parser

Quiet = tuple[World, list[str]]


@pytest.fixture(autouse=True)
def state_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "asr-cache-tui" / "audit.log"


@pytest.fixture
def unchanged(quiet: Quiet, state_home: Path) -> Iterator[Quiet]:
    world, _pods = quiet
    before = fingerprint(world)
    yield quiet
    assert fingerprint(world) == before
    assert not state_home.exists(), "nothing ran, so nothing was audited"


def cli(world: World, *argv: str, user: str = "admin", stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_to(world, out, err, *argv, user=user, stdin=stdin)
    return code, out.getvalue(), err.getvalue()


def cli_to(
    world: World, out: TextIO, err: TextIO, *argv: str, user: str = "admin", stdin: str = ""
) -> int:
    kubeconfig = world.sim.write_kubeconfig(world.tmp / f"cli-{user}", user=user)
    args = build_parser().parse_args(
        [*argv, "--kubeconfig", str(kubeconfig), "-n", "smallest", "--timeout", "30"]
    )
    return run(args, stdin=io.StringIO(stdin), out=out, err=err)


def test_restart_with_yes_prints_json_and_audits(
    start: Callable[..., World], state_home: Path
) -> None:
    world, pods = efs_shared(start)
    code, out, err = cli(world, "restart", pods[0], "--yes", "-o", "json")
    assert code == EXIT_OK, (out, err)
    doc = json.loads(out)
    assert doc["exit_code"] == 0 and doc["result"]["ok"] is True
    assert doc["plan"]["action"] == "restart-pod" and doc["plan"]["target"] == f"pod/{pods[0]}"
    assert doc["plan"]["steps"][0].startswith(f"DELETE pods/{pods[0]}")
    (new,) = doc["result"]["details"]["ready_pods"]
    assert new not in pods and new in world.wait_ready("lightning-asr", 4)
    (line,) = [json.loads(x) for x in state_home.read_text().splitlines()]
    assert line["action"] == "restart-pod" and line["who"]["kube_user"] == "simcluster-admin"
    assert doc["result"]["details"]["event"] == line["event"]


def test_without_a_terminal_and_without_yes_nothing_runs(unchanged: Quiet) -> None:
    world, pods = unchanged
    code, out, err = cli(world, "restart", pods[0])
    assert code == EXIT_NOT_CONFIRMED and "--yes" in err
    assert f"Restart pod {pods[0]}" in out, "the plan is printed"


def test_viewer_is_forbidden_with_the_missing_permission(unchanged: Quiet) -> None:
    world, pods = unchanged
    code, _out, err = cli(world, "restart", pods[0], "--yes", user="viewer")
    assert code == EXIT_FORBIDDEN
    assert "Forbidden: needs delete pods in smallest" in err


def test_hostile_path_is_refused_and_dry_run_changes_nothing(unchanged: Quiet) -> None:
    world, pods = unchanged
    code, _out, err = cli(world, "purge", pods[0], "--path", "../../etc", "--yes")
    assert code == EXIT_REFUSED and "'..'" in err
    code, out, _err = cli(world, "purge", pods[0], "--dry-run")
    assert code == EXIT_OK and "Dry run" in out


def test_on_one_terminal_a_refusal_is_said_once(unchanged: Quiet) -> None:
    """The plan ends with the reason; stderr repeats it for scripts, but a person reading
    both on one terminal reads it once."""
    world, pods = unchanged
    master, slave = pty.openpty()
    try:
        with open(os.dup(slave), "w") as out, open(os.dup(slave), "w") as err:
            code = cli_to(world, out, err, "purge", pods[0], "--path", "../../etc", "--yes")
        screen = _drain(master)
    finally:
        os.close(master)
        os.close(slave)
    assert code == EXIT_REFUSED
    (reason,) = [line for line in screen.splitlines() if "'..'" in line]
    assert reason.startswith("REFUSED: "), screen


def _drain(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 0.5)[0]:
        chunks.append(os.read(fd, 65536))
    return b"".join(chunks).decode()


def test_read_only_refuses_every_subcommand(unchanged: Quiet) -> None:
    world, pods = unchanged
    for argv in (
        ("restart", pods[0], "--yes"),
        ("verify", pods[0], "--yes"),
        ("purge", pods[0], "--yes"),
        ("fix", pods[0], "--yes"),
        ("prewarm", "deployment/lightning-asr", "--yes"),
        ("switch", "lightning-asr", "--yes"),
    ):
        code, _out, err = cli(world, *argv, "--read-only")
        assert code == EXIT_REFUSED and "read-only" in err, (argv, err)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_prompt_says_what_confirming_does() -> None:
    """As the dialogs do: "cannot be undone" only for what deletes files, else the way back."""
    plan = ActionPlan(action="switch", title="t", target="x", namespace="ns", destructive=True)
    err = io.StringIO()
    assert confirm(dataclasses.replace(plan, irreversible=True), _Terminal("y\n"), err)
    assert err.getvalue() == "This changes the cluster and cannot be undone. Proceed? [y/N] "
    err = io.StringIO()
    back = dataclasses.replace(plan, way_back="asr-cache-tui switch --back")
    assert not confirm(back, _Terminal("\n"), err)
    assert err.getvalue().startswith("This changes the cluster. Way back: asr-cache-tui switch")
