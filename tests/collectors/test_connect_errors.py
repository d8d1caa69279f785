"""Connection problems each end in one sentence naming the file, context or permission."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from collectors.cluster import ClusterError, ConnectionSettings, connect
from tui.status_cmd import run as run_status

GOOD = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "sim",
    "clusters": [{"name": "sim", "cluster": {"server": "http://127.0.0.1:1"}}],
    "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "admin"}}],
    "users": [{"name": "admin", "user": {"token": "t0ken"}}],
}


def _kubeconfig(tmp: Path, server: str = "http://127.0.0.1:1", token: str = "t0ken") -> Path:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    doc["clusters"][0]["cluster"]["server"] = server
    doc["users"][0]["user"]["token"] = token
    path = tmp / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def _status(**kw: object) -> tuple[int, str, str]:
    args = argparse.Namespace(
        output="json",
        watch=False,
        selector="app=lightning-asr",
        stall_after=60.0,
        request_timeout=3.0,
        refresh=5.0,
        values=None,
        namespace=None,
        context=None,
        kubeconfig=None,
    )
    for k, v in kw.items():
        setattr(args, k, v)
    out, err = io.StringIO(), io.StringIO()
    code = run_status(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _one_sentence(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    assert lines[0].endswith(".")
    return lines[0]


def test_missing_kubeconfig_file(tmp_path: Path) -> None:
    code, out, err = _status(kubeconfig=str(tmp_path / "nope"))
    assert code == 2 and out == ""
    assert f"kubeconfig {tmp_path / 'nope'} does not exist" in _one_sentence(err)


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nclusters: [\n  - name: x\n foo: : bar\n")
    code, _, err = _status(kubeconfig=str(path))
    line = _one_sentence(err)
    assert code == 2 and str(path) in line and "not valid YAML at line 3" in line


def test_kubeconfig_from_env_that_does_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ClusterError, match=r"from \$KUBECONFIG\) does not exist"):
        connect(ConnectionSettings())


def test_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path)
    code, _, err = _status(kubeconfig=str(path), context="prod")
    line = _one_sentence(err)
    assert code == 2 and "context 'prod'" in line and "(contexts: sim)" in line


def test_dead_port_is_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        path = _kubeconfig(tmp_path, server=f"http://127.0.0.1:{port}")
        code, _, err = _status(kubeconfig=str(path))
    line = _one_sentence(err)
    assert code == 2 and "cannot reach the API server" in line and "connection refused" in line
    assert "context 'sim'" in line


@pytest.fixture
def denying_server() -> Iterator[str]:
    """A real HTTP server that answers 401 to one token and 403 to any other."""

    async def handler(request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "")
        if token.endswith("bad-token"):
            code, reason = 401, "Unauthorized"
            message = "Unauthorized"
        else:
            code, reason = 403, "Forbidden"
            message = (
                'pods is forbidden: User "viewer" cannot list resource "pods" in API group "" '
                'in the namespace "smallest"'
            )
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
        return web.json_response(body, status=code)

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def test_401_names_the_user_and_file(tmp_path: Path, denying_server: str) -> None:
    path = _kubeconfig(tmp_path, server=denying_server, token="bad-token")
    code, _, err = _status(kubeconfig=str(path))
    line = _one_sentence(err)
    assert code == 2 and "401 Unauthorized" in line and "user 'admin'" in line
    assert str(path) in line


def test_403_names_the_permission(tmp_path: Path, denying_server: str) -> None:
    path = _kubeconfig(tmp_path, server=denying_server)
    code, _, err = _status(kubeconfig=str(path))
    line = _one_sentence(err)
    assert code == 2 and "403 Forbidden" in line
    assert "may not list pods in namespace 'smallest'" in line and "verb 'list'" in line


def test_bad_selector_and_values_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = _status(kubeconfig=str(_kubeconfig(tmp_path)), selector="app in (x")
    assert code == 2 and "label selector" in _one_sentence(err)
    values = tmp_path / "values.yaml"
    values.write_text("models: [\n")
    code, _, err = _status(kubeconfig=str(_kubeconfig(tmp_path)), values=str(values))
    assert code == 2 and f"values file {values} is not valid YAML" in _one_sentence(err)


@pytest.fixture
def partial_rbac_server() -> Iterator[str]:
    """A real server whose role may list everything but CronJobs and Events (empty lists)."""

    async def handler(request: web.Request) -> web.Response:
        path = request.path
        if path.endswith(("/cronjobs", "/events")):
            resource = path.rsplit("/", 1)[1]
            body = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "code": 403,
                "reason": "Forbidden",
                "message": f'{resource} is forbidden: User "ci" cannot list resource',
            }
            return web.json_response(body, status=403)
        return web.json_response(
            {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": []}
        )

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def test_a_forbidden_optional_kind_is_a_note_not_an_error(
    tmp_path: Path, partial_rbac_server: str
) -> None:
    path = _kubeconfig(tmp_path, server=partial_rbac_server)
    code, out, err = _status(kubeconfig=str(path))
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["stale"] is False and doc["pods"] == []
    assert len(doc["notes"]) == 2
    assert "may not list cronjobs" in doc["notes"][0] and "may not list events" in doc["notes"][1]


def test_a_request_without_its_own_timeout_still_times_out(tmp_path: Path) -> None:
    """A server that accepts and then says nothing must not hang a forgotten-timeout call."""
    import time

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        path = _kubeconfig(tmp_path, server=f"http://127.0.0.1:{server.getsockname()[1]}")
        cluster = connect(ConnectionSettings(kubeconfig=str(path), request_timeout=1.0))
        started = time.monotonic()
        with pytest.raises(Exception, match=r"(?i)timed? ?out"):
            cluster.core.list_namespaced_pod("smallest")  # no _request_timeout given
        assert time.monotonic() - started < 5
        cluster.close()
