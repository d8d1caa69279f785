"""The wget stand-in against the real model server: dot output, resume, exit codes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simcluster.kubelet.commands import run_command
from simcluster.kubelet.programs.standins import standin_commands
from simcluster.kubelet.programs.wget import DotProgress, human_size, run_wget
from simcluster.modelserver import Faults, ModelServer
from tests.scenarios.proc_helpers import can_mount, make_pod, run, sha256_of, small_tmpfs

SIZE = 2 * 1024 * 1024 + 3000  # not a multiple of a row, so the last row is padded
ROW = re.compile(r"^ *\d+K( [.,]{1,10}){0,5} *\s+\d+% +[\d.]+[ KMG](=[\d.]+s| \d+s)$")


@pytest.fixture
async def server() -> AsyncIterator[ModelServer]:
    async with ModelServer() as s:
        s.add_file("/models/model.bin", SIZE, seed=3)
        yield s


async def test_wget_downloads_and_writes_dot_progress(tmp_path: Path, server: ModelServer) -> None:
    pod = make_pod(tmp_path)
    url = server.url("/models/model.bin")
    r = await run(pod, run_wget, "wget", "-O", "/app/models/model.bin", url)
    assert r.code == 0, r.stderr
    assert r.out == b""  # wget logs to stderr
    assert sha256_of(pod.models / "model.bin") == server.file("/models/model.bin").sha256
    lines = r.stderr.split("\n")
    assert re.match(
        r"^--\d{4}-\d\d-\d\d \d\d:\d\d:\d\d--  http://127\.0\.0\.1:\d+/models/model\.bin$", lines[0]
    )
    assert lines[1] == f"Connecting to 127.0.0.1:{server.port}... connected."
    assert lines[2] == "HTTP request sent, awaiting response... 200 OK"
    assert lines[3] == f"Length: {SIZE} (2.0M) [application/octet-stream]"
    assert lines[4] == "Saving to: '/app/models/model.bin'"
    assert lines[5] == ""
    rows = [ln for ln in lines if re.match(r"^ *\d+K ", ln)]
    assert len(rows) == -(-SIZE // (50 * 1024))  # one row per 50 KiB
    assert all(ROW.match(row) for row in rows), [r for r in rows if not ROW.match(r)][:2]
    assert rows[0].startswith("     0K .......... .......... .......... .......... ..........  2% ")
    assert "100% " in rows[-1] and "=" in rows[-1]
    assert re.search(
        rf"\(\S+ [KMG]?B/s\) - '/app/models/model\.bin' saved \[{SIZE}/{SIZE}\]\n\n$",
        r.stderr,
    )


async def test_wget_resumes_a_dropped_connection_with_range(
    tmp_path: Path, server: ModelServer
) -> None:
    server.set_faults("/models/model.bin", Faults(drop_after=1_000_000, drop_requests=1))
    pod = make_pod(tmp_path)
    r = await run(
        pod, run_wget, "wget", "-O", "/app/models/model.bin", server.url("/models/model.bin")
    )
    assert r.code == 0, r.stderr
    assert "Connection closed at byte 1000000. Retrying." in r.stderr
    assert re.search(r"--\S+ \S+--  \(try: 2\)  http://", r.stderr)
    assert "206 Partial Content" in r.stderr
    assert f"Length: {SIZE} (2.0M), {SIZE - 1_000_000} (1.0M) remaining" in r.stderr
    assert "        [ skipping 950K ]\n   950K ,,,,,,,,,, ,,,,,,,,,, ,,,,,,.... ....." in r.stderr
    assert sha256_of(pod.models / "model.bin") == server.file("/models/model.bin").sha256
    stats = server.stats("/models/model.bin")
    assert stats.statuses == {200: 1, 206: 1}


async def test_wget_exit_codes(tmp_path: Path, server: ModelServer) -> None:
    pod = make_pod(tmp_path)
    r = await run(pod, run_wget, "wget", "-O", "/app/models/x", server.url("/missing"))
    assert r.code == 8 and re.search(r"ERROR 404: Not Found\.\n", r.stderr)

    pod = make_pod(tmp_path / "b")
    r = await run(
        pod, run_wget, "wget", "-O", "/app/models/no/such/dir/x", server.url("/models/model.bin")
    )
    assert r.code == 1 and r.stderr == "/app/models/no/such/dir/x: No such file or directory\n"

    pod = make_pod(tmp_path / "c")
    r = await run(pod, run_wget, "wget", "-O", "/app/models/x", "http://127.0.0.1:1/model.bin")
    assert r.code == 4 and r.stderr.endswith("failed: Connection refused.\n")

    pod = make_pod(tmp_path / "d")
    r = await run(pod, run_wget, "wget", "--frobnicate", "http://x")
    assert r.code == 2 and r.stderr.startswith("wget: unrecognized option '--frobnicate'\n")

    pod = make_pod(tmp_path / "e")
    r = await run(pod, run_wget, "wget", "-O", "/etc/passwd", server.url("/models/model.bin"))
    assert r.code == 1  # outside the pod's volumes: nothing to write to
    assert "Read-only file system" in r.stderr or "No such file" in r.stderr

    server.set_faults("/models/model.bin", Faults(fail_status=503))
    pod = make_pod(tmp_path / "f")
    r = await run(
        pod, run_wget, "wget", "-q", "-O", "/app/models/m", server.url("/models/model.bin")
    )
    assert r.code == 8 and r.stderr == ""


@pytest.mark.skipif(not can_mount(), reason="needs root to mount a small tmpfs")
async def test_wget_on_a_full_volume_exits_3(tmp_path: Path, server: ModelServer) -> None:
    with small_tmpfs(tmp_path / "small", 1024 * 1024) as small:
        pod = make_pod(tmp_path, models=small)
        r = await run(
            pod, run_wget, "wget", "-O", "/app/models/model.bin", server.url("/models/model.bin")
        )
    assert r.code == 3
    assert r.stderr.endswith(
        "\n\n\nCannot write to '/app/models/model.bin' (No space left on device).\n"
    )


async def test_wget_runs_from_sh_with_the_env_url(tmp_path: Path, server: ModelServer) -> None:
    pod = make_pod(tmp_path, env={"MODEL_URL": server.url("/models/model.bin")})
    with standin_commands():
        code = await run_command(["sh", "-c", "wget -O /app/models/model.bin $MODEL_URL"], pod.ctx)
    assert code == 0, pod.captured.stderr
    assert (pod.models / "model.bin").stat().st_size == SIZE


def test_dot_rows_pad_the_last_row_like_wget() -> None:
    d = DotProgress(total=60 * 1024, start=0, now=0.0)
    assert d.opening == "\n     0K"
    text = d.feed(60 * 1024, 1.0)
    assert text.startswith(" .......... .......... .......... .......... .......... 83% ")
    assert text.endswith("\n    50K ..........")
    last = d.finish(2.0)
    assert last.startswith(" " * 44 + "100% ")
    assert last.endswith("=2.0s\n")
    assert [human_size(n) for n in (512, 3 * 2**20, 300 * 2**20, 25 * 2**30)] == [
        "512",
        "3.0M",
        "300M",
        "25G",
    ]
