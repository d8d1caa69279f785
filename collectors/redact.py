"""Redaction of secrets in URLs, so a presigned model URL never reaches a log or a screen.

Pure and dependency-free: the downloader in a pod imports it as well as the dashboard.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"

# Query parameters that carry credentials or signatures (matched case-insensitively).
SECRET_QUERY_KEYS = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "signature",
        "sig",
        "token",
        "access_token",
        "auth",
        "key",
        "apikey",
        "api_key",
        "password",
        "secret",
        "awsaccesskeyid",
    }
)

_URL_IN_TEXT = re.compile(r"\b(?:https?|s3|gs|ftp)://[^\s'\"<>]+", re.IGNORECASE)


def redact_url(url: str) -> str:
    """Return ``url`` with userinfo and signing query parameters replaced by ``REDACTED``.

    Anything that does not parse as a URL is returned unchanged: redaction never raises.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        host = netloc.rsplit("@", 1)[1]
        netloc = f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_QUERY_KEYS for k, _ in pairs):
            pairs = [(k, REDACTED if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs]
            query = urlencode(pairs, safe="/:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Redact every URL found inside free text (log lines, error messages)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
