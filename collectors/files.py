"""The files in a pod's model cache directory, listed on demand (name, size, age, partial,
verified per the bundled downloader's manifest). Blocking: several execs; call from a
worker thread."""

from __future__ import annotations

import json
import posixpath

from collectors import execs
from collectors.cluster import Cluster
from collectors.execs import ExecError
from collectors.model import CacheFile

MANIFEST = ".asr-cache-manifest.json"
MAX_FILES = 500
PART = ".part"
PART_STATE = ".part.json"  # the bundled downloader's resume state, beside NAME.part


def _names(stdout: str) -> list[str]:
    return [n for n in stdout.splitlines() if n and n not in (".", "..")][:MAX_FILES]


def parse_stat_lines(stdout: str) -> list[tuple[int, float, str, str]]:
    """``%s %Y %F %n`` lines -> (size, mtime, type, path); the type may contain spaces."""
    out = []
    kinds = ("regular empty file", "regular file", "directory", "symbolic link")
    for line in stdout.splitlines():
        size, _, rest = line.partition(" ")
        mtime, _, rest = rest.partition(" ")
        if not size.isdigit() or not mtime.isdigit():
            continue
        for kind in kinds:
            if rest.startswith(kind + " "):
                out.append((int(size), float(mtime), kind, rest[len(kind) + 1 :]))
                break
        else:
            kind, _, path = rest.rpartition(" ")
            out.append((int(size), float(mtime), kind, path))
    return out


def _manifest(cluster: Cluster, pod: str, container: str | None, dirs: list[str]) -> dict:
    for d in dirs:
        try:
            result = execs.run(
                cluster, pod, ["cat", posixpath.join(d, MANIFEST)], container=container
            )
        except ExecError:
            return {}
        if result.ok:
            try:
                data = json.loads(result.stdout)
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def fold_part_states(files: list[CacheFile]) -> list[CacheFile]:
    """A downloader's ``NAME.part.json`` belongs to the partial download ``NAME.part``: it is
    folded into that row, never listed as a model file of its own. Alone (the partial is
    gone), it is still the remains of a partial download, and shown as one."""
    names = {f.name for f in files}
    return [
        f
        for f in files
        if not (f.name.endswith(PART_STATE) and f.name.removesuffix(".json") in names)
    ]


def list_cache_files(
    cluster: Cluster, pod: str, container: str | None, cache_dir: str
) -> list[CacheFile]:
    """Files under ``cache_dir`` and one level of subdirectories (version dirs)."""
    cache_dir = cache_dir.rstrip("/") or "/"
    files: list[CacheFile] = []
    sizes: dict[str, int] = {}
    pending = [cache_dir]
    for depth in range(2):
        if not pending:
            break
        listing = execs.run(cluster, pod, ["ls", "-A1", *pending], container=container)
        paths: list[str] = []
        if len(pending) == 1:
            paths = [posixpath.join(pending[0], n) for n in _names(listing.stdout)]
        else:
            current = None
            for line in listing.stdout.splitlines():
                if line.endswith(":") and line[:-1] in pending:
                    current = line[:-1]
                elif line and current is not None and line not in (".", ".."):
                    paths.append(posixpath.join(current, line))
        pending = []
        if not paths:
            break
        stat = execs.run(
            cluster, pod, ["stat", "-c", "%s %Y %F %n", *paths[:MAX_FILES]], container=container
        )
        for size, mtime, kind, path in parse_stat_lines(stat.stdout):
            rel = posixpath.relpath(path, cache_dir)
            if kind == "directory":
                if depth == 0:
                    pending.append(path)
                continue
            if rel == MANIFEST or rel.endswith(".lock"):
                continue
            sizes[rel] = size
            partial = rel.endswith((PART, PART_STATE))
            files.append(CacheFile(name=rel, size=size, modified_at=mtime, partial=partial))
    files = fold_part_states(files)
    manifest = _manifest(cluster, pod, container, [cache_dir, posixpath.dirname(cache_dir)])
    verified: dict[str, int] = {}
    for entry in manifest.get("entries") or []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            entry_size = entry.get("size")
            if isinstance(entry_size, int) and entry.get("sha256"):
                verified[entry["path"]] = entry_size
    out = []
    for f in files:
        if f.partial:
            out.append(f)
            continue
        known = [s for p, s in verified.items() if p == f.name or p.endswith("/" + f.name)]
        out.append(
            CacheFile(f.name, f.size, f.modified_at, False, (known[0] == f.size) if known else None)
        )
    return sorted(out, key=lambda f: f.name)
