"""HTTP(S) source: ranged GETs with httpx, checked strictly before a byte is kept.

A ranged answer is used only when it is a 206 whose Content-Range is exactly the range asked
for and whose validators match the probe's. A 200 to a range request is reported (never
appended), as is a changed ETag/Last-Modified; a body shorter or longer than announced is a
retriable error for that range. Each worker thread has its own client (connection pool).
"""

from __future__ import annotations

import contextlib
import re
import ssl
import sys
import threading
from collections.abc import Iterator
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

# httpx's optional command-line tool imports click, rich and pygments (~65 ms) when they are
# installed; a None entry makes that optional import fail fast, as httpx expects it may.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpcore
import httpx

from collectors.redact import SECRET_QUERY_KEYS, redact_url

from .errors import (
    BodyLengthError,
    HttpRefused,
    RangeIgnored,
    RetriableError,
    StallError,
    UsageError,
    ValidatorChanged,
)
from .retry import parse_retry_after
from .socket_body import body_socket, receive
from .source import Remote, Sink
from .trust import DeferredTrustContext, TrustStoreError, certificate_problem

USER_AGENT = "asr-cache-download/0.1"
# httpcore reads HTTP/1.1 bodies 64 KiB at a time; per-read parsing then costs more CPU than
# the bytes. Bodies that go through httpx (chunked ones; any body's first chunk, before
# socket_body takes over) are read 1 MiB at a time (~1.26 vs ~0.76 GB/s on loopback), but each
# read is held about three times over (socket, parser, chunk), so with many connections --
# which only pay off when each is slow -- reads shrink to keep peak memory under 100 MB.
FAST_READ = 1 << 20
SMALL_READ = 256 << 10
_HTTP11 = getattr(getattr(httpcore, "_sync", None), "http11", None)


def read_size_for(workers: int) -> int:
    return FAST_READ if workers <= 4 else SMALL_READ


def _set_read_size(size: int) -> None:
    if _HTTP11 is not None and hasattr(_HTTP11, "HTTP11Connection"):
        _HTTP11.HTTP11Connection.READ_NUM_BYTES = size


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)
_RETRIABLE_STATUS = {408, 425, 429}
# OpenSSL's verify codes for "signed by no CA we know" (self-signed, unknown issuer).
_UNKNOWN_ISSUER = frozenset({2, 18, 19, 20, 21})


def _status_text(code: int) -> str:
    try:
        return f"HTTP {code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


def _is_presigned(url: str) -> bool:
    try:
        return any(k.lower() in SECRET_QUERY_KEYS for k, _ in parse_qsl(urlsplit(url).query))
    except ValueError:
        return False


