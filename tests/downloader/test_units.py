"""The pure pieces: ranges, names, state files, backoff, configuration and usage errors."""

from __future__ import annotations

import io
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from actions.downloader import cli
from actions.downloader.config import parse_download
from actions.downloader.errors import UsageError
from actions.downloader.layout import make_layout, name_from_url, sanitize_name
from actions.downloader.progress import HumanReporter, progress_line
from actions.downloader.ramp import FAST_CONNECTION, RECHECK_WINDOW, WINDOW, Ramp
from actions.downloader.ranges import TAIL_PIECE, RangeSet, piece_lengths, piece_size, plan_pieces
from actions.downloader.retry import backoff_delay, parse_retry_after
from actions.downloader.state import PartState, load_state, save_state
from actions.downloader.trust import DeferredTrustContext, trust_source

from .conftest import ROOT, run_dl

MIB = 1 << 20
SHA = "ab" * 32


def test_rangeset_merges_and_finds_gaps() -> None:
    r = RangeSet()
    for start, end in [(10, 20), (30, 40), (20, 25), (0, 5), (24, 31), (50, 50)]:
        r.add(start, end)
    assert r.intervals() == [(0, 5), (10, 40)]
    assert r.covered() == 35 and r.prefix_end() == 5
    assert r.missing(60) == [(5, 10), (40, 60)]
    r.remove(12, 15)
    assert r.intervals() == [(0, 5), (10, 12), (15, 40)]
    r.add(5, 10)
    assert r.prefix_end() == 12


def test_pieces_cover_the_gaps_in_order_and_balance_workers() -> None:
    gaps = [(0, 100 * MIB + 3), (200 * MIB, 300 * MIB)]
    pieces = plan_pieces(gaps, 4)
    assert pieces == sorted(pieces)
    assert RangeSet(pieces).intervals() == gaps
    assert len(pieces) >= 4
    assert 4 * MIB <= piece_size(1 << 30, 4) <= 64 * MIB
    assert (1 << 30) // piece_size(1 << 30, 8) % 8 == 0
    assert plan_pieces([(5, 17)], 1) == [(5, 17)]


def test_the_last_round_of_pieces_halves_down_to_the_tail_piece() -> None:
    lengths = piece_lengths(1 << 30, 8, small_tail=True)
    assert sum(lengths) == 1 << 30
    assert lengths == sorted(lengths, reverse=True)  # never a big piece after a small one
    # The pieces running when the download ends lie within the last few MiB of the file.
    assert lengths[-8:] == [TAIL_PIECE] * 8 and lengths[0] == 32 * MIB
    assert lengths[-16:-8] == [TAIL_PIECE] * 8 and lengths[-24:-16] == [8 * MIB] * 8
    for total, workers in [(25 * 10**9, 8), (100 * MIB + 3, 4), (4 * MIB, 4), (7, 3)]:
        assert sum(piece_lengths(total, workers, small_tail=True)) == total
        assert sum(piece_lengths(total, workers)) == total
    assert piece_lengths(5 * MIB, 1) == [5 * MIB]  # one connection: one request
    assert piece_lengths(0, 4) == []
    # Nothing hashed, nothing to gain from small last pieces: equal pieces, fewer requests.
    assert piece_lengths(1 << 30, 8) == [32 * MIB] * 32
    # Gaps take the lengths in order; a length that spans two gaps is cut at the gap's end.
    gaps = [(0, 3 * MIB), (10 * MIB, 20 * MIB)]
    pieces = plan_pieces(gaps, 2, small_tail=True)
    assert RangeSet(pieces).intervals() == gaps and pieces == sorted(pieces)
    assert all(end <= 3 * MIB or start >= 10 * MIB for start, end in pieces)


def test_a_lone_connection_takes_the_small_tail_pieces_joined() -> None:
    pieces: list[tuple[int, int | None]] = [(0, 8), (8, 12), (12, 14), (14, 16), (20, 22)]
    fast = Ramp(list(pieces), workers=4, fetched=0, now=0.0)
    assert fast.release(0, 0, 0.0) == [(0, 8)]
    moved = int(2 * FAST_CONNECTION * WINDOW)
    assert fast.release(moved, 0, WINDOW) == [(8, 16)]  # up to the largest planned piece
    assert fast.release(moved, 0, WINDOW) == [(20, 22)]  # never across a gap
    # Parallel connections get the pieces as planned.
    slow = Ramp(list(pieces), workers=4, fetched=0, now=0.0)
    slow.release(0, 0, 0.0)
    assert slow.release(0, 1, WINDOW) == pieces[1:]


