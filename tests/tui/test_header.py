"""The header fits its width: the server gives way first, then the health's last parts."""

from __future__ import annotations

from tui.health import Health
from tui.widgets.header import HeaderFacts, header_text

SAID = "1/3 ready · 1 stalled · 1 downloading · 1 waiting · download ETA 4m10s"
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
    text = header_text(FACTS, 80).plain
    assert len(text) <= 80 and text.rstrip().endswith("…"), text
    assert "1/3 ready · 1 stalled" in text and "ETA" not in text
