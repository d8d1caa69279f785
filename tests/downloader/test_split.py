"""Tail splitting: an idle worker takes over half of a slow connection's remainder. The split
arithmetic; a cut piece writing exactly up to its cut through every way bytes arrive (httpx,
splice, recv, TLS, file://); and whole downloads with one straggling connection, over real
sockets: the right file, hashed, resumed after kill -9, and no split where none belongs."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from actions.downloader import file_source, http_source
from actions.downloader.cli import run
from actions.downloader.errors import EXIT_INTERNAL, PieceCut
from actions.downloader.http_source import HttpSource
from actions.downloader.pool import PieceSink
from actions.downloader.ranges import plan_pieces
from actions.downloader.source import Remote, Sink
from actions.downloader.state import load_state
from actions.downloader.tails import (
    CUT_ALIGN,
    MIN_CUT,
    MIN_HALF,
    Running,
    RunningPieces,
    split_point,
)
from actions.downloader.transfer import Transfer
from simcluster.modelserver import Faults, ModelServer, RequestRecord

from .conftest import (
    TlsServer,
    finish,
    run_dl,
    serve,
    settled,
    sha256_of,
    start_dl,
    transfer_for,
    wait_for,
)
from .test_resume import _kill

MIB = 1 << 20
# One connection this slow among uncapped ones: far behind them, yet it delivers what is left
# to it after the cuts (under 2 x MIN_HALF) in well under a second.
SLOW = 6 * MIB


def _span(record: RequestRecord) -> int:
    """How many bytes a request's Range asked for."""
    assert record.range is not None
    first, last = record.range.removeprefix("bytes=").split("-")
    return int(last) - int(first) + 1


def _planned(size: int, workers: int) -> int:
    return len(plan_pieces([(0, size)], workers, small_tail=True))  # the runs hash


# -- the arithmetic -------------------------------------------------------------------------


def test_split_point_halves_the_remainder_above_what_the_victim_reserved() -> None:
    assert split_point(0, 16 * MIB) == 8 * MIB
    # The middle is rounded up, never below what the victim holds.
    assert split_point(MIB + 5, 16 * MIB) == 8 * MIB + 9 * CUT_ALIGN  # 8.5 MiB and 2 bytes
    for reserved in range(0, 8 * MIB, 333_333):
        mid = split_point(reserved, 24 * MIB)
        assert mid is not None and mid % CUT_ALIGN == 0
        assert mid - reserved >= MIN_HALF and 24 * MIB - mid >= MIN_HALF
    # A piece of unknown rate: halves under MIN_HALF are not worth a new request.
    assert split_point(0, 2 * MIN_HALF - 1) is None
    assert split_point(5 * MIB, 5 * MIB) is None
    # Rounding the middle up can leave the thief's half short: no cut either.
    assert split_point(1, 1 + 2 * MIN_HALF) is None


def test_a_cut_pays_when_each_half_outlasts_a_new_request() -> None:
    slow, fast = 10_000_000, 90_000_000
    assert split_point(0, 4 * MIB, slow) == 2 * MIB  # 0.21 s a half at 10 MB/s
    assert split_point(0, 3 * MIB, slow) is None
    assert split_point(0, 32 * MIB, fast) is None  # 0.19 s a half at 90 MB/s
    assert split_point(0, 40 * MIB, fast) == 20 * MIB
    # A stalled victim gives up all but MIN_CUT, and never less.
    assert split_point(5 * MIB, 7 * MIB, 0.0) == 6 * MIB
    assert split_point(5 * MIB, 7 * MIB - 1, 0.0) is None


