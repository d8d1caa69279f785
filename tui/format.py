"""Pure formatting of snapshot values into short cell texts: ages, rates, ETAs, bars.

No widget code here, so every rule can be unit-tested and every screen writes numbers alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

from collectors.model import (
    ContainerInfo,
    DownloadPhase,
    DownloadProgress,
    ModelState,
    NodeNotReady,
    PodInfo,
    ProbeDeadline,
    ProbeKill,
    StartBlocker,
    VolumeInfo,
)
from collectors.probes import killed_by_probe
from collectors.report import used_fraction
from collectors.units import (
    BINARY_UNITS,
    DECIMAL_UNITS,
    format_bytes,
    format_duration,
    written_in_decimal,
)

STATE_STYLE: dict[ModelState, str] = {
    ModelState.CORRUPT: "bold white on red",
    ModelState.FAILED: "bold red",
    ModelState.STALLED: "bold dark_orange",
    ModelState.BLOCKED: "bold dark_orange",
    ModelState.DOWNLOADING: "cyan",
    ModelState.VERIFYING: "blue",
    ModelState.WAITING: "magenta",
    ModelState.PENDING: "grey62",
    ModelState.UNKNOWN: "grey50",
    ModelState.READY: "green",
    ModelState.DONE: "green",
}

STATE_ICON: dict[ModelState, str] = {
    ModelState.CORRUPT: "✗",
    ModelState.FAILED: "✗",
    ModelState.STALLED: "‼",
    ModelState.BLOCKED: "⊘",
    ModelState.DOWNLOADING: "↓",
    ModelState.VERIFYING: "≡",
    ModelState.WAITING: "…",
    ModelState.PENDING: "·",
    ModelState.UNKNOWN: "?",
    ModelState.READY: "✓",
    ModelState.DONE: "✓",
}

_EIGHTHS = " ▏▎▍▌▋▊▉"


def format_age(seconds: float | None) -> str:
    """kubectl-style age: ``45s``, ``7m``, ``3h12m``, ``5d``."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h{m}m" if m else f"{h}h"
    return f"{s // 86400}d"


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def format_pair(done: int, total: int | None, decimal: bool = False) -> str:
    """``1.2/2.9 GiB``: both in the unit of the larger, so the column stays narrow;
    ``decimal`` (``13.2/50.0 GB``) when ``total`` is a size written in decimal units."""
    if not total:
        return f"{format_bytes(done, decimal)}/?"
    base = 1000 if decimal else 1024
    names = DECIMAL_UNITS if decimal else BINARY_UNITS
    value, unit = float(max(done, total)), 1
    for name in names:
        if value < base or name == names[-1]:
            break
        value /= base
        unit *= base
    if name == "B":
        return f"{done}/{total} B"
    return f"{done / unit:.1f}/{total / unit:.1f} {name}"


def format_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{format_bytes(rate)}/s"


def bar(fraction: float | None, width: int) -> str:
    """A bar of ``width`` cells with eighth-cell resolution; unknown fraction = empty track."""
    if width <= 0:
        return ""
    if fraction is None:
        return "░" * width
    f = min(1.0, max(0.0, fraction))
    eighths = round(f * width * 8)
    full, rest = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[rest] if rest and full < width else "")
    return text + "░" * (width - len(text))


def progress_cell(
    progress: DownloadProgress | None,
    state: ModelState,
    width: int = 10,
    with_bytes: bool = True,
    with_rate: bool = True,
) -> Text:
    """``█████░░░░░  42% 1.2/2.9 GiB 85.3 MiB/s ETA 21s`` coloured by the pod's state."""
    if progress is None:
        return Text("")
    style = STATE_STYLE.get(state, "")
    frac = progress.fraction
    if frac is None and progress.phase is DownloadPhase.DONE:
        return Text("✓ done", style=STATE_STYLE[ModelState.READY])
    text = Text(bar(frac, width), style=style)
    pct = f"{frac * 100:3.0f}%" if frac is not None else "  ?%"
    text.append(f" {pct}" if width > 0 else pct.lstrip())
    if with_bytes and progress.bytes_done is not None:
        text.append(f" {format_pair(progress.bytes_done, progress.bytes_total)}")
    if progress.in_flight and progress.idle_for is not None:
        # Where the rate and the ETA would be: nothing moves, and for how long.
        idle = format_duration(progress.idle_for)
        text.append(f" no new bytes for {idle}" if with_rate else f" idle {idle}", style="italic")
    elif progress.in_flight:
        if with_rate and progress.rate is not None:
            text.append(f" {format_rate(progress.rate)}")
        if progress.eta_seconds is not None:
            text.append(f" ETA {format_eta(progress.eta_seconds)}")
    elif progress.phase not in (DownloadPhase.DONE,):
        text.append(f" {progress.phase.value}", style="italic")
    return text


