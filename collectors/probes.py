"""Containers' probes and the kubelet's kills by them, read from the pod spec and the events.

A liveness probe that a server only answers once its model is loaded kills a container that
downloads a 25 GB model for longer than the probe allows (the chart's
``livenessProbe.initialDelaySeconds: 300``): the kubelet restarts it, the download begins
again, and the pod may never serve. The API says so only in events: ``Killing`` "Container X
failed liveness probe, will be restarted", after ``Unhealthy`` "Liveness probe failed: …";
the container's ``lastState`` says no more than exit code 137.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from collectors import kube
from collectors.model import (
    DownloadProgress,
    EventInfo,
    PodInfo,
    ProbeDeadline,
    ProbeKill,
    ProbeSpec,
)
from collectors.units import format_duration

PROBE_KINDS = ("liveness", "readiness", "startup")
_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")
# The kubelet's words (pkg/kubelet/prober): the reason "Killing" and this message.
_KILLED = re.compile(r"^Container (\S+) failed (liveness|startup) probe, will be restarted")
_FAILED = re.compile(r"^(Liveness|Readiness|Startup) probe (?:failed|errored): ?(.*)", re.DOTALL)


def probes_of(container: Mapping[str, Any]) -> tuple[ProbeSpec, ...]:
    """The container's probes; the API server's defaults where a field is absent."""
    out = []
    for kind in PROBE_KINDS:
        probe = container.get(f"{kind}Probe")
        if not isinstance(probe, Mapping):
            continue
        out.append(
            ProbeSpec(
                kind=kind,
                handler=handler_text(probe),
                initial_delay=_seconds(probe, "initialDelaySeconds", 0),
                period=_seconds(probe, "periodSeconds", 10),
                timeout=_seconds(probe, "timeoutSeconds", 1),
                failure_threshold=_seconds(probe, "failureThreshold", 3),
                success_threshold=_seconds(probe, "successThreshold", 1),
                check=handler_json(probe),
            )
        )
    return tuple(out)


def _seconds(probe: Mapping[str, Any], key: str, default: int) -> int:
    value = probe.get(key)
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default
    )


def handler_text(probe: Mapping[str, Any]) -> str:
    """What the probe checks, as ``kubectl describe`` writes it."""
    http = probe.get("httpGet")
    if isinstance(http, Mapping):
        scheme = str(http.get("scheme") or "HTTP").lower()
        host = http.get("host") or ""
        return f"http-get {scheme}://{host}:{http.get('port', '')}{http.get('path') or '/'}"
    tcp = probe.get("tcpSocket")
    if isinstance(tcp, Mapping):
        return f"tcp-socket {tcp.get('host') or ''}:{tcp.get('port', '')}"
    run = kube.dig(probe, "exec", "command")
    if isinstance(run, list):
        return f"exec [{' '.join(str(a) for a in run)}]"
    grpc = probe.get("grpc")
    if isinstance(grpc, Mapping):
        return f"grpc <pod>:{grpc.get('port', '')} {grpc.get('service') or ''}".rstrip()
    return "unknown"


def handler_json(probe: Mapping[str, Any]) -> str:
    """The probe's handler alone (``{"httpGet": …}``), as JSON: what a startup probe that
    checks the same thing is built from."""
    handler = {k: probe[k] for k in _HANDLERS if isinstance(probe.get(k), Mapping)}
    return json.dumps(handler, sort_keys=True, separators=(",", ":"))


def probe_kill(
    pod: PodInfo, events: Sequence[EventInfo], rate: float | None = None
) -> ProbeKill | None:
    """The latest kill of one of ``pod``'s containers by its liveness or startup probe, from
    ``events`` about the pod (newest first), with the probe's latest failure and the rate its
    download last ran at (``rate``: once the run is over, its progress has none to show);
    None when none was killed."""
    for ev in events:
        found = _KILLED.match(ev.message) if ev.reason == "Killing" else None
        if found is None:
            continue
        name, kind = found.groups()
        container = next((c for c in pod.containers if c.name == name), None)
        return ProbeKill(
            container=name,
            probe=kind,
            kills=max(ev.count, 1),
            killed_at=ev.last_seen,
            failure=probe_failure(events, kind),
            spec=container.probe(kind) if container is not None else None,
            rate=rate,
        )
    return None


def probe_failure(events: Sequence[EventInfo], kind: str, since: float = 0.0) -> str:
    """What the latest failure of the pod's ``kind`` probe said (``HTTP probe failed with
    statuscode: 503``), from ``events`` newest first, seen at or after ``since``; '' when
    none was."""
    for ev in events:
        if ev.reason != "Unhealthy" or ev.last_seen < since:
            continue
        found = _FAILED.match(ev.message)
        if found and found.group(1).lower() == kind:
            return found.group(2).strip()
    return ""


# How a process ends when the kubelet stops it: SIGKILL after the grace period, or SIGTERM.
_KILLED_EXITS = frozenset({137, 143})


def killed_by_probe(pod: PodInfo) -> ProbeKill | None:
    """The probe kill that ended the run before, while its container is down (in its back-off
    or terminated): its run ended as a kill does (exit 137 or 143), not by itself."""
    kill = pod.probe_kill
    if kill is None:
        return None
    c = next((c for c in pod.containers if c.name == kill.container), None)
    if c is None or c.state == "running" or c.exit_code not in _KILLED_EXITS:
        return None
    return kill


def probe_kill_note(kill: ProbeKill) -> str:
    """Why a probe-killed container died, and what the probe allowed it."""
    said = f"container {kill.container} was killed by its {kill.probe} probe ({_times(kill.kills)})"
    if kill.spec is not None:
        said += (
            f": it allows a start about {format_duration(kill.spec.allows)} ({kill.spec.settings})"
        )
    if kill.failure:
        said += f"; the probe's last failure: {kill.failure}"
    return said


def _times(n: int) -> str:
    return f"{n} time{'s' if n != 1 else ''}"


def probe_deadline(
    pod: PodInfo, progress: DownloadProgress | None, events: Sequence[EventInfo], now: float
) -> ProbeDeadline | None:
    """When a running container's probe will end this run before its download ends, with
    ``events`` about the pod newest first; None when it will not, or nothing says the probe
    fails while the model downloads."""
    if pod.ready:
        return None
    for c in pod.containers:
        spec = c.start_limit
        if c.init or c.state != "running" or c.started_at is None or spec is None:
            continue
        killed = pod.probe_kill if pod.probe_kill and pod.probe_kill.container == c.name else None
        failing = probe_failure(events, spec.kind, since=c.started_at)
        if killed is None and not failing:
            continue
        left = max(0.0, c.started_at + spec.allows - now)
        needs = progress.eta_seconds if progress is not None and progress.in_flight else None
        if needs is not None and needs <= left:
            continue
        when = f"in about {format_duration(left)}" if left >= 1 else "now"
        said = (
            f"container {c.name}'s {spec.kind} probe will end this run {when} (it allows a start "
            f"about {format_duration(spec.allows)}: {spec.settings})"
        )
        if needs is not None:
            said += f", and the download needs about {format_duration(needs)} more"
        if killed is not None:
            said += f"; it was killed {_times(killed.kills)} before"
        elif failing:
            said += f"; the probe fails while the model downloads: {failing}"
        return ProbeDeadline(c.name, spec.kind, left, needs, said)
    return None


def readiness_failure(
    pod: PodInfo, events: Sequence[EventInfo], ready_at: float | None = None
) -> str | None:
    """What a running, unready container's readiness probe said last since its server logged
    that it is ready (at ``ready_at``; else since it started): why such a pod serves nothing
    (a Service sends it no request). A failure before that is the start, not a fault."""
    if pod.ready:
        return None
    for c in pod.containers:
        if c.state != "running" or c.ready or c.started_at is None or not c.probe("readiness"):
            continue
        since = max(c.started_at, ready_at or 0.0)
        failure = probe_failure(events, "readiness", since=since)
        if failure:
            return failure
    return None
