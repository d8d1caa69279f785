"""Fixtures for the model server tests: a started server and a raw-socket HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from simcluster.modelserver import ModelServer


@pytest.fixture
async def server() -> AsyncIterator[ModelServer]:
    async with ModelServer() as s:
        yield s


@dataclass(frozen=True)
class RawResponse:
    """What came over the socket: status, headers, and every body byte until EOF/timeout."""

    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection (EOF) rather than us timing out


async def raw_get(
    server: ModelServer,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    read_timeout: float = 2.0,
) -> RawResponse:
    """Send one request with Connection: close and read until the server closes or goes quiet.

    Unlike httpx, this shows exactly what the server sent, including bytes beyond a declared
    Content-Length and a body cut short.
    """
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {server.host}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parsed = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                parsed[name.strip().lower()] = value.strip()
        body = bytearray()
        closed = False
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(1 << 20), read_timeout)
            except asyncio.TimeoutError:
                break
            except ConnectionError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            body += chunk
        return RawResponse(int(status_line.split()[1]), parsed, bytes(body), closed)
    finally:
        writer.close()


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll check() until it holds; fail with a clear message after timeout seconds."""
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout} s")
