"""Running what a refused plan gives to run by hand, as on-call would: the command as given,
with kubectl when it is on PATH; and the action subcommands as a script runs them."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable

import pytest

from collectors.model import ClusterSnapshot, PodInfo
from tests.actions.world import World
from tui.action_cmds import run
from tui.cli import build_parser

KUBECTL = shutil.which("kubectl")
kubectl_only = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


def kubectl(world: World, command: str) -> str:
    """Run a command the tool gave, as given, with the scenario's kubeconfig."""
    argv = shlex.split(command)
    assert argv[0] == "kubectl", command
    env = {**os.environ, "KUBECONFIG": str(world.kubeconfig)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (command, done.stderr)
    return done.stdout


def cli(world: World, *argv: str) -> tuple[int, str, str]:
    """``asr-cache-tui ACTION …`` against the scenario, without a terminal."""
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(
        [*argv, "--kubeconfig", str(world.kubeconfig), "-n", "smallest", "--timeout", "30"]
    )
    code = run(args, stdin=io.StringIO(""), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def first(snap: ClusterSnapshot, test: Callable[[PodInfo], object]) -> PodInfo | None:
    """The first lightning-asr pod that passes ``test``."""
    return next((p for p in snap.pods if p.release == "lightning-asr" and test(p)), None)
