"""Container images that carry files (the "model baked into the image" strategy).

`ImageRegistry.register(ref, files={container_path: source})` records what an image holds;
the first pod that uses the image "pulls" it: the files are written once under
`<root>/images/<ref>/` (in a thread) and then appear read-only at their container paths.
A source is bytes, text, a host `Path` to copy, or anything with `size` and
`iter_bytes()` (a model server `ModelFile`, so a baked model matches the served one).
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

    def register(self, image_ref: str, files: dict[str, FileSource]) -> None:
        for path in files:
            if not path.startswith("/") or ".." in path.split("/"):
                raise ImageError(f"image file path must be absolute without '..': {path!r}")
        self._files[image_ref] = dict(files)
        self._pulled.pop(image_ref, None)

    def lookup(self, image_ref: str) -> str | None:
        for registered in self._files:
            if image_matches(image_ref, registered):
                return registered
        return None

    def is_pulled(self, image_ref: str) -> bool:
        key = self.lookup(image_ref)
        return key is None or key in self._pulled

    async def pull(self, image_ref: str) -> list[ImageFile]:
        """Materialize the image's files once; later pulls return at once."""
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
