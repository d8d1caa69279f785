"""Exec over WebSocket with the Kubernetes channel protocol (v5.channel.k8s.io, v4.channel.k8s.io).

Frames are binary; the first byte is the channel: 0 stdin, 1 stdout, 2 stderr, 3 status (one
`metav1.Status` JSON, sent once at the end), 4 resize; v5 adds `255 <ch>` to close a stream
(the client closing stdin ends its input). As a kubelet does, an empty stdout frame goes
first; then output as it is produced; then the status (Success, or NonZeroExitCode with the
code in details.causes[0].message); then a close frame with code 1000. Pings are answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from simcluster.kubelet.commands import run_command
from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.procio import CallbackIO

log = logging.getLogger("simcluster.kubelet")

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
PROTOCOLS = (V5, V4)
STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
FRAME = 32 * 1024
STDIN_QUEUE = 16


def offered_protocols(request: web.Request) -> list[str]:
    header = request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


def exit_status(code: int, argv: list[str] | None = None) -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    shown = " ".join(argv or [])
    return {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
        f"[{shown}], exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


async def serve_exec(
    request: web.Request,
    argv: list[str],
    ctx: ProcContext,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
) -> web.WebSocketResponse:
    """Upgrade, run `argv` in `ctx` (its io is replaced), stream frames, send the status."""
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, max_msg_size=4 * 1024 * 1024)
    await ws.prepare(request)
    v5 = ws.ws_protocol == V5
    send_lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        async with send_lock:
            if not data:
                await ws.send_bytes(bytes([channel]))
            for i in range(0, len(data), FRAME):
                await ws.send_bytes(bytes([channel]) + data[i : i + FRAME])

    async def out(data: bytes) -> None:
        if stdout:
            await send(STDOUT, data)

    async def err(data: bytes) -> None:
        if tty and stdout:
            await send(STDOUT, data)
        elif stderr:
            await send(STDERR, data)

    queue: asyncio.Queue[bytes] | None = asyncio.Queue(STDIN_QUEUE) if stdin else None
    ctx.io = CallbackIO(out, err, queue)
    await send(STDOUT, b"")
    command = asyncio.create_task(run_command(argv, ctx))
    reader = asyncio.create_task(_read_client(ws, queue, v5, command))
    code: int | None = None
    try:
        code = await command
    except asyncio.CancelledError:
        if not command.cancelled():
            raise
    except (ConnectionError, RuntimeError) as exc:
        log.debug("exec stream closed: %s", exc)
    except Exception:
        log.exception("exec of %r failed", argv)
        code = 1
    finally:
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
    if code is not None and not ws.closed:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await send(STATUS, json.dumps(exit_status(code, argv)).encode())
            await ws.close(code=1000)
    return ws


async def _read_client(
    ws: web.WebSocketResponse,
    queue: asyncio.Queue[bytes] | None,
    v5: bool,
    command: asyncio.Task[int],
) -> None:
    """Client frames: stdin data, v5 stream close, resize; a closed socket stops the command."""
    eof_sent = False
    async for msg in ws:
        if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
            continue
        data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
        if not data:
            continue
        channel, payload = data[0], data[1:]
        if channel == STDIN and queue is not None and not eof_sent and payload:
            await queue.put(payload)
        elif channel == CLOSE and v5 and payload[:1] == bytes([STDIN]) and queue and not eof_sent:
            eof_sent = True
            await queue.put(b"")
    # The client went away (or closed): end stdin and stop the command.
    if queue is not None and not eof_sent:
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(b"")
    if not command.done():
        command.cancel()