def test_ramp_keeps_one_fast_connection_and_opens_all_for_a_slow_one() -> None:
    pieces: list[tuple[int, int | None]] = [(i, i + 1) for i in range(6)]
    fast = Ramp(list(pieces), workers=4, fetched=0, now=0.0)
    assert fast.release(0, 0, 0.0) == [(0, 1)]
    assert fast.release(0, 1, 0.01) == []  # one piece running: nothing more yet
    moved = int(2 * FAST_CONNECTION * WINDOW)
    assert fast.release(moved, 0, WINDOW) == [(1, 2)]  # fast: the next piece, alone
    assert not fast.parallel
    slow = Ramp(list(pieces), workers=4, fetched=0, now=0.0)
    assert slow.release(0, 0, 0.0) == [(0, 1)]
    assert slow.release(int(FAST_CONNECTION * WINDOW / 4), 1, WINDOW) == pieces[1:]
    assert slow.parallel and slow.exhausted
    # A fast start then a throttled window: the rest goes parallel.
    burst = Ramp(list(pieces), workers=4, fetched=0, now=0.0)
    burst.release(0, 0, 0.0)
    burst.release(moved, 1, WINDOW)
    assert burst.release(moved + 1, 1, 2 * WINDOW) == []  # a short pause is not a verdict
    assert burst.release(moved + 1, 1, WINDOW + RECHECK_WINDOW) == pieces[1:]
    # One worker: everything at once (the pool has one thread anyway).
    assert Ramp(list(pieces), workers=1, fetched=0, now=0.0).release(0, 0, 0.0) == pieces


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://b.s3.amazonaws.com/models/v1/model.bin?X-Amz-Signature=x", "model.bin"),
        ("http://h/a/..%2F..%2Fetc%2Fpasswd", "passwd"),
        ("http://h/a/%2E%2E", "model.bin"),
        ("http://h/", "model.bin"),
        ("http://h/.hidden", "hidden"),
        ("http://h/x/model.bin.part", "model.bin.part_"),
        ("http://h/a%5C..%5Cb.bin", "b.bin"),
    ],
)
def test_names_from_urls(url: str, name: str) -> None:
    assert name_from_url(url) == name


def test_layout_confines_and_places_versions(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, "v2", sanitize_name("../../x"))
    assert layout.final == tmp_path / "v2" / "x" and layout.relative == "v2/x"
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "evil").symlink_to("/etc/passwd")
    with pytest.raises(UsageError, match="outside the cache directory"):
        make_layout(tmp_path, "v2", "evil")


def test_state_roundtrip_and_validators(tmp_path: Path) -> None:
    path = tmp_path / "m.part.json"
    state = PartState("http://u:p@h/m?sig=s", 100, '"e1"', None, ((0, 10), (20, 30)))
    save_state(path, state)
    loaded = load_state(path)
    assert loaded is not None and loaded.ranges == ((0, 10), (20, 30))
    assert "p@" not in path.read_text() and "sig=s" not in path.read_text()
    assert loaded.same_source(100, '"e1"', "whatever")
    assert not loaded.same_source(100, '"e2"', None)
    assert not loaded.same_source(101, '"e1"', None)
    assert not PartState("u", 100, 'W/"weak"', None).same_source(100, 'W/"weak"', None)
    assert PartState("u", 100, None, "Tue, 1 Jan").same_source(100, None, "Tue, 1 Jan")
    assert not PartState("u", 100, None, None).same_source(100, None, None)
    path.write_text('{"v": 1, "size": 10, "ranges": [[0, 20]]}')  # claims past the size
    assert load_state(path) is None
    path.write_text("{not json")
    assert load_state(path) is None