def test_a_thief_never_gets_what_the_victim_reserved() -> None:
    pieces = RunningPieces()
    victim = pieces.begin(0, 32 * MIB, now=0.0)
    small = pieces.begin(32 * MIB, 40 * MIB, now=0.0)
    unsized = pieces.begin(0, None, now=0.0)
    assert pieces.steal(now=0.1) is None  # not before the file runs parallel connections
    pieces.enable_splits()
    assert pieces.claim(victim, 0, 4 * MIB) == 4 * MIB
    thief = pieces.steal(now=0.1)  # the longest remainder, cut above what was reserved
    assert thief is not None and (thief.start, thief.end) == (18 * MIB, 32 * MIB)
    assert victim.end == 18 * MIB and thief.reserved == thief.start
    # A chunk across the cut is granted only up to it; past it, nothing.
    assert pieces.claim(victim, 17 * MIB, 2 * MIB) == MIB
    assert pieces.claim(victim, 18 * MIB, MIB) == 0
    assert victim.reserved == 18 * MIB
    # Then the thief's piece is the longest; once no half would pay, no more cuts.
    second = pieces.steal(now=0.1)
    assert second is not None and (second.start, second.end) == (25 * MIB, 32 * MIB)
    assert pieces.claim(small, 32 * MIB, 4 * MIB) == 4 * MIB
    assert pieces.steal(now=0.1) is None
    assert pieces.claim(unsized, 0, 5 * MIB) == 5 * MIB  # a piece of unknown size: never cut
    for piece in (victim, small, unsized, thief, second):
        pieces.finish(piece, now=0.2)
    assert pieces.steal(now=0.2) is None


def test_the_piece_expected_to_finish_last_is_cut_first() -> None:
    pieces = RunningPieces()
    pieces.enable_splits()
    fast = pieces.begin(0, 64 * MIB, now=0.0)
    slow = pieces.begin(64 * MIB, 80 * MIB, now=0.0)
    pieces.claim(fast, 0, 40 * MIB)  # 24 MiB to go at 42 MB/s: 0.6 s
    pieces.claim(slow, 64 * MIB, 4 * MIB)  # 12 MiB to go at 4 MB/s: 3 s
    first = pieces.steal(now=1.0)
    assert first is not None and (first.start, first.end) == (74 * MIB, 80 * MIB)
    second = pieces.steal(now=1.0)  # still the slow one: 6 MiB at 4 MB/s
    assert second is not None and (second.start, second.end) == (71 * MIB, 74 * MIB)
    assert fast.end == 64 * MIB and slow.end == 71 * MIB


