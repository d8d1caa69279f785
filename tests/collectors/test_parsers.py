"""Each progress parser against real-looking output of its tool, plus garbage."""

from __future__ import annotations

import json

import pytest

from collectors.parsers import aria2c, awscli, bundled, curl, lightning, tqdm, wget
from collectors.parsers.base import duration_text, size_text
from collectors.parsers.failures import classify_failure
from collectors.progress import parse_segment, strip_ansi

GiB = 1024**3
MiB = 1024**2


def test_sizes_and_durations() -> None:
    assert size_text("2.0 GiB") == 2 * GiB
    assert size_text("863.45M") == int(863.45 * MiB)
    assert size_text("400MiB") == 400 * MiB
    assert size_text("0B") == 0
    assert size_text("256 Bytes") == 256
    assert size_text("23.5GB", binary_default=False) == 23_500_000_000
    assert size_text("lots") is None
    assert duration_text("1m2s") == 62
    assert duration_text("1h 5m") == 3900
    assert duration_text("0:00:17") == 17
    assert duration_text("00:14") == 14
    assert duration_text("--:--:--") is None


def _line(**obj: object) -> str:
    base = {"v": 1, "ts": "2026-11-27T10:00:00.123Z", "file": "model.bin"}
    base.update(obj)
    return json.dumps(base)


def test_bundled_json_events() -> None:
    u = bundled.parse_json(
        _line(event="progress", done=100, total=400, rate=50.0, eta=6.0, workers=4)
    )
    assert u is not None and (u.kind, u.done, u.total, u.rate, u.eta) == (
        "progress",
        100,
        400,
        50.0,
        6.0,
    )
    u = bundled.parse_json(
        _line(
            event="start",
            url="http://x/REDACTED",
            total=None,
            resumed_from=7,
            workers=4,
            version="v2",
        )
    )
    assert u is not None and u.kind == "start" and u.done == 7 and u.total is None
    u = bundled.parse_json(_line(event="retry", attempt=2, of=5, reason="HTTP 503", delay=1.5))
    assert u is not None and (u.kind, u.attempt, u.attempts, u.message) == (
        "retry",
        2,
        5,
        "HTTP 503",
    )
    u = bundled.parse_json(_line(event="wait", holder="pid 12 on host a", waited=3.0))
    assert u is not None and u.kind == "wait" and u.message == "pid 12 on host a"
    u = bundled.parse_json(_line(event="stall", done=40, after=30.0))
    assert u is not None and u.kind == "stall" and u.done == 40
    u = bundled.parse_json(_line(event="verify", done=5, total=10))
    assert u is not None and u.kind == "verify"
    u = bundled.parse_json(
        _line(event="done", bytes=400, sha256="ab" * 32, seconds=3.0, cached=True, path="model.bin")
    )
    assert (
        u is not None
        and u.kind == "done"
        and u.done == 400
        and "already present" in (u.message or "")
    )
    u = bundled.parse_json(
        _line(
            event="error",
            code="checksum_mismatch",
            exit=5,
            message="sha256 of model.bin is x, expected y",
        )
    )
    assert u is not None and u.kind == "error" and u.code == "checksum_mismatch"
    u = bundled.parse_json(
        _line(event="error", code="disk_full", exit=6, message="no space left on device")
    )
    assert u is not None and u.code == "disk_full"
    # Garbage that looks like JSON.
    assert bundled.parse_json('{"event": "progress", "done": ') is None
    assert bundled.parse_json('{"other": 1}') is None
    assert bundled.parse_json('["event"]') is None
    # Nested too deep for json (a 16 KiB line): malformed, not a crash of the log stream.
    assert bundled.parse_json('{"event": ' + "[" * 8000 + "]" * 8000 + "}") is None
    assert bundled.parse_json(_line(event="progress", done="many")).done is None  # type: ignore[union-attr]


def test_bundled_human_line() -> None:
    u = bundled.parse_human("model.bin  42% 1.2 GiB/2.9 GiB  85.3 MiB/s  ETA 21s")
    assert u is not None
    assert u.done == int(1.2 * GiB) and u.total == int(2.9 * GiB)
    assert u.rate == int(85.3 * MiB) and u.eta == 21 and u.file == "model.bin"


