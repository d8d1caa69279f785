"""Real usage of the cache volumes.

First choice: the kubelet's ``stats/summary`` through the API server's node proxy, one request
per node that runs a pod mounting a cache volume, per poll. A volume the kubelet publishes no
stats for (AWS EFS without metrics opt-in) is measured with ``df -P -B1`` through exec in one
running pod per volume (not per pod). When the size is absurd (EFS says 8 EiB) or there is
nothing else, ``du`` of the mount tells how much the cache holds, shown against the pods'
``MODEL_CACHE_MAX_SIZE``. Every figure says where it came from.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from collectors import execs
from collectors.cluster import Cluster
from collectors.diskfree import DfFigures, DfOutputError, parse_df
from collectors.execs import ContainerNotRunning, ExecError, ExecOutcome
from collectors.model import VolumeUsage
from collectors.units import format_written

ABSURD_BYTES = 2**60  # 1 EiB: no real disk; elastic file systems report 8 EiB
NODE_RETRY_AFTER = 300.0  # a node whose stats are refused is asked again after this long
MAX_WORDS = 80  # characters of a failed command's own words kept in a note
MAX_FAILURE = 240  # characters of a whole failure clause (an exec error's sentence included)


class MeasureError(Exception):
    """A measuring command failed; one line saying which command, in which pod, and how."""


@dataclass(frozen=True)
class PodMount:
    pod: str
    node: str | None
    container: str
    mount_path: str
    running: bool
    ready: bool


@dataclass(frozen=True)
class VolumeTarget:
    key: str  # PVC name, or "<pod>/<volume>" for an emptyDir
    kind: str  # pvc | emptyDir
    volume: str  # the pod's volume name (for emptyDir stats)
    claim: str | None
    mounts: tuple[PodMount, ...]
    quota: int | None = None

    def measuring_pods(self) -> list[PodMount]:
        """Where to exec a fallback, best first: ready pods, then running ones; stable."""
        return sorted((m for m in self.mounts if m.running), key=lambda m: (not m.ready, m.pod))


def _note(*clauses: str | None) -> str:
    """A note of whole clauses, each true on its own, joined by semicolons."""
    return "; ".join(c for c in clauses if c)


def _one_line(text: object, limit: int = MAX_FAILURE) -> str:
    """``text`` on one line (whitespace runs, newlines included, become one space), cut to
    ``limit`` characters: a note is one line of the volumes panel, whatever a command printed."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _failed(argv: Sequence[str], pod: str, outcome: ExecOutcome, timeout: float) -> str:
    """How a measuring command that ran went wrong: the command, its exit code and the first
    line it printed on stderr (else stdout), or why there is no exit code."""
    if outcome.timed_out:
        how = f"no exit status within {timeout:g} s"
    elif outcome.cancelled:
        how = "cancelled"
    elif outcome.exit_code is None:
        how = "the stream ended without an exit status"
    else:
        how = f"exit code {outcome.exit_code}"
        lines = (outcome.stderr or outcome.stdout).strip().splitlines()
        if lines:
            how += f" ({_one_line(lines[0], MAX_WORDS)})"
    return _one_line(f"{shlex.join(argv)} in pod {pod} failed: {how}")


def _restarting(refused: Sequence[tuple[str | None, str]]) -> str:
    """Execs refused, by (container, pod), because the container was between two runs (a crash
    loop's back-off): expected, and it passes."""
    where = ", ".join(f"container {c or '?'} in pod {pod}" for c, pod in refused[:3])
    more = f" and {len(refused) - 3} more" if len(refused) > 3 else ""
    was = "was" if len(refused) == 1 else "were"
    return (
        f"not measured: {where}{more} {was} restarting (not running when asked); "
        "measured again at the next refresh"
    )


def _nobody_to_measure_in(target: VolumeTarget) -> str:
    if not target.mounts:
        return "no pod mounts it"
    names = sorted({m.pod for m in target.mounts})
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    # The pods may well be "Running" (a crash loop restarts its container): what is missing
    # is a container that runs now, to exec df or du in.
    return f"no container is running to measure it in (mounted by {shown})"


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def index_summary(
    summary: Mapping[str, Any],
) -> tuple[dict[str, Mapping[str, Any]], dict[tuple[str, str], Mapping[str, Any]]]:
    """(by PVC name, by (pod, volume name)) from one node's ``stats/summary``."""
    by_claim: dict[str, Mapping[str, Any]] = {}
    by_pod: dict[tuple[str, str], Mapping[str, Any]] = {}
    for pod in summary.get("pods") or []:
        if not isinstance(pod, Mapping):
            continue
        ref = pod.get("podRef") or {}
        pname = str(ref.get("name") or "")
        for vol in pod.get("volume") or []:
            if not isinstance(vol, Mapping):
                continue
            by_pod[(pname, str(vol.get("name") or ""))] = vol
            claim = (vol.get("pvcRef") or {}).get("name")
            if isinstance(claim, str) and claim:
                by_claim.setdefault(claim, vol)
    return by_claim, by_pod


