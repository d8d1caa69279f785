"""The headless subcommands against the simulator: plan printed, confirmation, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.actions.world import asr_deployment, pvc, ready_pods
from tui.action_cmds import (
    EXIT_FORBIDDEN,
    EXIT_NOT_CONFIRMED,
    EXIT_OK,
    EXIT_REFUSED,
    run,
)
from tui.cli import build_parser


@pytest.fixture
def ready(world: Any, model: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    url = world.sim.model_server.url("/models/v1/model.bin")
    world.sim.apply([pvc(), asr_deployment("lightning-asr", url, "sha256:" + model.sha256)])
    snap = world.wait_snapshot(lambda s: len(ready_pods(s, "lightning-asr")) == 1, 30, "ready")
    return ready_pods(snap, "lightning-asr")


def cli(world: Any, *argv: str, user: str = "admin", stdin: str = "") -> tuple[int, str, str]:
    kubeconfig = world.sim.write_kubeconfig(world.tmp / f"cli-{user}", user=user)
    args = build_parser().parse_args(
        [*argv, "--kubeconfig", str(kubeconfig), "-n", "smallest", "--timeout", "30"]
    )
    out, err = io.StringIO(), io.StringIO()
    code = run(args, stdin=io.StringIO(stdin), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_restart_with_yes_prints_json_and_audits(
    world: Any, ready: list[str], tmp_path: Path
) -> None:
    code, out, err = cli(world, "restart", ready[0], "--yes", "-o", "json")
    assert code == EXIT_OK, (out, err)
    doc = json.loads(out)
    assert doc["exit_code"] == 0 and doc["result"]["ok"] is True
    assert doc["plan"]["action"] == "restart-pod" and doc["plan"]["target"] == f"pod/{ready[0]}"
    assert doc["plan"]["steps"][0].startswith(f"DELETE pods/{ready[0]}")
    log = tmp_path / "xdg" / "asr-cache-tui" / "audit.log"
    (line,) = [json.loads(x) for x in log.read_text().splitlines()]
    assert line["action"] == "restart-pod" and line["who"]["kube_user"] == "simcluster-admin"
    assert doc["result"]["details"]["event"] == line["event"]


def test_without_a_terminal_and_without_yes_nothing_runs(world: Any, ready: list[str]) -> None:
    code, out, err = cli(world, "restart", ready[0])
    assert code == EXIT_NOT_CONFIRMED and "--yes" in err
    assert f"Restart pod {ready[0]}" in out, "the plan is printed"
    assert ready_pods(world.snapshot(), "lightning-asr") == ready


def test_viewer_is_forbidden_with_the_missing_permission(world: Any, ready: list[str]) -> None:
    code, _out, err = cli(world, "restart", ready[0], "--yes", user="viewer")
    assert code == EXIT_FORBIDDEN
    assert "Forbidden: needs delete pods in smallest" in err
    assert ready_pods(world.snapshot(), "lightning-asr") == ready


def test_hostile_path_is_refused_and_dry_run_changes_nothing(world: Any, ready: list[str]) -> None:
    code, _out, err = cli(world, "purge", ready[0], "--path", "../../etc", "--yes")
    assert code == EXIT_REFUSED and "'..'" in err
    code, out, _err = cli(world, "purge", ready[0], "--dry-run")
    assert code == EXIT_OK and "Dry run" in out
    assert ready_pods(world.snapshot(), "lightning-asr") == ready
    assert world.audit_lines() == []


def test_read_only_service_offers_nothing_and_runs_nothing(world: Any, ready: list[str]) -> None:
    from actions import registry
    from actions.provider import ServiceActionProvider
    from actions.service import READ_ONLY, ActionService

    service = ActionService(world.cluster, read_only=True)
    provider = ServiceActionProvider(service)
    assert set(provider.permissions().values()) == {READ_ONLY}
    plan = provider.plan(registry.RESTART_POD, world.snapshot(), ready[0])
    result = provider.execute(plan)
    assert not result.ok and "read-only" in result.message
    assert ready_pods(world.snapshot(), "lightning-asr") == ready