class HttpSource:
    """One URL over HTTP(S); safe to use from several worker threads at once."""

    def __init__(self, url: str, stall_timeout: float, workers: int = 1) -> None:
        self.url = url
        _set_read_size(read_size_for(workers))
        self._shown = redact_url(url)
        self._timeout = httpx.Timeout(
            connect=min(30.0, stall_timeout),
            read=stall_timeout,
            write=stall_timeout,
            pool=stall_timeout,
        )
        self._stall_timeout = stall_timeout
        # One TLS context for every worker's client, its CA bundle parsed at the first
        # handshake (~30 ms and ~1 MiB): never for a plain-HTTP download.
        self._ssl = DeferredTrustContext()
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._clients_lock = threading.Lock()

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(
                verify=self._ssl,
                timeout=self._timeout,
                follow_redirects=True,
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
                limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
            )
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):  # closing is best effort at shutdown
                client.close()

    # -- errors -------------------------------------------------------------------------
    def _refused(self, response: httpx.Response) -> HttpRefused:
        code = response.status_code
        text = f"{self._shown} refused the download: {_status_text(code)}"
        if code == 403 and _is_presigned(self.url):
            text += " (the presigned URL has probably expired; sign a new one)"
        elif code in (401, 403):
            text += " (check the credentials or the bucket policy)"
        elif code in (404, 410):
            text += " (no such file on the server)"
        return HttpRefused(text)

    def _check_status(self, response: httpx.Response) -> None:
        code = response.status_code
        if code >= 500 or code in _RETRIABLE_STATUS:
            raise RetriableError(
                _status_text(code),
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if 300 <= code < 400:
            raise HttpRefused(
                f"{self._shown} answered {_status_text(code)} without a usable Location"
            )
        if code >= 400:
            raise self._refused(response)

    def _transport_error(self, exc: httpx.HTTPError) -> Exception:
        rejected = certificate_problem(exc)
        if rejected is not None:
            return self._untrusted(rejected, exc)
        if isinstance(exc, httpx.ReadTimeout):
            return StallError(f"no data for {self._stall_timeout:g}s")
        if isinstance(exc, httpx.TimeoutException):
            return RetriableError(f"{type(exc).__name__}: timed out")
        if isinstance(exc, httpx.TooManyRedirects):
            return HttpRefused(f"{self._shown} redirects too many times")
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return HttpRefused(f"{self._shown} (or a redirect from it) is not a usable URL: {exc}")
        detail = str(exc) or type(exc).__name__
        return RetriableError(f"{type(exc).__name__}: {detail}")

    def _untrusted(
        self, rejected: ssl.SSLCertVerificationError, exc: httpx.HTTPError
    ) -> HttpRefused:
        """A certificate we cannot trust fails the same way every time: say why, once, naming
        the host that presented it (a redirect may have led elsewhere) before any long URL."""
        why = rejected.verify_message or rejected.reason or str(rejected)
        try:
            url = exc.request.url
            host = f"{url.host}:{url.port}" if url.port else url.host
        except RuntimeError:  # an error raised without its request
            host = self._shown
        text = f"the TLS certificate of {host} is not trusted ({why})"
        if rejected.verify_code in _UNKNOWN_ISSUER:
            text += "; if a private CA signs it, set SSL_CERT_FILE to that CA's bundle"
        return HttpRefused(text)

    @contextlib.contextmanager
    def _get(self, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """A streamed GET of the URL; transport and trust failures, while the headers or the
        body are read, come out as the typed errors of errors.py."""
        try:
            with self._client().stream("GET", self.url, headers=headers) as resp:
                yield resp
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        except TrustStoreError as exc:
            raise UsageError(str(exc)) from None

    # -- probe --------------------------------------------------------------------------
    def probe(self) -> Remote:
        """A one-byte ranged GET: size, validators and range support in one round trip.

        GET rather than HEAD because presigned URLs are signed for one method."""
        with self._get({"Range": "bytes=0-0"}) as resp:
            headers = resp.headers
            etag, modified = headers.get("etag"), headers.get("last-modified")
            if resp.status_code == 206:
                match = _CONTENT_RANGE.match(headers.get("content-range", ""))
                if not match or match.group(1) != "0":
                    raise RetriableError("the probe's Content-Range is malformed")
                size = None if match.group(3) == "*" else int(match.group(3))
                return Remote(size=size, etag=etag, last_modified=modified, ranges=size is not None)
            if resp.status_code == 416:
                unsat = _UNSATISFIED.match(headers.get("content-range", ""))
                if unsat and unsat.group(1) == "0":
                    return Remote(size=0, etag=etag, last_modified=modified, ranges=True)
                raise RetriableError(_status_text(416))
            if resp.status_code == 200:
                length = headers.get("content-length")
                size = int(length) if length and length.isdigit() else None
                return Remote(size=size, etag=etag, last_modified=modified, ranges=False)
            self._check_status(resp)
            raise RetriableError(f"unexpected {_status_text(resp.status_code)}")

    # -- fetch --------------------------------------------------------------------------
    def _validate(self, response: httpx.Response, remote: Remote) -> None:
        etag = response.headers.get("etag")
        modified = response.headers.get("last-modified")
        if (remote.etag and etag and etag != remote.etag) or (
            remote.last_modified and modified and modified != remote.last_modified
        ):
            raise ValidatorChanged(f"{self._shown} changed on the server (ETag/Last-Modified)")

    def fetch(self, start: int, end: int | None, remote: Remote, sink: Sink) -> None:
        headers: dict[str, str] = {}
        ranged = remote.ranges and end is not None
        if ranged:
            headers["Range"] = f"bytes={start}-{end - 1}"  # type: ignore[operator]
            if remote.etag and not remote.etag.startswith("W/"):
                headers["If-Range"] = remote.etag
            elif remote.last_modified and not remote.etag:
                headers["If-Range"] = remote.last_modified
        elif start != 0:
            raise AssertionError("a server without ranges can only be read from the start")
        with self._get(headers) as resp:
            expect = self._check_response(resp, start, end, remote, ranged)
            self._stream(resp, start, expect, sink)

    def _check_response(
        self, resp: httpx.Response, start: int, end: int | None, remote: Remote, ranged: bool
    ) -> int | None:
        """The number of body bytes to expect, after checking status, range and validators."""
        code = resp.status_code
        expect: int | None
        if code == 206 and ranged:
            assert end is not None
            self._validate(resp, remote)
            match = _CONTENT_RANGE.match(resp.headers.get("content-range", ""))
            if (
                not match
                or int(match.group(1)) != start
                or int(match.group(2)) != end - 1
                or (match.group(3) != "*" and int(match.group(3)) != remote.size)
            ):
                got = resp.headers.get("content-range", "none")
                raise RetriableError(
                    f"Content-Range {got!r} does not match the range asked for "
                    f"(bytes {start}-{end - 1}/{remote.size})"
                )
            expect = end - start
        elif code == 200:
            self._validate(resp, remote)
            if ranged and not (start == 0 and end == remote.size):
                raise RangeIgnored(f"{self._shown} ignored the Range header (200, whole body)")
            expect = remote.size
        elif code == 416 and ranged:
            raise ValidatorChanged(f"{self._shown} no longer has bytes {start}-{end} (416)")
        elif code == 206:
            raise RetriableError("206 Partial Content to a request without a Range")
        else:
            self._check_status(resp)
            raise RetriableError(f"unexpected {_status_text(code)}")
        encoding = resp.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise HttpRefused(
                f"{self._shown} sent a {encoding}-encoded body to an identity request"
            )
        length = resp.headers.get("content-length")
        if length is not None and expect is not None and length.strip() != str(expect):
            raise RetriableError(
                f"Content-Length {length.strip()} does not match the {expect} bytes expected"
            )
        return expect

    def _stream(self, resp: httpx.Response, start: int, expect: int | None, sink: Sink) -> None:
        pos = start
        limit = None if expect is None else start + expect
        first = True
        for chunk in resp.iter_raw():
            if limit is not None and pos + len(chunk) > limit:
                raise BodyLengthError(f"the body is longer than the {expect} bytes announced")
            sink.write(pos, chunk)
            pos += len(chunk)
            if first and limit is not None and pos < limit:
                first = False
                # h11 has handed out what it held: the rest may come straight from the socket.
                sock = body_socket(resp)
                if sock is not None:
                    receive(sock, pos, limit - pos, sink, self._stall_timeout)
                    return
        if limit is not None and pos < limit:
            raise RetriableError(f"short body: {pos - start} of {expect} bytes")
