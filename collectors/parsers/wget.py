"""GNU wget: the bar (terminal or ``--progress=bar:force``), the dot style it uses without a
terminal, and its header, retry and error lines."""

from __future__ import annotations

import re

from collectors.parsers.base import (
    DISK_FULL,
    DOWNLOAD_FAILED,
    HTTP_REFUSED,
    Update,
    duration_text,
    size_text,
)

SOURCE = "wget"

# model.bin  42%[=======>            ] 863.45M   120MB/s    eta 10s
# model.bin 100%[===================>]   2.00G   121MB/s    in 17s
_BAR = re.compile(
    r"(?P<pct>\d{1,3})%\[[^\]]*\]\s+(?P<done>[\d.,]+[KMGT]?)\s+"
    r"(?P<rate>[\d.,]+[KMGT]?B/s|--\.-[KMGT]?B/s)"
    r"(?:\s+(?P<mode>eta|in)\s+(?P<time>[\dhms ]+?))?\s*$"
)
# Unknown length: "model.bin      [  <=>    ] 863.45M  120MB/s"
_BAR_NOLEN = re.compile(
    r"\[\s*<?=+>?\s*\]\s+(?P<done>[\d.,]+[KMGT]?)\s+(?P<rate>[\d.,]+[KMGT]?B/s|--\.-[KMGT]?B/s)"
)
#      0K .......... .......... .......... .......... ..........  0% 95.2M 3s
# 307150K .......... ......                                      100%  150M=2.5s
_LENGTH = re.compile(r"^Length:\s+(\d+)")
_SAVED = re.compile(r"saved \[(\d+)(?:/(\d+))?\]")
# wget quotes the name with typographic quotes (U+2018/U+2019) in UTF-8 locales.
_SAVING = re.compile("^Saving to:\\s+['\u2018`\"]?(?P<path>[^'\u2019`\"]+)")
_ERROR_STATUS = re.compile(r"^ERROR (\d{3}):\s*(.*)")
_RETRY_AT_BYTE = re.compile(
    r"^(?:Connection closed|Read error) at byte (\d+)(?:/(\d+))?(?: \(([^)]*)\))?\. Retrying"
)
_TRY = re.compile(r"^--\d{4}-\d\d-\d\d \d\d:\d\d:\d\d--\s+\(try:\s*(\d+)\)")


def _rate(text: str) -> float | None:
    if text.startswith("--"):
        return 0.0
    value = size_text(text.removesuffix("/s"))
    return float(value) if value is not None else None


def parse_bar(text: str) -> Update | None:
    """A bar update. The percentage is wget's (rounded down), the size is rounded to three
    digits: the tracker works the total out from both unless the ``Length:`` line gave it."""
    if "%[" in text:
        match = _BAR.search(text)
        if not match:
            return None
        mode, when = match["mode"], match["time"]
        return Update(
            "progress",
            SOURCE,
            done=size_text(match["done"]),
            rate=_rate(match["rate"]),
            eta=duration_text(when) if mode == "eta" and when else (0.0 if mode == "in" else None),
            percent=int(match["pct"]),
        )
    if "<=>" in text:
        match = _BAR_NOLEN.search(text)
        if match:
            return Update(
                "progress", SOURCE, done=size_text(match["done"]), rate=_rate(match["rate"])
            )
    return None


# Bytes per dot by the size of a group of dots: default 10 x 1K, binary 16 x 8K, mega 8 x 64K
# (48 a line), giga 8 x 1M (32 a line; told from mega by the offsets, in the tracker).
_DOT_SIZE_BY_GROUP = {10: 1024, 16: 8192, 8: 65536}


def parse_dot(text: str) -> Update | None:
    """A dot line: ``done`` is the line's starting offset and ``dots`` how many follow.

    ``rate`` is wget's speed over this one line: a line of ten 1 KiB groups can take a
    microsecond when the data comes from the page cache, so it can read "47.7G"; the tracker
    measures the rate over many lines instead of showing one. Parsed by hand (this is the line
    wget writes thousands of times per download).
    """
    s = text.lstrip()
    space = s.find(" ")
    if space < 2:
        return None
    head = s[:space]
    unit = head[-1]
    if unit.isdigit():
        number, unit = head, "K"
    elif unit in "KMG":
        number = head[:-1]
    else:
        return None
    if not number.isdigit():
        return None
    rest = s[space:]
    after = rest.lstrip(" .,")
    region = rest[: len(rest) - len(after)]
    skipped = region.count(",")
    dots = region.count(".") + skipped
    if not dots:
        return None
    groups = region.split()
    fields = after.split()
    pct = None
    if fields and fields[0].endswith("%"):
        pct_text = fields.pop(0)[:-1]
        if not pct_text.isdigit():
            return None
        pct = int(pct_text)
    if not fields or len(fields) > 2:
        return None
    rate_text, _, took = fields[0].partition("=")
    if not took and len(fields) == 2 and fields[1].startswith("="):
        took = fields[1][1:]  # a rate under 1 KiB/s has a blank unit: "512 =2.5s"
    rate = size_text(rate_text)
    if rate is None:
        return None
    eta = 0.0 if took else (duration_text(fields[1]) if len(fields) == 2 else None)
    dot_size = _DOT_SIZE_BY_GROUP.get(len(groups[0])) if len(groups) > 1 else None
    return Update(
        "progress",
        SOURCE,
        done=int(number) * _DOT_UNITS[unit],
        dots=dots,
        rate=float(rate),
        eta=eta,
        percent=pct,
        dot_size=dot_size,
        skipped=skipped or None,
    )


_DOT_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}


def parse_other(text: str) -> Update | None:
    """Header, retry and error lines."""
    if text.startswith("Length:"):
        match = _LENGTH.match(text)
        if match:
            return Update("start", SOURCE, done=0, total=int(match[1]))
        if "unspecified" in text:
            return Update("start", SOURCE, done=0)
        return None
    if text.startswith("Saving to:"):
        match = _SAVING.match(text)
        return Update("info", SOURCE, file=match["path"] if match else None, message=text)
    if " saved [" in text:
        match = _SAVED.search(text)
        if match:
            size = int(match[1])
            return Update("done", SOURCE, done=size, total=int(match[2] or size))
    if text.startswith("ERROR "):
        match = _ERROR_STATUS.match(text)
        if match:
            return Update(
                "error", SOURCE, code=HTTP_REFUSED, message=f"HTTP {match[1]} {match[2]}".strip()
            )
    if text.startswith("Cannot write to") or "No space left on device" in text:
        if "No space left" in text:
            return Update("error", SOURCE, code=DISK_FULL, message=text)
        return Update("error", SOURCE, code=DOWNLOAD_FAILED, message=text)
    if "Retrying." in text:
        match = _RETRY_AT_BYTE.match(text)
        if match:
            return Update(
                "retry",
                SOURCE,
                done=int(match[1]),
                total=int(match[2]) if match[2] else None,
                message=match[3] or text,
            )
        return Update("retry", SOURCE, message=text)
    if text.startswith("--") and "(try:" in text:
        match = _TRY.match(text)
        if match:
            return Update("retry", SOURCE, attempt=int(match[1]), message="wget retries")
    if text.startswith("Giving up"):
        return Update("error", SOURCE, code=DOWNLOAD_FAILED, message="wget gave up")
    return None
