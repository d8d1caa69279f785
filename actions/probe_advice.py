"""What to change when a probe kills a container before its model is ready: a startup probe
sized to the download, as a command to run. The fix never patches a Deployment by itself: a
new probe rolls every pod of it, and how long loading takes is the operator's to know."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from actions.advice import Advice, kubectl
from actions.evidence import ContainerLog
from actions.pace import Pace, last_run
from collectors.model import ClusterSnapshot, PodInfo, ProbeSpec
from collectors.room import claim_capacity
from collectors.units import format_bytes, format_duration, format_written

PERIOD = 10  # periodSeconds when the killing probe is not known: the API server's default
UNKNOWN_LENGTH = 30 * 60  # what to allow when the download's length is not known
MARGIN = 10 * 60  # at least this much beyond the download itself, for loading the model


def startup_probe_advice(
    snapshot: ClusterSnapshot, pod: PodInfo, log: str | Sequence[ContainerLog] = ""
) -> Advice:
    """Why nothing this tool runs would help and the startup probe that would; and, when the
    pod's Deployment and probe are known, the ``kubectl patch`` that sets it. The killed
    container's last run in ``log`` gives its pace, which stands in for a current run that
    shows no rate or size yet (between runs, or just started), so the advice does not depend
    on when it is asked."""
    name, spec = _probed(pod)
    before = last_run(log, name)
    took = download_seconds(pod, before)
    bound = bounded_download(snapshot, pod, before) if took is None else None
    longest = took if took is not None else (bound[0] if bound else None)
    allow = UNKNOWN_LENGTH if longest is None else max(2 * longest, longest + MARGIN)
    # As often as the killing probe checks: the pod is let in as soon as its server answers.
    period = max(spec.period, 1) if spec is not None else PERIOD
    threshold = math.ceil(allow / period)
    said = (
        "A restart, a new download or deleting the model would not help: the next start is "
        "killed the same way. "
    )
    what = (
        "Raise its startupProbe"
        if spec is not None and spec.kind == "startup"
        else f"Give container {name} a startupProbe (its liveness probe waits until that succeeds)"
    )
    allowed = format_duration(threshold * period)
    if took is not None:
        length = (
            f"at the rate seen the whole download takes about {format_duration(took)}, so "
            f"allow about {allowed}"
        )
    elif bound is not None:
        length = (
            f"its size is not known, but its cache holds {bound[1]} at most: at the "
            f"rate seen that takes about {format_duration(bound[0])}, so allow about {allowed}"
        )
    else:
        length = f"its length is not known: allow, say, {allowed}"
    said += f"{what} that allows the download and the load: {length}"
    command = None
    if pod.release and spec is not None:
        command = patch_command(snapshot.namespace, pod.release, name, spec, threshold)
        said += " (the command below)"
    said += "."
    if pod.cache_kind == "pvc":
        said += " Or pre-warm the cache (key p) so the pods find the model and start in time."
    return Advice(said, (command,) if command else ())


def patch_command(namespace: str, deployment: str, container: str, spec: ProbeSpec, n: int) -> str:
    """``kubectl patch`` (a strategic merge: containers merge by name) that sets a startup
    probe checking what ``spec`` checks as often, allowing ``n`` of its periods."""
    period = max(spec.period, 1)
    probe = {**json.loads(spec.check or "{}"), "periodSeconds": period, "failureThreshold": n}
    containers = [{"name": container, "startupProbe": probe}]
    body = {"spec": {"template": {"spec": {"containers": containers}}}}
    patch = json.dumps(body, separators=(",", ":"))
    return kubectl(namespace, "patch", "deployment", deployment, "-p", patch)


def download_seconds(pod: PodInfo, before: Pace) -> float | None:
    """How long the whole download takes at the rate seen (now, else last in the run a probe
    killed, else in the run before), when the size and a rate are known."""
    rate = _rate_seen(pod, before)
    total = (pod.progress.bytes_total if pod.progress else None) or before.total
    if not total or not rate:
        return None
    return total / rate


def bounded_download(
    snapshot: ClusterSnapshot, pod: PodInfo, before: Pace
) -> tuple[float, str] | None:
    """(seconds, the size in words): how long the largest model the pod's cache can hold takes
    at the rate seen, when the model's own size is not known (Lightning's own download logs
    none). The claim's real size, else the cache cap: an upper bound, so the probe is never
    too short."""
    rate = _rate_seen(pod, before)
    vol = snapshot.claim_of(pod)
    if not rate or vol is None:
        return None
    capacity = claim_capacity(vol)
    if capacity:
        return capacity / rate, format_bytes(capacity)
    if vol.quota_bytes:  # a size someone wrote: said in its own units
        return vol.quota_bytes / rate, format_written(vol.quota_bytes)
    return None


def _rate_seen(pod: PodInfo, before: Pace) -> float | None:
    """The download's rate now, else the one last seen in the run a probe killed, else the
    last its log gave (a pod between kills, or at the start of a run, shows none)."""
    progress, kill = pod.progress, pod.probe_kill
    now = (progress.rate if progress else None) or (kill.rate if kill else None)
    return now or before.rate


def _probed(pod: PodInfo) -> tuple[str, ProbeSpec | None]:
    """The container a probe kills (or will), and the probe that bounds its start."""
    kill, deadline = pod.probe_kill, pod.probe_deadline
    name = deadline.container if deadline is not None else kill.container if kill else ""
    c = next((c for c in pod.containers if c.name == name), None)
    return name, c.start_limit if c is not None else None