def test_backoff_grows_with_jitter_and_retry_after_wins() -> None:
    for attempt, ceiling in [(2, 0.5), (3, 1.0), (4, 2.0), (30, 30.0)]:
        delays = [backoff_delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
    assert backoff_delay(2, retry_after=7) == 7
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None


def _usage(argv: list[str], env: dict[str, str] | None = None) -> str:
    with pytest.raises(UsageError) as info:
        parse_download(argv, env or {})
    return info.value.message


def test_usage_errors_name_the_culprit() -> None:
    url = "http://h/m.bin"
    assert "--checksum must be 'sha256:' followed by 64 hex" in _usage([url, "--checksum", "md5:1"])
    assert "MODEL_CHECKSUM" in _usage([url], {"MODEL_CHECKSUM": "sha256:xyz"})
    assert "--max-cache-size must be a size" in _usage([url, "--max-cache-size", "50XB"])
    assert "MODEL_CACHE_MAX_SIZE" in _usage([url], {"MODEL_CACHE_MAX_SIZE": "lots"})
    assert "--workers must be between 1 and 32" in _usage([url, "--workers", "0"])
    assert "MODEL_DOWNLOAD_RESUME must be true or false" in _usage(
        [url], {"MODEL_DOWNLOAD_RESUME": "maybe"}
    )
    assert "--eviction must be 'lru' or 'none'" in _usage([url, "--eviction", "fifo"])
    assert "must start with http://" in _usage(["ftp://h/x"])
    assert "not a plain name" in _usage([url, "--version", "../v1"])
    assert "no model URL" in _usage([])
    assert "one per URL" in _usage([url, "http://h/b", "--checksum", f"sha256:{SHA}"])
    assert "--timeout must be a number of seconds" in _usage([url, "--timeout", "soon"])
    assert "MODEL_DOWNLOAD_STALL_TIMEOUT must be" in _usage(
        [url], {"MODEL_DOWNLOAD_STALL_TIMEOUT": "never"}
    )
    assert "unrecognized arguments" in _usage([url, "--bogus"])


def test_flags_win_over_env_and_defaults_apply() -> None:
    env = {
        "MODEL_URL": "http://h/a.bin http://h/b.bin",
        "MODEL_DOWNLOAD_WORKERS": "8",
        "MODEL_CACHE_MAX_SIZE": "50GB",
        "MODEL_CHECKSUM": f"sha256:{SHA},sha256:{SHA.upper()}",
        "MODEL_DOWNLOAD_TIMEOUT": "0",
        "MODEL_DOWNLOAD_STALL_TIMEOUT": "600",
        "MODEL_VALIDATE": "false",
    }
    config = parse_download(["--workers", "2", "--max-cache-size", "1GiB"], env)
    assert config.stall_timeout == 600
    assert parse_download(["--stall-timeout", "5"], env).stall_timeout == 5
    assert config.urls == ("http://h/a.bin", "http://h/b.bin")
    assert config.workers == 2 and config.max_cache_size == 1 << 30
    assert config.checksums == (SHA, SHA) and config.timeout is None and config.validate is False
    default = parse_download(["http://h/m"], {})
    assert default.workers == 4 and default.retries == 5 and default.timeout == 3600
    assert default.max_cache_size == 50 * 10**9 and default.eviction == "lru"
    assert default.cache_dir == Path("/app/models") and default.resume is True


def test_usage_error_exit_code_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["http://h/m", "--checksum", "sha256:123", "--progress", "none"], {}) == 2
    err = capsys.readouterr().err
    assert "--checksum must be 'sha256:'" in err and "Traceback" not in err
    # As a real process, with a JSON error line for the dashboard as well.
    res = run_dl("http://h/m", env={"MODEL_CACHE_MAX_SIZE": "big"})
    assert res.rc == 2
    assert res.error is not None and res.error["code"] == "usage"
    assert "MODEL_CACHE_MAX_SIZE must be a size" in res.stderr and "Traceback" not in res.stderr


def test_the_downloader_imports_nothing_heavy() -> None:
    code = (
        "import sys, actions.downloader.cli, actions.downloader.runner, "
        "actions.downloader.http_source, actions.downloader.verify_cmd; "
        "print(sorted(m for m in ('kubernetes', 'textual', 'rich', 'aiohttp', 'simcluster') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]"


def test_human_progress_redraws_one_line_per_file() -> None:
    out, err = io.StringIO(), io.StringIO()
    human = HumanReporter(out, err, tty=True)
    human.start("a.bin", "http://u:pw@h/a.bin?X-Amz-Signature=s3cr3t", 2 * MIB, 0, 4, None)
    human.progress("a.bin", MIB, 2 * MIB, 1.5 * MIB, 0.7, 4)
    human.progress("b.bin", 0, None, 0.0, None, 1)
    human.progress("a.bin", 2 * MIB, 2 * MIB, 1.5 * MIB, 0.0, 4)
    human.done("a.bin", 2 * MIB, None, 1.3, False, "/c/a.bin")
    human.error("b.bin", "http_refused", 4, "b.bin: refused")
    text = out.getvalue()
    assert "a.bin   50% 1.0 MiB/2.0 MiB  1.5 MiB/s  ETA 0s" in text
    assert "b.bin  0 B  0 B/s  ETA --" in text
    assert "\x1b[2F\x1b[J" in text  # two bars drawn, then redrawn in place
    assert "a.bin: done in 1.3s, 2.0 MiB at /c/a.bin" in text
    assert "s3cr3t" not in text and "pw@" not in text
    assert err.getvalue() == "error: b.bin: refused\n"
    assert progress_line("m", 0, 10, 0.0, 3725) == "m    0% 0 B/10 B  0 B/s  ETA 1h02m"


def test_trust_comes_from_where_httpx_takes_it() -> None:
    both = {"SSL_CERT_FILE": "/etc/ca.pem", "SSL_CERT_DIR": "/etc/certs"}
    assert trust_source(both) == ("SSL_CERT_FILE=/etc/ca.pem", "/etc/ca.pem", None)
    assert trust_source({"SSL_CERT_FILE": "", "SSL_CERT_DIR": "/etc/certs"}) == (
        "SSL_CERT_DIR=/etc/certs",
        None,
        "/etc/certs",
    )
    where, cafile, capath = trust_source({})
    assert where.startswith("certifi's bundle ") and cafile and Path(cafile).is_file()
    assert capath is None


def test_a_deferred_trust_context_verifies_like_the_default_one() -> None:
    ctx = DeferredTrustContext()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] == 0  # nothing parsed until a handshake
