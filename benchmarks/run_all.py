"""Run every benchmark in turn (``make bench``); each prints its own markdown table.

They run one after another in separate processes so none measures another's leftovers.
Several minutes in all: the downloader benchmark moves 1 GiB files many times.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("bench_download", "bench_simcluster", "bench_collectors", "bench_tui")


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"\n## benchmarks.{name}\n", flush=True)
        if subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], check=False).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
