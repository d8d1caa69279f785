"""A small POSIX-like `sh`: what `sh -c '...'` in a pod spec or an exec usually holds.

Supported: quoting ('…', "…", backslash), $VAR / ${VAR} / ${VAR:-default} / $?, globs
expanded inside the pod's view, `;` `&&` `||` and newlines, `# comments`, `NAME=value`,
redirections (`>`, `>>`, `<`, `2>`, `2>&1`, `>&2`, with /dev/null), and the builtins
`exit`, `cd`, `export`, `unset`, `set -e`, `:` and `exec`. Pipes, loops, `if` and command
substitution are refused with a clear message (exit 2) rather than misread.
"""

from __future__ import annotations

import asyncio
import errno
import fnmatch
import functools
import os
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from simcluster.kubelet.commands import run_command
from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.fs import FsError, PodFS
from simcluster.kubelet.procio import ProcIO, Redirected, discard

MAX_SCRIPT = 1024 * 1024
UNSUPPORTED_WORDS = {"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done",
                     "case", "esac", "function", "{", "}", "(", ")"}  # fmt: skip


class ShellError(Exception):
    """A script this shell cannot run; printed as `sh: 1: …` with exit 2."""


@dataclass
class Seg:
    text: str
    quoted: bool
    var: bool = False
    default: str | None = None


@dataclass
class Word:
    segs: list[Seg] = field(default_factory=list)


@dataclass(frozen=True)
class Op:
    op: str  # ; && || | & > >> < 2> 2>> 2>&1 >&2 NL


Token = Word | Op
REDIRS = {">", ">>", "<", "2>", "2>>", "1>", "1>>"}


def _keyword(word: Word) -> bool:
    return (
        len(word.segs) == 1
        and not word.segs[0].quoted
        and not word.segs[0].var
        and word.segs[0].text in UNSUPPORTED_WORDS
    )


def _is_fd(word: Word) -> bool:
    return len(word.segs) == 1 and not word.segs[0].quoted and word.segs[0].text in ("1", "2")


def _dollar(text: str, i: int, emit: Callable[[Seg], None], quoted: bool) -> int:
    """Parse a `$…` at text[i]; emit a var Seg (or a literal `$`)."""
    n = len(text)
    if i + 1 >= n:
        emit(Seg("$", quoted))
        return i + 1
    c = text[i + 1]
    if c == "(":
        raise ShellError("command substitution is not supported by this shell")
    if c == "{":
        j = text.find("}", i + 2)
        if j < 0:
            raise ShellError("Syntax error: Missing '}'")
        body = text[i + 2 : j]
        name, sep, default = body.partition(":-")
        emit(Seg(name, quoted, var=True, default=default if sep else None))
        return j + 1
    if c in "?$#0123456789":
        emit(Seg(c, quoted, var=True))
        return i + 2
    j = i + 1
    while j < n and (text[j].isalnum() or text[j] == "_"):
        j += 1
    if j == i + 1:
        emit(Seg("$", quoted))
        return i + 1
    emit(Seg(text[i + 1 : j], quoted, var=True))
    return j


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = []
        self.word: Word | None = None

    def seg(self, seg: Seg) -> None:
        if self.word is None:
            self.word = Word()
        self.word.segs.append(seg)

    def end(self) -> None:
        if self.word is not None:
            self.tokens.append(self.word)
            self.word = None

    def run(self) -> list[Token]:
        text, n, i = self.text, len(self.text), 0
        while i < n:
            c = text[i]
            if c in " \t":
                self.end()
                i += 1
            elif c == "\n":
                self.end()
                self.tokens.append(Op("NL"))
                i += 1
            elif c == "#" and self.word is None:
                while i < n and text[i] != "\n":
                    i += 1
            elif c == "\\":
                if i + 1 < n and text[i + 1] == "\n":
                    i += 2
                    continue
                self.seg(Seg(text[i + 1 : i + 2], True))
                i += 2
            elif c == "'":
                j = text.find("'", i + 1)
                if j < 0:
                    raise ShellError("Syntax error: Unterminated quoted string")
                self.seg(Seg(text[i + 1 : j], True))
                i = j + 1
            elif c == '"':
                i = self._dq(i + 1)
            elif c == "$":
                i = _dollar(text, i, self.seg, quoted=False)
            elif c == "`":
                raise ShellError("command substitution is not supported by this shell")
            elif c in "()":
                raise ShellError("subshells and functions are not supported by this shell")
            elif c in ";&|<>":
                i = self._op(i)
            else:
                self.seg(Seg(c, False))
                i += 1
        self.end()
        return self.tokens

    def _dq(self, i: int) -> int:
        text, n = self.text, len(self.text)
        buf: list[str] = []
        self.seg(Seg("", True))  # "" is still a word
        while i < n:
            c = text[i]
            if c == '"':
                self.seg(Seg("".join(buf), True))
                return i + 1
            if c == "\\" and i + 1 < n and text[i + 1] in '$`"\\\n':
                buf.append(text[i + 1] if text[i + 1] != "\n" else "")
                i += 2
            elif c == "$":
                self.seg(Seg("".join(buf), True))
                buf = []
                i = _dollar(text, i, self.seg, quoted=True)
            elif c == "`":
                raise ShellError("command substitution is not supported by this shell")
            else:
                buf.append(c)
                i += 1
        raise ShellError("Syntax error: Unterminated quoted string")

    def _op(self, i: int) -> int:
        text = self.text
        c = text[i]
        fd = ""
        if c in "<>" and self.word is not None and _is_fd(self.word):
            fd = self.word.segs[0].text
            self.word = None
        self.end()
        two = text[i : i + 2]
        if two in ("&&", "||", ">>"):
            op, i = two, i + 2
        else:
            op, i = c, i + 1
        if op in (">", ">>") and text[i : i + 2] in ("&1", "&2"):
            op, i = f"{fd}{op}{text[i : i + 2]}", i + 2
        elif op in (">", ">>", "<"):
            op = f"{fd}{op}"
        self.tokens.append(Op(op))
        return i