# What the parts of a progress cell take at most: " 100%", " 46.6/46.6 GiB", " 1023.9 MiB/s",
# " ETA 59m59s". A column's width picks which parts it shows, the same for every row.
_PCT, _BYTES, _RATE, _ETA = 5, 14, 13, 11
PROGRESS_FULL = 8 + _PCT + _BYTES + _RATE + _ETA


# Wrappers round a cause: the Lightning server's "Download failed after 3 attempts (<cause>)"
# and the collectors' "download attempt 2 failed: <cause>".
_WRAPPERS = (
    re.compile(r"^download failed after \d+ attempts?\s*\((.*)\)\.?$", re.I),
    re.compile(r"^download attempt ?\d* failed: (.*)$", re.I),
)


def failure_gist(message: str) -> str:
    """The cause a failure message gives, on one line: without the wrapper a server puts round
    it, nor the advice after a ';' (the detail shows the whole message)."""
    text = " ".join(message.split())
    for wrapper in _WRAPPERS:
        wrapped = wrapper.match(text)
        if wrapped:
            text = wrapped.group(1)
    return text.split("; ")[0].strip() or message.strip()


def failed_cell(progress: DownloadProgress, state: ModelState, room: int) -> Text:
    """A failed download's row says why: the cause is what on-call needs from it, and a bar
    at "?%" says nothing; the bar stays only when the bytes are known and there is room."""
    text = Text()
    frac = progress.fraction
    if frac is not None and room >= PROGRESS_FULL:
        text.append(bar(frac, 8), style=STATE_STYLE.get(state, ""))
        text.append(f" {frac * 100:3.0f}% ")
    text.append(failure_gist(progress.message or "failed"), style="italic")
    return text


def cause_cell(pod: PodInfo, room: int) -> Text | None:
    """What stops a pod, for its row where a progress bar would mislead: an eviction, a kill
    for memory, what keeps it from starting; None when there is a download to show."""
    state = pod.model_state
    killed = pod.killed_for_memory
    if pod.node_lost is not None and state is ModelState.FAILED:
        said = f"node {pod.node_lost.node} unreachable: its download went with it"
        return Text(cut_middle(said, room), style="italic")
    if pod.evicted:
        return evicted_cell(pod.status_message or "", room)
    if killed is not None and state is ModelState.FAILED:
        return oom_cell(killed, room)
    if pod.blocker is not None and state in (ModelState.BLOCKED, ModelState.PENDING):
        return blocker_cell(pod.blocker, state, room)
    probe_kill = killed_by_probe(pod)
    if probe_kill is not None and state is ModelState.FAILED:
        return probe_kill_cell(probe_kill, room)
    if pod.node_not_ready is not None:
        return not_ready_node_cell(pod.node_not_ready, pod.progress, state, room)
    if pod.probe_deadline is not None:
        return deadline_cell(pod.probe_deadline, pod.progress, state, room)
    if pod.unready_because and state is ModelState.READY:
        said = f"not Ready: {pod.unready_because}"
        return Text(cut_middle(said, room), style="italic yellow")
    return None


def probe_kill_cell(kill: ProbeKill, room: int) -> Text:
    """A pod its probe killed: the row says which probe, how often, and what it allows."""
    times = "once" if kill.kills == 1 else f"{kill.kills} times"
    said = f"killed by {kill.probe} probe {times}"
    if kill.spec is not None:
        said += f" (allows {format_duration(kill.spec.allows)})"
    return Text(cut_middle(said, room), style="italic")


