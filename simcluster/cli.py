"""`asr-cache-sim`: run a scenario as a local Kubernetes you can point kubectl at.

    asr-cache-sim --scenario efs-shared [--port P] [--tls] [--kubeconfig PATH]
                  [--model-size SIZE] [--speed RATE] [--seed N] [--node-monitor-grace SECONDS]
    asr-cache-sim --list
    asr-cache-sim replay LOGFILE [--timing FILE] [--speed X] [--exit-code N]
    asr-cache-sim fault ACTION ...        (see `asr-cache-sim fault --help`)

It runs until Ctrl-C (or SIGTERM), then stops every pod and process, unmounts the volumes
and removes its temporary directory. Exit codes: 0 after a clean stop, 1 when the cluster
cannot start or a fault request fails, 2 for bad arguments or a scenario that does not load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from collectors.units import SizeError, format_bytes, parse_size
from simcluster.scenarios.loader import ScenarioError, list_scenarios, load_scenario, parse_speed
from simcluster.scenarios.runner import ScenarioOptions
from simcluster.scenarios.spec import Scenario

MAX_REPLAY_BYTES = 64 * 1024 * 1024
MAX_GRACE = 3600.0
RECORDINGS = Path(__file__).resolve().parent / "recordings"


class UsageError(Exception):
    """Bad arguments; the message is one sentence."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _size(text: str) -> int:
    try:
        value = parse_size(text)
    except SizeError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 256MiB or 1GB)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the size must be more than 0 bytes, got {text!r}")
    return value


def _speed(text: str) -> int:
    try:
        value = parse_speed(text)
    except SizeError:
        raise argparse.ArgumentTypeError(
            f"not a speed: {text!r} (e.g. 8MiB/s, or unlimited)"
        ) from None
    return value or 0


def _grace(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_GRACE:
        raise argparse.ArgumentTypeError(
            f"a grace is more than 0 and at most {MAX_GRACE:g} seconds, got {text!r}"
        )
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, got {text!r}")
    return value


def _cluster_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=_port, default=0, help="API server port (default: any free)")
    p.add_argument("--tls", action="store_true", help="serve HTTPS (kubectl then sends the token)")
    p.add_argument("--kubeconfig", type=Path, help="where to write the kubeconfig")


def main_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="asr-cache-sim",
        description="Run a simulated Lightning ASR cluster (a local Kubernetes API on "
        "loopback) until Ctrl-C. Subcommands: replay LOGFILE, fault ACTION.",
    )
    p.add_argument("--scenario", default="efs-shared", help="a built-in name or a .yaml path")
    p.add_argument("--list", action="store_true", help="list the built-in scenarios and exit")
    _cluster_args(p)
    p.add_argument("--model-size", type=_size, help="model file size (scenario default)")
    p.add_argument("--speed", type=_speed, help="per-connection cap, e.g. 8MiB/s or unlimited")
    p.add_argument("--seed", type=int, default=0, help="seed for model content and faults")
    p.add_argument(
        "--node-monitor-grace",
        type=_grace,
        metavar="SECONDS",
        help="how long a silent node stays Ready before it turns NotReady (the scenario's, "
        "else 50 as in 1.32)",
    )
    return p


def replay_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="asr-cache-sim replay",
        description="Start a cluster with one lightning-asr pod (namespace smallest) whose "
        "container plays a recorded log byte for byte, then exits.",
    )
    p.add_argument(
        "logfile",
        type=Path,
        help="the recorded log (bytes as captured), or the name of a bundled recording "
        f"({', '.join(sorted(x.stem for x in RECORDINGS.glob('*.log')))})",
    )
    p.add_argument(
        "--timing", type=Path, help="`script --timing` file (default: LOGFILE.timing if present)"
    )
    p.add_argument("--speed", default="1", help="playback speed factor; 0 = all at once")
    p.add_argument("--exit-code", type=int, default=0, help="the container's exit code (0-255)")
    _cluster_args(p)
    return p


# -- running a cluster ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] == "fault":
            from simcluster.faultcli import fault_main

            return fault_main(args_list[1:])
        if args_list and args_list[0] == "replay":
            args = replay_parser().parse_args(args_list[1:])
            scenario = replay_scenario(args.logfile, args.timing, args.speed, args.exit_code)
            return _run(scenario, ScenarioOptions(), args)
        args = main_parser().parse_args(args_list)
        if args.list:
            scenarios = list_scenarios()
            width = max((len(info.name) for info in scenarios), default=0)
            for info in scenarios:
                print(f"{info.name:{width}}  {info.description}")
            return 0
        scenario = load_scenario(args.scenario)
        options = ScenarioOptions(
            model_size=args.model_size,
            speed=args.speed,
            seed=args.seed,
            node_monitor_grace=args.node_monitor_grace,
        )
        return _run(scenario, options, args)
    except UsageError as exc:
        print(f"asr-cache-sim: {exc}", file=sys.stderr)
        return 2
    except ScenarioError as exc:
        print(f"asr-cache-sim: {exc}", file=sys.stderr)
        return 2


