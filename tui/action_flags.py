"""The flags of the headless action subcommands (kept out of cli.py, imported by it).

Cheap to import: argparse only, so ``asr-cache-tui --help`` stays fast.
"""

from __future__ import annotations

import argparse

DEFAULT_IMAGE = "asr-cache-tui/downloader:latest"


def add_action_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """Flags of one action subcommand, beyond target/--yes/--dry-run/-o."""
    group = parser.add_argument_group("action")
    group.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long to follow pods, rollouts and Jobs (default: 600)",
    )
    group.add_argument(
        "--no-follow", action="store_true", help="return once the change is made, do not follow"
    )
    group.add_argument("--container", help="container to exec in (default: the model's)")
    if command == "restart":
        group.add_argument(
            "--rollout",
            action="store_true",
            help="rollout-restart the pod's Deployment (also: target deployment/NAME)",
        )
    if command == "purge":
        group.add_argument(
            "--path",
            help="a file in the cache dir to delete instead of the model (relative or absolute)",
        )
    if command == "prewarm":
        group.add_argument(
            "--image",
            default=DEFAULT_IMAGE,
            help=f"image with the bundled downloader (default: {DEFAULT_IMAGE})",
        )
        group.add_argument(
            "--schedule", metavar="CRON", help="also create a CronJob, e.g. '0 8 * * *'"
        )
        group.add_argument("--version", dest="model_version", help="pre-warm this MODEL_VERSION")
        group.add_argument("--url", help="pre-warm from this MODEL_URL")
        group.add_argument("--checksum", help="expect this MODEL_CHECKSUM (sha256:<hex>)")
    if command in ("verify", "purge", "fix"):
        group.add_argument(
            "--image",
            default=DEFAULT_IMAGE,
            help="image of the helper pod used when no pod that sees the cache is running",
        )
    if command == "switch":
        group.add_argument(
            "--back", action="store_true", help="switch back to the URL before the last switch"
        )
        group.add_argument("--url", help="point at this URL instead of http://RELEASE:2269")
        group.add_argument(
            "--api-server",
            default="api-server",
            help="the api-server Deployment (default: api-server)",
        )
