"""The downloader's settings from flags and the model-storage guide's environment variables.

Flags win over the environment, the environment over the defaults. Every bad value is a
UsageError whose one sentence names the flag or variable it came from.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from collectors.redact import redact_url
from collectors.units import SizeError, parse_size

from .errors import UsageError
from .layout import check_version, sanitize_name

DEFAULT_CACHE_DIR = "/app/models"
DEFAULT_WORKERS = 4
DEFAULT_RETRIES = 5
DEFAULT_TIMEOUT = 3600.0
DEFAULT_STALL_TIMEOUT = 30.0
DEFAULT_MAX_CACHE_SIZE = "50GB"
MAX_WORKERS = 32
PROGRESS_MODES = ("auto", "json", "human", "none")

_CHECKSUM = re.compile(r"^sha256:([0-9a-fA-F]{64})$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NO_LIMIT = {"", "0", "none", "unlimited", "off"}


@dataclass(frozen=True)
class DownloadConfig:
    """Everything one download run needs; checksums line up with urls (None: not given)."""

    urls: tuple[str, ...]
    cache_dir: Path
    version: str | None
    output: str | None
    workers: int
    resume: bool
    retries: int
    timeout: float | None
    stall_timeout: float
    checksums: tuple[str | None, ...]
    validate: bool
    max_cache_size: int | None
    eviction: str
    progress: str


@dataclass(frozen=True)
class VerifyConfig:
    """`verify PATH`: hash an existing file, compare with the checksum when one is given."""

    path: Path
    checksum: str | None
    progress: str


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so every usage error takes one path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _ArgumentError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="asr-cache-download",
        description=(
            "Download model files into a verified, size-capped cache: parallel ranged "
            "workers, resume, retries, sha256 verification, atomic placement. "
            "`asr-cache-download verify PATH` checksums an existing file."
        ),
    )
    p.add_argument(
        "urls", nargs="*", metavar="URL", help="model URL(s): http, https or file [MODEL_URL]"
    )
    p.add_argument("--cache-dir", help=f"cache directory [MODEL_CACHE_DIR, {DEFAULT_CACHE_DIR}]")
    p.add_argument("--version", dest="model_version", help="model version [MODEL_VERSION]")
    p.add_argument("--output", "-o", help="file name for a single URL (default: from the URL)")
    p.add_argument(
        "--workers", help=f"parallel connections [MODEL_DOWNLOAD_WORKERS, {DEFAULT_WORKERS}]"
    )
    p.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep and resume partial downloads [MODEL_DOWNLOAD_RESUME, on]",
    )
    p.add_argument(
        "--retries", help=f"retries per range [MODEL_DOWNLOAD_RETRIES, {DEFAULT_RETRIES}]"
    )
    p.add_argument(
        "--timeout",
        help=f"whole-run limit in seconds, 0 = none [MODEL_DOWNLOAD_TIMEOUT, {DEFAULT_TIMEOUT:g}]",
    )
    p.add_argument(
        "--stall-timeout",
        help=(
            "seconds without a byte before a connection is retried "
            f"[MODEL_DOWNLOAD_STALL_TIMEOUT, {DEFAULT_STALL_TIMEOUT:g}]"
        ),
    )
    p.add_argument(
        "--checksum",
        action="append",
        help="sha256:<64 hex>, once per URL [MODEL_CHECKSUM, comma-separated]",
    )
    p.add_argument(
        "--validate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="hash before placing the file [MODEL_VALIDATE, on]",
    )
    p.add_argument(
        "--max-cache-size",
        help=f"cache cap, e.g. 50GB, 50GiB, 500M; none = no cap "
        f"[MODEL_CACHE_MAX_SIZE, {DEFAULT_MAX_CACHE_SIZE}]",
    )
    p.add_argument("--eviction", help="lru or none [MODEL_CACHE_EVICTION, lru]")
    p.add_argument(
        "--progress",
        choices=PROGRESS_MODES,
        default="auto",
        help="json lines (default when stdout is not a terminal), human, or none",
    )
    return p


def _verify_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="asr-cache-download verify",
        description="Checksum an existing model file (the baked-image strategy).",
    )
    p.add_argument("path", nargs="?", help="the file [MODEL_PATH]")
    p.add_argument("--checksum", help="sha256:<64 hex> to compare with [MODEL_CHECKSUM]")
    p.add_argument("--progress", choices=PROGRESS_MODES, default="auto")
    return p


def _parse_args(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    try:
        return parser.parse_args(list(argv))
    except _ArgumentError as exc:
        raise UsageError(f"{exc}") from None


def _pick(flag: object, env: Mapping[str, str], var: str | None) -> tuple[object, str] | None:
    """(value, where it came from) for a flag with an env fallback; None when neither is set."""
    if flag is not None:
        return flag, "flag"
    if var is not None and env.get(var, "").strip() != "":
        return env[var].strip(), var
    return None


def _name(option: str, source: str) -> str:
    return option if source == "flag" else source


def _int(value: object, what: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise UsageError(f"{what} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise UsageError(f"{what} must be between {low} and {high}, got {number}")
    return number


def _seconds(value: object, what: str, allow_none: bool) -> float | None:
    text = str(value).strip().lower()
    if allow_none and text in _NO_LIMIT:
        return None
    try:
        number = float(text.removesuffix("s"))
    except ValueError:
        raise UsageError(f"{what} must be a number of seconds, got {value!r}") from None
    if not number > 0 or number != number or number == float("inf"):
        raise UsageError(f"{what} must be a positive number of seconds, got {value!r}")
    return number


def _bool(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"{what} must be true or false, got {value!r}")


def parse_checksum(value: str, what: str) -> str:
    """``sha256:<64 hex>`` -> the lowercase hex digest; anything else is a usage error."""
    match = _CHECKSUM.match(value.strip())
    if not match:
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise UsageError(f"{what} must be 'sha256:' followed by 64 hex digits, got {shown!r}")
    return match.group(1).lower()


def _check_url(url: str) -> str:
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UsageError(f"model URL {shown!r} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise UsageError(f"model URL {shown!r} has no host")
    elif scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise UsageError(f"model URL {shown!r} must be file:///absolute/path")
    else:
        raise UsageError(f"model URL {shown!r} must start with http://, https:// or file://")
    return url


def _progress_mode(mode: str) -> str:
    if mode != "auto":
        return mode
    try:
        return "human" if sys.stdout.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def progress_mode_hint(argv: Sequence[str]) -> str:
    """The progress mode asked for, read leniently (used to report a usage error itself)."""
    mode = "auto"
    for i, arg in enumerate(argv):
        if arg == "--progress" and i + 1 < len(argv):
            mode = argv[i + 1]
        elif arg.startswith("--progress="):
            mode = arg.split("=", 1)[1]
    return _progress_mode(mode if mode in PROGRESS_MODES else "auto")


def parse_verify(argv: Sequence[str], env: Mapping[str, str]) -> VerifyConfig:
    """`verify [PATH]` with MODEL_PATH and MODEL_CHECKSUM as fallbacks."""
    args = _parse_args(_verify_parser(), argv)
    path_pick = _pick(args.path, env, "MODEL_PATH")
    if path_pick is None:
        raise UsageError("verify needs a file: give PATH or set MODEL_PATH")
    checksum = None
    pick = _pick(args.checksum, env, "MODEL_CHECKSUM")
    if pick is not None:
        checksum = parse_checksum(str(pick[0]), _name("--checksum", pick[1]))
    return VerifyConfig(
        path=Path(str(path_pick[0])), checksum=checksum, progress=_progress_mode(args.progress)
    )


def parse_download(argv: Sequence[str], env: Mapping[str, str]) -> DownloadConfig:
    """Flags, then the guide's environment variables, then the defaults."""
    args = _parse_args(_parser(), argv)

    urls: list[str] = list(args.urls)
    if not urls and env.get("MODEL_URL", "").strip():
        urls = env["MODEL_URL"].split()
    if not urls:
        raise UsageError("no model URL: give one or more URLs or set MODEL_URL")
    urls = [_check_url(u) for u in urls]

    cache_dir = Path(
        str((_pick(args.cache_dir, env, "MODEL_CACHE_DIR") or (DEFAULT_CACHE_DIR,))[0])
    )

    version = None
    pick = _pick(args.model_version, env, "MODEL_VERSION")
    if pick is not None:
        version = check_version(str(pick[0]))

    output = None
    if args.output is not None:
        if len(urls) != 1:
            raise UsageError("--output names one file; it cannot be used with several URLs")
        if sanitize_name(args.output) != args.output:
            raise UsageError(f"--output must be a plain file name, got {args.output!r}")
        output = args.output

    workers = DEFAULT_WORKERS
    pick = _pick(args.workers, env, "MODEL_DOWNLOAD_WORKERS")
    if pick is not None:
        workers = _int(pick[0], _name("--workers", pick[1]), 1, MAX_WORKERS)

    resume = True
    pick = _pick(args.resume, env, "MODEL_DOWNLOAD_RESUME")
    if pick is not None:
        resume = _bool(pick[0], _name("--resume", pick[1]))

    retries = DEFAULT_RETRIES
    pick = _pick(args.retries, env, "MODEL_DOWNLOAD_RETRIES")
    if pick is not None:
        retries = _int(pick[0], _name("--retries", pick[1]), 0, 100)

    timeout: float | None = DEFAULT_TIMEOUT
    pick = _pick(args.timeout, env, "MODEL_DOWNLOAD_TIMEOUT")
    if pick is not None:
        timeout = _seconds(pick[0], _name("--timeout", pick[1]), allow_none=True)

    stall: float | None = DEFAULT_STALL_TIMEOUT
    pick = _pick(args.stall_timeout, env, "MODEL_DOWNLOAD_STALL_TIMEOUT")
    if pick is not None:
        stall = _seconds(pick[0], _name("--stall-timeout", pick[1]), allow_none=False)
    assert stall is not None

    checksums: list[str | None] = [None] * len(urls)
    pick = _pick(args.checksum, env, "MODEL_CHECKSUM")
    if pick is not None:
        raw = pick[0] if isinstance(pick[0], list) else re.split(r"[,\s]+", str(pick[0]))
        values = [str(v) for v in raw if str(v).strip()]
        what = _name("--checksum", pick[1])
        if len(values) != len(urls):
            raise UsageError(
                f"{what} gives {len(values)} checksum(s) for {len(urls)} URL(s); give one per URL"
            )
        checksums = [parse_checksum(v, what) for v in values]

    validate = True
    pick = _pick(args.validate, env, "MODEL_VALIDATE")
    if pick is not None:
        validate = _bool(pick[0], _name("--validate", pick[1]))

    cap_pick = _pick(args.max_cache_size, env, "MODEL_CACHE_MAX_SIZE")
    cap_text, cap_source = (
        (str(cap_pick[0]), cap_pick[1]) if cap_pick else (DEFAULT_MAX_CACHE_SIZE, "default")
    )
    max_cache_size: int | None = None
    if cap_text.strip().lower() not in _NO_LIMIT:
        try:
            max_cache_size = parse_size(cap_text)
        except SizeError:
            raise UsageError(
                f"{_name('--max-cache-size', cap_source)} must be a size like 50GB, 50GiB or "
                f"500M (or 'none'), got {cap_text!r}"
            ) from None

    eviction = "lru"
    pick = _pick(args.eviction, env, "MODEL_CACHE_EVICTION")
    if pick is not None:
        eviction = str(pick[0]).strip().lower()
        if eviction not in ("lru", "none"):
            raise UsageError(
                f"{_name('--eviction', pick[1])} must be 'lru' or 'none', got {pick[0]!r}"
            )

    return DownloadConfig(
        urls=tuple(urls),
        cache_dir=cache_dir,
        version=version,
        output=output,
        workers=workers,
        resume=resume,
        retries=retries,
        timeout=timeout,
        stall_timeout=stall,
        checksums=tuple(checksums),
        validate=validate,
        max_cache_size=max_cache_size,
        eviction=eviction,
        progress=_progress_mode(args.progress),
    )


def environment() -> Mapping[str, str]:
    return os.environ