WGET_BAR = (
    "--2026-11-27 10:00:00--  http://models.local/v1/model.bin\n"
    "Resolving models.local (models.local)... 10.0.0.7\n"
    "Connecting to models.local (models.local)|10.0.0.7|:80... connected.\n"
    "HTTP request sent, awaiting response... 200 OK\n"
    "Length: 2147483648 (2.0G) [application/octet-stream]\n"
    "Saving to: \u2018/app/models/model.bin\u2019\n\n"
    "\r/app/models/model.bin   0%[                    ]       0  --.-KB/s               "
    "\r/app/models/model.bin  42%[=======>            ] 863.45M   120MB/s    eta 10s    "
    "\r/app/models/model.bin 100%[===================>]   2.00G   121MB/s    in 17s     \n\n"
    "2026-11-27 10:00:17 (121 MB/s) - \u2018/app/models/model.bin\u2019 saved "
    "[2147483648/2147483648]\n"
)


def test_wget_bar_lines() -> None:
    u = wget.parse_bar(
        "/app/models/model.bin  42%[=======>            ] 863.45M   120MB/s    eta 10s    "
    )
    assert u is not None and u.done == int(863.45 * MiB) and u.eta == 10 and u.rate == 120 * MiB
    # The total is the tracker's to work out (the Length line, else the percentages).
    assert u.percent == 42 and u.total is None
    u = wget.parse_bar("model.bin 100%[===================>]   2.00G   121MB/s    in 17s")
    assert u is not None and u.eta == 0 and u.done == 2 * GiB
    u = wget.parse_bar("model.bin               [   <=>              ] 863.45M   120MB/s")
    assert u is not None and u.total is None and u.done == int(863.45 * MiB)
    assert wget.parse_other("Length: 2147483648 (2.0G) [application/octet-stream]").total == 2 * GiB  # type: ignore[union-attr]
    saved = wget.parse_other(WGET_BAR.splitlines()[-1])
    assert saved is not None and saved.kind == "done" and saved.done == 2 * GiB


WGET_DOTS = [
    "Length: 314572800 (300M) [application/octet-stream]",
    "Saving to: \u2018model.bin\u2019",
    "",
    "     0K .......... .......... .......... .......... ..........  0% 95.2M 3s",
    "    50K .......... .......... .......... .......... ..........  0%  120M 3s",
    "   100K .......... .......... .......... .......... ..........  0%  118M 3s",
    "307150K .......... ......                                      100%  150M=2.5s",
]


def test_wget_dot_lines() -> None:
    u = wget.parse_dot(WGET_DOTS[4])
    assert u is not None and u.done == 50 * 1024 and u.dots == 50 and u.eta == 3
    assert u.rate == 120 * MiB
    last = wget.parse_dot(WGET_DOTS[-1])
    assert last is not None and last.done == 307150 * 1024 and last.dots == 16 and last.eta == 0
    assert wget.parse_dot("   2 files .. done") is None


def test_wget_errors() -> None:
    u = wget.parse_other("ERROR 404: Not Found.")
    assert (
        u is not None
        and u.kind == "error"
        and u.code == "http_refused"
        and "404" in (u.message or "")
    )
    u = wget.parse_other(
        "Cannot write to \u2018/app/models/model.bin\u2019 (No space left on device)."
    )
    assert u is not None and u.code == "disk_full"
    u = wget.parse_other("Connection closed at byte 1048576. Retrying.")
    assert u is not None and u.kind == "retry" and u.done == 1048576
    u = wget.parse_other("Read error at byte 5000/314572800 (Connection reset by peer). Retrying.")
    assert u is not None and u.kind == "retry" and u.total == 314572800
    u = wget.parse_other("--2026-11-27 10:00:05--  (try: 2)  http://models.local/v1/model.bin")
    assert u is not None and u.attempt == 2


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # Real failure lines keep their code.
        ("model.bin: sha256 mismatch, expected ab… but the download has cd…", "checksum_mismatch"),
        ("ERROR: Model validation failed: checksum mismatch", "checksum_mismatch"),
        ("Checksum mismatch for model.bin", "checksum_mismatch"),
        ("hash mismatch in model.bin", "checksum_mismatch"),
        ("errorCode=32 Checksum validation failed.", "checksum_mismatch"),
        (
            "download failed: s3://m/model.bin to x Expected checksum q1w2== did not match "
            "calculated checksum: e3r4==",
            "checksum_mismatch",
        ),
        ("sha256sum: WARNING: 1 computed checksum did NOT match", "checksum_mismatch"),
        ("download failed: s3://m/model.bin to x [Errno 28] No space left on device", "disk_full"),
        ("Cannot write to 'model.bin' (No space left on device).", "disk_full"),
        ("OSError: ENOSPC writing model.bin", "disk_full"),
        ("disk full", "disk_full"),
        ("no space left for model.bin in /app/models: 4.0 MiB more needed", "disk_full"),
        ("Connection timeout", "download_failed"),
        # Lines that mention a checksum without saying it is wrong: no longer a mismatch.
        ("checksum verified, 3 GiB", "download_failed"),
        ("--checksum flag given", "download_failed"),
        ("verifying checksum of model.bin", "download_failed"),
        ("checksum failed: could not read model.bin", "download_failed"),
        ("MODEL_CHECKSUM is not set", "download_failed"),
        ("the checksum does not matter here", "download_failed"),
    ],
)
def test_classify_failure_reads_whole_phrases(text: str, code: str) -> None:
    assert classify_failure(text) == code


