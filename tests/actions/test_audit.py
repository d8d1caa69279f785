"""The audit log's location and line shape, the Event body, and headless exits without a cluster."""

from __future__ import annotations

import argparse
import io
import json
import threading
from pathlib import Path

import pytest

from actions.audit import AuditLog, audit_path, event_body
from actions.options import ActionOptions
from actions.plan import ActionResult
from actions.purge import plan_purge
from collectors.model import ModelState
from tests.actions.builders import pod, snapshot
from tui.action_cmds import EXIT_REFUSED, EXIT_USAGE, run
from tui.cli import build_parser


def test_audit_path_follows_xdg_state_home(tmp_path: Path) -> None:
    assert audit_path({"XDG_STATE_HOME": str(tmp_path)}) == (
        tmp_path / "asr-cache-tui" / "audit.log"
    )
    default = audit_path({})
    assert default == Path.home() / ".local" / "state" / "asr-cache-tui" / "audit.log"
    # A relative XDG_STATE_HOME is invalid per the spec and ignored.
    assert audit_path({"XDG_STATE_HOME": "rel"}) == default


def _result(ok: bool = True) -> ActionResult:
    snap = snapshot(pod("asr-a", state=ModelState.CORRUPT))
    plan = plan_purge(snap, "asr-a", ActionOptions())
    return ActionResult(
        plan,
        ok,
        "Deleted /app/models/model.bin. http://u:pw@h/x?sig=abc",
        details={"deleted": ["/app/models/model.bin"]},
    )


def test_audit_lines_are_whole_json_objects_even_from_many_threads(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "state" / "asr-cache-tui" / "audit.log")
    result = _result()

    def write() -> None:
        for _ in range(20):
            log.write(
                who={"kube_user": "admin", "os_user": "me"},
                context="sim",
                namespace="smallest",
                server="http://127.0.0.1:1",
                result=result,
                started=1_700_000_000.0,
                event="asr-a.1",
            )

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = log.path.read_text().splitlines()
    assert len(lines) == 80
    record = json.loads(lines[0])
    assert record["who"] == {"kube_user": "admin", "os_user": "me"}
    assert (record["context"], record["namespace"], record["action"]) == (
        "sim",
        "smallest",
        "purge",
    )
    assert record["target"] == "pod/asr-a" and record["event"] == "asr-a.1"
    assert record["plan"]["steps"][2].startswith("EXEC in asr-a/lightning-asr: rm -f")
    assert record["outcome"]["ok"] is True
    assert record["started"] == "2023-11-14T22:13:20.000Z" and record["ts"].endswith("Z")
    assert "pw" not in lines[0] and "sig=abc" not in lines[0]
    assert oct(log.path.stat().st_mode & 0o777) == "0o600"


def test_event_body_names_the_target_and_the_outcome() -> None:
    body = event_body(_result(ok=False), "admin", 1_700_000_000.0, uid="uid-asr-a")
    assert body["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "asr-a",
        "namespace": "smallest",
        "uid": "uid-asr-a",
    }
    assert body["reason"] == "AsrCacheTuiPurge" and body["type"] == "Warning"
    assert body["source"]["component"] == "asr-cache-tui"
    assert body["message"].startswith(
        "Delete the model /app/models/model.bin of pod asr-a by admin"
    )
    assert "pw" not in body["message"]
    assert body["metadata"]["name"].startswith("asr-a.")


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_read_only_runs_nothing() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run(_args("--read-only", "restart", "asr-a", "--yes"), out=out, err=err)
    assert code == EXIT_REFUSED and "read-only" in err.getvalue()


def test_a_missing_kubeconfig_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    args = _args("verify", "asr-a", "--kubeconfig", str(tmp_path / "nope"), "-o", "json")
    code = run(args, out=out, err=err)
    assert code == EXIT_USAGE
    doc = json.loads(out.getvalue())
    assert doc["exit_code"] == 2 and str(tmp_path / "nope") in doc["message"]
    assert doc["message"].count("\n") == 0


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("restart", "asr-a"), "restart-pod"),
        (("restart", "deployment/lightning-asr"), "rollout-restart"),
        (("restart", "asr-a", "--rollout"), "rollout-restart"),
        (("fix", "asr-a"), "fix"),
        (("purge", "asr-a"), "purge"),
        (("switch", "lightning-asr-v2"), "switch"),
        (("prewarm",), "prewarm"),
    ],
)
def test_subcommands_map_to_actions(argv: tuple[str, ...], expected: str) -> None:
    from tui.action_cmds import action_id

    assert action_id(_args(*argv)) == expected
