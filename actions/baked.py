"""A model baked into the container's image: no volume holds it, so nothing this tool does can
put another file in its place.

Pre-warming has no volume to fill; deleting it is refused by the image's read-only file system
(and where one is writable, the next container starts from the same image with the same file
again). Only a new image changes the model: the reasoning is said once, here, for each action.
"""

from __future__ import annotations


def no_volume(cache_dir: str, of: str) -> str:
    """Why the model is out of this tool's reach: no volume of ``of`` (``deployment D``,
    ``pod P``) is mounted at its cache dir, so it is in the image."""
    return (
        f"No volume of {of} is mounted at {cache_dir}: the model lives in the container's own "
        "file system (a baked image)"
    )


def cannot_purge(cache_dir: str, pod: str, owner: str) -> str:
    """A purge of a baked model, refused: why, and what changes the model instead."""
    return (
        f"{no_volume(cache_dir, f'pod {pod}')}, so it cannot be deleted: the image's file "
        "system is read-only, and every new container starts from the same image with the same "
        f"file. Only a new image replaces the model: build one with a good model and roll "
        f"{owner} out with it (press v first to verify that the baked model is really bad)."
    )
