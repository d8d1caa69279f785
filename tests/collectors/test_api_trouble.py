"""The stale banner's words for how the API fails us, from what the client raised."""

from __future__ import annotations

import urllib3
from kubernetes.client.exceptions import ApiException

from collectors.cluster import api_trouble


def test_each_refusal_is_named_by_its_status() -> None:
    assert api_trouble(ApiException(status=401)) == "rejecting our credentials (401)"
    assert api_trouble(ApiException(status=403)) == "refusing us (403)"
    assert api_trouble(ApiException(status=429)) == "throttling us (429)"
    assert api_trouble(ApiException(status=503)) == "failing (503)"
    assert api_trouble(ApiException(status=404)) == "answering 404"


def test_a_silent_server_is_told_from_a_gone_one() -> None:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", 6443)
    timed_out = urllib3.exceptions.ReadTimeoutError(pool, "/api/v1/pods", "read timed out")
    assert api_trouble(timed_out) == "not answering"
    refused = urllib3.exceptions.MaxRetryError(
        pool,
        "/api/v1/pods",
        urllib3.exceptions.NewConnectionError(
            urllib3.connection.HTTPConnection("127.0.0.1", 6443), "refused"
        ),
    )
    assert api_trouble(refused) == "unreachable"
    assert api_trouble(ApiException(status=0, reason="connection reset")) == "unreachable"
