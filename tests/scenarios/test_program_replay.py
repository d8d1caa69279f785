"""`sim-replay`: recorded bytes come out exactly, at the recorded pace or scaled."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from simcluster.kubelet.programs.replay import parse_timing, run_replay
from simcluster.kubelet.programs.supervise import KILLED_EXIT, key_of, kill, supervise
from tests.scenarios.proc_helpers import make_pod, run

# What users paste from their clusters: CRLF from a pty, bare \r progress, colour codes.
RECORDED = (
    b"INFO: Downloading model from URL...\r\n"
    b"\x1b[32m[#4f2 12MiB/300MiB(4%) CN:4 DL:8.1MiB]\x1b[0m\r"
    b"\x1b[32m[#4f2 24MiB/300MiB(8%) CN:4 DL:8.2MiB]\x1b[0m\r"
    b"Completed 256.0 KiB/300.0 MiB (1.2 MiB/s) with 1 file(s) remaining\r"
    b"\xff\xfe not utf-8 \x00\n"
    b"INFO: Server ready on port 2269\n"
)


def write(pod_root: Path, name: str, data: bytes) -> str:
    (pod_root / "files" / name).write_bytes(data)
    return f"/replay/{name}"


async def test_replay_all_at_once_is_byte_exact(tmp_path: Path) -> None:
    pod = make_pod(tmp_path)
    log = write(tmp_path, "session.log", RECORDED)
    r = await run(pod, run_replay, "sim-replay", log)
    assert r.code == 0
    assert bytes(r.out) == RECORDED and r.err == b""


async def test_replay_follows_the_timing_file_and_speed(tmp_path: Path) -> None:
    pod = make_pod(tmp_path)
    log = write(tmp_path, "s.log", RECORDED)
    # Three writes 0.4 s apart, the rest of the log uncovered (written at the end).
    timing = write(tmp_path, "s.timing", b"0.0 37\n0.4 47\n0.4 47\n")
    seen: list[tuple[float, int]] = []
    start = time.monotonic()

    async def out(data: bytes) -> None:
        seen.append((time.monotonic() - start, len(data)))
        pod.captured.out.extend(data)

    pod.ctx.io._out = out  # type: ignore[attr-defined]  # timestamp each write
    code = await run_replay(["sim-replay", "--timing", timing, "--exit-code", "3", log], pod.ctx)
    assert code == 3
    assert bytes(pod.captured.out) == RECORDED
    assert [n for _t, n in seen][:3] == [37, 47, 47]
    assert 0.35 <= seen[1][0] <= 0.7 and 0.75 <= seen[2][0] <= 1.2

    pod2 = make_pod(tmp_path / "fast")
    write(tmp_path / "fast", "s.log", RECORDED)
    write(tmp_path / "fast", "s.timing", b"0.0 37\n0.4 47\n0.4 47\n")
    t0 = time.monotonic()
    r = await run(pod2, run_replay, "sim-replay", "--speed", "4", "--timing", timing, log)
    assert r.code == 0 and bytes(r.out) == RECORDED
    assert 0.15 <= time.monotonic() - t0 < 0.6  # 0.8 s recorded, played 4x


async def test_replay_errors_name_the_file_and_line(tmp_path: Path) -> None:
    pod = make_pod(tmp_path)
    log = write(tmp_path, "s.log", RECORDED)
    timing = write(tmp_path, "bad.timing", b"0.1 10\nzero 5\n")
    r = await run(pod, run_replay, "sim-replay", "--timing", timing, log)
    assert r.code == 2
    assert r.stderr == (
        "sim-replay: /replay/bad.timing:2: expected 'DELAY BYTES' (e.g. '0.25 80'), got 'zero 5'\n"
    )
    pod = make_pod(tmp_path / "b")
    r = await run(pod, run_replay, "sim-replay", "/replay/missing.log")
    assert (
        r.code == 1 and r.stderr == "sim-replay: /replay/missing.log: No such file or directory\n"
    )


def test_advanced_timing_format_keeps_only_output() -> None:
    text = "H 0.0 START_TIME 2026-11-27\nO 0.5 10\nI 0.1 3\nS 0.0 SIGWINCH\nO 0.25 4\n"
    steps = parse_timing(text, "t")
    assert [(s.delay, s.length) for s in steps] == [(0.5, 10), (0.25, 4)]


async def test_a_supervised_program_can_be_killed(tmp_path: Path) -> None:
    pod = make_pod(tmp_path)

    async def forever() -> int:
        await asyncio.Event().wait()
        return 0

    task = asyncio.create_task(supervise(pod.ctx, forever()))
    await asyncio.sleep(0.05)
    assert kill(key_of(pod.ctx.scratch))
    assert await asyncio.wait_for(task, 2) == KILLED_EXIT


async def test_a_script_typescript_loses_its_header_and_trailer(tmp_path: Path) -> None:
    pod = make_pod(tmp_path)
    body = b"wget -O model.bin ...\r\nmodel.bin  6%[>   ] 192K\rmodel.bin 100%[====] 3.0M\r\n"
    typescript = (
        b'Script started on 2026-11-27 11:05:16+00:00 [COMMAND="wget"]\n'
        + body
        + b'\nScript done on 2026-11-27 11:05:36+00:00 [COMMAND_EXIT_CODE="0"]\n'
    )
    log = write(tmp_path, "t.log", typescript)
    timing = write(tmp_path, "t.timing", f"0.0 {len(body) - 10}\n0.01 10\n".encode())
    r = await run(pod, run_replay, "sim-replay", "--speed", "0", "--timing", timing, log)
    assert r.code == 0 and bytes(r.out) == body


def test_the_bundled_recording_is_a_real_pty_capture() -> None:
    from simcluster.cli import RECORDINGS, replay_scenario

    s = replay_scenario(Path("wget-pty"), None, "0", 0)
    files = dict(s.images[0].files)
    assert files["/replay/session.log"].host == RECORDINGS / "wget-pty.log"
    assert files["/replay/session.timing"].host == RECORDINGS / "wget-pty.log.timing"
    data = (RECORDINGS / "wget-pty.log").read_bytes()
    assert data.startswith(b"Script started on ") and b"\r\n" in data and b"%[" in data
    steps = parse_timing((RECORDINGS / "wget-pty.log.timing").read_text(), "t")
    header = data.index(b"\n") + 1
    assert sum(st.length for st in steps) <= len(data) - header


REPLAY_SCENARIO = """\
name: my-replay
description: a user's log, replayed
nodes: 1
images:
  - image: sim/user-log:1
    files:
      /replay/user.log: {host: user.log}
objects:
  - apiVersion: v1
    kind: Pod
    metadata: {name: lightning-asr-user, labels: {app: lightning-asr}}
    spec:
      restartPolicy: Never
      containers:
        - name: lightning-asr
          image: sim/user-log:1
          command: [sim-replay, --exit-code, "5", /replay/user.log]
"""


def test_a_scenario_names_a_recorded_log_on_the_host(tmp_path: Path, start) -> None:
    from tests.polling import wait_until
    from tests.scenarios.conftest import NS

    (tmp_path / "user.log").write_bytes(RECORDED)
    (tmp_path / "my-replay.yaml").write_text(REPLAY_SCENARIO)
    w = start(str(tmp_path / "my-replay.yaml"))
    pod = wait_until(
        lambda: (
            (p := w.core.read_namespaced_pod("lightning-asr-user", NS)).status.phase == "Failed"
            and p
        ),
        20,
    )
    assert pod.status.container_statuses[0].state.terminated.exit_code == 5
    assert w.log("lightning-asr-user") == RECORDED
