"""The TLS trust store, loaded at the first TLS handshake instead of at start-up.

Parsing a CA bundle takes 20-40 ms here, a sixth of the downloader's whole start-up, and a
plain-HTTP download never needs it. The trust comes from where httpx takes it: the file in
SSL_CERT_FILE, else the directory in SSL_CERT_DIR, else certifi's bundle. A bundle that cannot
be loaded is a TrustStoreError naming the variable, never a connection error to retry.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Mapping
from typing import Any


class TrustStoreError(Exception):
    """The configured CA bundle cannot be loaded; no handshake can succeed."""


def trust_source(environ: Mapping[str, str]) -> tuple[str, str | None, str | None]:
    """(where it comes from, cafile, capath), in httpx's order of precedence."""
    cafile = environ.get("SSL_CERT_FILE")
    if cafile:
        return f"SSL_CERT_FILE={cafile}", cafile, None
    capath = environ.get("SSL_CERT_DIR")
    if capath:
        return f"SSL_CERT_DIR={capath}", None, capath
    import certifi

    bundle = certifi.where()
    return f"certifi's bundle {bundle}", bundle, None


class DeferredTrustContext(ssl.SSLContext):
    """A verifying client context whose CA certificates are loaded by its first handshake."""

    _loaded: bool
    _loading: threading.Lock

    def __new__(cls, *_args: Any, **_kwargs: Any) -> DeferredTrustContext:
        ctx = super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)
        ctx._loaded = False
        ctx._loading = threading.Lock()
        return ctx

    def __init__(self) -> None:
        # PROTOCOL_TLS_CLIENT already requires a certificate and checks the host name, as
        # ssl.create_default_context() does; only the loading of the CAs is put off.
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog:
            self.keylog_filename = keylog

    def load_trust(self) -> None:
        """Load the CA certificates once; safe from several worker threads at once."""
        if self._loaded:
            return
        with self._loading:
            if self._loaded:
                return
            where, cafile, capath = trust_source(os.environ)
            try:
                self.load_verify_locations(cafile=cafile, capath=capath)
            except (OSError, ssl.SSLError) as exc:
                detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                raise TrustStoreError(
                    f"cannot load the TLS trust store from {where}: {detail}"
                ) from None
            self._loaded = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self.load_trust()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.load_trust()
        return super().wrap_bio(*args, **kwargs)


def certificate_problem(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind a connection error, if that is what it is."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
