"""Exec over WebSocket through the official client: exit codes, stderr, stdin, hostile paths,
and the raw protocol (subprotocol choice, first empty stdout frame, status, close 1000)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from kubernetes.stream import stream

from tests.simcluster.kubelet_helpers import KubeletHarness, shell


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("exec")
    with KubeletHarness(root) as harness:
        harness.call(
            harness.store.create,
            "persistentvolumeclaims",
            {
                "metadata": {"name": "models", "namespace": "default"},
                "spec": {"resources": {"requests": {"storage": "64Mi"}}},
            },
        )
        harness.create_pod(
            "asr",
            [shell("main", "sleep 600", volumeMounts=[{"name": "m", "mountPath": "/app/models"}])],
            volumes=[{"name": "m", "persistentVolumeClaim": {"claimName": "models"}}],
        )
        harness.wait(lambda: harness.container_state("asr", "main").get("ready"), what="ready")
        yield harness


def _exec(h: KubeletHarness, *command: str, stdin: bytes | None = None):
    resp = stream(
        h.core().connect_get_namespaced_pod_exec,
        "asr",
        "default",
        command=list(command),
        container="main",
        stderr=True,
        stdin=stdin is not None,
        stdout=True,
        tty=False,
        _preload_content=False,
        binary=True,
    )
    if stdin is not None:
        resp.write_stdin(stdin)
        resp.close_channel(0)
    resp.run_forever(timeout=10)
    out = resp.read_stdout() or b""
    err = resp.read_stderr() or b""
    return resp.returncode, out, err


def test_exit_codes_and_stderr(h: KubeletHarness) -> None:
    assert _exec(h, "sh", "-c", "exit 3")[0] == 3
    code, out, err = _exec(h, "sh", "-c", "echo out; echo err >&2; exit 0")
    assert (code, out, err) == (0, b"out\n", b"err\n")
    code, out, err = _exec(h, "no-such-tool", "--x")
    assert code == 127 and err == b"sh: no-such-tool: command not found\n"


def test_df_du_stat_in_the_pod(h: KubeletHarness) -> None:
    code, out, _ = _exec(h, "df", "-h", "/app/models")
    assert code == 0 and out.decode().splitlines()[1].split()[-1] == "/app/models"
    code, out, _ = _exec(h, "sh", "-c", "printf 'abc' > /app/models/f; du -sb /app/models/f")
    assert code == 0 and out == b"3\t/app/models/f\n"
    code, out, _ = _exec(h, "stat", "-c", "%s %n", "/app/models/f")
    assert out == b"3 /app/models/f\n"


def test_stdin_reaches_the_command(h: KubeletHarness) -> None:
    code, out, _ = _exec(h, "sha256sum", stdin=b"hello")
    assert code == 0
    assert out.startswith(b"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    code, out, _ = _exec(h, "cat", stdin=b"x" * 200_000)
    assert code == 0 and out == b"x" * 200_000


def test_exec_cannot_read_or_delete_host_files(h: KubeletHarness, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("host only\n")
    pvc = h.kubelet.volumes.pvc_path("default", "models")
    os.symlink(str(secret), pvc / "escape")
    for command in (
        ["cat", "../../../../../etc/passwd"],
        ["cat", "/etc/passwd"],
        ["cat", str(secret)],
        ["cat", "/app/models/escape"],
        ["sh", "-c", "cat /app/models/../../../../etc/hostname"],
    ):
        code, out, err = _exec(h, *command)
        assert code == 1 and out == b"" and b"No such file or directory" in err, command
    for command in (
        ["rm", "-rf", str(secret)],
        ["rm", "-rf", "/app/models/escape/"],
        ["sh", "-c", f"rm -f {secret} /app/models/../../..{secret}"],
    ):
        _exec(h, *command)
    assert secret.read_text() == "host only\n"


def test_raw_protocol_frames(h: KubeletHarness) -> None:
    """v4 chosen when only v4 is offered; first frame is an empty stdout; status; close 1000."""
    import websocket

    url = h.url.replace("http://", "ws://") + (
        "/api/v1/namespaces/default/pods/asr/exec?command=sh&command=-c&command=echo%20hi%3B%20exit%207"
        "&container=main&stdout=true&stderr=true"
    )
    ws = websocket.create_connection(url, subprotocols=["v4.channel.k8s.io"], timeout=10)
    assert ws.subprotocol == "v4.channel.k8s.io"
    frames = []
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            assert int.from_bytes(data[:2], "big") == 1000
            break
        frames.append(data)
    ws.close()
    assert frames[0] == b"\x01"
    assert b"\x01hi\n" in frames
    status = json.loads(frames[-1][1:])
    assert frames[-1][0] == 3 and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"][0] == {"reason": "ExitCode", "message": "7"}


def test_exec_errors(h: KubeletHarness) -> None:
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as exc:
        stream(
            h.core().connect_get_namespaced_pod_exec,
            "nope",
            "default",
            command=["ls"],
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
        )
    # The client reports a failed WebSocket handshake with the server's status in the reason.
    assert "404" in str(exc.value.reason)
