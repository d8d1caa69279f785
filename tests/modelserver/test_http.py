"""HTTP behaviour of a healthy model server: GET, HEAD, Range, validators, errors."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import shutil
import subprocess
from email.utils import parsedate_to_datetime

import httpx
import pytest

from simcluster.modelserver import ModelServer

from .conftest import raw_get

MIB = 1024 * 1024


async def test_full_get_has_the_files_sha256_and_headers(server: ModelServer) -> None:
    f = server.add_file("/models/v1/model.bin", size=3 * MIB + 17, seed=1)
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(server.url(f.path))
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == f.sha256
    assert r.headers["content-length"] == str(f.size)
    assert r.headers["etag"] == f.etag
    assert r.headers["last-modified"] == f.last_modified
    assert parsedate_to_datetime(r.headers["last-modified"]).timestamp() == f.last_modified_ts
    assert r.headers["accept-ranges"] == "bytes"
    stats = server.stats(f.path)
    assert (stats.requests, stats.bytes_sent, stats.statuses) == (1, f.size, {200: 1})


async def test_ranges_concatenate_to_the_same_hash(server: ModelServer) -> None:
    f = server.add_file("/m.bin", size=2 * MIB + 3, seed=2)
    cuts = [0, 1, 65_535, 65_536, 700_000, MIB + 1, f.size - 10]
    h = hashlib.sha256()
    async with httpx.AsyncClient(timeout=10) as client:
        for a, b in itertools.pairwise(cuts):
            r = await client.get(server.url(f.path), headers={"Range": f"bytes={a}-{b - 1}"})
            assert r.status_code == 206
            assert r.headers["content-range"] == f"bytes {a}-{b - 1}/{f.size}"
            assert r.headers["content-length"] == str(b - a)
            h.update(r.content)
        r = await client.get(server.url(f.path), headers={"Range": "bytes=-10"})
        assert r.status_code == 206
        assert r.headers["content-range"] == f"bytes {f.size - 10}-{f.size - 1}/{f.size}"
        h.update(r.content)
        assert h.hexdigest() == f.sha256
        r = await client.get(server.url(f.path), headers={"Range": f"bytes={MIB}-"})
        assert r.status_code == 206 and r.content == f.read(MIB, f.size)
        # A last byte past the end is clipped; a suffix longer than the file is the whole file.
        r = await client.get(server.url(f.path), headers={"Range": f"bytes=5-{f.size * 2}"})
        assert r.headers["content-range"] == f"bytes 5-{f.size - 1}/{f.size}"
        r = await client.get(server.url(f.path), headers={"Range": f"bytes=-{f.size * 2}"})
        assert r.status_code == 206 and len(r.content) == f.size
    stats = server.stats(f.path)
    assert stats.range_requests == stats.requests == len(cuts) + 3
    assert stats.statuses == {206: stats.requests}


@pytest.mark.parametrize("spec", ["bytes={size}-", "bytes={size}-{bigger}", "bytes=-0"])
async def test_unsatisfiable_range_is_416_with_the_size(server: ModelServer, spec: str) -> None:
    f = server.add_file("/m.bin", size=1000)
    value = spec.format(size=f.size, bigger=f.size + 5)
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(server.url(f.path), headers={"Range": value})
        assert r.status_code == 416
        assert r.headers["content-range"] == "bytes */1000"
        # The connection stays usable after a 416.
        assert (await client.get(server.url(f.path))).status_code == 200
    assert server.stats(f.path).statuses == {416: 1, 200: 1}


async def test_any_range_of_an_empty_file_is_416(server: ModelServer) -> None:
    f = server.add_file("/empty", size=0)
    async with httpx.AsyncClient(timeout=10) as client:
        assert (
            await client.get(server.url(f.path), headers={"Range": "bytes=0-"})
        ).status_code == 416
        r = await client.get(server.url(f.path))
    assert r.status_code == 200 and r.content == b""


@pytest.mark.parametrize("value", ["bytes=0-1,5-6", "bytes=9-3", "items=0-5", "bytes=x-"])
async def test_multiple_or_malformed_ranges_get_the_whole_file(
    server: ModelServer, value: str
) -> None:
    f = server.add_file("/m.bin", size=5000)
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(server.url(f.path), headers={"Range": value})
    assert r.status_code == 200 and len(r.content) == f.size


async def test_head_gives_the_get_headers_and_no_body(server: ModelServer) -> None:
    f = server.add_file("/m.bin", size=MIB)
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.head(server.url(f.path))
        assert r.status_code == 200 and r.content == b""
        assert r.headers["content-length"] == str(f.size) and r.headers["etag"] == f.etag
        r = await client.head(server.url(f.path), headers={"Range": "bytes=10-19"})
        assert r.status_code == 206 and r.headers["content-range"] == f"bytes 10-19/{f.size}"
        # The connection was not poisoned by a body that was never sent.
        assert (await client.get(server.url(f.path))).content == f.read(0, f.size)
    stats = server.stats(f.path)
    assert (stats.head_requests, stats.requests, stats.bytes_sent) == (2, 3, f.size)


async def test_if_range_serves_the_range_only_while_the_validator_matches(
    server: ModelServer,
) -> None:
    f = server.add_file("/m.bin", size=10_000)
    url = server.url(f.path)
    async with httpx.AsyncClient(timeout=10) as client:
        for validator in (f.etag, f.last_modified):
            r = await client.get(url, headers={"Range": "bytes=100-", "If-Range": validator})
            assert r.status_code == 206 and r.content == f.read(100, f.size)
        for stale in ('"something-else"', "W/" + f.etag, "Mon, 01 Jan 2001 00:00:00 GMT"):
            r = await client.get(url, headers={"Range": "bytes=100-", "If-Range": stale})
            assert r.status_code == 200 and r.content == f.read(0, f.size)


async def test_unknown_paths_and_methods_and_query_strings(server: ModelServer) -> None:
    f = server.add_file("/m.bin", size=100)
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(server.url("/nope"))).status_code == 404
        assert (await client.post(server.url(f.path), content=b"x")).status_code == 405
        # Presigned-style query strings do not change which file is served.
        r = await client.get(server.url(f.path) + "?X-Amz-Signature=abc&token=t")
        assert r.status_code == 200 and r.content == f.read(0, 100)
        server.remove_file(f.path)
        assert (await client.get(server.url(f.path))).status_code == 404
    assert server.stats("/nope").statuses == {404: 1}
    with pytest.raises(KeyError, match=r"/m\.bin"):
        server.file(f.path)


async def test_keep_alive_carries_several_requests_on_one_connection(server: ModelServer) -> None:
    f = server.add_file("/m.bin", size=300)
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        request = f"GET {f.path} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n".encode()
        writer.write(request * 3)  # pipelined
        await writer.drain()
        for _ in range(3):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 206 ")
            assert await asyncio.wait_for(reader.readexactly(100), 5) == f.read(0, 100)
    finally:
        writer.close()
    assert server.stats(f.path).requests == 3


async def test_garbage_gets_a_400_and_a_closed_connection(server: ModelServer) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(b"HELLO\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert data.startswith(b"HTTP/1.1 400 ") and b"malformed request line" in data


async def test_oversized_request_head_is_refused(server: ModelServer) -> None:
    response = await raw_get(server, "/m.bin", headers={"X-Big": "a" * 40_000})
    assert response.status == 431 and response.closed


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_curl_downloads_the_file_and_a_range() -> None:
    # Its own thread-mode server, so curl (blocking) can run in a worker thread.
    with ModelServer().run_in_thread() as server:
        f = server.add_file("/m.bin", size=4 * MIB + 1, seed=9)

        def curl(*extra: str) -> bytes:
            argv = ["curl", "-sfS", "--max-time", "20", *extra, server.url(f.path)]
            return subprocess.run(argv, capture_output=True, check=True, timeout=30).stdout

        whole = await asyncio.to_thread(curl)
        part = await asyncio.to_thread(curl, "-r", "1000-1999")
    assert hashlib.sha256(whole).hexdigest() == f.sha256
    assert part == f.read(1000, 1000)
