"""Launching: connection failures are one clear message (exit 2, no traceback); against a
simulated cluster over real sockets the dashboard shows pods, follows a log, honours RBAC and
leaves no thread behind; ``--demo`` says clearly when it cannot start."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import io
import os
import pty
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simcluster.cluster import SimCluster
from simcluster.modelserver import Faults
from tests.polling import pilot_until
from tests.tui.screen import screen_text
from tests.tui.sim import NS, MiB, chart_objects
from tui.cli import ACTION_HELP, build_parser
from tui.launch import EXIT_USAGE, build_app, connect, run
from tui.screens.detail import PodDetailScreen
from tui.terminal import EXIT_HANGUP
from tui.widgets.header import StaleBanner
from tui.widgets.pods import PodsTable

ROOT = Path(__file__).resolve().parents[2]


def launch(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    code = run(build_parser().parse_args(argv), err=err)
    return code, err.getvalue()


def test_every_subcommand_says_what_it_does_and_what_it_acts_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no hyphenated words broken across lines
    top = build_parser().format_help()
    for name, (summary, target) in ACTION_HELP.items():
        assert summary.split()[0] in top and "see README" not in top
        parser = build_parser()
        with pytest.raises(SystemExit), contextlib.redirect_stdout(io.StringIO()) as out:
            parser.parse_args([name, "--help"])
        text = " ".join(out.getvalue().split())
        assert summary[1:] in text and target in text, text
        assert "shown and confirmed before anything changes" in text
        assert "-o {text,json}, --output {text,json} the plan and the result" in text


def spawn_in_pty(
    argv: list[str], home: Path, controlling: bool = False
) -> tuple[int, subprocess.Popen[bytes]]:
    """``argv`` in a new session on a 150x42 pty (its master returned); with ``controlling``
    the pty is the session's terminal, as a real one is a login shell's."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 42, 150, 0, 0))
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm-256color", "HOME": str(home)},
        cwd=ROOT,
        start_new_session=True,
        preexec_fn=(lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0)) if controlling else None,
    )
    os.close(slave)
    return master, proc


def read_until(master: int, proc: subprocess.Popen[bytes], *needles: bytes) -> None:
    """Read the app's screen from the pty until every needle showed (within a minute), the app
    still running."""
    seen = bytearray()
    deadline = time.monotonic() + 60
    while not all(n in seen for n in needles):
        assert time.monotonic() < deadline, seen[-2000:].decode(errors="replace")
        assert proc.poll() is None, seen[-2000:].decode(errors="replace")
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            with contextlib.suppress(OSError):
                seen += os.read(master, 65536)
        seen = seen[-200_000:]  # bounded


# A session leader that, like make, is told of the hangup, passes nothing on and waits for its
# child: the app under it never gets a SIGHUP.
HOLDER = """
import signal, subprocess, sys
signal.signal(signal.SIGHUP, lambda *_: None)
sys.exit(subprocess.call(sys.argv[1:]))
"""


def test_a_terminal_that_goes_away_ends_the_app_though_no_hangup_reaches_it(
    tmp_path: Path,
) -> None:
    """``make demo`` in a tmux pane or an SSH session that is killed: the app must leave, not
    spin on a dead terminal for ever."""
    argv = [sys.executable, "-c", HOLDER, sys.executable, "-m", "tui.cli", "--demo"]
    master, proc = spawn_in_pty(argv, tmp_path, controlling=True)
    try:
        read_until(master, proc, b"lightning-asr-")
        os.close(master)  # the terminal goes away
        master = -1
        assert proc.wait(timeout=30) == EXIT_HANGUP
        with pytest.raises(ProcessLookupError):  # nothing of its session is left
            os.killpg(proc.pid, 0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        if master >= 0:
            os.close(master)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubeconfig(tmp_path: Path, server: str, context: str = "dev") -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        f"""apiVersion: v1
kind: Config
current-context: {context}
clusters: [{{name: c, cluster: {{server: "{server}"}}}}]
users: [{{name: u, user: {{token: secret-token}}}}]
contexts: [{{name: {context}, context: {{cluster: c, user: u, namespace: {NS}}}}}]
""",
        encoding="utf-8",
    )
    return path


def assert_one_clear_message(code: int, err: str, *needles: str) -> None:
    assert code == EXIT_USAGE
    assert "Traceback" not in err and "secret-token" not in err
    assert err.startswith("asr-cache-tui: cannot connect: ")
    for needle in needles:
        assert needle in err, (needle, err)
    assert "try: `kubectl config get-contexts`" in err


