"""Run the model server alone (benchmarks start it as a separate process).

    python -m simcluster.modelserver --size 1GiB --port 8900 [--rate-limit 50MB] [--tls-dir D]
        [--slow-rate 10MB [--slow-requests 1]]

Prints `url=...` then `sha256=...` (one line each, flushed) once it is serving -- and with
--tls-dir, `ca=...`: the self-signed certificate a client must trust -- and runs until SIGINT
or SIGTERM. SIGUSR1 sets the faults again, so that "the first K requests" count afresh (one
slow connection per benchmark run), and prints `reset` once they are.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys
from pathlib import Path

from collectors.units import SizeError, parse_size

from ..tls import TlsError, make_self_signed
from .faults import Faults
from .server import ModelServer


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except SizeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _loopback(host: str) -> str:
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"--host must be a loopback address, got {host!r}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simcluster.modelserver",
        description="Serve one generated model file over HTTP on loopback.",
    )
    p.add_argument("--size", type=_size, required=True, help="file size, e.g. 1GiB or 500M")
    p.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    p.add_argument("--host", type=_loopback, default="127.0.0.1", help="loopback address")
    p.add_argument("--path", default="/model.bin", help="URL path of the file")
    p.add_argument("--seed", type=int, default=1, help="content seed")
    p.add_argument("--rate-limit", type=_size, default=None, help="bytes/s per connection")
    p.add_argument(
        "--slow-rate",
        type=_size,
        default=None,
        help="bytes/s of the slow responses instead of --rate-limit (a straggling connection)",
    )
    p.add_argument(
        "--slow-requests",
        type=int,
        default=1,
        help="how many ranged responses (one-byte probes aside) are slow (default 1)",
    )
    p.add_argument(
        "--tls-dir",
        type=Path,
        default=None,
        help="serve HTTPS with a self-signed certificate written to this directory",
    )
    return p


async def _serve(args: argparse.Namespace) -> None:
    cert = make_self_signed(args.tls_dir) if args.tls_dir is not None else None
    tls = cert.server_context() if cert is not None else None
    server = ModelServer(args.host, args.port, tls=tls)
    f = server.add_file(args.path, args.size, args.seed)
    faults = Faults(
        rate_limit=args.rate_limit or None,
        slow_rate=args.slow_rate or None,
        slow_requests=args.slow_requests,
    )
    server.set_faults(args.path, faults)
    # Hash before serving so the benchmark's first download does not compete with it.
    digest = await asyncio.to_thread(lambda: f.sha256)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def reset() -> None:
        server.set_faults(args.path, faults)
        print("reset", flush=True)

    loop.add_signal_handler(signal.SIGUSR1, reset)
    async with server:
        print(f"url={server.url(args.path)}", flush=True)
        print(f"sha256={digest}", flush=True)
        if cert is not None:
            print(f"ca={cert.cert_path}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.path.startswith("/"):
        print(f"error: --path must start with '/', got {args.path!r}", file=sys.stderr)
        return 2
    if args.slow_requests < 0:
        print(
            f"error: --slow-requests must not be negative, got {args.slow_requests}",
            file=sys.stderr,
        )
        return 2
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be 0-65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args))
    except TlsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
