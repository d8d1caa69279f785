"""Cache size accounting and LRU eviction under the size cap.

Usage counts every file under the cache root (bookkeeping files aside), partial downloads at
the size they will reach. Eviction removes the least recently used manifest entries, never
one that is locked, being downloaded or part of this run, and never starts unless it can free
enough: a cap that cannot be met fails before a byte is written.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from collectors.units import format_bytes

from .errors import CacheFull
from .layout import (
    LOCK_SUFFIX,
    MANIFEST_LOCK_NAME,
    MANIFEST_NAME,
    PART_SUFFIX,
    STATE_SUFFIX,
    Layout,
)
from .lock import FileLock
from .manifest import Entry, manifest_lock, read_entries, write_entries
from .state import load_state

_MAX_DEPTH = 4  # cache root / version / file; anything deeper is not ours to count


@dataclass(frozen=True)
class Evicted:
    """One removed entry, as the `evict` progress event reports it."""

    path: str
    bytes: int
    version: str | None


def _is_bookkeeping(name: str) -> bool:
    return name in (MANIFEST_NAME, MANIFEST_LOCK_NAME) or name.endswith(
        (LOCK_SUFFIX, STATE_SUFFIX, ".tmp")
    )


def cache_usage(root: Path, exclude: Iterable[Path] = ()) -> int:
    """Bytes the cache holds or has reserved (a .part counts at its final size)."""
    skip = {os.path.abspath(p) for p in exclude}
    total = 0
    root_depth = str(root).rstrip(os.sep).count(os.sep)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        if dirpath.count(os.sep) - root_depth >= _MAX_DEPTH:
            dirnames[:] = []
        for name in filenames:
            path = os.path.join(dirpath, name)
            if _is_bookkeeping(name) or os.path.abspath(path) in skip:
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            size = st.st_size
            if name.endswith(PART_SUFFIX):
                state = load_state(Path(path[: -len(PART_SUFFIX)] + STATE_SUFFIX))
                if state is not None and state.size is not None:
                    size = max(size, state.size)
            total += size
    return total


def _entry_paths(root: Path, entry: Entry) -> tuple[Path, Path, Path] | None:
    final = (root / entry.path).resolve()
    if root.resolve() not in final.parents:
        return None  # a manifest path that escapes the root is never acted on
    return final, Path(str(final) + PART_SUFFIX), Path(str(final) + LOCK_SUFFIX)


def reserve_space(
    layout: Layout,
    size: int,
    cap: int | None,
    evict: bool,
    protected: Iterable[Path],
    on_evict: Callable[[Evicted], None],
    create_partial: Callable[[], None],
) -> None:
    """Make room for ``size`` bytes under ``cap`` and create the partial file, all under the
    manifest lock so that concurrent pods see each other's reservations."""
    root = layout.cache_root
    with manifest_lock(root):
        if cap is not None:
            used = cache_usage(root, exclude=(layout.final, layout.part))
            if used + size > cap:
                _evict_for(layout, size, cap, used, evict, protected, on_evict)
        create_partial()


def _evict_for(
    layout: Layout,
    size: int,
    cap: int,
    used: int,
    evict: bool,
    protected: Iterable[Path],
    on_evict: Callable[[Evicted], None],
) -> None:
    root = layout.cache_root
    need = used + size - cap
    if size > cap:
        raise CacheFull(
            f"{layout.name} ({format_bytes(size)}) is larger than the cache cap "
            f"{format_bytes(cap)}; nothing was written"
        )
    if not evict:
        raise CacheFull(
            f"{layout.name} ({format_bytes(size)}) does not fit under the cache cap "
            f"{format_bytes(cap)} ({format_bytes(used)} in use) and eviction is off; "
            "nothing was written"
        )
    keep = {os.path.realpath(p) for p in (*protected, layout.final)}
    entries = read_entries(root)
    held: list[tuple[Entry, Path, int, FileLock]] = []
    try:
        for entry in sorted(entries.values(), key=lambda e: (e.last_used_ts, e.path)):
            paths = _entry_paths(root, entry)
            if paths is None:
                continue
            final, part, lock_path = paths
            if os.path.realpath(final) in keep or part.exists():
                continue
            try:
                st = os.lstat(final)
            except FileNotFoundError:
                entries.pop(entry.path, None)  # removed by hand: forget it
                continue
            except OSError:
                continue
            lock = FileLock(lock_path)
            if not lock.try_acquire():
                continue  # in use by another process (downloading or verifying)
            held.append((entry, final, st.st_size, lock))
        freeable = sum(item[2] for item in held)
        if freeable < need:
            write_entries(root, entries)
            raise CacheFull(
                f"{layout.name} ({format_bytes(size)}) does not fit under the cache cap "
                f"{format_bytes(cap)}: {format_bytes(used)} in use and only "
                f"{format_bytes(freeable)} can be evicted (files in use are kept); "
                "nothing was written"
            )
        freed = 0
        for entry, final, nbytes, _lock in held:
            if freed >= need:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(final)
            freed += nbytes
            entries.pop(entry.path, None)
            on_evict(Evicted(path=entry.path, bytes=nbytes, version=entry.version))
        write_entries(root, entries)
    finally:
        for *_rest, lock in held:
            lock.release()