CURL_METER = (
    "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
    "                                 Dload  Upload   Total   Spent    Left  Speed\n"
    "\r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0"
    "\r 42 2048M   42  863M    0     0   120M      0  0:00:17  0:00:07  0:00:10  121M"
    "\r100 2048M  100 2048M    0     0   120M      0  0:00:17  0:00:17 --:--:--  122M\n"
)


def test_curl_meter() -> None:
    u = curl.parse(" 42 2048M   42  863M    0     0   120M      0  0:00:17  0:00:07  0:00:10  121M")
    assert u is not None and u.done == 863 * MiB and u.total == 2048 * MiB
    assert u.rate == 121 * MiB and u.eta == 10
    u = curl.parse("  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0")
    assert u is not None and u.done == 0 and u.total is None
    assert (
        curl.parse(
            "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current"
        )
        is None
    )
    u = curl.parse("curl: (23) Failure writing output to destination")
    assert u is not None and u.code == "disk_full"
    u = curl.parse("curl: (22) The requested URL returned error: 403")
    assert u is not None and u.code == "http_refused"
    u = curl.parse("curl: (56) Recv failure: Connection reset by peer")
    assert u is not None and u.code == "download_failed"


ARIA = (
    "\x1b[1;32m[#2089b0 400MiB/2.0GiB(19%) CN:4 DL:120MiB ETA:13s]\x1b[0m\n"
    "[#2089b0 2.0GiB/2.0GiB(99%) CN:1 DL:119MiB]\n"
)


def test_aria2c() -> None:
    u = aria2c.parse(strip_ansi(ARIA.splitlines()[0]))
    assert u is not None and u.done == 400 * MiB and u.total == 2 * GiB and u.eta == 13
    assert u.rate == 120 * MiB
    u = aria2c.parse("[#2089b0 0B/0B CN:1 DL:0B]")
    assert u is not None and u.done == 0 and u.total is None
    u = aria2c.parse(
        "11/27 10:00:09 [ERROR] CUID#7 - Download aborted. URI=http://x/model.bin\n"
        "Exception: [AbstractCommand.cc:351] errorCode=32 Checksum validation failed."
    )
    assert u is not None and u.code == "checksum_mismatch"
    u = aria2c.parse("2089b0|OK  |   120MiB/s|/app/models/model.bin")
    assert u is not None and u.kind == "done"
    u = aria2c.parse("2089b0|ERR |       0B/s|/app/models/model.bin")
    assert u is not None and u.kind == "error"


def test_aws_s3_cp() -> None:
    u = awscli.parse("Completed 256.0 KiB/2.0 GiB (3.2 MiB/s) with 1 file(s) remaining")
    assert u is not None and u.done == 256 * 1024 and u.total == 2 * GiB
    assert u.rate == int(3.2 * MiB)
    u = awscli.parse("download: s3://models/v1/model.bin to ../app/models/model.bin")
    assert u is not None and u.kind == "done"
    u = awscli.parse(
        "download failed: s3://models/v1/model.bin to app/models/model.bin An error occurred "
        "(403) when calling the HeadObject operation: Forbidden"
    )
    assert u is not None and u.code == "http_refused"
    u = awscli.parse("download failed: s3://m/model.bin to x [Errno 28] No space left on device")
    assert u is not None and u.code == "disk_full"


