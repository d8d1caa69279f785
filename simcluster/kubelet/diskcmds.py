"""`df` and `du` as coreutils print them, over the pod's mounts only."""

from __future__ import annotations

import math
import os
import stat as stat_mod
from pathlib import Path

from simcluster.kubelet.fs import FsError, PodFS
from simcluster.kubelet.procio import ThreadIO
from simcluster.kubelet.usage import TreeSize, Usage, mount_usage, tree_size

_SUFFIXES = "KMGTPE"


def human(n: int) -> str:
    """coreutils -h: powers of 1024, rounded up, one decimal below 10 (`8.0E`, `23G`)."""
    if n < 1024:
        return str(n)
    value = float(n)
    for suffix in _SUFFIXES:
        value /= 1024
        if value < 10:
            tenth = math.ceil(value * 10 - 1e-9) / 10
            if tenth < 10:
                return f"{tenth:.1f}{suffix}"
            value = tenth
        whole = math.ceil(value - 1e-9)
        if whole < 1024 or suffix == "E":
            return f"{whole}{suffix}"
    return f"{math.ceil(value)}E"


class _Opts:
    def __init__(self) -> None:
        self.human = False
        self.posix = False
        self.block = 1024
        self.summarize = False
        self.apparent = False
        self.paths: list[str] = []


def _parse(args: list[str], prog: str, short: dict[str, str]) -> _Opts:
    o = _Opts()
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            o.paths.extend(args[i:])
            break
        if a.startswith("--"):
            name, _, val = a.partition("=")
            if name == "--human-readable":
                o.human = True
            elif name == "--portability":
                o.posix = True
            elif name == "--summarize":
                o.summarize = True
            elif name == "--apparent-size":
                o.apparent = True
            elif name == "--bytes":
                o.apparent, o.block = True, 1
            elif name == "--block-size":
                o.block = _block(val, prog)
            else:
                raise UsageError(f"{prog}: unrecognized option '{a}'")
            continue
        if a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                j += 1
                what = short.get(c)
                if what is None:
                    raise UsageError(f"{prog}: invalid option -- '{c}'")
                if what == "block":
                    val = a[j:] or (args[i] if i < len(args) else "")
                    if not a[j:]:
                        i += 1
                    o.block = _block(val, prog)
                    break
                if what == "human":
                    o.human = True
                elif what == "posix":
                    o.posix = True
                elif what == "k":
                    o.block = 1024
                elif what == "summarize":
                    o.summarize = True
                elif what == "bytes":
                    o.apparent, o.block = True, 1
                elif what == "apparent":
                    o.apparent = True
            continue
        o.paths.append(a)
    return o


def _block(val: str, prog: str) -> int:
    table = {"K": 1024, "M": 1024**2, "G": 1024**3, "KB": 1000, "MB": 1000**2, "GB": 1000**3}
    if val.isdigit() and int(val) > 0:
        return int(val)
    if val.upper() in table:
        return table[val.upper()]
    raise UsageError(f"{prog}: invalid --block-size argument '{val}'")


class UsageError(Exception):
    """Bad flags: printed on stderr, exit 1."""


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def df(t: ThreadIO, fs: PodFS, args: list[str], cwd: str, root: Path) -> int:
    try:
        o = _parse(args, "df", {"h": "human", "P": "posix", "k": "k", "B": "block"})
    except UsageError as exc:
        t.err(f"{exc}\n")
        return 1
    status = 0
    rows: list[tuple[str, Usage]] = []
    seen: set[str] = set()
    if o.paths:
        for p in o.paths:
            try:
                r = fs.resolve(p, cwd)
                if not r.exists:
                    raise FsError(2, p)
            except FsError as exc:
                t.err(f"df: {p}: {exc.strerror}\n")
                status = 1
                continue
            mount = r.mount if (r.mount is not None and r.mount.kind != "image") else None
            rows.append((mount.container_path if mount else "/", mount_usage(mount, root)))
    else:
        rows.append(("/", mount_usage(None, root)))
        for m in sorted(fs.mounts, key=lambda m: m.container_path):
            if m.kind != "image" and m.container_path not in seen:
                seen.add(m.container_path)
                rows.append((m.container_path, mount_usage(m, root)))
    if not rows:
        return status
    t.out(_df_table(rows, o))
    return status


