"""Where a pod's model file lives, and the checks that keep deletions inside its cache directory.

Two stages, both strict. Before anything runs, ``plan_paths`` refuses what is wrong on its face
(empty, ``/``, relative, ``..``, a name with a slash). In the pod, paths are resolved with
``realpath`` and ``check_resolved`` accepts a file only when its resolved path is exactly the
resolved cache directory plus the expected name: a symlink anywhere, or any escape, is refused.
The layout follows the bundled downloader's contract (``<cache_dir>/<version>/<name>``).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from collectors.model import ModelSettings

DEFAULT_CACHE_DIR = "/app/models"
DEFAULT_NAME = "model.bin"
# The state files the downloader keeps beside a model file (progress contract, "Files on disk").
LOCK_SUFFIX = ".lock"
COMPANION_SUFFIXES = (".part", ".part.json", LOCK_SUFFIX)


class PathRefused(ValueError):
    """A path that must not be touched; the message is one sentence naming it."""


@dataclass(frozen=True)
class ModelLocation:
    """The model file of a pod and the directories around it, as the pod sees them."""

    cache_dir: str  # MODEL_CACHE_DIR (or the default)
    root: str  # the cache root: manifest and eviction scope
    directory: str  # where the file is (cache_dir, or cache_dir/<version>)
    name: str  # the file name

    @property
    def file(self) -> str:
        return posixpath.join(self.directory, self.name)

    def targets(self) -> tuple[str, ...]:
        """The file and its companions: what a pod using the file depends on."""
        return (self.file, *(self.file + s for s in COMPANION_SUFFIXES))

    def removable(self) -> tuple[str, ...]:
        """What a purge removes: the file, its partial and the partial's state. Never the
        ``.lock``: one in use, deleted, lets a second downloader lock a new file beside the
        holder; an unused one is empty and harmless (the downloader's lock never reads it)."""
        return tuple(t for t in self.targets() if not t.endswith(LOCK_SUFFIX))


def file_name_from_url(url: str | None) -> str:
    """The downloader's file name rule: the URL's last path segment, sanitised."""
    if not url:
        return DEFAULT_NAME
    try:
        segment = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    except ValueError:
        return DEFAULT_NAME
    if (
        not segment
        or "/" in segment
        or ".." in segment
        or segment.startswith(".")
        or ("\x00" in segment)
    ):
        return DEFAULT_NAME
    return segment


def check_directory(path: str | None, what: str = "cache directory") -> str:
    """Refuse an empty, relative, root or dotted directory; return it normalised."""
    if path is None or not path.strip():
        raise PathRefused(f"The {what} is empty, so there is nothing safe to delete.")
    if any(c in path for c in "\x00\n\r|"):
        raise PathRefused(f"The {what} {path!r} contains a NUL, newline or '|' character.")
    if not path.startswith("/"):
        raise PathRefused(f"The {what} {path!r} is not an absolute path.")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise PathRefused(f"The {what} {path!r} contains '.' or '..' components.")
    if not parts:
        raise PathRefused(
            f"The {what} is '/': refusing to delete anything at the file system root."
        )
    return "/" + "/".join(parts)


def check_component(name: str | None, what: str) -> str:
    """A single plain path component: no slash, not '.', '..' or empty."""
    if name is None or not name.strip():
        raise PathRefused(f"The {what} is empty.")
    if "/" in name or name in (".", "..") or any(c in name for c in "\x00\n\r|"):
        raise PathRefused(f"The {what} {name!r} is not a plain file or directory name.")
    return name


def model_location(settings: ModelSettings, version: str | None = None) -> ModelLocation:
    """Where the downloader puts the model for these settings (``version`` overrides)."""
    cache_dir = check_directory(settings.cache_dir or DEFAULT_CACHE_DIR)
    version = version if version is not None else settings.version
    if settings.model_path:
        path = check_directory(settings.model_path, "model path")
        directory, name = posixpath.split(path)
        if not _inside(directory, cache_dir):
            raise PathRefused(
                f"The model path {path!r} is outside the cache directory {cache_dir!r}."
            )
        root = (
            posixpath.dirname(cache_dir) if version and _last(cache_dir) == version else cache_dir
        )
        return ModelLocation(
            cache_dir, root or "/", directory or "/", check_component(name, "file name")
        )
    name = file_name_from_url(settings.url)
    if version:
        check_component(version, "model version")
        if _last(cache_dir) == version:
            root = posixpath.dirname(cache_dir)
            if root == "/":
                raise PathRefused(f"The cache root of {cache_dir!r} would be '/': refusing.")
            return ModelLocation(cache_dir, root, cache_dir, name)
        return ModelLocation(cache_dir, cache_dir, posixpath.join(cache_dir, version), name)
    return ModelLocation(cache_dir, cache_dir, cache_dir, name)


def resolve_user_path(location: ModelLocation, path: str) -> ModelLocation:
    """A file the user named (purge --path): relative to the cache dir, or absolute inside it."""
    if path is None or not path.strip():
        raise PathRefused("The path to delete is empty.")
    if path.strip() == "/":
        raise PathRefused("The path to delete is '/': refusing.")
    if any(c in path for c in "\x00\n\r|"):
        raise PathRefused(f"The path {path!r} contains a NUL, newline or '|' character.")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise PathRefused(
            f"The path {path!r} contains '.' or '..': only files inside the cache directory "
            f"{location.cache_dir!r} may be deleted."
        )
    full = (
        "/" + "/".join(parts)
        if path.startswith("/")
        else posixpath.join(location.cache_dir, *parts)
    )
    if full == location.cache_dir:
        raise PathRefused(f"The path {path!r} is the cache directory itself, not a file in it.")
    directory, name = posixpath.split(full)
    if not _inside(directory, location.cache_dir):
        raise PathRefused(
            f"The path {path!r} is outside the cache directory {location.cache_dir!r}."
        )
    return ModelLocation(
        location.cache_dir, location.root, directory, check_component(name, "file name")
    )


def check_resolved(resolved_dir: str, expected_relative: str, resolved_file: str) -> str:
    """Accept ``resolved_file`` only when it is exactly ``resolved_dir/expected_relative``.

    ``resolved_dir`` is the cache directory as the pod resolved it (``realpath``), and
    ``expected_relative`` is where the file should be below it. Any symlink on the way, or a
    ``..`` resolving elsewhere, makes the two differ and the file is refused.
    """
    base = check_directory(resolved_dir, "resolved cache directory")
    expected = posixpath.join(base, expected_relative)
    if resolved_file != expected:
        if not _inside(posixpath.dirname(resolved_file), base) and resolved_file != base:
            raise PathRefused(
                f"{expected_relative!r} resolves to {resolved_file!r}, outside the cache "
                f"directory {base!r}."
            )
        raise PathRefused(
            f"{expected_relative!r} resolves to {resolved_file!r} through a symlink; only the "
            f"file itself, {expected!r}, may be deleted."
        )
    return resolved_file


def relative_to(path: str, base: str) -> str:
    """``path`` below ``base`` (both normalised absolute paths)."""
    return posixpath.relpath(path, base)


def _inside(path: str, base: str) -> bool:
    """True when ``path`` is ``base`` or below it (lexically; both normalised)."""
    return path == base or path.startswith(base.rstrip("/") + "/")


def _last(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]
