"""Each fault does what it says, for as many requests as it says, and is counted."""

from __future__ import annotations

import asyncio
import hashlib
import time

import httpx
import pytest

from simcluster.modelserver import Faults, ModelServer

from .conftest import eventually, raw_get

MIB = 1024 * 1024


async def test_rate_limit_caps_each_connection(server: ModelServer) -> None:
    f = server.add_file("/m.bin", size=MIB)
    server.set_faults(f.path, Faults(rate_limit=2 * MIB))
    async with httpx.AsyncClient(timeout=10) as client:
        started = time.monotonic()
        # Two connections at once: each gets the cap, so both finish in ~1/4 s, not ~1/2 s.
        halves = await asyncio.gather(
            client.get(server.url(f.path), headers={"Range": f"bytes=0-{MIB // 2 - 1}"}),
            client.get(server.url(f.path), headers={"Range": f"bytes={MIB // 2}-"}),
        )
        elapsed = time.monotonic() - started
    assert halves[0].content + halves[1].content == f.read(0, f.size)
    assert 0.24 <= elapsed < 0.45, elapsed
    assert server.stats(f.path).max_active == 2

    async with httpx.AsyncClient(timeout=10) as client:
        started = time.monotonic()
        r = await client.get(server.url(f.path))
        elapsed = time.monotonic() - started
    assert hashlib.sha256(r.content).hexdigest() == f.sha256
    assert 0.49 <= elapsed < 0.8, elapsed


async def test_slow_rate_slows_the_first_k_ranged_responses_but_not_a_probe(
    server: ModelServer,
) -> None:
    f = server.add_file("/m.bin", size=MIB)
    server.set_faults(f.path, Faults(slow_rate=8 * MIB, slow_requests=2))
    url = server.url(f.path)
    async with httpx.AsyncClient(timeout=10) as client:
        probe = await client.get(url, headers={"Range": "bytes=0-0"})
        whole = await client.get(url)
        await client.head(url, headers={"Range": "bytes=0-"})
        first = await client.get(url, headers={"Range": "bytes=0-99999"})
        second = await client.get(url, headers={"Range": "bytes=100000-"})
        third = await client.get(url, headers={"Range": "bytes=0-"})
    assert probe.content == f.read(0, 1) and whole.content == f.read(0, f.size)
    assert first.content + second.content == third.content == f.read(0, f.size)
    # The one-byte probe, the request without a Range and the HEAD do not count.
    assert [r.slow for r in server.stats(f.path).recent] == [
        False,
        False,
        False,
        True,
        True,
        False,
    ]
    server.set_faults(f.path, Faults(slow_rate=8 * MIB, slow_requests=1))  # counts restart
    async with httpx.AsyncClient(timeout=10) as client:
        await client.get(url, headers={"Range": "bytes=10-20"})
    assert server.stats(f.path).recent[-1].slow


async def test_stall_holds_the_body_until_released(server: ModelServer) -> None:
    f = server.add_file("/m.bin", size=MIB)
    server.set_faults(f.path, Faults(stall_after=100_000, stall_requests=1))
    async with httpx.AsyncClient(timeout=10) as client:
        fetch = asyncio.create_task(client.get(server.url(f.path)))
        await eventually(lambda: server.stats(f.path).stalls == 1)
        await asyncio.sleep(0.2)
        assert not fetch.done()
        assert server.stats(f.path).bytes_sent == 100_000
        server.release_stalls(f.path)
        r = await asyncio.wait_for(fetch, 5)
        assert hashlib.sha256(r.content).hexdigest() == f.sha256
        # stall_requests=1: the next response does not stall.
        r = await asyncio.wait_for(client.get(server.url(f.path)), 5)
        assert len(r.content) == f.size
    stats = server.stats(f.path)
    assert (stats.stalls, stats.bytes_sent, stats.active) == (1, 2 * f.size, 0)


