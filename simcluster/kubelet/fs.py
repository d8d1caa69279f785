"""A pod's filesystem view: container paths resolved onto the host dirs of its mounts only.

Every path a pod names (exec arguments, program arguments, environment values) goes
through `PodFS.resolve`, which walks it one component at a time the way a kernel would,
with `..` clamped at the container root and symlinks re-read inside the container's own
view. A path that lands outside every mount is simply absent: nothing on the host beyond
the pod's volumes and image files can be named, read or deleted.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import posixpath
import stat as stat_mod
from dataclasses import dataclass
from pathlib import Path

MAX_SYMLINKS = 40


class FsError(Exception):
    """A failed filesystem operation, worded like the C library's strerror()."""

    def __init__(self, code: int, path: str) -> None:
        super().__init__(f"{path}: {os.strerror(code)}")
        self.errno = code
        self.path = path
        self.strerror = os.strerror(code)


@dataclass(frozen=True)
class Mount:
    """One container path backed by a host directory (or, for image files, a host file)."""

    container_path: str
    host_path: Path
    read_only: bool = False
    volume: str = ""
    kind: str = "emptydir"  # pvc | emptydir | configmap | image
    is_file: bool = False
    claim: str = ""
    storage_class: str = ""
    capacity: int = 0  # the PVC's requested size in bytes (0 = unknown)
    tmpfs: bool = False  # a real size-limited filesystem is mounted there

    @property
    def is_efs(self) -> bool:
        """EFS-like classes: no kubelet stats, an 8 EiB file system to df."""
        return "efs" in self.storage_class.lower()

    @property
    def parts(self) -> tuple[str, ...]:
        return split(self.container_path)


@dataclass(frozen=True)
class Resolved:
    """Where a container path lands: its canonical container path and host path (if any)."""

    path: str  # canonical container path, symlinks resolved
    host: Path | None  # None for the virtual directories above mount points, or unmapped
    mount: Mount | None
    exists: bool
    virtual_dir: bool = False

    def require(self) -> Path:
        """The host path, or ENOENT when the path does not exist in the pod."""
        if not self.exists:
            raise FsError(errno.ENOENT, self.path)
        if self.host is None:
            raise FsError(errno.EROFS, self.path)
        return self.host

    def writable(self) -> Path:
        """The host path of something that may be created or changed, else EROFS."""
        if self.host is None or self.mount is None or self.mount.read_only:
            raise FsError(errno.EROFS, self.path)
        return self.host


def split(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p and p != ".")


def join(parts: tuple[str, ...] | list[str]) -> str:
    return "/" + "/".join(parts)


