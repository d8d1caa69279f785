"""``asr-cache-tui``: the dashboard, and the same view and actions headless for scripts.

This module only parses arguments and dispatches; each command lives in its own module and is
imported lazily so ``asr-cache-tui status`` never pays for Textual.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tui.action_flags import add_action_flags

ACTION_COMMANDS = ("prewarm", "verify", "purge", "restart", "fix", "switch")

# One line for `asr-cache-tui --help`, and the target each action takes (its own --help).
ACTION_HELP = {
    "prewarm": (
        "download the model onto the Deployment's cache volume ahead of its pods (a Job)",
        "deployment/NAME, or a pod of it (default: lightning-asr)",
    ),
    "verify": ("checksum the model file a pod sees against MODEL_CHECKSUM", "the pod (pod/NAME)"),
    "purge": (
        "delete a corrupt model file, then restart the pods that load it",
        "the pod whose cache holds the file (pod/NAME)",
    ),
    "restart": (
        "delete a pod so its ReplicaSet replaces it (a Deployment: rollout restart)",
        "pod/NAME, or deployment/NAME for a rollout restart",
    ),
    "fix": (
        "read a stuck or failed download's evidence and apply the fix it calls for",
        "the pod whose download is stuck or failed (pod/NAME)",
    ),
    "switch": (
        "point the api-server at another release (blue-green), or --back",
        "the release's Deployment to send traffic to (deployment/NAME)",
    ),
}


def add_connection_flags(parser: argparse.ArgumentParser, *, in_subcommand: bool = False) -> None:
    """kubectl's conventions, shared by every command.

    A subcommand repeats the flags without defaults, so ``-n x status`` and ``status -n x`` agree.
    """
    group = parser.add_argument_group("cluster")
    if in_subcommand:
        group.argument_default = argparse.SUPPRESS
    group.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    group.add_argument("--context", help="kubeconfig context (default: the current context)")
    group.add_argument(
        "-n", "--namespace", help="namespace (default: the context's, else 'smallest')"
    )
    group.add_argument(
        "-l",
        "--selector",
        default="app=lightning-asr",
        help="label selector of the ASR pods (default: app=lightning-asr)",
    )
    group.add_argument(
        "-f",
        "--values",
        metavar="VALUES_YAML",
        help="the smallest-self-host chart's values.yaml, for the model URL, prefixes and volumes",
    )
    group.add_argument(
        "--stall-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help=(
            "no new bytes for this long = a stalled download; unscheduled or a volume "
            "unmounted for this long = a blocked pod (default: 60; 15 with --demo)"
        ),
    )
    group.add_argument(
        "--request-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="timeout of each API request (default: 10)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asr-cache-tui",
        description="Watch and fix the model cache of a Lightning ASR deployment on Kubernetes.",
    )
    add_connection_flags(parser)
    parser.add_argument(
        "--read-only", action="store_true", help="turn every action off (view only)"
    )
    parser.add_argument(
        "--refresh",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="volume usage refresh interval (default: 5)",
    )
    parser.add_argument(
        "--demo",
        nargs="?",
        const="efs-shared",
        metavar="SCENARIO",
        help=(
            "run on an embedded simulated cluster, the dashboard or a command given after it "
            "(default scenario: efs-shared)"
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = sub.add_parser("status", help="print the cluster's model-cache state and exit")
    add_connection_flags(status, in_subcommand=True)
    status.add_argument(
        "-o",
        "--output",
        choices=("table", "json", "yaml"),
        default="table",
        help="format (default: table)",
    )
    status.add_argument("--watch", action="store_true", help="keep printing as things change")

    for name in ACTION_COMMANDS:
        summary, target = ACTION_HELP[name]
        action = sub.add_parser(
            name,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}. The plan (every API call and "
            "exec argv) is shown and confirmed before anything changes.",
        )
        add_connection_flags(action, in_subcommand=True)
        action.add_argument(
            "target", nargs="?", help=f"{target}; a bare name is a pod if one has it"
        )
        action.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        action.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
        action.add_argument(
            "-o",
            "--output",
            choices=("text", "json"),
            default="text",
            help="the plan and the result as text or as one JSON object (default: text)",
        )
        action.add_argument(
            "--read-only", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        add_action_flags(action, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command and args.demo:
        # `--demo SCENARIO status` (or an action): the command on the embedded simulated
        # cluster, as the dashboard runs on it; the cluster stops when the command ends.
        from tui.demo import DemoError, on_demo

        try:
            with on_demo(args):
                return _command(args)
        except DemoError as exc:
            print(f"asr-cache-tui --demo: {exc}", file=sys.stderr)
            return 2
    return _command(args)


def _command(args: argparse.Namespace) -> int:
    if args.command == "status":
        from tui.status_cmd import run as run_status

        return run_status(args)
    if args.command in ACTION_COMMANDS:
        from tui.action_cmds import run as run_action

        return run_action(args)
    from tui.launch import run as run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