async def test_a_stalled_client_sees_exactly_the_bytes_before_the_stall(
    server: ModelServer,
) -> None:
    f = server.add_file("/m.bin", size=MIB)
    server.set_faults(f.path, Faults(stall_after=12_345))
    response = await raw_get(server, f.path, read_timeout=0.5)
    assert response.status == 200 and not response.closed
    assert response.body == f.read(0, 12_345)
    # The client left: the server notices, the response ends, and nothing stays in flight.
    await eventually(lambda: server.stats(f.path).active == 0)
    stats = server.stats(f.path)
    assert (stats.active, stats.stalls, stats.bytes_sent) == (0, 1, 12_345)
    # stall_requests=None: every response that reaches stall_after stalls, ranges included.
    ranged = await raw_get(server, f.path, headers={"Range": "bytes=500000-"}, read_timeout=0.3)
    assert ranged.status == 206 and ranged.body == f.read(500_000, 12_345)
    # A body shorter than stall_after is not stalled.
    short = await raw_get(server, f.path, headers={"Range": "bytes=0-99"})
    assert short.body == f.read(0, 100) and short.closed
    assert server.stats(f.path).stalls == 2


async def test_drop_closes_mid_body_for_the_first_k_responses(server: ModelServer) -> None:
    f = server.add_file("/m.bin", size=MIB)
    server.set_faults(f.path, Faults(drop_after=300_000, drop_requests=2))
    for _ in range(2):
        response = await raw_get(server, f.path)
        assert response.closed and response.headers["content-length"] == str(f.size)
        assert response.body == f.read(0, 300_000)
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(server.url(f.path))
        assert r.content == f.read(0, f.size)
        server.set_faults(f.path, Faults(drop_after=10))  # counts restart; None = all
        for _ in range(2):
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(server.url(f.path))
    stats = server.stats(f.path)
    assert stats.drops == 4
    assert stats.bytes_sent == 2 * 300_000 + f.size + 2 * 10
    assert stats.statuses == {200: 5}


@pytest.mark.parametrize(("status", "retry_after"), [(503, 2), (429, 7), (500, None)])
async def test_fail_status_for_the_first_k_requests(
    server: ModelServer, status: int, retry_after: int | None
) -> None:
    f = server.add_file("/m.bin", size=1000)
    server.set_faults(f.path, Faults(fail_status=status, fail_first=2, retry_after=retry_after))
    async with httpx.AsyncClient(timeout=10) as client:
        first = await client.head(server.url(f.path))
        second = await client.get(server.url(f.path))
        third = await client.get(server.url(f.path))
    for r in (first, second):
        assert r.status_code == status
        assert r.headers.get("retry-after") == (None if retry_after is None else str(retry_after))
    assert third.status_code == 200 and third.content == f.read(0, 1000)
    assert server.stats(f.path).statuses == {status: 2, 200: 1}


async def test_fail_status_without_a_count_fails_every_request(server: ModelServer) -> None:
    f = server.add_file("/m.bin", size=10)
    server.set_faults(f.path, Faults(fail_status=403))
    async with httpx.AsyncClient(timeout=10) as client:
        codes = [(await client.get(server.url(f.path))).status_code for _ in range(4)]
        assert codes == [403] * 4
        server.set_faults(f.path, Faults())
        assert (await client.get(server.url(f.path))).status_code == 200


async def test_ignore_range_answers_200_with_the_whole_body(server: ModelServer) -> None:
    f = server.add_file("/m.bin", size=200_000)
    server.set_faults(f.path, Faults(ignore_range=True))
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(server.url(f.path), headers={"Range": "bytes=100000-"})
    assert r.status_code == 200 and "content-range" not in r.headers
    assert r.content == f.read(0, f.size)
    stats = server.stats(f.path)
    assert (stats.range_requests, stats.statuses) == (1, {200: 1})


