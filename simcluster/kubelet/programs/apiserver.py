"""The api-server stand-in: says where it sends requests, becomes Ready, runs until stopped."""

from __future__ import annotations

import asyncio

from simcluster.kubelet.context import ProcContext

PORT = 7100


async def run_api_server(ctx: ProcContext) -> int:
    asr = ctx.env.get("LIGHTNING_ASR_BASE_URL") or "http://lightning-asr-internal:2269"
    await ctx.io.write_stdout(
        f"INFO: API server listening on port {PORT}; Lightning ASR at {asr}\n".encode()
    )
    ctx.ready()
    await asyncio.Event().wait()
    return 0
