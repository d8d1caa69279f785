"""wget progress as wget really writes it: the total from the Length line or from the
percentages, a rate measured over many lines (not one line's burst), an ETA that agrees.

The lines are GNU Wget 1.21.3's, captured from ``wget -O f URL 2> log`` (dot output, as
without a terminal), ``--progress=dot:mega`` and ``--progress=bar:force``, some under
``--limit-rate``, whose pauses make most lines read "470M" and one "249K".
"""

from __future__ import annotations

import io
import json
import time

import pytest
from kubernetes.client.exceptions import ApiException

from collectors.lines import LineAssembler
from collectors.model import DownloadPhase
from collectors.parsers import wget
from collectors.progress import ProgressTracker
from tui.cli import build_parser
from tui.status_cmd import run as run_status

KiB = 1024
MiB = 1024**2
GiB = 1024**3


def _dot_line(offset_k: int, pct: int | None, rate: str, tail: str, dots: int = 50) -> str:
    groups = []
    for start in range(0, dots, 10):
        groups.append("." * min(10, dots - start))
    body = " ".join(groups).ljust(54)
    pct_text = f"{pct:3d}%" if pct is not None else ""
    return f"{offset_k:6d}K {body} {pct_text} {rate} {tail}".rstrip()


def test_real_dot_lines_parse_with_their_percentage() -> None:
    u = wget.parse_dot(
        "   200K .......... .......... .......... .......... ..........  1%  470M 0s"
    )
    assert u is not None and u.percent == 1 and u.done == 200 * KiB and u.dots == 50
    assert u.rate == pytest.approx(470 * MiB) and u.dot_size == 1024
    u = wget.parse_dot(
        "200050K .......... .......... .......... .......... .......... 76% 47.7G 8s"
    )
    assert u is not None and u.percent == 76 and u.rate == pytest.approx(47.7 * GiB)
    u = wget.parse_dot(
        "  1650K .......... .......... .......... .......... ..........  8%  249K 2s"
    )
    assert u is not None and u.rate == 249 * KiB and u.eta == 2
    # dot:mega: groups of 8 dots of 64 KiB.
    u = wget.parse_dot("  3072K ........ ........ ........ ........ ........ ........ 30% 3.70M 3s")
    assert u is not None and u.percent == 30 and u.dot_size == 64 * KiB and u.dots == 48
    last = wget.parse_dot(
        " 18432K ........ ........ ........ ........                  100% 4.92M=4.9s"
    )
    assert last is not None and last.percent == 100 and last.eta == 0 and last.dots == 32
    # Under 1 KiB/s the unit is a blank: "=" then stands apart.
    slow = wget.parse_dot("    50K ....                                                 512 =2.5s")
    assert slow is not None and slow.rate == 512 and slow.eta == 0


