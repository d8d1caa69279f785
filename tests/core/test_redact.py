"""Secrets never survive redaction, and redaction never breaks a URL that has none."""

from __future__ import annotations

import pytest

from collectors.redact import REDACTED, redact_text, redact_url

PRESIGNED = (
    "https://bucket.s3.amazonaws.com/models/v1/model.smlst"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261127"
    "&X-Amz-Date=20261127T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
    "&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE&X-Amz-Signature=deadbeefcafe"
)


def test_presigned_s3_url_keeps_its_shape_but_loses_every_secret() -> None:
    out = redact_url(PRESIGNED)
    for secret in ("AKIAEXAMPLE", "FQoGZXIvYXdzEXAMPLE", "deadbeefcafe"):
        assert secret not in out
    assert out.startswith("https://bucket.s3.amazonaws.com/models/v1/model.smlst?")
    assert "X-Amz-Expires=3600" in out
    assert out.count(REDACTED) == 3


def test_userinfo_is_replaced() -> None:
    out = redact_url("https://alice:hunter2@models.example.com/m.bin")
    assert "alice" not in out and "hunter2" not in out
    assert out == f"https://{REDACTED}@models.example.com/m.bin"


@pytest.mark.parametrize("key", ["token", "sig", "Signature", "access_token"])
def test_common_token_parameters(key: str) -> None:
    out = redact_url(f"https://cdn.example.com/m.bin?{key}=s3cr3t&x=1")
    assert "s3cr3t" not in out and "x=1" in out


def test_plain_url_and_garbage_unchanged() -> None:
    assert redact_url("http://127.0.0.1:8080/models/v1/model.bin") == (
        "http://127.0.0.1:8080/models/v1/model.bin"
    )
    assert redact_url("not a url at all") == "not a url at all"
    assert redact_url("http://[::1") == "http://[::1"


def test_urls_inside_text() -> None:
    line = f"ERROR: Download failed from {PRESIGNED} (403)"
    out = redact_text(line)
    assert "deadbeefcafe" not in out and out.endswith("(403)")
