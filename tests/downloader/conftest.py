"""Fixtures for the downloader tests: a real model server on loopback and the downloader run
as a subprocess (`python -m actions.downloader`), with its JSON progress lines parsed and
checked against the contract on every run."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from actions.downloader.layout import make_layout
from actions.downloader.ranges import RangeSet
from actions.downloader.source import make_source
from actions.downloader.stopflag import StopFlag
from actions.downloader.transfer import FileInfo, Transfer
from actions.downloader.verify import PrefixHasher
from simcluster.modelserver import Faults, FileStats, ModelFile, ModelServer
from simcluster.tls import ServerCert, TlsError, make_self_signed

ROOT = Path(__file__).resolve().parents[2]
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NUM = (int, float)
# The progress contract: required keys and their types (None allowed where marked).
CONTRACT: dict[str, dict[str, tuple[type, ...]]] = {
    "start": {
        "url": (str,),
        "total": (int, type(None)),
        "resumed_from": (int,),
        "workers": (int,),
        "version": (str, type(None)),
    },
    "progress": {
        "done": (int,),
        "total": (int, type(None)),
        "rate": NUM,
        "eta": (*NUM, type(None)),
        "workers": (int,),
    },
    "retry": {"attempt": (int,), "of": (int,), "reason": (str,), "delay": NUM},
    "stall": {"done": (int,), "after": NUM},
    "wait": {"holder": (str, type(None)), "waited": NUM},
    "verify": {"done": (int,), "total": (int,)},
    "evict": {"path": (str,), "bytes": (int,), "version": (str, type(None)), "reason": (str,)},
    "done": {
        "bytes": (int,),
        "sha256": (str, type(None)),
        "seconds": NUM,
        "cached": (bool,),
        "path": (str,),
    },
    "error": {"code": (str,), "exit": (int,), "message": (str,)},
}


def check_event(event: dict[str, Any]) -> None:
    """Assert one parsed line follows the progress contract."""
    assert event["v"] == 1
    assert event["event"] in CONTRACT, event
    assert TS.match(event["ts"]), event["ts"]
    for key, types in CONTRACT[event["event"]].items():
        assert key in event, (key, event)
        assert isinstance(event[key], types), (key, event)
        if types == (int,) or types == NUM:
            assert not isinstance(event[key], bool), (key, event)
    if event["event"] != "error":
        assert isinstance(event.get("file"), str), event


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    @property
    def error(self) -> dict[str, Any] | None:
        errors = self.of("error")
        return errors[-1] if errors else None


def parse_events(stdout: str) -> list[dict[str, Any]]:
    events = []
    for line in stdout.splitlines():
        event = json.loads(line)  # every stdout line is one JSON object
        check_event(event)
        events.append(event)
    return events


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODEL_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "actions.downloader", *args]


def run_dl(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30, progress: str = "json"
) -> Result:
    """Run the downloader to completion and parse its progress lines."""
    argv = command(*args)
    if progress and "--progress" not in args:
        argv.append(f"--progress={progress}")
    proc = subprocess.run(
        argv, env=_env(env), capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    events = parse_events(proc.stdout) if progress == "json" else []
    return Result(proc.returncode, proc.stdout, proc.stderr, events)


def start_dl(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start the downloader in the background (JSON progress on a pipe)."""
    return subprocess.Popen(
        [*command(*args), "--progress=json"],
        env=_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> Result:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise
    return Result(proc.returncode, out, err, parse_events(out))


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def settled(server: ModelServer, path: str) -> FileStats:
    """The server's counters once every response to ``path`` has been accounted for."""
    wait_for(lambda: server.stats(path).active == 0, timeout=10)
    return server.stats(path)


@pytest.fixture(scope="session")
def model_server() -> Iterator[ModelServer]:
    with ModelServer().run_in_thread() as server:
        yield server


@dataclass(frozen=True)
class TlsServer:
    server: ModelServer
    cert: ServerCert

    @property
    def ca(self) -> Path:
        """Its self-signed certificate: what SSL_CERT_FILE must name to trust it."""
        return self.cert.cert_path


@pytest.fixture(scope="session")
def tls_model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """The model server over HTTPS, as S3 and CDNs serve models."""
    try:
        cert = make_self_signed(tmp_path_factory.mktemp("tls"))
    except TlsError as exc:
        pytest.skip(str(exc))
    with ModelServer(tls=cert.server_context()).run_in_thread() as server:
        yield TlsServer(server, cert)


@dataclass(frozen=True)
class Origin:
    server: ModelServer
    env: dict[str, str]  # what the downloader needs to trust it

    @property
    def tls(self) -> bool:
        return bool(self.env)


@pytest.fixture(params=["http", "https"])
def origin(
    request: pytest.FixtureRequest, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> Origin:
    """The plain model server, then the HTTPS one (trusted in this process's environment)."""
    if request.param == "http":
        return Origin(model_server, {})
    secure: TlsServer = request.getfixturevalue("tls_model_server")
    monkeypatch.setenv("SSL_CERT_FILE", str(secure.ca))
    return Origin(secure.server, {"SSL_CERT_FILE": str(secure.ca)})


@contextmanager
def transfer_for(
    url: str,
    tmp_path: Path,
    stall_timeout: float = 10,
    hashed: bool = False,
    hash_in_stream: bool = True,
) -> Iterator[Transfer]:
    """The production source and Transfer for one URL, probed, writing into tmp_path."""
    source = make_source(url, stall_timeout, workers=1)
    layout = make_layout(tmp_path, None, "model.bin")
    layout.directory.mkdir(parents=True, exist_ok=True)
    info = FileInfo(name="model.bin", url=url, layout=layout)
    hasher = PrefixHasher() if hashed else None
    t = Transfer(info, source, source.probe(), RangeSet(), hasher, StopFlag(), hash_in_stream)
    try:
        yield t
    finally:
        t.close()
        source.close()


_paths = itertools.count(1)


def serve(
    server: ModelServer,
    size: int,
    seed: int = 1,
    name: str = "model.bin",
    faults: Faults | None = None,
) -> tuple[ModelFile, str]:
    """Serve a generated file at a fresh path (faults and stats never leak between tests)."""
    path = f"/m{next(_paths)}/{name}"
    f = server.add_file(path, size=size, seed=seed)
    if faults is not None:
        server.set_faults(path, faults)
    return f, server.url(path)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