def deadline_cell(
    deadline: ProbeDeadline, progress: DownloadProgress | None, state: ModelState, room: int
) -> Text:
    """A download its probe will end first: the bar, then when the probe ends it (in place of
    the ETA, which it will not reach)."""
    when = _when(deadline.left)
    warning = f"⚠ {deadline.probe} probe kills it {when}"
    return _bar_and_warning(progress, state, room, warning, f"⚠ killed {when}")


def not_ready_node_cell(
    node: NodeNotReady, progress: DownloadProgress | None, state: ModelState, room: int
) -> Text:
    """A pod on a node that answers but says NotReady: it runs on, until it is evicted. A
    server still serves (said calmly); anything on its way up shows its bar, then when the
    eviction comes (in place of the ETA, which it may not reach)."""
    evicted = f"evicted {_when(node.evicted_in)}" if node.evicted_in is not None else ""
    if state is ModelState.READY:
        said = f"node {node.node} NotReady: serving" + (f"; {evicted}" if evicted else "")
        return Text(cut_middle(said, room), style="italic yellow")
    then = f": {evicted}" if evicted else ""
    warning = f"⚠ node {node.node} NotReady{then}"
    return _bar_and_warning(progress, state, room, warning, f"⚠ NotReady{then}")


def _when(left: float) -> str:
    return f"in {format_duration(left)}" if left >= 1 else "now"


def _bar_and_warning(
    progress: DownloadProgress | None, state: ModelState, room: int, warning: str, short: str
) -> Text:
    """The download's bar and percent when they fit with ``warning``; else the warning alone,
    or its ``short`` form."""
    text = Text()
    frac = progress.fraction if progress is not None else None
    if frac is not None and room >= len(warning) + 8 + _PCT + 1:
        text.append(bar(frac, 8), style=STATE_STYLE.get(state, ""))
        text.append(f" {frac * 100:3.0f}% ")
    else:
        warning = next((w for w in (warning, short) if len(w) <= room), warning)
    text.append(cut_middle(warning, max(room - text.cell_len, 0)), style="bold yellow")
    return text


def blocker_cell(blocker: StartBlocker, state: ModelState, room: int) -> Text:
    """A pod that cannot start has no progress to show: its row says what stops it. Cut in
    the middle when it does not fit: what it is about starts it (``cannot pull``), what is
    wrong with it often ends it (the image's tag)."""
    style = "italic" if state is ModelState.BLOCKED else "italic grey62"
    return Text(cut_middle(blocker.gist or blocker.cause, room), style=style)


def oom_cell(container: ContainerInfo, room: int) -> Text:
    """A pod killed for memory has its model (often "done"): the row says what kills it."""
    limit = container.memory_limit
    said = f"OOMKilled (limit {format_bytes(limit)})" if limit else "OOMKilled (no limit)"
    return Text(cut_middle(said, room), style="italic")


_LOW_ON = re.compile(r"low on resource: ([\w.-]+)")


def evicted_cell(message: str, room: int) -> Text:
    """An evicted pod's download is over whatever its last log line said: the row says why."""
    if "EmptyDir" in message:
        said = "Evicted (emptyDir over limit)"
    elif low := _LOW_ON.search(message):
        said = f"Evicted (node low on {low.group(1).rstrip('.')})"
    else:
        said = "Evicted"
    return Text(cut_middle(said, room), style="italic")


