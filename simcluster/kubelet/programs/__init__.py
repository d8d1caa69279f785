"""What a container runs, chosen from its command (or, without one, its image).

- no command, image containing `lightning-asr`: the Lightning ASR stand-in (Ready when serving)
- no command, image containing `api-server`: the api-server stand-in
- no command otherwise: an idle process (like a pause container) that runs until stopped
- a command: the bundled downloader (`asr-cache-download`, `python -m actions.downloader`),
  `sh -c …`, `sleep`, or a built-in; these are Ready as soon as they run.
"""

from __future__ import annotations

import asyncio
from typing import Any

from simcluster.kubelet.commands import run_command
from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.programs.apiserver import run_api_server
from simcluster.kubelet.programs.asr import run_asr
from simcluster.kubelet.programs.supervise import supervise


def container_argv(container: dict[str, Any]) -> list[str]:
    return [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]


async def run_container(container: dict[str, Any], argv: list[str], ctx: ProcContext) -> int:
    """Run the container's program to completion and return its exit code."""
    return await supervise(ctx, _dispatch(container, argv, ctx))  # killable, pausable


async def _dispatch(container: dict[str, Any], argv: list[str], ctx: ProcContext) -> int:
    image = str(container.get("image") or "")
    if not container.get("command"):
        if "lightning-asr" in image:
            return await run_asr(ctx)
        if "api-server" in image:
            return await run_api_server(ctx)
        if not argv:
            ctx.ready()
            await asyncio.Event().wait()
    ctx.ready()
    return await run_command(argv, ctx)
