"""The header fits its width: the server gives way first, then the context, then the health's
last parts."""

from __future__ import annotations

from tui.health import Health
from tui.widgets.header import HeaderFacts, header_text

SAID = "1/3 ready · 1 stalled · 1 downloading · 1 waiting · download ETA 4m10s"
CALM = "1/3 ready · 2 downloading · 1 waiting · download ETA 4m10s"
FACTS = HeaderFacts("kind-asr", "smallest", "https://127.0.0.1:6443", Health("bad", SAID))


def test_everything_is_said_when_it_fits() -> None:
    text = header_text(FACTS, 200).plain
    assert "https://127.0.0.1:6443" in text and text.rstrip().endswith(SAID)


def test_the_server_gives_way_before_the_health() -> None:
    text = header_text(FACTS, 120).plain
    assert "6443" not in text and text.rstrip().endswith(SAID)
    assert "ctx kind-asr" in text and "ns smallest" in text
    assert len(text) <= 120


def test_then_the_health_ends_in_an_ellipsis_keeping_its_first_parts() -> None:
    text = header_text(FACTS, 90).plain
    assert len(text) <= 90 and "ctx kind-asr" in text, "which cluster: kept the longest"
    assert text.rstrip().endswith("1/3 ready · 1 stalled · 1 downloading …"), text


def test_the_context_goes_only_when_not_even_the_first_part_fits() -> None:
    busy = HeaderFacts("kind-asr", "smallest", "https://127.0.0.1:6443", Health("busy", CALM))
    assert header_text(busy, 60).plain.endswith("ns smallest    1/3 ready … ")
    assert "ctx" in header_text(busy, 60).plain
    assert header_text(busy, 45).plain == " asr-cache   ns smallest    1/3 ready … "
    calm = HeaderFacts("kind-asr", "smallest", "https://127.0.0.1:6443", Health("ok", "4/4 ready"))
    assert header_text(calm, 55).plain == " asr-cache   ctx kind-asr  ns smallest    4/4 ready "


def test_when_red_the_context_gives_way_to_the_first_red_part() -> None:
    """What is red matters more than which cluster: ``1/3 ready …`` alone would hide it."""
    assert header_text(FACTS, 60).plain == " asr-cache   ns smallest    1/3 ready · 1 stalled … "
    # While the red part fits beside the context, the context stays.
    text = header_text(FACTS, 70).plain
    assert "ctx kind-asr" in text and text.endswith("1/3 ready · 1 stalled … ")
    # Without the context it would not fit either: the context stays.
    doomed = Health("bad", "1/3 ready · 1 to be killed by a probe · 1 downloading")
    long_red = HeaderFacts("kind-asr", "smallest", "https://127.0.0.1:6443", doomed)
    kept = " asr-cache   ctx kind-asr  ns smallest    1/3 ready … "
    assert header_text(long_red, 56).plain == kept