class PodFS:
    """The pod's mounts and the only way commands and programs reach files."""

    def __init__(self, mounts: list[Mount]) -> None:
        volumes = [m for m in mounts if m.kind != "image"]
        # Volumes hide image content below them, as a volume mount over an image dir does.
        images = [
            m
            for m in mounts
            if m.kind == "image" and not any(_is_under(m.parts, v.parts) for v in volumes)
        ]
        self.mounts: list[Mount] = sorted(volumes + images, key=lambda m: -len(m.parts))
        self._virtual: dict[tuple[str, ...], set[str]] = {}
        for m in self.mounts:
            parts = m.parts
            for i in range(len(parts)):
                self._virtual.setdefault(parts[:i], set()).add(parts[i])

    def resized(self, claim: str, capacity: int) -> PodFS:
        """The same view with a claim's mounts reporting a new capacity (it was expanded)."""
        return PodFS(
            [
                dataclasses.replace(m, capacity=capacity)
                if m.kind == "pvc" and m.claim == claim
                else m
                for m in self.mounts
            ]
        )

    # -- resolution ---------------------------------------------------------------------

    def mount_for(self, parts: tuple[str, ...]) -> Mount | None:
        """The innermost mount whose container path is `parts` or one of its ancestors."""
        for m in self.mounts:
            if _is_under(parts, m.parts):
                return m
        return None

    def _host_of(self, parts: tuple[str, ...]) -> tuple[Mount | None, Path | None]:
        m = self.mount_for(parts)
        if m is None:
            return None, None
        rel = parts[len(m.parts) :]
        if m.is_file and rel:
            return m, None  # below a file: ENOTDIR, reported by the walker
        return m, m.host_path.joinpath(*rel) if rel else m.host_path

    def resolve(self, path: str, cwd: str = "/", follow: bool = True) -> Resolved:
        """Resolve `path` (absolute or relative to `cwd`) inside the pod's view."""
        if not path:
            raise FsError(errno.ENOENT, path)
        start = path if path.startswith("/") else posixpath.join(cwd, path)
        todo = list(start.split("/"))
        todo.reverse()
        cur: list[str] = []
        links = 0
        while todo:
            comp = todo.pop()
            if comp in ("", "."):
                continue
            if comp == "..":
                if cur:
                    cur.pop()
                continue
            last = not any(c not in ("", ".") for c in todo)
            cand = (*cur, comp)
            mount, host = self._host_of(cand)
            if mount is None:
                if cand in self._virtual:
                    cur.append(comp)
                    continue
                if last:
                    return Resolved(join(cand), None, None, exists=False)
                raise FsError(errno.ENOENT, path)
            if host is None:
                raise FsError(errno.ENOTDIR, path)
            try:
                # A mount root is the host's own path: trust it (it may sit behind a host
                # symlink such as /tmp); only what lies below it is the pod's to shape.
                st = os.stat(host) if cand == mount.parts else os.lstat(host)
            except FileNotFoundError:
                if last:
                    return Resolved(join(cand), host, mount, exists=False)
                raise FsError(errno.ENOENT, path) from None
            except NotADirectoryError:
                raise FsError(errno.ENOTDIR, path) from None
            if stat_mod.S_ISLNK(st.st_mode) and (follow or not last):
                links += 1
                if links > MAX_SYMLINKS:
                    raise FsError(errno.ELOOP, path)
                target = os.readlink(host)
                parts = target.split("/")
                parts.reverse()
                todo.extend(parts)
                if target.startswith("/"):
                    cur = []  # absolute targets mean the container root, never the host's
                continue
            if not last and not stat_mod.S_ISDIR(st.st_mode):
                raise FsError(errno.ENOTDIR, path)
            cur.append(comp)
        parts_t = tuple(cur)
        mount, host = self._host_of(parts_t)
        if mount is None:
            return Resolved(join(parts_t), None, None, exists=True, virtual_dir=True)
        return Resolved(join(parts_t), host, mount, exists=True)

    # -- operations commands use --------------------------------------------------------

    def lstat(self, path: str, cwd: str = "/") -> tuple[Resolved, os.stat_result | None]:
        """Stat without following a final symlink; virtual dirs give None."""
        r = self.resolve(path, cwd, follow=False)
        if not r.exists:
            raise FsError(errno.ENOENT, path)
        return r, (os.lstat(r.host) if r.host is not None else None)

    def stat(self, path: str, cwd: str = "/") -> tuple[Resolved, os.stat_result | None]:
        r = self.resolve(path, cwd)
        if not r.exists:
            raise FsError(errno.ENOENT, path)
        return r, (os.stat(r.host) if r.host is not None else None)

    def is_dir(self, path: str, cwd: str = "/") -> bool:
        try:
            _r, st = self.stat(path, cwd)
        except FsError:
            return False
        return st is None or stat_mod.S_ISDIR(st.st_mode)

    def listdir(self, path: str, cwd: str = "/") -> list[str]:
        """Names in a directory, including mount points that sit in it."""
        r = self.resolve(path, cwd)
        if not r.exists:
            raise FsError(errno.ENOENT, path)
        parts = split(r.path)
        names = set(self._virtual.get(parts, set()))
        if r.host is not None:
            if r.mount is not None and r.mount.is_file:
                raise FsError(errno.ENOTDIR, path)
            try:
                names.update(os.listdir(r.host))
            except NotADirectoryError:
                raise FsError(errno.ENOTDIR, path) from None
            except FileNotFoundError:
                raise FsError(errno.ENOENT, path) from None
        return sorted(names)

    def open_read(self, path: str, cwd: str = "/") -> int:
        """An fd for reading a regular file (or raise EISDIR), opened without following."""
        r = self.resolve(path, cwd)
        host = r.require()
        try:
            fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise FsError(exc.errno or errno.EIO, path) from None
        if stat_mod.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise FsError(errno.EISDIR, path)
        return fd

    def is_mount_point(self, r: Resolved) -> bool:
        return any(split(r.path) == m.parts for m in self.mounts)

    def to_host(self, path: str, cwd: str = "/") -> Path:
        """Host path for a container path that must sit inside a writable or readable mount."""
        r = self.resolve(path, cwd)
        if r.host is None:
            raise FsError(errno.EACCES if r.exists else errno.ENOENT, path)
        return r.host

    def to_container(self, host_path: str) -> str | None:
        """The container path a host path is visible at, if any mount exposes it."""
        for m in sorted(self.mounts, key=lambda m: -len(str(m.host_path))):
            base = str(m.host_path)
            if host_path == base:
                return m.container_path
            if not m.is_file and host_path.startswith(base + "/"):
                return posixpath.join(m.container_path, host_path[len(base) + 1 :])
        return None

    def host_prefixes(self) -> list[tuple[str, str]]:
        """(host, container) prefix pairs, longest host path first, for rewriting output."""
        pairs = [(str(m.host_path), m.container_path) for m in self.mounts]
        return sorted(pairs, key=lambda p: -len(p[0]))


def _is_under(parts: tuple[str, ...], base: tuple[str, ...]) -> bool:
    return parts[: len(base)] == base