def lex(text: str) -> list[Token]:
    return _Lexer(text).run()


# -- execution ----------------------------------------------------------------------------


@dataclass
class ShellState:
    vars: dict[str, str]
    cwd: str
    status: int = 0
    errexit: bool = False
    exited: bool = False
    args: list[str] = field(default_factory=list)


@dataclass
class Simple:
    words: list[Word]
    redirs: list[tuple[str, Word | None]]


def parse(tokens: list[Token]) -> list[tuple[str, Simple]]:
    """Flatten into (connector, command) pairs; connector is ';', '&&' or '||'."""
    out: list[tuple[str, Simple]] = []
    connector = ";"
    cur = Simple([], [])
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if isinstance(tok, Word):
            if not cur.words and _keyword(tok):
                raise ShellError(f"'{tok.segs[0].text}' is not supported by this shell")
            cur.words.append(tok)
            continue
        op = tok.op
        if op in ("|", "&"):
            raise ShellError(
                "pipes are not supported by this shell"
                if op == "|"
                else "background jobs (&) are not supported by this shell"
            )
        if op in (";", "NL", "&&", "||"):
            if cur.words or cur.redirs:
                out.append((connector, cur))
                cur = Simple([], [])
                connector = ";" if op == "NL" else op
            elif op in ("&&", "||", ";"):
                raise ShellError(f'Syntax error: "{op}" unexpected')
            continue
        if op.endswith("&1") or op.endswith("&2"):
            cur.redirs.append((op, None))
            continue
        if i >= len(tokens) or not isinstance(tokens[i], Word):
            raise ShellError("Syntax error: redirection without a file name")
        target = tokens[i]
        assert isinstance(target, Word)
        cur.redirs.append((op, target))
        i += 1
    if connector in ("&&", "||") and not (cur.words or cur.redirs):
        raise ShellError("Syntax error: end of file unexpected")
    if cur.words or cur.redirs:
        out.append((connector, cur))
    return out


def _var(state: ShellState, seg: Seg) -> str:
    name = seg.text
    if name == "?":
        value: str | None = str(state.status)
    elif name == "$":
        value = "1"
    elif name == "#":
        value = str(max(0, len(state.args) - 1))
    elif name.isdigit():
        k = int(name)
        value = state.args[k] if k < len(state.args) else ""
    else:
        value = state.vars.get(name)
    if not value and seg.default is not None:
        return seg.default
    return value or ""