def usage_from_stats(vol: Mapping[str, Any], now: float) -> VolumeUsage | None:
    used = _int(vol.get("usedBytes"))
    if used is None:
        return None
    return VolumeUsage(
        source="kubelet",
        used_bytes=used,
        capacity_bytes=_int(vol.get("capacityBytes")),
        available_bytes=_int(vol.get("availableBytes")),
        measured_at=now,
    )


def parse_du(stdout: str, unit: int = 1) -> int | None:
    for line in stdout.splitlines():
        head = line.split("\t", 1)[0].split(" ", 1)[0].strip()
        if head.isascii() and head.isdigit():
            return int(head) * unit
    return None


class VolumePoller:
    """Measures cache volumes; one instance lives as long as the feed (it remembers when each
    fallback last ran so exec stays at a modest rate)."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        fallback_interval: float = 15.0,
        exec_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        cancel: threading.Event | None = None,
    ) -> None:
        self.cluster = cluster
        self.fallback_interval = fallback_interval
        self.exec_timeout = exec_timeout
        self.clock = clock
        self.cancel = cancel
        self.summary_requests = 0
        self._fallbacks: dict[str, VolumeUsage] = {}
        self._node_refused: dict[str, tuple[float, str]] = {}

    # -- kubelet ---------------------------------------------------------------------------

    def node_summary(self, node: str) -> Mapping[str, Any] | None:
        """One ``stats/summary`` through the node proxy, or None (and remember why)."""
        refused = self._node_refused.get(node)
        if refused and refused[0] > self.clock():
            return None
        self.summary_requests += 1
        try:
            data = self.cluster.get_json(
                self.cluster.core.connect_get_node_proxy_with_path, node, "stats/summary"
            )
        except Exception as exc:
            message = self.cluster.describe_error(exc, "get", "nodes/proxy", namespaced=False)
            status = getattr(exc, "status", None)
            wait = NODE_RETRY_AFTER if status in (401, 403, 404) else self.fallback_interval
            self._node_refused[node] = (self.clock() + wait, message)
            return None
        return data if isinstance(data, Mapping) else None

    def node_problem(self, node: str) -> str | None:
        refused = self._node_refused.get(node)
        return refused[1] if refused else None

    # -- one poll ---------------------------------------------------------------------------

    def poll(
        self,
        targets: Iterable[VolumeTarget],
        fresh: Collection[str] = (),
        lost: Collection[str] = (),
    ) -> dict[str, VolumeUsage]:
        """Usage per target key; the keys in ``fresh`` are measured again even if a fallback
        measured them lately (an action just changed the volume), and only those. Nodes in
        ``lost`` stopped answering: their kubelets are not asked (each would time out)."""
        targets = list(targets)
        now = self.clock()
        nodes = sorted({m.node for t in targets for m in t.mounts if m.node and m.node not in lost})
        by_claim: dict[str, Mapping[str, Any]] = {}
        by_pod: dict[tuple[str, str], Mapping[str, Any]] = {}
        for node in nodes:
            if self.cancel is not None and self.cancel.is_set():
                return {}
            summary = self.node_summary(node)
            if summary is None:
                continue
            claims, pods = index_summary(summary)
            for claim, stats in claims.items():
                by_claim.setdefault(claim, stats)
            by_pod.update(pods)
        out: dict[str, VolumeUsage] = {}
        for target in targets:
            if self.cancel is not None and self.cancel.is_set():
                break
            vol: Mapping[str, Any] | None
            if target.kind == "pvc" and target.claim:
                vol = by_claim.get(target.claim)
            else:
                pod = target.mounts[0].pod if target.mounts else ""
                vol = by_pod.get((pod, target.volume))
            usage = usage_from_stats(vol, now) if vol is not None else None
            if usage is not None and usage.capacity_meaningful:
                out[target.key] = usage
                continue
            why = (
                "the kubelet reports an absurd size (8 EiB: an elastic file system)"
                if usage is not None
                else self._no_stats_reason(target)
            )
            out[target.key] = self.fallback(target, why, now, target.key in fresh)
        return out

    def _no_stats_reason(self, target: VolumeTarget) -> str:
        problems = {self.node_problem(m.node) for m in target.mounts if m.running and m.node} - {
            None
        }
        if problems:
            return f"kubelet stats unavailable ({sorted(p for p in problems if p)[0]})"
        return "the kubelet publishes no stats for this volume"

    def fallback(
        self, target: VolumeTarget, why: str, now: float, fresh: bool = False
    ) -> VolumeUsage:
        """df (then du when the size is absurd) in one pod; cached for ``fallback_interval``
        unless ``fresh``."""
        cached = self._fallbacks.get(target.key)
        if not fresh and cached is not None and now - cached.measured_at < self.fallback_interval:
            return cached
        mounts = target.measuring_pods()
        usage = VolumeUsage(
            source="none", measured_at=now, note=_note(why, _nobody_to_measure_in(target))
        )
        refused: list[tuple[str | None, str]] = []
        for mount in mounts:
            try:
                usage = self._measure(
                    mount.pod, mount.container, mount.mount_path, why, now, target.quota
                )
                break
            except ContainerNotRunning:  # restarting since the snapshot: another pod may do
                refused.append((mount.container, mount.pod))
                usage = VolumeUsage(
                    source="none", measured_at=now, note=_note(why, _restarting(refused))
                )
        if usage.source != "none":  # a failure is not remembered: try again next poll
            self._fallbacks[target.key] = usage
        return usage

    def measure_in_pod(
        self,
        pod: str,
        container: str | None,
        path: str,
        why: str | None,
        now: float,
        *,
        quota: int | None = None,
    ) -> VolumeUsage:
        """``df -P -B1 path`` in the pod; ``du`` of it when df's size means nothing.

        ``why`` says why the kubelet's figure is not used (None: nobody asked it, as when a
        person opens a pod's cache); ``quota`` is what a ``du`` figure is shown against.
        """
        try:
            return self._measure(pod, container, path, why, now, quota)
        except ContainerNotRunning:
            note = _note(why, _restarting([(container, pod)]))
            return VolumeUsage(source="none", measured_at=now, note=note)

    def _measure(
        self,
        pod: str,
        container: str | None,
        path: str,
        why: str | None,
        now: float,
        quota: int | None,
    ) -> VolumeUsage:
        """``measure_in_pod``, but a container that is not running raises
        ``ContainerNotRunning`` (the caller may try another pod)."""
        argv = ["df", "-P", "-B1", path]
        try:
            df = execs.run(
                self.cluster,
                pod,
                argv,
                container=container,
                timeout=self.exec_timeout,
                cancel=self.cancel,
            )
        except ContainerNotRunning:
            raise
        except ExecError as exc:
            return VolumeUsage(source="none", measured_at=now, note=_note(why, _one_line(exc)))
        parsed: DfFigures | None = None
        if not df.ok:
            df_said = _failed(argv, pod, df, self.exec_timeout)
            if df.exit_code is None:
                # A mount that does not answer df (a hung NFS/EFS mount) would hang du too, for
                # three times as long, holding up every other volume's poll.
                hung = "du not tried: a mount that does not answer df would not answer du"
                return VolumeUsage(source="none", measured_at=now, note=_note(why, df_said, hung))
        else:
            try:
                parsed = parse_df(df.stdout)
            except DfOutputError as exc:
                df_said = f"{shlex.join(argv)} in pod {pod} answered, but {_one_line(exc)}"
        if parsed is not None:
            if parsed.total < ABSURD_BYTES:
                return VolumeUsage(
                    source="df",
                    used_bytes=parsed.used,
                    capacity_bytes=parsed.total,
                    available_bytes=parsed.available,
                    measured_at=now,
                    note=_note(why, f"measured with df in pod {pod}"),
                )
            df_said = "df shows an 8 EiB file system (EFS), a size that means nothing"
        try:
            measured, missed = self.du(pod, container, path)
        except MeasureError as exc:
            return VolumeUsage(source="none", measured_at=now, note=_note(why, df_said, str(exc)))
        against = (
            f"shown against the cache quota ({format_written(quota)})"
            if quota
            else "no cache quota (MODEL_CACHE_MAX_SIZE) to show it against"
        )
        return VolumeUsage(
            source="du",
            used_bytes=measured,
            measured_at=now,
            note=_note(why, df_said, f"measured {path} with du in pod {pod}{missed}", against),
        )

    def du(self, pod: str, container: str | None, path: str) -> tuple[int, str]:
        """Bytes under ``path``: GNU ``du -s -B1``, else ``du -sb``, else BusyBox ``du -sk``;
        and, when it could not read some files, what it said of the first (else '').

        ``MeasureError`` says how the last one tried failed: after flags a BusyBox ``du``
        refuses, it is the one whose words name the real trouble."""
        failure = f"du of {path} in pod {pod} did not run"
        timeout = self.exec_timeout * 3
        for argv, unit in (
            (["du", "-s", "-B1", path], 1),
            (["du", "-sb", path], 1),
            (["du", "-sk", path], 1024),
        ):
            try:
                result = execs.run(
                    self.cluster,
                    pod,
                    argv,
                    container=container,
                    timeout=timeout,
                    cancel=self.cancel,
                )
            except ContainerNotRunning:
                raise
            except ExecError as exc:
                raise MeasureError(_one_line(exc)) from None
            value = parse_du(result.stdout, unit) if result.exit_code in (0, 1) else None
            if value is not None and result.ok:
                return value, ""
            if value is not None:
                # GNU du exits 1 when it could not read some files (a .part renamed into place
                # while it ran, a directory it may not enter), after printing the total of all
                # the rest: a lower bound, and worth more than no figure.
                first = (result.stderr.strip().splitlines() or ["no word why"])[0]
                return value, f" (at least: it could not read some files: {_one_line(first)})"
            if result.ok:
                said = _one_line(result.stdout, MAX_WORDS)
                printed = f"no size: {said!r}" if said else "nothing"
                failure = f"{shlex.join(argv)} in pod {pod} printed {printed}"
            else:
                failure = _failed(argv, pod, result, timeout)
            if result.exit_code is None:
                break  # a timeout or a lost stream: the next form would fare no better
        raise MeasureError(failure)
