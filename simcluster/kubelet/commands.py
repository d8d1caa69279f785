"""The built-in commands a simulated container can run, and the dispatcher that picks one.

Each file command works only through `PodFS`, so it sees the pod's mounts and image files
and nothing else. File work blocks, so those commands run in a thread and talk to their
streams through `ThreadIO`. Messages and exit codes follow coreutils and a POSIX shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import posixpath
import shutil
import stat as stat_mod
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timezone

from simcluster.kubelet import diskcmds
from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.fs import FsError, PodFS
from simcluster.kubelet.procio import Cancelled, ThreadIO

ThreadCommand = Callable[[ThreadIO, ProcContext, list[str]], int]
AsyncCommand = Callable[[list[str], ProcContext], Awaitable[int]]

# Programs added by others (the scenarios' wget / aws s3 cp stand-ins, log replay, ...).
EXTRA_COMMANDS: dict[str, AsyncCommand] = {}


def register_command(name: str, fn: AsyncCommand) -> None:
    """Make `name` runnable in every pod: fn(argv, ctx) -> exit code, argv[0] included."""
    EXTRA_COMMANDS[name] = fn


BIN_DIRS = ("/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin")
DOWNLOADER_NAMES = ("asr-cache-download",)
SHELLS = ("sh", "bash", "ash", "dash")


def command_name(arg0: str) -> str:
    """`/usr/bin/ls` -> `ls`; other paths stay as given (so they are not found)."""
    head, tail = posixpath.split(arg0)
    return tail if head in BIN_DIRS else arg0


def is_downloader(argv: list[str]) -> bool:
    """The bundled downloader, by console script or by `python -m actions.downloader`."""
    if not argv:
        return False
    name = command_name(argv[0])
    if name in DOWNLOADER_NAMES:
        return True
    return (
        name.startswith("python")
        and len(argv) >= 3
        and argv[1] == "-m"
        and argv[2] in ("actions.downloader", "actions.downloader.cli")
    )


async def run_command(argv: list[str], ctx: ProcContext) -> int:
    """Run one command line (already split) and return its exit status."""
    if not argv:
        return 0
    name = command_name(argv[0])
    if name in SHELLS:
        from simcluster.kubelet.shell import run_sh

        return await run_sh(argv[1:], ctx)
    if is_downloader(argv):
        from simcluster.kubelet.programs.downloader import run_downloader

        return await run_downloader(argv, ctx)
    if name == "sleep":
        return await _sleep(argv[1:], ctx)
    extra = EXTRA_COMMANDS.get(name)
    if extra is not None:
        return await extra(argv, ctx)
    fn = THREAD_COMMANDS.get(name)
    if fn is None:
        await ctx.io.write_stderr(f"sh: {name}: command not found\n".encode())
        return 127
    return await run_in_thread(fn, ctx, argv[1:], name)


async def run_in_thread(
    fn: ThreadCommand, ctx: ProcContext, args: list[str], name: str = "sh"
) -> int:
    """Run a blocking built-in in a worker thread; cancelling us stops it at its next write."""
    t = ThreadIO(ctx.io, asyncio.get_running_loop())

    def body() -> int:
        try:
            code = fn(t, ctx, args)
            t.flush()
            return code
        except Cancelled:
            return 130
        except OSError as exc:  # e.g. ENOSPC writing a redirected file: a message, not a crash
            t.err(f"{name}: write error: {exc.strerror or exc}\n")
            return 1

    try:
        return await asyncio.to_thread(body)
    except asyncio.CancelledError:
        t.cancel()
        raise


def parse_duration(text: str) -> float:
    if text == "infinity":
        return float("inf")
    mult = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(text[-1:])
    number = text[:-1] if mult else text
    value = float(number)
    if value < 0 or value != value:
        raise ValueError(text)
    return value * (mult or 1)


async def _sleep(args: list[str], ctx: ProcContext) -> int:
    if not args:
        await ctx.io.write_stderr(b"sleep: missing operand\n")
        return 1
    total = 0.0
    for a in args:
        try:
            total += parse_duration(a)
        except ValueError:
            await ctx.io.write_stderr(f"sleep: invalid time interval '{a}'\n".encode())
            return 1
    if total == float("inf"):
        await asyncio.Event().wait()
    await asyncio.sleep(total)
    return 0


# -- small option parser ------------------------------------------------------------------


def _flags(args: list[str], allowed: str, longs: dict[str, str] | None = None):
    """Split `-la`-style flags from operands; returns (set of flag chars, operands, error)."""
    flags: set[str] = set()
    operands: list[str] = []
    longs = longs or {}
    it = iter(range(len(args)))
    for i in it:
        a = args[i]
        if a == "--":
            operands.extend(args[i + 1 :])
            break
        if a.startswith("--") and len(a) > 2:
            key = a.split("=", 1)[0]
            if key not in longs:
                return flags, operands, f"unrecognized option '{a}'"
            flags.add(longs[key])
            if "=" in a:
                flags.add(f"{longs[key]}={a.split('=', 1)[1]}")
            continue
        if a.startswith("-") and len(a) > 1:
            for c in a[1:]:
                if c not in allowed:
                    return flags, operands, f"invalid option -- '{c}'"
                flags.add(c)
            continue
        operands.append(a)
    return flags, operands, None


# -- the commands -------------------------------------------------------------------------


def _echo(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    newline = True
    while args and args[0] == "-n":
        newline = False
        args = args[1:]
    t.out(" ".join(args) + ("\n" if newline else ""))
    return 0


def _printf(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    """printf FORMAT [ARG]…: %s %d %% and backslash escapes; the format repeats for extra args."""
    if not args:
        t.err("printf: usage: printf format [arguments]\n")
        return 2
    fmt, rest = args[0], list(args[1:])
    escapes = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "0": "\0"}
    status = 0
    while True:
        out: list[str] = []
        i = 0
        while i < len(fmt):
            c = fmt[i]
            if c == "\\" and i + 1 < len(fmt):
                out.append(escapes.get(fmt[i + 1], "\\" + fmt[i + 1]))
                i += 2
            elif c == "%" and i + 1 < len(fmt):
                spec = fmt[i + 1]
                i += 2
                if spec == "%":
                    out.append("%")
                    continue
                arg = rest.pop(0) if rest else ""
                if spec == "d":
                    try:
                        out.append(str(int(arg or "0")))
                    except ValueError:
                        t.err(f"printf: {arg}: invalid number\n")
                        out.append("0")
                        status = 1
                else:
                    out.append(arg)
            else:
                out.append(c)
                i += 1
        t.out("".join(out))
        if not rest:
            return status


def _true(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    return 0


def _false(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    return 1


def _pwd(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    t.out(ctx.cwd + "\n")
    return 0


def _env(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    for k, v in ctx.env.items():
        t.out(f"{k}={v}\n")
    return 0


def _cat(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    _, paths, err = _flags(args, "u")
    if err:
        t.err(f"cat: {err}\n")
        return 1
    status = 0
    for p in paths or ["-"]:
        try:
            for chunk in _operand(t, ctx, p, 256 * 1024):
                t.out(chunk)
        except FsError as exc:
            t.err(f"cat: {p}: {exc.strerror}\n")
            status = 1
    return status


def _operand(t: ThreadIO, ctx: ProcContext, path: str, size: int) -> Iterator[bytes]:
    """A file operand's content in chunks of `size` (`-` is stdin); FsError if the file
    cannot be opened, before any chunk."""
    if path == "-":
        while chunk := t.read_stdin():
            yield chunk
        return
    fd = ctx.fs.open_read(path, ctx.cwd)
    try:
        while chunk := os.read(fd, size):
            yield chunk
    finally:
        os.close(fd)


def _canonical(fs: PodFS, path: str, cwd: str, missing_ok: bool) -> str:
    """The path with every symlink and `..` resolved inside the pod, as coreutils would.

    With ``missing_ok`` (``-m``) components that do not exist are kept lexically.
    """
    try:
        r = fs.resolve(path, cwd)
    except FsError as exc:
        head, tail = posixpath.split(path.rstrip("/"))
        if not missing_ok or exc.errno not in (errno.ENOENT, errno.ENOTDIR) or not head:
            raise
        return posixpath.normpath(posixpath.join(_canonical(fs, head, cwd, True), tail))
    if not r.exists and not missing_ok:
        raise FsError(errno.ENOENT, path)
    return r.path


def _realpath(t: ThreadIO, ctx: ProcContext, args: list[str], prog: str = "realpath") -> int:
    flags, paths, err = _flags(args, "emqfzs", {"--canonicalize-missing": "m"})
    if err or not paths:
        t.err(f"{prog}: {err or 'missing operand'}\n")
        return 1
    status = 0
    for p in paths:
        try:
            t.out(_canonical(ctx.fs, p, ctx.cwd, "m" in flags) + "\n")
        except FsError as exc:
            if "q" not in flags:
                t.err(f"{prog}: {p}: {exc.strerror}\n")
            status = 1
    return status


def _readlink(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    flags, paths, _ = _flags(args, "fmenq")
    if not flags & {"f", "m", "e"}:
        t.err("readlink: only -f, -e and -m are supported here\n")
        return 1
    return _realpath(t, ctx, ["-m", *paths] if "m" in flags else paths, prog="readlink")


def _sha256sum(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    _, paths, err = _flags(args, "b", {"--binary": "b"})
    if err:
        t.err(f"sha256sum: {err}\n")
        return 1
    status = 0
    for p in paths or ["-"]:
        h = hashlib.sha256()
        try:
            for chunk in _operand(t, ctx, p, 1024 * 1024):
                h.update(chunk)
                t.check()
        except FsError as exc:
            t.err(f"sha256sum: {p}: {exc.strerror}\n")
            status = 1
            continue
        t.out(f"{h.hexdigest()}  {p}\n")
    return status


def _mode_of(st: os.stat_result | None) -> int:
    return st.st_mode if st is not None else (stat_mod.S_IFDIR | 0o755)


def _ls_long(name: str, st: os.stat_result | None, host: str | None) -> str:
    mode = stat_mod.filemode(_mode_of(st))
    nlink = st.st_nlink if st else 2
    owner = _user(st.st_uid if st else 0)
    group = _user(st.st_gid if st else 0)
    size = st.st_size if st else 4096
    mtime = st.st_mtime if st else time.time()
    when = datetime.fromtimestamp(mtime, timezone.utc)
    recent = abs(time.time() - mtime) < 182 * 86400
    stamp = when.strftime("%b %e %H:%M") if recent else when.strftime("%b %e  %Y")
    line = f"{mode} {nlink} {owner} {group} {size:>8} {stamp} {name}"
    if st is not None and stat_mod.S_ISLNK(st.st_mode) and host:
        with contextlib.suppress(OSError):
            line += f" -> {os.readlink(host)}"
    return line


def _user(uid: int) -> str:
    return "root" if uid == 0 else str(uid)


def _ls(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    flags, paths, err = _flags(args, "laA1hdtrS", {"--all": "a"})
    if err:
        t.err(f"ls: {err}\n")
        return 2
    long, show_all = "l" in flags, "a" in flags
    status = 0
    files: list[tuple[str, os.stat_result | None, str | None]] = []
    dirs: list[str] = []
    for p in paths or ["."]:
        try:
            r, st = ctx.fs.lstat(p, ctx.cwd)
            if st is not None and stat_mod.S_ISLNK(st.st_mode) and not long:
                _r2, st2 = ctx.fs.stat(p, ctx.cwd)
                if st2 is None or stat_mod.S_ISDIR(st2.st_mode):
                    dirs.append(p)
                    continue
        except FsError as exc:
            t.err(f"ls: cannot access '{p}': {exc.strerror}\n")
            status = 2
            continue
        if (st is None or stat_mod.S_ISDIR(st.st_mode)) and "d" not in flags:
            dirs.append(p)
        else:
            files.append((p, st, str(r.host) if r.host else None))
    for name, st, host in files:
        t.out((_ls_long(name, st, host) if long else name) + "\n")
    for i, d in enumerate(dirs):
        if len(dirs) + len(files) > 1:
            t.out(("\n" if i or files else "") + f"{d}:\n")
        try:
            names = ctx.fs.listdir(d, ctx.cwd)
        except FsError as exc:
            t.err(f"ls: cannot open directory '{d}': {exc.strerror}\n")
            status = 2
            continue
        if show_all:
            names = [".", "..", *names]
        elif "A" not in flags:
            names = [n for n in names if not n.startswith(".")]
        entries: list[tuple[str, os.stat_result | None, str | None]] = []
        total_blocks = 0
        for n in names:
            child = posixpath.join(d, n)
            try:
                r, st = ctx.fs.lstat(child, ctx.cwd)
            except FsError:
                entries.append((n, None, None))
                continue
            if st is not None:
                total_blocks += st.st_blocks
            entries.append((n, st, str(r.host) if r.host else None))
        if long:
            t.out(f"total {total_blocks // 2}\n")
        for n, st, host in entries:
            t.out((_ls_long(n, st, host) if long else n) + "\n")
    return status


def _stat_format(fmt: str, p: str, st: os.stat_result | None, host: str | None) -> str:
    mode = _mode_of(st)
    size = st.st_size if st else 4096
    mtime = st.st_mtime if st else time.time()

    def when(ts: float) -> str:
        d = datetime.fromtimestamp(ts, timezone.utc)
        return d.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(ts * 1e9) % 10**9:09d} +0000"

    def kind() -> str:
        if stat_mod.S_ISDIR(mode):
            return "directory"
        if stat_mod.S_ISLNK(mode):
            return "symbolic link"
        if stat_mod.S_ISREG(mode):
            return "regular empty file" if size == 0 else "regular file"
        return "special file"

    atime = st.st_atime if st else mtime
    ctime = st.st_ctime if st else mtime
    table: dict[str, Callable[[], str]] = {
        "s": lambda: str(size),
        "n": lambda: p,
        "N": lambda: f"'{p}'",
        "Y": lambda: str(int(mtime)),
        "X": lambda: str(int(atime)),
        "Z": lambda: str(int(ctime)),
        "y": lambda: when(mtime),
        "x": lambda: when(atime),
        "z": lambda: when(ctime),
        "F": kind,
        "a": lambda: f"{stat_mod.S_IMODE(mode):o}",
        "A": lambda: stat_mod.filemode(mode),
        "u": lambda: str(st.st_uid if st else 0),
        "g": lambda: str(st.st_gid if st else 0),
        "U": lambda: _user(st.st_uid if st else 0),
        "G": lambda: _user(st.st_gid if st else 0),
        "b": lambda: str(st.st_blocks if st else 8),
        "B": lambda: "512",
        "i": lambda: str(st.st_ino if st else 0),
        "h": lambda: str(st.st_nlink if st else 2),
        "%": lambda: "%",
    }
    out = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%" and i + 1 < len(fmt):
            fn = table.get(fmt[i + 1])
            out.append(fn() if fn else "?")
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


_STAT_DEFAULT = (
    "  File: %n\n  Size: %s\tBlocks: %b          IO Block: 4096   %F\n"
    "Access: (0%a/%A)  Uid: (%u/%U)   Gid: (%g/%G)\n"
    "Access: %x\nModify: %y\nChange: %z\n"
)


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def _stat(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    fmt: str | None = None
    printf = False
    follow = False
    paths: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "-c" or a == "--format":
            if i >= len(args):
                t.err("stat: option requires an argument -- 'c'\n")
                return 1
            fmt = args[i]
            i += 1
        elif a.startswith("--format="):
            fmt = a.split("=", 1)[1]
        elif a.startswith("--printf="):
            fmt, printf = _unescape(a.split("=", 1)[1]), True
        elif a.startswith("-c") and len(a) > 2:
            fmt = a[2:]
        elif a in ("-L", "--dereference"):
            follow = True
        elif a.startswith("-") and a != "-":
            t.err(f"stat: invalid option -- '{a.lstrip('-')[:1]}'\n")
            return 1
        else:
            paths.append(a)
    if not paths:
        t.err("stat: missing operand\n")
        return 1
    status = 0
    for p in paths:
        try:
            r, st = ctx.fs.stat(p, ctx.cwd) if follow else ctx.fs.lstat(p, ctx.cwd)
        except FsError as exc:
            t.err(f"stat: cannot statx '{p}': {exc.strerror}\n")
            status = 1
            continue
        host = str(r.host) if r.host else None
        if fmt is None:
            t.out(_stat_format(_STAT_DEFAULT, p, st, host))
        else:
            t.out(_stat_format(fmt, p, st, host) + ("" if printf else "\n"))
    return status


def _rm(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    flags, paths, err = _flags(
        args, "rRfvd", {"--recursive": "r", "--force": "f", "--no-preserve-root": "N"}
    )
    if err:
        t.err(f"rm: {err}\n")
        return 1
    force, recursive = "f" in flags, bool({"r", "R"} & flags)
    if not paths and not force:
        t.err("rm: missing operand\n")
        return 1
    status = 0
    for p in paths:
        try:
            r = ctx.fs.resolve(p, ctx.cwd, follow=False)
        except FsError as exc:
            if not (force and exc.errno == errno.ENOENT):
                t.err(f"rm: cannot remove '{p}': {exc.strerror}\n")
                status = 1
            continue
        if r.path == "/" and recursive:
            t.err("rm: it is dangerous to operate recursively on '/'\n")
            t.err("rm: use --no-preserve-root to override this failsafe\n")
            status = 1
            continue
        if not r.exists:
            if not force:
                t.err(f"rm: cannot remove '{p}': No such file or directory\n")
                status = 1
            continue
        if r.host is None or (r.mount is not None and r.mount.read_only):
            t.err(f"rm: cannot remove '{p}': Read-only file system\n")
            status = 1
            continue
        st = os.lstat(r.host)
        is_dir = stat_mod.S_ISDIR(st.st_mode)
        if is_dir and not recursive:
            t.err(f"rm: cannot remove '{p}': Is a directory\n")
            status = 1
            continue
        if ctx.fs.is_mount_point(r):
            # A mount point: its contents go, the directory itself stays busy.
            if is_dir:
                for name in os.listdir(r.host):
                    status |= _remove_host(t, r.host / name, f"{p.rstrip('/')}/{name}")
            t.err(f"rm: cannot remove '{p}': Device or resource busy\n")
            status = 1
            continue
        status |= _remove_host(t, r.host, p)
    return status


def _remove_host(t: ThreadIO, host: os.PathLike[str], shown: str) -> int:
    """Delete a host path that resolution already placed inside a mount; never follows links."""
    t.check()
    failed = []

    def onerror(_fn: object, _path: str, exc: tuple[type, BaseException, object]) -> None:
        failed.append(exc[1])

    try:
        st = os.lstat(host)
        if stat_mod.S_ISDIR(st.st_mode):
            shutil.rmtree(host, onerror=onerror)
        else:
            os.unlink(host)
    except OSError as exc:
        failed.append(exc)
    if failed:
        exc0 = failed[0]
        reason = exc0.strerror if isinstance(exc0, OSError) and exc0.strerror else str(exc0)
        t.err(f"rm: cannot remove '{shown}': {reason}\n")
        return 1
    return 0


def _mkdir(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    flags, paths, err = _flags(args, "pv", {"--parents": "p"})
    if err:
        t.err(f"mkdir: {err}\n")
        return 1
    if not paths:
        t.err("mkdir: missing operand\n")
        return 1
    status = 0
    for p in paths:
        full = p if p.startswith("/") else posixpath.join(ctx.cwd, p)
        steps = [full] if "p" not in flags else _prefixes(full)
        for step in steps:
            try:
                r = ctx.fs.resolve(step, ctx.cwd)
                if r.exists:
                    if step == steps[-1] and "p" not in flags:
                        raise FsError(errno.EEXIST, p)
                    if not ctx.fs.is_dir(step):
                        raise FsError(errno.ENOTDIR if step != steps[-1] else errno.EEXIST, p)
                    continue
                os.mkdir(r.writable())
            except FsError as exc:
                t.err(f"mkdir: cannot create directory '{p}': {exc.strerror}\n")
                status = 1
                break
            except OSError as exc:
                t.err(f"mkdir: cannot create directory '{p}': {exc.strerror}\n")
                status = 1
                break
    return status


def _prefixes(path: str) -> list[str]:
    parts = [x for x in path.split("/") if x]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _touch(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    _, paths, err = _flags(args, "c")
    if err:
        t.err(f"touch: {err}\n")
        return 1
    status = 0
    for p in paths:
        try:
            r = ctx.fs.resolve(p, ctx.cwd)
            host = r.writable()
            fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            os.close(fd)
            os.utime(host)
        except FsError as exc:
            t.err(f"touch: cannot touch '{p}': {exc.strerror}\n")
            status = 1
        except OSError as exc:
            t.err(f"touch: cannot touch '{p}': {exc.strerror}\n")
            status = 1
    return status


def _test(t: ThreadIO, ctx: ProcContext, args: list[str], bracket: bool = False) -> int:
    if bracket:
        if not args or args[-1] != "]":
            t.err("[: missing ']'\n")
            return 2
        args = args[:-1]
    negate = False
    while args and args[0] == "!":
        negate = not negate
        args = args[1:]
    try:
        result = _test_expr(ctx.fs, ctx.cwd, args)
    except ValueError as exc:
        t.err(f"{'[' if bracket else 'test'}: {exc}\n")
        return 2
    return 0 if result != negate else 1


def _test_expr(fs: PodFS, cwd: str, args: list[str]) -> bool:
    if not args:
        return False
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, arg = args
        if op == "-z":
            return arg == ""
        if op == "-n":
            return arg != ""
        if op in ("-e", "-f", "-d", "-s", "-r", "-w", "-x", "-L", "-h"):
            try:
                if op in ("-L", "-h"):
                    _, st = fs.lstat(arg, cwd)
                    return st is not None and stat_mod.S_ISLNK(st.st_mode)
                r, st = fs.stat(arg, cwd)
            except FsError:
                return False
            mode = _mode_of(st)
            return {
                "-e": True,
                "-f": stat_mod.S_ISREG(mode),
                "-d": stat_mod.S_ISDIR(mode),
                "-s": st is None or st.st_size > 0,
                "-r": True,
                "-w": r.mount is not None and not r.mount.read_only,
                "-x": bool(mode & 0o111),
            }[op]
        raise ValueError(f"{op}: unary operator expected")
    if len(args) == 3:
        a, op, b = args
        if op in ("=", "=="):
            return a == b
        if op == "!=":
            return a != b
        ints = {"-eq", "-ne", "-lt", "-le", "-gt", "-ge"}
        if op in ints:
            try:
                x, y = int(a), int(b)
            except ValueError:
                raise ValueError("integer expression expected") from None
            return {
                "-eq": x == y,
                "-ne": x != y,
                "-lt": x < y,
                "-le": x <= y,
                "-gt": x > y,
                "-ge": x >= y,
            }[op]
        raise ValueError(f"{op}: binary operator expected")
    raise ValueError("too many arguments")


def _df(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    return diskcmds.df(t, ctx.fs, args, ctx.cwd, ctx.root)


def _du(t: ThreadIO, ctx: ProcContext, args: list[str]) -> int:
    return diskcmds.du(t, ctx.fs, args, ctx.cwd)


THREAD_COMMANDS: dict[str, ThreadCommand] = {
    "cat": _cat,
    "df": _df,
    "du": _du,
    "echo": _echo,
    "env": _env,
    "false": _false,
    "ls": _ls,
    "mkdir": _mkdir,
    "printf": _printf,
    "pwd": _pwd,
    "readlink": _readlink,
    "realpath": _realpath,
    "rm": _rm,
    "sha256sum": _sha256sum,
    "stat": _stat,
    "test": _test,
    "[": lambda t, c, a: _test(t, c, a, bracket=True),
    "touch": _touch,
    "true": _true,
}