def expand(word: Word, state: ShellState, fs: PodFS) -> list[str]:
    text = "".join(_var(state, s) if s.var else s.text for s in word.segs)
    globbing = any(
        not s.quoted and not s.var and any(ch in s.text for ch in "*?[") for s in word.segs
    )
    if not globbing:
        return [text]
    matches = glob(fs, text, state.cwd)
    return matches or [text]


def glob(fs: PodFS, pattern: str, cwd: str) -> list[str]:
    """Expand a glob in the pod's view; hidden names only when the pattern asks for them."""
    absolute = pattern.startswith("/")
    parts = [p for p in pattern.split("/") if p]
    results = ["/" if absolute else ""]
    for part in parts:
        nxt: list[str] = []
        for base in results:
            if not any(ch in part for ch in "*?["):
                nxt.append(posixpath.join(base, part) if base else part)
                continue
            try:
                names = fs.listdir(base or ".", cwd)
            except FsError:
                continue
            for name in names:
                if name.startswith(".") and not part.startswith("."):
                    continue
                if fnmatch.fnmatchcase(name, part):
                    nxt.append(posixpath.join(base, name) if base else name)
        results = nxt
    existing = []
    for r in results:
        try:
            if fs.resolve(r, cwd, follow=False).exists:
                existing.append(r)
        except FsError:
            continue
    return sorted(existing)


async def run_script(script: str, ctx: ProcContext, state: ShellState) -> int:
    try:
        commands = parse(lex(script))
    except ShellError as exc:
        await ctx.io.write_stderr(f"sh: 1: {exc}\n".encode())
        return 2
    for connector, cmd in commands:
        if connector == "&&" and state.status != 0:
            continue
        if connector == "||" and state.status == 0:
            continue
        try:
            state.status = await _run_simple(cmd, ctx, state)
        except ShellError as exc:
            await ctx.io.write_stderr(f"sh: 1: {exc}\n".encode())
            state.status = 2
        if state.exited:
            break
        if state.errexit and state.status != 0 and connector == ";":
            break
    return state.status


async def _run_simple(cmd: Simple, ctx: ProcContext, state: ShellState) -> int:
    argv: list[str] = []
    assigns: dict[str, str] = {}
    for w in cmd.words:
        if not argv and _assignment(w):
            raw = w.segs[0].text
            name, _, first = raw.partition("=")
            rest = Word([Seg(first, w.segs[0].quoted), *w.segs[1:]])
            assigns[name] = "".join(expand(rest, state, ctx.fs))
            continue
        argv.extend(expand(w, state, ctx.fs))
    if not argv:
        state.vars.update(assigns)
        return 0
    if argv[0] in UNSUPPORTED_WORDS:
        raise ShellError(f"'{argv[0]}' is not supported by this shell")
    builtin = await _builtin(argv, ctx, state)
    if builtin is not None:
        return builtin
    io, closers = await _redirect(cmd.redirs, ctx, state)
    sub = replace(ctx, io=io, env={**state.vars, **assigns}, cwd=state.cwd)
    try:
        return await run_command(argv, sub)
    finally:
        for close in closers:
            await asyncio.to_thread(close)


def _assignment(w: Word) -> bool:
    if not w.segs or w.segs[0].quoted or w.segs[0].var:
        return False
    name, sep, _ = w.segs[0].text.partition("=")
    return bool(sep) and name.replace("_", "a").isalnum() and not name[0].isdigit()


async def _builtin(argv: list[str], ctx: ProcContext, state: ShellState) -> int | None:
    name, args = argv[0], argv[1:]
    if name == ":":
        return 0
    if name == "exit":
        state.exited = True
        if not args:
            return state.status
        try:
            return int(args[0]) & 0xFF
        except ValueError:
            await ctx.io.write_stderr(f"sh: 1: exit: Illegal number: {args[0]}\n".encode())
            return 2
    if name == "cd":
        target = args[0] if args else "/"
        if not ctx.fs.is_dir(target, state.cwd):
            await ctx.io.write_stderr(f"sh: 1: cd: can't cd to {target}\n".encode())
            return 2
        state.cwd = ctx.fs.resolve(target, state.cwd).path
        return 0
    if name == "export":
        for a in args:
            k, sep, v = a.partition("=")
            if sep:
                state.vars[k] = v
        return 0
    if name == "unset":
        for a in args:
            state.vars.pop(a, None)
        return 0
    if name == "set":
        for a in args:
            if a.startswith("-") and "e" in a:
                state.errexit = True
            elif a.startswith("+") and "e" in a:
                state.errexit = False
        return 0
    if name == "exec" and args:
        state.exited = True
        return await _exec_replace(args, ctx, state)
    return None


