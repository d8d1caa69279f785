"""The small part of HTTP/1.1 the model server speaks: request heads, Range, response heads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

REASONS = {
    200: "OK",
    206: "Partial Content",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class BadRequest(ValueError):
    """A request head we cannot read; answered 400 and the connection closed."""


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    path: str
    version: str
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


def parse_head(raw: bytes) -> Request:
    """Parse the request line and headers (raw ends with CRLF CRLF)."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes everything
        raise BadRequest("request head is not text") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"malformed request line: {lines[0][:100]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(f"malformed header line: {line[:100]!r}")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    raw_path = target.split("?", 1)[0].split("#", 1)[0]
    if not raw_path.startswith("/"):
        raise BadRequest(f"request target must be a path: {target[:100]!r}")
    return Request(method, target, unquote(raw_path), version, headers)


class Unsatisfiable(ValueError):
    """A syntactically valid Range that selects no byte of the file (416)."""


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """The half-open [start, end) asked by a single `bytes=` range, or None for "whole file".

    Multiple ranges and malformed values are ignored (RFC 9110 allows it): the caller serves
    200 with the whole body. Raises Unsatisfiable for a range outside the file.
    """
    if value is None:
        return None
    match = _RANGE.match(value)
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable(value)
        return max(0, size - n), size
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignore
    if start >= size:
        raise Unsatisfiable(value)
    end = size if not last else min(int(last) + 1, size)
    return start, end


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines.extend(f"{k}: {v}" for k, v in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
