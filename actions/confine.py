"""Checking, inside the pod, that files about to be deleted are plain files in the cache dir.

Two exec steps, both argv lists. ``realpath -m`` resolves the cache directory and each target
(``..`` and every symlink); a target must resolve to exactly the resolved cache directory plus
its expected relative path. Images without ``realpath`` (exit 127, or a busybox without ``-m``)
fall back to the second step alone, which is always run: ``stat -c '%n|%F'`` (no dereference) on
every path component below the cache directory, so a symlink anywhere below it is refused, and a
target must be a regular file (or absent). Only then does ``rm -f`` run, with the planned argv.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from actions.context import ActionContext, ActionFailed
from actions.paths import PathRefused, check_directory, check_resolved
from actions.plan import ExecStep

REGULAR = ("regular file", "regular empty file")


def walk(cache_dir: str, targets: Sequence[str]) -> tuple[str, ...]:
    """Every path from just below ``cache_dir`` down to each target, in order, without repeats."""
    base = check_directory(cache_dir)
    seen: dict[str, None] = {}
    for target in targets:
        rel = posixpath.relpath(target, base)
        if rel.startswith(".."):
            raise PathRefused(f"{target!r} is outside the cache directory {base!r}.")
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            seen.setdefault(posixpath.join(base, *parts[:i]), None)
    return tuple(seen)


def check_steps(
    pod: str, namespace: str, container: str | None, cache_dir: str, targets: Sequence[str]
) -> tuple[ExecStep, ExecStep]:
    """The realpath and stat steps a plan shows before its ``rm``."""
    resolve = ExecStep(
        pod,
        namespace,
        ("realpath", "-m", cache_dir, *targets),
        container,
        note="resolve in the pod: each must be the resolved cache dir plus its name",
    )
    kinds = ExecStep(
        pod,
        namespace,
        ("stat", "-c", "%n|%F", *walk(cache_dir, targets)),
        container,
        note="no symlink below the cache dir; targets must be regular files",
    )
    return resolve, kinds


def removal_steps(
    pod: str, namespace: str, container: str | None, cache_dir: str, targets: Sequence[str]
) -> tuple[ExecStep, ExecStep, ExecStep]:
    """The realpath, stat and ``rm -f`` steps, in the order ``purge.execute`` reads them back.

    Every action that deletes cache files builds them here, so the executor that checks the
    paths and then removes them can rely on one layout.
    """
    resolve, kinds = check_steps(pod, namespace, container, cache_dir, targets)
    rm = ExecStep(
        pod,
        namespace,
        ("rm", "-f", *targets),
        container,
        note="only after both checks pass",
    )
    return resolve, kinds, rm


@dataclass(frozen=True)
class Checked:
    existing: tuple[str, ...]  # regular files that will be deleted
    missing: tuple[str, ...]
    resolved_dir: str | None  # None when the image has no realpath
    note: str = ""


def check_in_pod(
    ctx: ActionContext,
    resolve: ExecStep,
    kinds: ExecStep,
    cache_dir: str,
    targets: Sequence[str],
) -> Checked:
    """Run both steps; raise ``PathRefused`` naming the first path that must not be deleted."""
    base = check_directory(cache_dir)
    out = ctx.kube.exec(resolve, timeout=ctx.exec_timeout, cancel=ctx.cancel)
    resolved_dir: str | None = None
    note = ""
    if out.exit_code == 0:
        resolved_dir = check_realpath(out.stdout, base, targets)
    elif out.exit_code == 127 or "invalid option" in out.stderr or "unrecognized" in out.stderr:
        note = "realpath is not in the image; every path component was checked with stat instead"
    else:
        raise ActionFailed(
            f"realpath in pod {resolve.pod} failed (exit {out.exit_code}): "
            f"{out.stderr.strip()[:200] or 'no message'}."
        )
    stat_out = ctx.kube.exec(kinds, timeout=ctx.exec_timeout, cancel=ctx.cancel)
    if stat_out.exit_code not in (0, 1):
        raise ActionFailed(
            f"stat in pod {kinds.pod} failed (exit {stat_out.exit_code}): "
            f"{stat_out.stderr.strip()[:200] or 'no message'}."
        )
    existing, missing = classify(parse_stat(stat_out.stdout), base, targets)
    return Checked(tuple(existing), tuple(missing), resolved_dir, note)


def parse_stat(text: str) -> dict[str, str]:
    """``stat -c '%n|%F'`` output as path -> file type."""
    types: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, kind = line.rpartition("|")
        if sep:
            types[name] = kind.strip()
    return types


def classify(
    types: dict[str, str], cache_dir: str, targets: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(regular files to delete, absent targets); ``PathRefused`` for anything else."""
    base = check_directory(cache_dir)
    existing: list[str] = []
    missing: list[str] = []
    for target in targets:
        state = "regular"
        for path in walk(base, [target]):
            kind = types.get(path)
            if kind is None:
                state = "missing"
                break
            if kind == "symbolic link":
                raise PathRefused(
                    f"{path!r} is a symbolic link: refusing to delete through it (it could point "
                    f"outside the cache directory {base!r})."
                )
            if path != target and kind != "directory":
                raise PathRefused(f"{path!r} is a {kind}, not a directory.")
            if path == target and kind not in REGULAR:
                raise PathRefused(
                    f"{path!r} is a {kind}, not a regular file: refusing to delete it."
                )
        (existing if state == "regular" else missing).append(target)
    return tuple(existing), tuple(missing)


def check_realpath(text: str, cache_dir: str, targets: Sequence[str]) -> str:
    """Judge ``realpath -m DIR TARGET...`` output; return the resolved cache directory."""
    base = check_directory(cache_dir)
    lines = text.splitlines()
    if len(lines) != len(targets) + 1:
        raise ActionFailed(f"realpath printed {len(lines)} lines for {len(targets) + 1} paths.")
    resolved_dir = check_directory(lines[0], "resolved cache directory")
    for target, resolved in zip(targets, lines[1:], strict=True):
        check_resolved(resolved_dir, posixpath.relpath(target, base), resolved)
    return resolved_dir
