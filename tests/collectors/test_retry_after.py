"""How long a watcher waits after a refusal: its back-off, or what the server asked for."""

from __future__ import annotations

from kubernetes.client.exceptions import ApiException

from collectors.watch import MAX_RETRY_AFTER, retry_delay


def _refused(status: int, retry_after: str | None) -> ApiException:
    exc = ApiException(status=status, reason="x")
    exc.headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return exc


def test_a_throttled_watcher_waits_as_long_as_the_server_asks() -> None:
    assert retry_delay(_refused(429, "7"), 0.5) == 7.0
    assert retry_delay(_refused(503, "2"), 0.5) == 2.0
    assert retry_delay(_refused(429, "1"), 4.0) == 4.0, "never shorter than the back-off"
    assert retry_delay(_refused(429, "86400"), 0.5) == MAX_RETRY_AFTER, "within reason"


def test_otherwise_the_back_off_stands() -> None:
    assert retry_delay(_refused(429, None), 0.5) == 0.5
    assert retry_delay(_refused(429, "Wed, 21 Oct 2026 07:28:00 GMT"), 0.5) == 0.5
    assert retry_delay(_refused(500, "9"), 0.5) == 0.5
    assert retry_delay(ConnectionResetError(), 0.5) == 0.5
