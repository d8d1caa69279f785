"""The partial file on disk as download evidence, for logs that carry no byte counts.

Lightning ASR's own log says ``Downloading model from URL...`` and then nothing until the end;
the size and modification time of ``<cache>/<name>.part`` (``stat`` through exec, at a modest
rate) tell whether bytes still arrive. The state rules call it stalled when the file has not
grown for the stall threshold.
"""

from __future__ import annotations

import posixpath
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from collectors import execs
from collectors.cluster import Cluster
from collectors.execs import ExecError
from collectors.model import ModelSettings
from collectors.state import DiskFacts

DEFAULT_NAME = "model.bin"


def model_file_name(url: str | None) -> str:
    """The file name the bundled downloader derives from the URL (contract: last path segment,
    no '/', no '..', no leading '.', else ``model.bin``)."""
    if not url:
        return DEFAULT_NAME
    try:
        path = urlsplit(url).path
    except ValueError:
        return DEFAULT_NAME
    name = posixpath.basename(path.rstrip("/"))
    if not name or name in (".", "..") or name.startswith(".") or "/" in name:
        return DEFAULT_NAME
    return name


def candidate_paths(settings: ModelSettings) -> list[str]:
    """Where the partial (then final) model file would be, most likely first."""
    cache = (settings.cache_dir or "/app/models").rstrip("/") or "/"
    name = model_file_name(settings.url)
    dirs = [cache]
    if settings.version and posixpath.basename(cache) != settings.version:
        dirs.insert(0, posixpath.join(cache, settings.version))
    if settings.model_path:
        dirs.append(posixpath.dirname(settings.model_path) or "/")
        name_alt = posixpath.basename(settings.model_path)
    else:
        name_alt = name
    paths: list[str] = []
    for d in dirs:
        for candidate in (f"{name}.part", name, f"{name_alt}.part", name_alt):
            path = posixpath.join(d, candidate)
            if path not in paths:
                paths.append(path)
    return paths


def parse_stat(stdout: str) -> dict[str, tuple[int, float]]:
    """``%s %Y %n`` lines -> {path: (size, mtime)}."""
    out: dict[str, tuple[int, float]] = {}
    for line in stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            out[parts[2]] = (int(parts[0]), float(parts[1]))
    return out


class DiskProbe:
    """Remembers each pod's partial file between checks (growth needs two looks)."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        exec_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        cancel: threading.Event | None = None,
    ) -> None:
        self.cluster = cluster
        self.exec_timeout = exec_timeout
        self.clock = clock
        self.cancel = cancel
        self.last: dict[str, DiskFacts] = {}

    def forget(self, pod: str) -> None:
        self.last.pop(pod, None)

    def check(self, pod: str, container: str | None, settings: ModelSettings) -> DiskFacts:
        paths = candidate_paths(settings)
        now = self.clock()
        previous = self.last.get(pod)
        try:
            result = execs.run(
                self.cluster,
                pod,
                ["stat", "-c", "%s %Y %n", *paths],
                container=container,
                timeout=self.exec_timeout,
                cancel=self.cancel,
            )
        except ExecError as exc:
            facts = DiskFacts(paths[0], None, None, now, error=str(exc))
            self.last[pod] = facts
            return facts
        found = parse_stat(result.stdout)
        path = next((p for p in paths if p in found and p.endswith(".part")), None)
        path = path or next((p for p in paths if p in found), None)
        if path is None:
            facts = DiskFacts(paths[0], None, None, now, error=f"no file at {paths[0]} yet")
        else:
            size, mtime = found[path]
            grew_at = min(mtime, now)
            if previous is not None and previous.path == path and previous.size is not None:
                if size > previous.size:
                    grew_at = max(grew_at, now)
                elif previous.grew_at is not None:
                    grew_at = max(grew_at, previous.grew_at)
            facts = DiskFacts(path, size, grew_at, now)
        self.last[pod] = facts
        return facts