async def test_change_etag_after_k_requests_invalidates_if_range(server: ModelServer) -> None:
    f = server.add_file("/m.bin", size=50_000)
    server.set_faults(f.path, Faults(change_etag_after_requests=2))
    url = server.url(f.path)
    async with httpx.AsyncClient(timeout=10) as client:
        first = await client.head(url)
        second = await client.get(url, headers={"Range": "bytes=10-", "If-Range": f.etag})
        third = await client.get(url, headers={"Range": "bytes=10-", "If-Range": f.etag})
        fourth = await client.get(url, headers={"Range": "bytes=10-", "If-Range": f.changed_etag})
    assert first.headers["etag"] == second.headers["etag"] == f.etag
    assert second.status_code == 206
    assert third.status_code == 200 and third.content == f.read(0, f.size)
    assert third.headers["etag"] == f.changed_etag
    assert third.headers["last-modified"] == f.changed_last_modified
    assert fourth.status_code == 206 and fourth.content == f.read(10, f.size)


@pytest.mark.parametrize("delta", [+1000, -1000])
async def test_wrong_content_length_declares_one_size_and_sends_another(
    server: ModelServer, delta: int
) -> None:
    f = server.add_file("/m.bin", size=100_000)
    server.set_faults(f.path, Faults(wrong_content_length=delta))
    response = await raw_get(server, f.path)
    assert response.headers["content-length"] == str(f.size + delta)
    assert response.headers["connection"] == "close" and response.closed
    assert response.body == f.read(0, f.size)
    ranged = await raw_get(server, f.path, headers={"Range": "bytes=0-4999"})
    assert ranged.headers["content-length"] == str(5000 + delta if delta > 0 else 4000)
    assert len(ranged.body) == 5000


async def test_corrupt_byte_flips_exactly_one_byte_where_asked(server: ModelServer) -> None:
    f = server.add_file("/m.bin", size=3 * MIB)
    at = MIB + 12_345
    server.set_faults(f.path, Faults(corrupt_byte_at=at))
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(server.url(f.path))
        clean = await client.get(server.url(f.path), headers={"Range": f"bytes=0-{at - 1}"})
        hit = await client.get(server.url(f.path), headers={"Range": f"bytes={at - 2}-{at + 2}"})
    body = r.content
    assert len(body) == f.size and hashlib.sha256(body).hexdigest() != f.sha256
    diffs = [i for i, (a, b) in enumerate(zip(body, f.read(0, f.size), strict=True)) if a != b]
    assert diffs == [at]
    assert body[at] == f.read(at, 1)[0] ^ 0xFF
    assert clean.content == f.read(0, at)
    assert hit.content != f.read(at - 2, 5) and hit.content[:2] == f.read(at - 2, 2)


async def test_redirect_sends_302_to_another_path(server: ModelServer) -> None:
    f = server.add_file("/real.bin", size=10_000)
    server.add_file("/old.bin", size=1)
    server.set_faults("/old.bin", Faults(redirect_to="/real.bin"))
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(server.url("/old.bin"))
        assert r.status_code == 302 and r.headers["location"] == server.url("/real.bin")
        followed = await client.get(server.url("/old.bin"), follow_redirects=True)
    assert followed.content == f.read(0, f.size)
    assert server.stats("/old.bin").statuses == {302: 2}
    assert server.stats("/real.bin").statuses == {200: 1}


async def test_reset_stats_and_faults_are_per_path(server: ModelServer) -> None:
    a = server.add_file("/a", size=10)
    b = server.add_file("/b", size=10)
    server.set_faults(a.path, Faults(fail_status=500))
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(server.url(a.path))).status_code == 500
        assert (await client.get(server.url(b.path))).status_code == 200
    assert server.faults(b.path) == Faults()
    server.reset_stats(a.path)
    assert server.stats(a.path).requests == 0 and server.stats(b.path).requests == 1
    server.reset_stats()
    assert server.stats(b.path).requests == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_limit": 0}, "rate_limit must be positive"),
        ({"slow_rate": 0}, "slow_rate must be positive"),
        ({"slow_requests": -1}, "slow_requests must be a non-negative int"),
        ({"stall_after": -1}, "stall_after must be a non-negative int"),
        ({"fail_status": 200}, "fail_status must be an HTTP status"),
        ({"retry_after": -1}, "retry_after must not be negative"),
        ({"redirect_to": "ftp://x"}, "redirect_to must be a path"),
    ],
)
def test_bad_faults_are_refused_clearly(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults(**kwargs)
