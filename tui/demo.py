"""``--demo``: the simulated cluster the dashboard runs against, started and stopped with it.

The only tui module that may import simcluster (import-linter allows exactly this one). The
cluster runs on its own event loop in a background thread, writes an admin kubeconfig into a
private temporary directory, and is stopped (with its kubelets, pods and model server) and the
directory removed when the block ends, however it ends.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SCENARIO = "efs-shared"
NAMESPACE = "smallest"
START_TIMEOUT = 60.0
# The demo's models are small and its downloads short: a minute of silence would be most of it.
DEMO_STALL_AFTER = 15.0


class DemoError(Exception):
    """The demo cannot start; ``str()`` is one sentence saying why and what to try."""


@dataclass(frozen=True)
class DemoCluster:
    scenario: str
    kubeconfig: Path
    namespace: str
    server: str
    cluster: Any  # the SimCluster, for tests that inject faults


@contextlib.contextmanager
def running(scenario: str = DEFAULT_SCENARIO, *, user: str = "admin") -> Iterator[DemoCluster]:
    """Start the simulator with ``scenario`` loaded; stop it and clean up on exit."""
    try:
        from simcluster.cluster import SimCluster
        from simcluster.scenarios.runner import start_scenario
    except ImportError as exc:
        raise DemoError(
            f"the simulated cluster is not available ({exc}); install the project with "
            "`pip install -e '.[sim]'` (make demo does)."
        ) from None
    with tempfile.TemporaryDirectory(prefix="asr-cache-demo-") as tmp:
        root = Path(tmp)
        # nodes=0: the scenario names its nodes.
        with SimCluster.run_in_thread(root / "cluster", timeout=START_TIMEOUT, nodes=0) as cluster:
            try:
                runtime = start_scenario(cluster, scenario, timeout=START_TIMEOUT)
            except ValueError as exc:  # ScenarioError: "file:line: why"
                raise DemoError(f"scenario {scenario!r} cannot start: {exc}") from None
            namespace = getattr(runtime, "namespace", None) or NAMESPACE
            kubeconfig = cluster.write_kubeconfig(
                root / "kubeconfig", user=user, namespace=namespace
            )
            yield DemoCluster(scenario, Path(kubeconfig), namespace, cluster.url, cluster)


@contextlib.contextmanager
def on_demo(args: Any) -> Iterator[DemoCluster]:
    """``--demo SCENARIO`` for any command: the simulated cluster runs while the block does,
    and ``args`` point at it (its kubeconfig, its namespace unless ``-n`` says another), as
    a real cluster's flags would. Stopped, with its pods and model server, however the
    block ends."""
    with running(args.demo) as demo:
        if getattr(args, "stall_after", None) is None:
            args.stall_after = DEMO_STALL_AFTER
        args.kubeconfig = str(demo.kubeconfig)
        args.context = None
        args.namespace = getattr(args, "namespace", None) or demo.namespace
        yield demo
