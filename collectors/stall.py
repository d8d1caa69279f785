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


def cache_dirs(settings: ModelSettings) -> list[str]:
    """Where the model file is written: the version directory first, then the cache dir."""
    cache = (settings.cache_dir or "/app/models").rstrip("/") or "/"
    dirs = [cache]
    if settings.version and posixpath.basename(cache) != settings.version:
        dirs.insert(0, posixpath.join(cache, settings.version))
    if settings.model_path:
        parent = posixpath.dirname(settings.model_path) or "/"
        if parent not in dirs:
            dirs.append(parent)
    return dirs


_NOT_MODEL = (".json", ".lock", ".sha256", ".tmp.json")


def pick_candidates(listing: dict[str, list[str]], name: str) -> list[str]:
    """Files that may be the model being written: ``NAME.part`` (bundled downloader),
    ``NAME.<random>`` (``aws s3 cp``'s temp file), ``NAME`` (wget, curl -o), any ``*.part``."""
    out: list[str] = []
    for directory, names in listing.items():
        for n in names:
            if n.endswith(_NOT_MODEL) or n.startswith(".asr-cache"):
                continue
            if n == name or n.startswith(name + ".") or n.endswith(".part"):
                out.append(posixpath.join(directory, n))
    return out


def parse_listing(stdout: str, dirs: list[str]) -> dict[str, list[str]]:
    """``ls -A1 DIR...`` output: with one dir, plain names; with several, ``DIR:`` headers."""
    listing: dict[str, list[str]] = {}
    current = dirs[0] if len(dirs) == 1 else None
    for line in stdout.splitlines():
        if line.endswith(":") and line[:-1] in dirs:
            current = line[:-1]
            continue
        if line and current is not None:
            listing.setdefault(current, []).append(line)
    return listing


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

    def _run(self, pod: str, container: str | None, argv: list[str]) -> execs.ExecOutcome:
        return execs.run(
            self.cluster,
            pod,
            argv,
            container=container,
            timeout=self.exec_timeout,
            cancel=self.cancel,
        )

    def check(self, pod: str, container: str | None, settings: ModelSettings) -> DiskFacts:
        """List the cache dir, stat what may be the model being written, compare with the
        last look (two execs, both read-only)."""
        dirs = cache_dirs(settings)
        name = model_file_name(settings.url)
        now = self.clock()
        previous = self.last.get(pod)
        shown = posixpath.join(dirs[-1], name)
        try:
            listing = parse_listing(self._run(pod, container, ["ls", "-A1", *dirs]).stdout, dirs)
            paths = pick_candidates(listing, name)
            found = (
                parse_stat(self._run(pod, container, ["stat", "-c", "%s %Y %n", *paths]).stdout)
                if paths
                else {}
            )
        except ExecError as exc:
            facts = DiskFacts(shown, None, None, now, error=str(exc))
            self.last[pod] = facts
            return facts
        if not found:
            facts = DiskFacts(shown, None, None, now, error=f"no model file in {dirs[-1]} yet")
            self.last[pod] = facts
            return facts
        # The file being written: a partial/temporary one, the most recently modified.
        partial = [p for p in found if posixpath.basename(p) != name]
        path = max(partial or list(found), key=lambda p: found[p][1])
        size, mtime = found[path]
        grew_at = min(mtime, now)
        rate = None
        if previous is not None and previous.path == path and previous.size is not None:
            if size > previous.size:
                grew_at = now
            elif previous.grew_at is not None:
                grew_at = max(grew_at, previous.grew_at)
            if size >= previous.size and now > previous.checked_at:
                rate = (size - previous.size) / (now - previous.checked_at)
        facts = DiskFacts(path, size, grew_at, now, rate=rate)
        self.last[pod] = facts
        return facts