def test_a_missing_kubeconfig(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    code, err = launch(["--kubeconfig", str(missing)])
    assert_one_clear_message(
        code, err, f"kubeconfig {missing} does not exist", f"kubeconfig: {missing} (--kubeconfig)"
    )


def test_a_broken_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("clusters: [\n  - name: a\n  bad", encoding="utf-8")
    code, err = launch(["--kubeconfig", str(path)])
    assert_one_clear_message(code, err, "is not valid YAML")


def test_an_unknown_context(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, "http://127.0.0.1:1")
    code, err = launch(["--kubeconfig", str(path), "--context", "prod"])
    assert_one_clear_message(code, err, "context 'prod'", "(contexts: dev)", "context:    prod")


def test_a_server_that_is_not_there(tmp_path: Path) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    path = kubeconfig(tmp_path, server)
    started = time.monotonic()
    code, err = launch(["--kubeconfig", str(path), "--request-timeout", "2"])
    assert time.monotonic() - started < 10
    assert_one_clear_message(code, err, "127.0.0.1", "context:    dev")


def test_a_bad_flag_value_is_one_sentence(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, "http://127.0.0.1:1")
    code, err = launch(["--kubeconfig", str(path), "--stall-after", "-3"])
    assert_one_clear_message(code, err, "--stall-after must be more than 0 seconds")


def test_demo_with_an_unknown_scenario_says_so() -> None:
    code, err = launch(["--demo", "no-such-scenario"])
    assert code == EXIT_USAGE and "Traceback" not in err
    assert err.startswith("asr-cache-tui --demo: scenario 'no-such-scenario' cannot start: ")
    assert "built-in ones are: " in err and "efs-shared" in err


def test_demo_starts_shows_pods_and_quits_cleanly_on_q(tmp_path: Path) -> None:
    """The real command in a real terminal (a pty): ``asr-cache-tui --demo``, then ``q``."""
    master, proc = spawn_in_pty([sys.executable, "-m", "tui.cli", "--demo"], tmp_path)
    try:
        read_until(master, proc, b"lightning-asr-", b"ready")
        os.write(master, b"q")
        drain_until = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < drain_until:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                with contextlib.suppress(OSError):
                    os.read(master, 65536)
        assert proc.wait(timeout=1) == 0
        with pytest.raises(ProcessLookupError):  # nothing of its process group is left
            os.killpg(proc.pid, 0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        os.close(master)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SimCluster]:
    with SimCluster.run_in_thread(tmp_path / "sim") as sim:
        f = sim.model_server.add_file("/models/v1/model.bin", size=16 * MiB, seed=7)
        sim.model_server.set_faults(f.path, Faults(rate_limit=4 * MiB))
        sim.apply(chart_objects(sim.model_server.url(f.path), f.sha256))
        yield sim


# The dashboard on a simulated cluster takes seconds to settle: poll it gently.
wait_for = functools.partial(pilot_until, timeout=20.0, every=0.2)


async def test_the_dashboard_on_a_simulated_cluster(cluster: SimCluster, tmp_path: Path) -> None:
    path = cluster.write_kubeconfig(tmp_path / "kubeconfig", user="admin")
    args = build_parser().parse_args(["--kubeconfig", str(path), "-n", NS, "--read-only"])
    connection = connect(args)
    assert connection.actions is None  # read-only: no action provider at all
    app = build_app(args, connection)
    feed = connection.feed
    async with app.run_test(size=(150, 42)) as pilot:
        table = app.screen.query_one(PodsTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None
                and all(p.model_state.value == "ready" for p in app.snapshot.pods)
            ),
        )
        text = screen_text(app)
        assert f"ns {NS}" in text and "2/2 ready" in text
        assert "models-aws-efs-pvc" in text
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, PodDetailScreen) and app.screen.log_lines_written > 0,
        )
        await wait_for(
            pilot, lambda: "model.bin" in screen_text(app) and "✓ verified" in screen_text(app)
        )
        log_text = screen_text(app)
        assert log_text.count("Server ready on port 2269") == 1  # history and live not doubled
        await pilot.press("q")
    assert feed.threads() == []  # type: ignore[attr-defined]
    assert not [t for t in threading.enumerate() if t.name.startswith(("watch ", "log "))]


async def test_the_viewer_token_shows_actions_forbidden(
    cluster: SimCluster, tmp_path: Path
) -> None:
    path = cluster.write_kubeconfig(tmp_path / "kubeconfig", user="viewer")
    args = build_parser().parse_args(["--kubeconfig", str(path), "-n", NS])
    connection = connect(args)
    if connection.actions is None:
        pytest.skip("the actions package offers no provider in this build")
    app = build_app(args, connection)
    async with app.run_test(size=(150, 42)) as pilot:
        await wait_for(pilot, lambda: app.permissions is not None)
        assert app.permissions
        forbidden = {k: v for k, v in app.permissions.items() if v}
        assert set(forbidden) >= {"restart-pod", "purge"}
        assert "delete" in (forbidden["restart-pod"] or "")
        active = app.screen.active_bindings
        assert active["r"].enabled is False and active["r"].binding.show
        await pilot.press("q")


async def test_the_api_killed_and_restored_the_stale_banner_comes_and_goes(
    cluster: SimCluster, tmp_path: Path
) -> None:
    path = cluster.write_kubeconfig(tmp_path / "kubeconfig", user="admin")
    args = build_parser().parse_args(
        ["--kubeconfig", str(path), "-n", NS, "--read-only", "--request-timeout", "2"]
    )
    connection = connect(args)
    app = build_app(args, connection)
    async with app.run_test(size=(150, 42)) as pilot:
        table = app.screen.query_one(PodsTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        banner = app.screen.query_one(StaleBanner)
        assert not banner.display
        cluster.run(cluster.stop_api())
        await wait_for(pilot, lambda: banner.display, timeout=30)
        assert "API unreachable for" in screen_text(app)
        assert table.row_count == 2  # the last data stays on screen
        await pilot.press("j", "k")  # and the keys still answer
        cluster.run(cluster.start_api())
        await wait_for(pilot, lambda: not banner.display, timeout=30)
        assert "unreachable" not in screen_text(app)
        await pilot.press("q")
    assert connection.feed.threads() == []  # type: ignore[attr-defined]
