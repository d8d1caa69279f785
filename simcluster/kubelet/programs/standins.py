"""The scenarios' extra container commands: `wget`, `aws` (s3 cp) and `sim-replay`.

They are registered with the kubelet's command table while a scenario runs (and unregistered
when the last one stops), so a bare SimCluster keeps answering `wget: command not found`
as a minimal image would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from simcluster.kubelet.commands import EXTRA_COMMANDS, AsyncCommand, register_command
from simcluster.kubelet.programs.awscli import run_aws
from simcluster.kubelet.programs.replay import run_replay
from simcluster.kubelet.programs.wget import run_wget

STANDINS: dict[str, AsyncCommand] = {
    "wget": run_wget,
    "aws": run_aws,
    "sim-replay": run_replay,
}

_lock = threading.Lock()
_users = 0


def install() -> None:
    """Register the stand-ins (counted: every install needs its uninstall)."""
    global _users
    with _lock:
        _users += 1
        for name, fn in STANDINS.items():
            register_command(name, fn)


def uninstall() -> None:
    global _users
    with _lock:
        _users = max(0, _users - 1)
        if _users == 0:
            for name, fn in STANDINS.items():
                if EXTRA_COMMANDS.get(name) is fn:
                    del EXTRA_COMMANDS[name]


@contextmanager
def standin_commands() -> Iterator[None]:
    install()
    try:
        yield
    finally:
        uninstall()
