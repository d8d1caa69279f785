"""Container images that carry files (the "model baked into the image" strategy).

`ImageRegistry.register(ref, files={container_path: source})` records what an image holds;
the first pod that uses the image "pulls" it: the files are written once under
`<root>/images/<ref>/` (in a thread) and then appear read-only at their container paths.
A source is bytes, text, a host `Path` to copy, or anything with `size` and
`iter_bytes()` (a model server `ModelFile`, so a baked model matches the served one).

The registry is permissive: any other reference can be pulled (an image without files, the
nodes have it already). `refuse(ref, "not-found" | "unauthorized")` makes a tag (or, without
a tag, every tag of a repository) one the registry does not serve, as a typo'd tag or a
private repository is; `publish(ref)` lifts that, and the next pull succeeds. The kubelet's
side of a refused pull (ErrImagePull, back-off, events) is in `simcluster.kubelet.pull`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import posixpath
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from simcluster.kubelet.fs import Mount


class _Streamable(Protocol):
    size: int

    def iter_bytes(self) -> Iterator[bytes]: ...


FileSource = bytes | str | Path | _Streamable


@dataclass(frozen=True)
class ImageFile:
    container_path: str
    host_path: Path


class ImageError(ValueError):
    """A bad image registration (e.g. a relative container path)."""


REFUSALS = ("not-found", "unauthorized")
DOCKER_HUB = "docker.io"
_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io", DOCKER_HUB)


@dataclass(frozen=True)
class ImageName:
    """A reference split as containerd reads it: `docker.io/library/busybox:latest`."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        out = self.repository + (f":{self.tag}" if self.tag else "")
        return out + (f"@{self.digest}" if self.digest else "")


def parse_image(ref: str, default_tag: str = "latest") -> ImageName:
    """Normalise a reference as the container runtime does (docker.io, library/, :latest)."""
    name, _, digest = ref.partition("@")
    tag = ""
    head, sep, last = name.rpartition("/")
    if ":" in last:
        last, tag = last.split(":", 1)
    name = f"{head}{sep}{last}"
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = DOCKER_HUB, name
    if domain in _HUB_ALIASES:
        domain = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    if not tag and not digest:
        tag = default_tag
    return ImageName(domain, path, tag, digest)


def registry_host(server: str) -> str:
    """The registry a credential is for: `https://index.docker.io/v1/` -> docker.io."""
    host = server.split("://", 1)[-1].split("/", 1)[0].lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


def _names_image(entry: str, ref: str) -> bool:
    """A refusal entry with a tag or digest names that image; one without names its repository."""
    named, image = parse_image(entry, default_tag=""), parse_image(ref)
    if not named.tag and not named.digest:
        return named.repository == image.repository
    return named == image


def image_matches(ref: str, registered: str) -> bool:
    """`repo/name:tag` matches itself; a registration without a tag matches any tag."""
    if ref == registered:
        return True
    base = ref.split("@", 1)[0]
    if ":" in base.rsplit("/", 1)[-1]:
        base = base.rsplit(":", 1)[0]
    return ":" not in registered.rsplit("/", 1)[-1] and base == registered


class ImageRegistry:
    """Known images and their files; thread-safe enough for one asyncio loop."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "images"
        self._files: dict[str, dict[str, FileSource]] = {}
        self._pulled: dict[str, list[ImageFile]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._refused: dict[str, str] = {}  # ref or repository -> one of REFUSALS
        self._late: set[str] = set()  # ever refused: the nodes have no copy until pulled
        self._pulled_refs: set[str] = set()  # references pulled since

    def register(self, image_ref: str, files: dict[str, FileSource]) -> None:
        for path in files:
            if not path.startswith("/") or ".." in path.split("/"):
                raise ImageError(f"image file path must be absolute without '..': {path!r}")
        self._files[image_ref] = dict(files)
        self._pulled.pop(image_ref, None)
        self._pulled_refs = {r for r in self._pulled_refs if not image_matches(r, image_ref)}
        self.publish(image_ref)

    def refuse(self, image_ref: str, why: str = "not-found") -> None:
        """Make the registry refuse an image (a tag) or every tag of a repository."""
        if why not in REFUSALS:
            raise ImageError(f"an image can be refused as {' or '.join(REFUSALS)}, not {why!r}")
        self._refused[image_ref] = why
        self._late.add(image_ref)

    def publish(self, image_ref: str) -> bool:
        """Lift the refusal named `image_ref` (a repository lifts its tags' too)."""
        gone = [e for e in self._refused if _names_image(image_ref, e)]
        for entry in gone:
            del self._refused[entry]
        return bool(gone)

    def refusal(self, image_ref: str) -> str | None:
        """Why the registry will not serve `image_ref` ("not-found", "unauthorized"), if so."""
        for entry, why in self._refused.items():
            if _names_image(entry, image_ref):
                return why
        return None

    def refused(self) -> dict[str, str]:
        return dict(self._refused)

    def lookup(self, image_ref: str) -> str | None:
        for registered in self._files:
            if image_matches(image_ref, registered):
                return registered
        return None

    def is_pulled(self, image_ref: str) -> bool:
        """Whether the nodes have the image: any other image but a refused or baked one."""
        if image_ref in self._pulled_refs:
            return True
        if any(_names_image(entry, image_ref) for entry in self._late):
            return False
        key = self.lookup(image_ref)
        return key is None or key in self._pulled

    async def pull(self, image_ref: str) -> list[ImageFile]:
        """Materialize the image's files once; later pulls return at once.

        The caller checks `refusal` first (the kubelet's puller turns it into ErrImagePull).
        """
        self._pulled_refs.add(image_ref)
        key = self.lookup(image_ref)
        if key is None:
            return []
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._pulled:
                self._pulled[key] = await asyncio.to_thread(self._write, key)
        return self._pulled[key]

    def _write(self, key: str) -> list[ImageFile]:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", key)
        digest = hashlib.sha256(key.encode()).hexdigest()[:8]
        base = self.root / f"{safe}-{digest}"
        if base.exists():
            shutil.rmtree(base)
        out = []
        for cpath, source in self._files[key].items():
            host = base / "rootfs" / posixpath.normpath(cpath).lstrip("/")
            host.parent.mkdir(parents=True, exist_ok=True)
            _materialize(source, host)
            os.chmod(host, 0o444)
            out.append(ImageFile(cpath, host))
        return out

    def mounts(self, files: list[ImageFile], volume: str) -> list[Mount]:
        return [
            Mount(
                f.container_path,
                f.host_path,
                read_only=True,
                volume=volume,
                kind="image",
                is_file=True,
            )
            for f in files
        ]


def _materialize(source: FileSource, host: Path) -> None:
    if isinstance(source, bytes):
        host.write_bytes(source)
    elif isinstance(source, str):
        host.write_text(source)
    elif isinstance(source, Path):
        shutil.copyfile(source, host)
    else:
        with open(host, "wb") as fh:
            for chunk in source.iter_bytes():
                fh.write(chunk)