def test_tqdm_huggingface() -> None:
    u = tqdm.parse("model.safetensors:  42%|████▏     | 1.23G/2.90G [00:10<00:14, 120MB/s]")
    assert u is not None and u.done == 1_230_000_000 and u.total == 2_900_000_000
    assert u.eta == 14 and u.rate == 120_000_000 and u.file == "model.safetensors"
    u = tqdm.parse("Downloading (…)model.bin: 100%|██████████| 2.90G/2.90G [00:24<00:00, 120MB/s]")
    assert u is not None and u.done == u.total
    u = tqdm.parse(" 42%|████▏     | 423/1000 [00:10<00:14, 42.3it/s]")
    assert u is not None and u.done == 423 and u.rate is not None
    assert tqdm.parse("50%|broken") is None


LIGHTNING = [
    "INFO: Downloading model from URL...",
    "WARNING: Download attempt 1 failed: Connection timeout",
    "WARNING: Retrying download...",
    "INFO: Model downloaded: 23.5GB",
    "INFO: Loading model into GPU memory...",
    "INFO: Server ready on port 2269",
    "ERROR: Download failed after 3 attempts",
    "ERROR: Model validation failed: checksum mismatch",
]


def test_lightning_lines() -> None:
    kinds = [lightning.parse(line) for line in LIGHTNING]
    assert [k.kind if k else None for k in kinds] == [
        "start",
        "retry",
        "retry",
        "done",
        "info",
        "ready",
        "error",
        "error",
    ]
    assert (
        kinds[1] is not None and kinds[1].attempt == 1 and kinds[1].message == "Connection timeout"
    )
    assert kinds[3] is not None and kinds[3].done == 23_500_000_000
    assert kinds[6] is not None and kinds[6].code == "download_failed" and kinds[6].attempt == 3
    assert kinds[7] is not None and kinds[7].code == "checksum_mismatch"
    assert lightning.parse("2026-11-27 10:00:00 [INFO] Server ready on port 2269") is not None
    assert lightning.parse("INFO: request handled in 3 ms") is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "random words",
        "\x00\x01\x02 binary junk \xff",
        "{not json",
        "[#zzz what]",
        "Completed nothing",
        "100% sure",
        "  12 34 56",
        "x" * 5000,
        "%|%|%|",
        "[" * 100,
        " " * 50 + ".." * 100,
    ],
)
def test_garbage_is_none_or_harmless(text: str) -> None:
    update = parse_segment(text)
    assert update is None or update.kind in ("info", "progress", "error", "retry")


def test_dispatch_picks_each_format() -> None:
    samples = {
        "bundled": _line(event="progress", done=1, total=2, rate=1.0, eta=1.0, workers=1),
        "wget": WGET_DOTS[3],
        "curl": " 42 2048M   42  863M    0     0   120M      0  0:00:17  0:00:07  0:00:10  121M",
        "aria2c": ARIA.splitlines()[0],
        "aws": "Completed 256.0 KiB/2.0 GiB (3.2 MiB/s) with 1 file(s) remaining",
        "tqdm": "model.safetensors:  42%|████▏     | 1.23G/2.90G [00:10<00:14, 120MB/s]",
        "lightning": "INFO: Downloading model from URL...",
    }
    for source, text in samples.items():
        update = parse_segment(text)
        assert update is not None and update.source == source, (source, update)
    bar = parse_segment("/app/models/model.bin  42%[=======>   ] 863.45M   120MB/s    eta 10s")
    assert bar is not None and bar.source == "wget"
    human = parse_segment("model.bin  42% 1.2 GiB/2.9 GiB  85.3 MiB/s  ETA 21s")
    assert human is not None and human.source == "bundled"


def test_bundled_progress_fields_match_the_json() -> None:
    lines = [
        _line(event="progress", done=5, total=None, rate=1.5e7, eta=None, workers=1),
        _line(event="progress", done=10**10, total=2 * 10**10, rate=0.0, eta=3.25, workers=4),
        json.dumps({"v": 1, "event": "progress", "file": 'we"ird', "done": 1, "total": 2}),
        json.dumps({"event": "progress", "done": 7}, separators=(",", ":")),
    ]
    for line in lines:
        fast = bundled.parse_json(line)
        obj = json.loads(line)
        assert fast is not None
        assert (fast.done, fast.total, fast.file) == (
            obj["done"],
            obj.get("total"),
            obj.get("file"),
        )
        assert fast.rate == (float(obj["rate"]) if obj.get("rate") is not None else None)