def test_total_from_percentages_when_the_length_line_is_not_in_the_tail() -> None:
    """A log stream that starts 200 lines before the end sees no "Length:" line."""
    total = 262_144_000  # 250 MiB
    tracker = ProgressTracker()
    at = 1000.0
    offset = 200_000 * KiB
    while offset + 50 * KiB < total:
        end = offset + 50 * KiB
        pct = 100 * end // total
        # A burst from the page cache, then a line that carries the wait: 8 MiB/s overall.
        burst = (offset // (50 * KiB)) % 5 != 4
        rate = "47.7G" if burst else "1.6M"
        tracker.feed_text(_dot_line(offset // KiB, pct, rate, "8s"), at)
        at += 50 * KiB / (8 * MiB)
        offset = end
    p = tracker.progress()
    assert p is not None and p.source == "wget"
    assert p.bytes_total is not None and abs(p.bytes_total - total) < 0.002 * total
    assert p.fraction is not None and 0.99 < p.fraction <= 1.0
    # The rate: 5 lines of 50 KiB take one slow line's time (50 KiB at 1.6 MiB/s) plus four
    # bursts: about 8 MiB/s, not 47.7 GiB/s.
    assert p.rate is not None and 7 * MiB < p.rate < 9 * MiB
    assert p.eta_seconds is not None
    assert p.eta_seconds == pytest.approx((p.bytes_total - (p.bytes_done or 0)) / p.rate)


def test_limit_rate_bursts_give_no_rate_until_enough_time_is_seen() -> None:
    """wget --limit-rate=8m: 33 lines at ~400M, then one at 249K that holds the pause."""
    tracker = ProgressTracker()
    tracker.feed_text("Length: 20971520 (20M) [application/octet-stream]", 1.0)
    seen: list[float | None] = []
    offset = 0
    for row in range(140):
        rate = "249K" if row % 34 == 33 else "470M"
        pct = 100 * (offset + 50 * KiB) // (20 * MiB)
        tracker.feed_text(_dot_line(offset // KiB, pct, rate, "0s"), 1.0 + row * 0.006)
        offset += 50 * KiB
        p = tracker.progress()
        assert p is not None
        seen.append(p.rate)
        assert p.rate is None or p.rate < 20 * MiB, f"row {row}: {p.rate}"
        # wget's own ETA ("0s" at 8 %) is no better than its rate: none until a rate is known.
        assert p.eta_seconds is None or p.eta_seconds > 0
    p = tracker.progress()
    assert p is not None and p.bytes_total == 20 * MiB  # the Length line, exactly
    assert p.rate is not None and 5 * MiB < p.rate < 12 * MiB
    assert seen[0] is None  # one burst line is no measurement


def test_dot_mega_without_length_line() -> None:
    lines = [
        "     0K ........ ........ ........ ........ ........ ........ 15% 4.90M 3s",
        "  3072K ........ ........ ........ ........ ........ ........ 30% 3.70M 3s",
        "  6144K ........ ........ ........ ........ ........ ........ 45% 3.70M 3s",
        "  9216K ........ ........ ........ ........ ........ ........ 60% 4.92M 2s",
        " 12288K ........ ........ ........ ........ ........ ........ 75% 3.69M 1s",
    ]
    tracker = ProgressTracker()
    tracker.feed_text(lines[0], 1.0)
    p = tracker.progress()
    assert p is not None and p.bytes_done == 3 * MiB  # 48 dots of 64 KiB from the first line
    for i, line in enumerate(lines[1:], start=2):
        tracker.feed_text(line, float(i))
    p = tracker.progress()
    assert p is not None and p.bytes_done == 15 * MiB
    assert p.bytes_total is not None and abs(p.bytes_total - 20 * MiB) < 0.01 * 20 * MiB
    assert p.rate is not None and 3.5 * MiB < p.rate < 5 * MiB
    tracker.feed_text(
        " 15360K ........ ........ ........ ........ ........ ........ 90% 3.69M 0s", 6.0
    )
    tracker.feed_text(
        " 18432K ........ ........ ........ ........                  100% 4.92M=4.9s", 7.0
    )
    tracker.feed_text(
        "2026-11-27 18:20:31 (4.10 MB/s) - \u2018/tmp/rv/o2\u2019 saved [20971520/20971520]", 8.0
    )
    p = tracker.progress()
    assert p is not None and p.phase is DownloadPhase.DONE and p.bytes_total == 20 * MiB


BAR_FORCE = (
    "--2026-11-27 18:20:31--  http://127.0.0.1:18777/m.bin\n"
    "Connecting to 127.0.0.1:18777... connected.\n"
    "HTTP request sent, awaiting response... 200 OK\n"
    "Length: 20971520 (20M) [application/octet-stream]\n"
    "Saving to: \u2018/tmp/rv/o3\u2019\n\n"
    "\r/tmp/rv/o3            0%[                    ]       0  --.-KB/s               "
    "\r/tmp/rv/o3            8%[>                   ]   1.64M  8.00MB/s               "
    "\r/tmp/rv/o3           16%[==>                 ]   3.26M  8.00MB/s               "
    "\r/tmp/rv/o3           24%[===>                ]   4.90M  8.00MB/s               "
    "\r/tmp/rv/o3           32%[=====>              ]   6.55M  8.00MB/s    eta 2s     "
)


@pytest.mark.parametrize("with_length", [True, False])
def test_bar_force_total_is_stated_or_worked_out(with_length: bool) -> None:
    text = BAR_FORCE if with_length else BAR_FORCE.replace("Length: 20971520", "Length: ?")
    tracker = ProgressTracker()
    asm = LineAssembler()
    for i, seg in enumerate([*asm.feed(text.encode()), *asm.flush()]):
        tracker.feed_text(seg.text, 1000.0 + i * 0.2)
    p = tracker.progress()
    assert p is not None and p.phase is DownloadPhase.DOWNLOADING
    if with_length:
        assert p.bytes_total == 20 * MiB
    else:
        assert p.bytes_total is not None and abs(p.bytes_total - 20 * MiB) < 0.03 * 20 * MiB
    assert p.rate == 8 * MiB and p.eta_seconds == 2


def test_status_of_a_wget_job_whose_length_line_is_out_of_the_tail(start, tmp_path) -> None:
    """``status`` reads the last 200 log lines: far into a download that is no "Length:"."""
    world = start("preload-wget", model_size=48 * MiB, speed=4 * MiB)
    stats = world.stats("v1")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pods = world.pods("job-name=model-preload")
        try:
            if pods and len(world.log(pods[0].metadata.name).splitlines()) > 300:
                break
        except ApiException:  # the container is still being created
            pass
        time.sleep(0.2)
    else:
        raise AssertionError(f"wget wrote too little; model server: {stats}")
    args = build_parser().parse_args(
        ["status", "--kubeconfig", str(world.kubeconfig), "-o", "json"]
    )
    out, err = io.StringIO(), io.StringIO()
    run_status(args, out=out, err=err)
    doc = json.loads(out.getvalue())
    (pod,) = [p for p in doc["pods"] if p["name"].startswith("model-preload")]
    progress = pod["progress"]
    assert progress["source"] == "wget" and progress["phase"] == "downloading", progress
    assert abs(progress["bytes_total"] - 48 * MiB) < 0.01 * 48 * MiB, progress
    # 4 MiB/s per connection; wget's per-line figures reach GiB/s.
    assert progress["rate"] is not None and 2 * MiB < progress["rate"] < 6 * MiB, progress
    left = (progress["bytes_total"] - progress["bytes_done"]) / progress["rate"]
    assert progress["eta_seconds"] == pytest.approx(left)