async def _exec_replace(args: list[str], ctx: ProcContext, state: ShellState) -> int:
    return await run_command(args, replace(ctx, env=dict(state.vars), cwd=state.cwd))


async def _redirect(
    redirs: list[tuple[str, Word | None]], ctx: ProcContext, state: ShellState
) -> tuple[ProcIO, list[Callable[[], None]]]:
    """Build the ProcIO a command sees after its redirections; returns (io, closers)."""
    io: ProcIO = ctx.io
    closers: list[Callable[[], None]] = []
    for op, target in redirs:
        if target is None:
            if op.endswith(">&1"):
                io = Redirected(io, stderr=io.write_stdout)
            else:
                io = Redirected(io, stdout=io.write_stderr)
            continue
        names = expand(target, state, ctx.fs)
        if len(names) != 1:
            raise ShellError(f"{''.join(s.text for s in target.segs)}: ambiguous redirect")
        path = names[0]
        if op == "<":
            if path == "/dev/null":
                io = Redirected(io, stdin=ProcIO())
                continue
            fd = await asyncio.to_thread(ctx.fs.open_read, path, state.cwd)
            io = Redirected(io, stdin=_FdReader(fd))
            closers.append(functools.partial(os.close, fd))
            continue
        sink: Callable[[bytes], Awaitable[None]] = discard
        if path != "/dev/null":
            fd = await asyncio.to_thread(_open_write, ctx.fs, path, state.cwd, op.endswith(">>"))
            closers.append(functools.partial(os.close, fd))
            sink = _fd_writer(fd)
        io = Redirected(io, stderr=sink) if op.startswith("2") else Redirected(io, stdout=sink)
    return io, closers


def _open_write(fs: PodFS, path: str, cwd: str, append: bool) -> int:
    try:
        r = fs.resolve(path, cwd)
        host = r.writable()
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if append else os.O_TRUNC)
        return os.open(host, flags, 0o644)
    except FsError as exc:
        raise ShellError(f"cannot create {path}: {exc.strerror}") from None
    except OSError as exc:
        raise ShellError(f"cannot create {path}: {os.strerror(exc.errno or errno.EIO)}") from None


def _fd_writer(fd: int) -> Callable[[bytes], Awaitable[None]]:
    async def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[await asyncio.to_thread(os.write, fd, view) :]

    return write


class _FdReader(ProcIO):
    def __init__(self, fd: int) -> None:
        self.fd = fd

    async def read_stdin(self, n: int = 65536) -> bytes:
        return await asyncio.to_thread(os.read, self.fd, n)


async def run_sh(args: list[str], ctx: ProcContext) -> int:
    """`sh -c SCRIPT [NAME ARGS…]`, `sh FILE`, or `sh` reading its script from stdin."""
    errexit = False
    script: str | None = None
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        flag = args[i]
        i += 1
        if "e" in flag:
            errexit = True
        if "c" in flag:
            if i >= len(args):
                await ctx.io.write_stderr(b"sh: 0: -c requires an argument\n")
                return 2
            script = args[i]
            i += 1
            break
    positional = args[i:]
    if script is None:
        if positional:
            try:
                fd = await asyncio.to_thread(ctx.fs.open_read, positional[0], ctx.cwd)
            except FsError as exc:
                msg = f"sh: 0: cannot open {positional[0]}: {exc.strerror}\n"
                await ctx.io.write_stderr(msg.encode())
                return 2
            try:
                script = (await asyncio.to_thread(os.read, fd, MAX_SCRIPT)).decode(errors="replace")
            finally:
                os.close(fd)
        else:
            chunks = []
            size = 0
            while size < MAX_SCRIPT and (chunk := await ctx.io.read_stdin()):
                chunks.append(chunk)
                size += len(chunk)
            script = b"".join(chunks).decode(errors="replace")
        argv0 = ["sh", *positional[1:]] if positional else ["sh"]
    else:
        argv0 = positional if positional else ["sh"]
    state = ShellState(vars=dict(ctx.env), cwd=ctx.cwd, errexit=errexit, args=argv0)
    return await run_script(script, ctx, state)
