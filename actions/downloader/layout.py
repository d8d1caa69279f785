"""Where one model file lives in the cache: its directory, final name, partial, state and lock.

Names come from URLs (or --output) and are sanitised so that no URL, header or version string
can place a file outside the cache directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import UsageError

DEFAULT_NAME = "model.bin"
MANIFEST_NAME = ".asr-cache-manifest.json"
MANIFEST_LOCK_NAME = ".asr-cache-manifest.lock"
PART_SUFFIX = ".part"
STATE_SUFFIX = ".part.json"
LOCK_SUFFIX = ".lock"
_RESERVED_SUFFIXES = (PART_SUFFIX, STATE_SUFFIX, LOCK_SUFFIX, ".tmp")
_MAX_NAME_BYTES = 200
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


def sanitize_name(raw: str) -> str:
    """A safe single-component file name: no separators, no leading dot, never empty."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".").strip()
    if not name:
        return DEFAULT_NAME
    while len(name.encode()) > _MAX_NAME_BYTES:
        name = name[:-1]
    if name.endswith(_RESERVED_SUFFIXES) or name in (MANIFEST_NAME.lstrip("."),):
        name += "_"
    return name


def name_from_url(url: str) -> str:
    """The file name a URL stands for: its last path segment, decoded and sanitised."""
    path = urlsplit(url).path
    return sanitize_name(unquote(path.rsplit("/", 1)[-1]))


def check_version(version: str) -> str:
    """A version is one plain path component (it names a directory in the cache)."""
    if not _VERSION.match(version) or version in (".", ".."):
        raise UsageError(
            f"model version {version!r} is not a plain name "
            "(letters, digits, '.', '_', '+', '-'; it names a cache directory)"
        )
    return version


@dataclass(frozen=True)
class Layout:
    """The paths of one cached file. `cache_root` holds the manifest and bounds eviction."""

    cache_root: Path
    directory: Path
    name: str

    @property
    def final(self) -> Path:
        return self.directory / self.name

    @property
    def part(self) -> Path:
        return self.directory / (self.name + PART_SUFFIX)

    @property
    def state(self) -> Path:
        return self.directory / (self.name + STATE_SUFFIX)

    @property
    def lock(self) -> Path:
        return self.directory / (self.name + LOCK_SUFFIX)

    @property
    def relative(self) -> str:
        """The final path relative to the cache root, as the manifest records it."""
        return self.final.relative_to(self.cache_root).as_posix()


def cache_directories(cache_dir: Path, version: str | None) -> tuple[Path, Path]:
    """(cache root, directory for the files) for a cache dir and an optional version."""
    base = Path(os.path.abspath(cache_dir))
    if version is None:
        return base, base
    if base.name == version:
        return base.parent, base
    return base, base / version


def make_layout(cache_dir: Path, version: str | None, name: str) -> Layout:
    """Build and confine a layout: the final path must resolve inside the cache root."""
    root, directory = cache_directories(cache_dir, version)
    layout = Layout(cache_root=root, directory=directory, name=sanitize_name(name))
    confine(layout.final, root)
    return layout


def confine(path: Path, root: Path) -> None:
    """Refuse a path that resolves (through symlinks too) outside ``root``."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise UsageError(f"path {path} resolves outside the cache directory {root}")
