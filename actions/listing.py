"""What a model cache holds, read the same way wherever it is read.

Planning reads it in a pod that already runs and sees the cache; a fix's first step (a look)
reads it in a helper pod that mounts the claim. Both run the same two commands -- the cache
manifest and ``df`` of the cache root -- and parse them here, so an eviction is planned from
the same facts whichever pod read them.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

from actions.options import CacheEntry, CacheFacts
from actions.plan import ExecStep
from collectors.diskfree import DfOutputError, parse_df

if TYPE_CHECKING:
    from actions.kube import KubeGateway

MANIFEST = ".asr-cache-manifest.json"


def listing_steps(
    pod: str, namespace: str, container: str | None, root: str
) -> tuple[ExecStep, ExecStep]:
    """The manifest, then the free space of the volume under the cache root (argv lists)."""
    return (
        ExecStep(pod, namespace, ("cat", f"{root}/{MANIFEST}"), container, note="what is cached"),
        ExecStep(pod, namespace, ("df", "-P", "-B1", root), container, note="the room left"),
    )


def read_listing(
    kube: KubeGateway,
    steps: tuple[ExecStep, ExecStep],
    root: str,
    *,
    timeout: float,
    cancel: threading.Event | None = None,
    where: str = "",
) -> CacheFacts:
    """Run ``listing_steps`` and parse them; ``where`` says which pod read them, if not the
    pod itself. A missing or unreadable manifest reads as no entries (source "none")."""
    cat, df = steps
    out = kube.exec(cat, timeout=timeout, cancel=cancel)
    entries: tuple[CacheEntry, ...] = ()
    source = "none"
    if out.exit_code == 0:
        entries = parse_manifest(out.stdout)
        source = "manifest"
    avail = capacity = None
    out = kube.exec(df, timeout=timeout, cancel=cancel)
    if out.exit_code == 0:
        try:
            figures = parse_df(out.stdout)
        except DfOutputError:
            pass  # the free space stays unknown, as when df fails
        else:
            avail, capacity = figures.available, figures.total
    return CacheFacts(
        pod=cat.pod,
        root=root,
        entries=entries,
        available_bytes=avail,
        capacity_bytes=capacity,
        source=source + (f", {where}" if where else ""),
        read_at=time.time(),
    )


def parse_manifest(text: str) -> tuple[CacheEntry, ...]:
    """Entries of the downloader's cache manifest; unreadable input reads as none."""
    from actions.downloader.clock import parse_rfc3339

    try:
        raw = json.loads(text)
        items = raw.get("entries") or []
    except (ValueError, AttributeError):
        return ()
    entries = []
    for item in items if isinstance(items, list) else ():
        try:
            last = item.get("last_used")
            ts = parse_rfc3339(last) if isinstance(last, str) else float(last or 0)
            entries.append(
                CacheEntry(
                    path=str(item["path"]),
                    size=int(item["size"]),
                    version=item.get("version"),
                    last_used=ts,
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return tuple(entries)