def test_a_young_piece_is_judged_by_the_rate_of_the_pieces_before_it() -> None:
    pieces = RunningPieces()
    pieces.enable_splits()
    done = pieces.begin(0, 50 * MIB, now=0.0)
    pieces.claim(done, 0, 50 * MIB)
    pieces.finish(done, now=1.0)  # 52 MB/s
    pieces.begin(50 * MIB, 66 * MIB, now=1.0)  # taken to move 52 MB/s too: 0.32 s to go
    assert pieces.steal(now=1.1) is None  # halves of 8 MiB take it under NEW_REQUEST
    slow = pieces.begin(66 * MIB, 72 * MIB, now=0.0)
    pieces.claim(slow, 66 * MIB, MIB)  # 5 MiB to go at 1 MB/s: this one ends last
    thief = pieces.steal(now=1.1)
    assert thief is not None and (thief.start, thief.end) == (69 * MIB + MIB // 2, 72 * MIB)


def _cut_at_7_mib(t: Transfer, content: bytes) -> PieceSink:
    """A victim's sink for ``[0, 13 MiB)`` that wrote its first MiB, then a thief took the rest
    from 7 MiB on."""
    piece = t.pieces.begin(0, 13 * MIB, now=0.0)
    sink = PieceSink(t, 0, piece, 13 * MIB)
    sink.write(0, content[:MIB])
    t.pieces.enable_splits()
    thief = t.pieces.steal(now=0.0)
    assert thief is not None and thief.start == piece.end == 7 * MIB
    return sink


def test_a_received_chunk_across_the_cut_is_written_only_below_it(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    content = os.urandom(13 * MIB)
    src.write_bytes(content)
    with transfer_for(f"file://{src}", tmp_path / "cache", hashed=True) as t:
        sink = _cut_at_7_mib(t, content)
        with pytest.raises(PieceCut):
            sink.write(MIB, content[MIB : 8 * MIB])
        sink.flush()
        assert sink.pos == 7 * MIB and os.fstat(t.fd).st_size == 7 * MIB
        assert t.missing() == [(7 * MIB, 13 * MIB)]
        assert t.hasher is not None and t.hasher.pos == 7 * MIB  # hashed only what was written
        with pytest.raises(PieceCut):
            sink.write(7 * MIB, content[7 * MIB : 8 * MIB])  # past the cut: nothing at all
        assert os.fstat(t.fd).st_size == 7 * MIB


def test_spliced_bytes_past_the_cut_stay_in_the_pipe(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    content = os.urandom(13 * MIB)
    src.write_bytes(content)
    with transfer_for(f"file://{src}", tmp_path / "cache") as t:
        sink = _cut_at_7_mib(t, content)
        sink.write(MIB, content[MIB : 7 * MIB - 100])
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, content[7 * MIB - 100 : 7 * MIB + 900])
            with pytest.raises(PieceCut):
                sink.splice(read_end, 7 * MIB - 100, 1000)
            assert os.read(read_end, 4096) == content[7 * MIB : 7 * MIB + 900]  # never moved
        finally:
            os.close(read_end)
            os.close(write_end)
        sink.flush()
        assert sink.pos == 7 * MIB and os.fstat(t.fd).st_size == 7 * MIB
        assert t.missing() == [(7 * MIB, 13 * MIB)]
    with open(tmp_path / "cache" / "model.bin.part", "rb") as fh:
        assert fh.read() == content[: 7 * MIB]


# -- a cut piece, through each way the bytes arrive -------------------------------------------


def _cut_while_stalled(t: Transfer, server: ModelServer, path: str, size: int) -> None:
    """Fetch ``[0, size)`` as a victim whose response stalls after 1 MiB; cut it from another
    thread while it waits, let the response go on, then fetch the thief's half."""
    piece = t.pieces.begin(0, size, time.monotonic())
    sink = PieceSink(t, 0, piece, size)
    outcome: list[BaseException] = []

    def victim() -> None:
        try:
            t.source.fetch(0, size, t.remote, sink)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=victim)
    thread.start()
    try:
        wait_for(lambda: piece.reserved >= MIB)  # and no further: the response stalls there
        t.pieces.enable_splits()
        thief = t.pieces.steal(time.monotonic())
    finally:
        server.release_stalls(path)
        thread.join(20)
    assert thief is not None and (thief.start, thief.end) == (7 * MIB, size)
    assert len(outcome) == 1 and isinstance(outcome[0], PieceCut), outcome
    assert sink.pos == piece.end == 7 * MIB
    # Not one byte past the cut reached the file, whatever was already on the way.
    assert os.fstat(t.fd).st_size == 7 * MIB
    sink.flush()
    rest = PieceSink(t, thief.start, thief, thief.end)
    t.source.fetch(thief.start, size, t.remote, rest)
    rest.flush()
    assert t.missing() == []


@pytest.mark.parametrize("way", ["splice", "recv", "tls", "httpx"])
def test_a_piece_cut_mid_response_stops_exactly_at_the_cut(
    way: str,
    model_server: ModelServer,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server = model_server
    if way == "tls":
        secure: TlsServer = request.getfixturevalue("tls_model_server")
        monkeypatch.setenv("SSL_CERT_FILE", str(secure.ca))
        server = secure.server
    if way == "httpx":
        monkeypatch.setattr(http_source, "body_socket", lambda _response: None)
    size = 13 * MIB
    # Capped, so that the victim's dropped response is seen unsent, not queued in socket buffers.
    faults = Faults(stall_after=MIB, stall_requests=1, rate_limit=32 * MIB)
    f, url = serve(server, size, seed=401, faults=faults)
    # "recv": bytes that extend the hashed prefix come through our buffer to be hashed.
    with transfer_for(url, tmp_path, hashed=way == "recv") as t:
        _cut_while_stalled(t, server, f.path, size)
        if t.hasher is not None:
            assert t.hasher.pos == size  # hashed on the way, up to the cut and after it
            assert t.hasher.finish(t.fd, size) == f.sha256
    assert sha256_of(tmp_path / "model.bin.part") == f.sha256
    victim = next(r for r in settled(server, f.path).recent if r.range == f"bytes=0-{size - 1}")
    assert victim.bytes_sent < size  # its response was dropped, the rest unsent


def test_a_file_piece_cut_between_reads_stops_exactly_at_the_cut(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(13 * MIB))
    block = 640 << 10
    monkeypatch.setattr(file_source, "READ_BLOCK", block)
    with transfer_for(f"file://{src}", tmp_path / "cache") as t:
        piece = t.pieces.begin(0, 13 * MIB, now=0.0)
        t.pieces.enable_splits()
        stolen: list[Running | None] = []

        class Victim(PieceSink):
            def write(self, offset: int, data: bytes | memoryview) -> None:
                super().write(offset, data)
                if not stolen:  # a thief comes between the victim's first and second read
                    stolen.append(t.pieces.steal(now=0.0))

        sink = Victim(t, 0, piece, 13 * MIB)
        with pytest.raises(PieceCut):
            t.source.fetch(0, 13 * MIB, t.remote, sink)
        thief, cut = stolen[0], split_point(block, 13 * MIB)
        assert cut is not None and cut % block  # so a read straddles the cut
        assert thief is not None and thief.start == piece.end == sink.pos == cut
        assert os.fstat(t.fd).st_size == cut
        t.source.fetch(thief.start, 13 * MIB, t.remote, PieceSink(t, thief.start, thief, 13 * MIB))
    assert sha256_of(tmp_path / "cache" / "model.bin.part") == sha256_of(src)


# -- whole downloads ---------------------------------------------------------------------------


def test_an_idle_worker_takes_over_half_of_a_slow_connections_piece(
    model_server: ModelServer, tmp_path: Path
) -> None:
    size, workers = 64 * MIB, 4
    f, url = serve(model_server, size, seed=402, faults=Faults(slow_rate=SLOW, slow_requests=1))
    res = run_dl(url, "--cache-dir", str(tmp_path), "--workers", str(workers))
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256
    stats = settled(model_server, f.path)
    # The probe, the planned pieces, and at least one half taken over.
    assert stats.range_requests > 1 + _planned(size, workers)
    (slow,) = [r for r in stats.recent if r.slow]
    assert slow.bytes_sent < _span(slow) - MIN_HALF  # cut short: its tail came from elsewhere
    assert stats.bytes_sent < size + 1 + MIN_HALF  # and nothing was fetched twice over


def test_a_split_during_a_checksum_download_over_https_hashes_right(
    tls_model_server: TlsServer, tmp_path: Path
) -> None:
    server = tls_model_server.server
    size, workers = 64 * MIB, 4
    f, url = serve(server, size, seed=403, faults=Faults(slow_rate=SLOW, slow_requests=1))
    res = run_dl(
        url,
        "--cache-dir",
        str(tmp_path),
        "--workers",
        str(workers),
        "--checksum",
        f"sha256:{f.sha256}",
        env={"SSL_CERT_FILE": str(tls_model_server.ca)},
    )
    assert res.rc == 0, res.stderr
    assert res.of("done")[0]["sha256"] == f.sha256
    assert sha256_of(tmp_path / "model.bin") == f.sha256
    stats = settled(server, f.path)
    assert stats.range_requests > 1 + _planned(size, workers)


def test_a_piece_cut_while_its_worker_waits_resumes_only_up_to_its_new_end(
    model_server: ModelServer, tmp_path: Path
) -> None:
    # The first piece stalls after 1 MiB; idle workers take over its remainder meanwhile, and
    # when the stall timeout ends that attempt, the retry asks only for what is left to it.
    size, workers = 64 * MIB, 4
    piece = plan_pieces([(0, size)], workers, small_tail=True)[0][1]  # the first piece's end
    f, url = serve(model_server, size, seed=404, faults=Faults(stall_after=MIB, stall_requests=1))
    args = ("--workers", str(workers), "--stall-timeout", "1", "--checksum", f"sha256:{f.sha256}")
    res = run_dl(url, "--cache-dir", str(tmp_path), *args)
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256
    retried = [
        r
        for r in settled(model_server, f.path).recent
        if (r.range or "").startswith(f"bytes={MIB}-")
    ]
    assert len(retried) == 1 and MIN_CUT <= _span(retried[0]) < piece - MIB - MIN_HALF
    assert retried[0].bytes_sent == _span(retried[0])


def test_kill_9_after_a_split_resumes_to_the_right_file(
    model_server: ModelServer, tmp_path: Path
) -> None:
    size, workers = 64 * MIB, 4
    f, url = serve(
        model_server, size, seed=405, faults=Faults(slow_rate=SLOW // 2, slow_requests=1)
    )
    args = (
        url,
        "--cache-dir",
        str(tmp_path),
        "--workers",
        str(workers),
        "--checksum",
        f"sha256:{f.sha256}",
    )
    proc = start_dl(*args)
    split = 1 + _planned(size, workers)
    wait_for(lambda: model_server.stats(f.path).range_requests > split, timeout=20)
    _kill(proc, model_server, f.path)  # the victim and maybe a thief still running
    state = load_state(tmp_path / "model.bin.part.json")
    assert state is not None and state.ranges
    with open(tmp_path / "model.bin.part", "rb") as fh:
        for start, end in state.ranges:  # what the state claims is really there
            fh.seek(start)
            assert fh.read(end - start) == f.read(start, end - start)
    kept = sum(e - s for s, e in state.ranges)
    model_server.set_faults(f.path, Faults())
    res = finish(start_dl(*args))
    assert res.rc == 0, res.stderr
    assert res.of("start")[0]["resumed_from"] == kept
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_one_worker_never_splits(model_server: ModelServer, tmp_path: Path) -> None:
    size = 16 * MIB
    f, url = serve(model_server, size, seed=406, faults=Faults(slow_rate=32 * MIB, slow_requests=1))
    res = run_dl(url, "--cache-dir", str(tmp_path), "--workers", "1")
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256
    stats = settled(model_server, f.path)
    assert stats.range_requests == 2  # the probe and the one piece, slow to its end
    assert [r.bytes_sent for r in stats.recent if r.slow] == [size]


def test_a_server_without_range_support_never_splits(
    model_server: ModelServer, tmp_path: Path
) -> None:
    size = 16 * MIB
    f, url = serve(
        model_server, size, seed=407, faults=Faults(ignore_range=True, rate_limit=32 * MIB)
    )
    res = run_dl(url, "--cache-dir", str(tmp_path), "--workers", "4")
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256
    stats = settled(model_server, f.path)
    assert stats.range_requests == 1  # the probe only: one whole-body GET, never cut
    assert stats.statuses == {200: 2}


def test_a_file_with_bytes_never_received_is_never_placed(
    model_server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last guard before the rename, for what the pool or a source might get wrong (here a
    fetch that returns without writing its piece): a file with a hole is not put in place,
    even with --no-validate, and the partial stays for a resume."""
    _, url = serve(model_server, 3 * MIB)
    fetch = HttpSource.fetch

    def short(self: HttpSource, start: int, end: int | None, remote: Remote, sink: Sink) -> None:
        if start == 0:
            fetch(self, start, end, remote, sink)

    monkeypatch.setattr(HttpSource, "fetch", short)
    argv = [url, "--cache-dir", str(tmp_path), "--workers", "2", "--no-validate"]
    assert run([*argv, "--progress", "none"]) == EXIT_INTERNAL
    assert not (tmp_path / "model.bin").exists()
    assert (tmp_path / "model.bin.part").exists()
