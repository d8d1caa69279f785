"""Entry point of `asr-cache-download` and `python -m actions.downloader`.

Parses flags and environment, picks the progress output, runs a download or `verify`, and
turns every failure into its documented exit code with one clear sentence, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

from .config import parse_download, parse_verify, progress_mode_hint
from .errors import EXIT_INTERNAL, EXIT_INTERRUPTED, DownloadError
from .progress import Reporter, make_reporter


def _report(reporter: Reporter, exc: DownloadError, mode: str) -> None:
    """Errors before the run reach people on stderr and the dashboard as a JSON line."""
    if mode == "json":
        reporter.error(None, exc.code, exc.exit_code, exc.message)
    if mode != "none":
        print(f"asr-cache-download: error: {exc.message}", file=sys.stderr, flush=True)
    else:
        reporter.error(None, exc.code, exc.exit_code, exc.message)


def run(argv: Sequence[str], env: dict[str, str] | None = None) -> int:
    """Run the command line ``argv`` (without the program name); returns the exit code."""
    environ = dict(os.environ if env is None else env)
    mode = progress_mode_hint(argv)
    reporter = make_reporter(mode)
    try:
        if argv and argv[0] == "verify":
            from .verify_cmd import run_verify

            verify_config = parse_verify(argv[1:], environ)
            reporter = make_reporter(verify_config.progress)
            mode = verify_config.progress
            return run_verify(verify_config, reporter)
        config = parse_download(argv, environ)
        reporter = make_reporter(config.progress)
        mode = config.progress
        from .runner import run_download

        return run_download(config, reporter)
    except DownloadError as exc:
        _report(reporter, exc, mode)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        error = DownloadError(f"internal error: {type(exc).__name__}: {exc}")
        _report(reporter, error, mode)
        return EXIT_INTERNAL
    finally:
        reporter.close()


def main(argv: Sequence[str] | None = None) -> int:
    code = run(sys.argv[1:] if argv is None else argv)
    if argv is None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        # Worker threads may still sit in a socket read after a stop: do not wait for them.
        os._exit(code)
    return code