def _run(scenario: Scenario, options: ScenarioOptions, args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="asr-cache-sim-"))
    kubeconfig: Path = args.kubeconfig or root / "kubeconfig"
    existed = kubeconfig.exists()
    try:
        return asyncio.run(_serve(scenario, options, args, root, kubeconfig))
    except KeyboardInterrupt:
        return 0
    finally:
        if args.kubeconfig is not None and not existed:
            with contextlib.suppress(OSError):
                kubeconfig.unlink()
        shutil.rmtree(root, ignore_errors=True)


async def _serve(
    scenario: Scenario,
    options: ScenarioOptions,
    args: argparse.Namespace,
    root: Path,
    kubeconfig: Path,
) -> int:
    from simcluster.cluster import SimCluster
    from simcluster.scenarios.runner import apply_scenario

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    cluster = SimCluster(
        root / "cluster",
        tls=args.tls,
        port=args.port,
        nodes=0,
        anonymous=None if args.tls else "viewer",
    )
    try:
        await cluster.start()
    except OSError as exc:
        await cluster.stop()
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        print(f"asr-cache-sim: cannot listen on 127.0.0.1:{args.port}: {why}", file=sys.stderr)
        return 1
    try:
        try:
            runtime = await apply_scenario(cluster, scenario, options)
        except ScenarioError as exc:
            print(f"asr-cache-sim: {exc}", file=sys.stderr)
            return 2
        cluster.write_kubeconfig(kubeconfig, namespace=scenario.namespace)
        _announce(cluster, runtime, kubeconfig, args.tls)
        await stop.wait()
        print("\nasr-cache-sim: stopping (pods, processes, volumes) ...", flush=True)
        return 0
    finally:
        await cluster.stop()


def _announce(cluster: Any, runtime: Any, kubeconfig: Path, tls: bool) -> None:
    s = runtime.scenario
    ns = s.namespace
    speed = f"{format_bytes(runtime.speed)}/s per connection" if runtime.speed else "uncapped"
    lines = [
        f"asr-cache-sim: scenario {s.name} is running: {s.description}",
        f"  API server:   {cluster.url}",
        f"  model server: {cluster.model_server.base_url} ({speed})",
    ]
    for name, f in runtime.models.items():
        lines.append(f"    model {name}: {format_bytes(f.size)} at {f.path}")
    lines += [
        "",
        "Use it with kubectl:",
        f"  export KUBECONFIG={kubeconfig}",
        f"  kubectl get pods -n {ns}",
        f"  kubectl logs -f -l app=lightning-asr -n {ns}",
        "",
    ]
    if not tls:
        lines.append(
            "Plain HTTP: kubectl sends no token here, so it may read but not change anything "
            "(restart with --tls for full kubectl access; the kubeconfig's token works for "
            "other clients)."
        )
    lines.append("Faults: asr-cache-sim fault --help.  Ctrl-C stops it and cleans up.")
    print("\n".join(lines), flush=True)


def replay_scenario(logfile: Path, timing: Path | None, speed: str, exit_code: int) -> Scenario:
    """A one-pod scenario whose container plays `logfile` (checked here, one sentence each)."""
    from simcluster.kubelet.programs.replay import ReplayError, parse_speed
    from simcluster.scenarios.spec import ImageSpec, NodeSpec, ObjectSpec, Source

    bundled = RECORDINGS / f"{logfile}.log"
    if not logfile.is_file() and "/" not in str(logfile) and bundled.is_file():
        logfile = bundled
    if not logfile.is_file():
        raise UsageError(f"no such log file: {logfile}")
    if logfile.stat().st_size > MAX_REPLAY_BYTES:
        raise UsageError(f"{logfile} is larger than {format_bytes(MAX_REPLAY_BYTES)}")
    if timing is None:
        candidate = logfile.with_name(logfile.name + ".timing")
        timing = candidate if candidate.is_file() else None
    elif not timing.is_file():
        raise UsageError(f"no such timing file: {timing}")
    try:
        factor = parse_speed(speed)
    except ReplayError as exc:
        raise UsageError(str(exc).removeprefix("sim-replay: ")) from None
    if not 0 <= exit_code <= 255:
        raise UsageError(f"--exit-code must be 0-255, got {exit_code}")
    files = [("/replay/session.log", Source("host", host=logfile.resolve()))]
    command = ["sim-replay", "--speed", f"{factor:g}", "--exit-code", str(exit_code)]
    if timing is not None:
        files.append(("/replay/session.timing", Source("host", host=timing.resolve())))
        command += ["--timing", "/replay/session.timing"]
    command.append("/replay/session.log")
    image = "sim/replay:latest"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "lightning-asr-replay", "labels": {"app": "lightning-asr"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "lightning-asr", "image": image, "command": command}],
        },
    }
    return Scenario(
        name="replay",
        description=f"one lightning-asr pod replaying {logfile.name}",
        file=str(logfile),
        nodes=(NodeSpec("node-1"),),
        images=(ImageSpec(image, tuple(files)),),
        objects=(ObjectSpec(pod),),
    )


if __name__ == "__main__":
    sys.exit(main())