def cut_middle(text: str, width: int) -> str:
    """``cannot pull …asr:v2.0-typo``: the start and the end of a text too long for ``width``."""
    if len(text) <= width:
        return text
    if width < 3:
        return "…"[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def progress_fit(progress: DownloadProgress | None, state: ModelState, room: int) -> Text:
    """The progress cell that fits ``room`` cells: the bytes give way first, then the rate, then
    the bar shortens and goes; the percentage and the ETA stay. A failed download shows its
    cause instead."""
    if progress is not None and progress.phase is DownloadPhase.FAILED and progress.message:
        return failed_cell(progress, state, room)
    if room >= PROGRESS_FULL:
        return progress_cell(progress, state, width=8)
    if room >= 8 + _PCT + _RATE + _ETA:
        return progress_cell(progress, state, width=8, with_bytes=False)
    bar_width = min(8, room - _PCT - _ETA)
    if bar_width < 3:
        bar_width = 0
    return progress_cell(progress, state, width=bar_width, with_bytes=False, with_rate=False)


def shorten_middle(name: str, width: int) -> str:
    """``lightning-asr-b…-64c95596b9-x2k9f``: generated names differ at their end (the
    replicaset hash and the pod's suffix), so a name too long for its column loses its middle,
    never its end."""
    if len(name) <= width:
        return name
    if width <= 1:
        return "…"[:width]
    parts = name.rsplit("-", 2)
    if len(parts) < 3:  # not generated: its start says most
        return name[: width - 1] + "…"
    tail = "-" + "-".join(parts[1:])
    if len(tail) + 2 > width:
        return "…" + name[-(width - 1) :]
    return name[: width - 1 - len(tail)] + "…" + tail


def fit_text(text: Text, width: int) -> Text:
    """A cell cut to its column's width with an ellipsis (the gap after it stays empty)."""
    if text.cell_len > width:
        text = text.copy()
        text.truncate(width, overflow="ellipsis")
    return text


@dataclass(frozen=True)
class ColumnFit:
    """How one column gives way when the table is narrow.

    ``minimum`` is the narrowest it is useful at, ``comfortable`` what it needs to be read
    well, ``want`` what shows all of it. ``drop``: 0 never, else columns with the highest
    number are dropped first, until every column left has its comfortable width. ``grow``:
    the width left over goes to the lowest numbers first.
    """

    key: str
    minimum: int
    comfortable: int
    want: int
    drop: int = 0
    grow: int = 9


def fit_columns(available: int, fits: Sequence[ColumnFit], gap: int = 2) -> dict[str, int]:
    """Content width per column key (0 = dropped), each column followed by ``gap`` cells."""
    limits = {f.key: _limits(f) for f in fits}  # minimum, comfortable, want

    def total(keys: Sequence[str], level: int) -> int:
        return sum(limits[k][level] + gap for k in keys)

    shown = [f.key for f in fits]
    for f in sorted((f for f in fits if f.drop), key=lambda f: -f.drop):
        if total(shown, 1) <= available:
            break
        shown.remove(f.key)
    widths = {k: limits[k][0] for k in shown}
    spare = available - total(shown, 0)
    growing = [f.key for f in sorted(fits, key=lambda f: f.grow) if f.key in widths]
    for level in (1, 2):  # every column to its comfortable width first, then to all of it
        for key in growing:
            add = min(spare, limits[key][level] - widths[key])
            if add > 0:
                widths[key] += add
                spare -= add
    return {f.key: widths.get(f.key, 0) for f in fits}


def _limits(f: ColumnFit) -> tuple[int, int, int]:
    want = max(f.want, f.minimum)
    return f.minimum, min(max(f.comfortable, f.minimum), want), want


def state_cell(state: ModelState, again: bool = False) -> Text:
    """``↓ downloading``; ``↻ downloading`` when ``again`` (``collectors.state.relapsing``)."""
    icon = "↻" if again else STATE_ICON.get(state, "?")
    return Text(f"{icon} {state.value}", style=STATE_STYLE.get(state, ""))


def usage_cell(volume: VolumeInfo, width: int = 12, room: int | None = None) -> Text:
    """Used bytes against the volume's honest denominator, with the source of the number.

    ``width`` is the bar's (0: none); in ``room`` cells, "cap"/"quota" gives way before the
    numbers do.
    """
    usage = volume.usage
    if usage is None or usage.used_bytes is None:
        return Text("not measured", style="grey50")
    denom = volume.denominator
    lead = f"{bar(None, width)} " if width else ""
    if not denom:
        used = format_bytes(usage.used_bytes)
        return Text(f"{lead}{used} of ?", style="grey62")
    frac = used_fraction(volume) or 0.0
    style = "bold red" if frac >= 0.9 else ("dark_orange" if frac >= 0.75 else "green")
    against = " cap" if usage.capacity_meaningful else " quota"
    text = Text(bar(frac, width), style=style)
    # A quota is a size someone wrote: in its own units (50 GB, not 46.6 GiB); a capacity
    # is measured.
    decimal = not usage.capacity_meaningful and written_in_decimal(denom)
    numbers = f"{frac * 100:3.0f}% {format_pair(usage.used_bytes, denom, decimal)}"
    numbers = " " + numbers if width else numbers.lstrip()
    if room is not None and text.cell_len + len(numbers) + len(against) > room:
        against = ""
    text.append(numbers + against)
    return text