def _df_table(rows: list[tuple[str, Usage]], o: _Opts) -> str:
    if o.human:
        size_head = "Size"
    elif o.posix:
        size_head = f"{o.block}-blocks"
    else:
        size_head = "1K-blocks" if o.block == 1024 else f"{o.block}B-blocks"
    pct_head = "Capacity" if o.posix else "Use%"
    avail_head = "Avail" if o.human else "Available"
    table = [["Filesystem", size_head, "Used", avail_head, pct_head, "Mounted on"]]
    for mounted, u in rows:
        if o.human:
            cells = [human(u.capacity), human(u.used), human(u.available)]
        else:
            cells = [str(_ceil_div(v, o.block)) for v in (u.capacity, u.used, u.available)]
        denom = u.used + u.available
        pct = f"{_ceil_div(u.used * 100, denom)}%" if denom else "-"
        table.append([u.filesystem, *cells, pct, mounted])
    widths = [max(len(r[i]) for r in table) for i in range(6)]
    widths[0] = max(widths[0], 14)
    widths[1:4] = [max(w, 5 if o.human else 9) for w in widths[1:4]]
    lines = []
    for r in table:
        line = r[0].ljust(widths[0])
        line += "".join(" " + c.rjust(w) for c, w in zip(r[1:5], widths[1:5], strict=True))
        lines.append(f"{line} {r[5]}")
    return "\n".join(lines) + "\n"


def du(t: ThreadIO, fs: PodFS, args: list[str], cwd: str) -> int:
    try:
        o = _parse(
            args,
            "du",
            {"s": "summarize", "h": "human", "k": "k", "b": "bytes", "B": "block", "A": "apparent"},
        )
    except UsageError as exc:
        t.err(f"{exc}\n")
        return 1
    status = 0
    for p in o.paths or ["."]:
        try:
            r, st = fs.lstat(p, cwd)
        except FsError as exc:
            t.err(f"du: cannot access '{p}': {exc.strerror}\n")
            status = 1
            continue
        if r.host is None:
            # A virtual directory (e.g. "/"): sum the mounts below it.
            total = 0
            for m in fs.mounts:
                if m.container_path.startswith(r.path.rstrip("/") + "/"):
                    total += _size(tree_size(m.host_path), o)
            t.out(f"{_fmt(total, o)}\t{p}\n")
            continue
        if o.summarize or st is None or not stat_mod.S_ISDIR(st.st_mode):
            t.out(f"{_fmt(_size(tree_size(r.host), o), o)}\t{p}\n")
            continue
        _du_tree(t, r.host, p.rstrip("/") or "/", o)
    return status


def _size(ts: TreeSize, o: _Opts) -> int:
    return ts.apparent if o.apparent else ts.disk


def _fmt(n: int, o: _Opts) -> str:
    return human(n) if o.human else str(_ceil_div(n, o.block))


def _du_tree(t: ThreadIO, host: str | os.PathLike[str], shown: str, o: _Opts) -> int:
    """Post-order listing of directories with their cumulative sizes, like du without -s."""
    t.check()
    total = 0
    try:
        st = os.lstat(host)
        total = st.st_size if o.apparent else st.st_blocks * 512
        with os.scandir(host) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        entries = []
    for e in entries:
        child = f"{shown}/{e.name}" if shown != "/" else f"/{e.name}"
        if e.is_dir(follow_symlinks=False):
            total += _du_tree(t, e.path, child, o)
        else:
            est = e.stat(follow_symlinks=False)
            total += est.st_size if o.apparent else est.st_blocks * 512
    t.out(f"{_fmt(total, o)}\t{shown}\n")
    return total
