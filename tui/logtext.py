"""How a pod's log line is drawn and filtered: one place for the detail's log and the timeline,
so a line reads (and matches) the same on both."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from collectors.model import LogLine, PodInfo

_KIND_STYLE = {"error": "bold red", "warning": "yellow", "progress": "cyan", "plain": ""}
_KIND_MARK = {"error": "✗ ", "warning": "! ", "progress": "» ", "plain": "  "}


def log_text(line: LogLine, labelled: bool = False) -> Text:
    """One log line as shown: errors marked and red, progress highlighted; ``labelled`` names
    its container first, for a pod whose log comes from more than one (an init container)."""
    kind = line.kind if line.kind in _KIND_STYLE else "plain"
    text = Text(_KIND_MARK[kind], style=_KIND_STYLE[kind] or "grey50")
    if labelled and line.container:
        text.append(f"{line.container} │ ", style="grey50")
    text.append(line.text.rstrip("\r\n"), style=_KIND_STYLE[kind])
    return text


def log_matches(line: LogLine, needle: str) -> bool:
    """A line the log filter keeps: ``needle`` in its text or its container, any case."""
    wanted = needle.casefold()
    return wanted in line.text.casefold() or wanted in line.container.casefold()


def several_containers(pod: PodInfo | None, lines: Sequence[LogLine]) -> bool:
    """The log mixes (or will mix) containers: the pod has more than one, or lines say so."""
    if pod is not None and len(pod.containers) > 1:
        return True
    return len({line.container for line in lines}) > 1
