"""The downloader image installs our project without its dependencies, then httpx alone
(Dockerfile): the downloader must work with Textual, the kubernetes client, PyYAML and
humanize absent. Run here with those made unimportable, over real sockets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from simcluster.modelserver import ModelServer
from tests.downloader.conftest import ROOT, TlsServer, _env, parse_events, serve, sha256_of

NOT_IN_THE_IMAGE = ("textual", "kubernetes", "yaml", "humanize", "urllib3", "rich")

# Runs the downloader as `python -m actions.downloader` would, after making every package the
# image leaves out fail to import, as it would there.
_WITHOUT = f"""
import runpy, sys
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_IN_THE_IMAGE!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in the image)")
        return None
sys.meta_path.insert(0, Absent())
sys.argv = ["asr-cache-download", *sys.argv[1:]]
runpy.run_module("actions.downloader", run_name="__main__", alter_sys=True)
"""


def _run_without(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT, *args, "--progress=json"],
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_download_and_verify_need_only_httpx(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 3 * 1024 * 1024, seed=41)
    cache = tmp_path / "cache"
    done = _run_without("--cache-dir", str(cache), "--checksum", f"sha256:{f.sha256}", url)
    assert done.returncode == 0, done.stderr
    assert [e["event"] for e in parse_events(done.stdout)][-1] == "done"
    assert sha256_of(cache / "model.bin") == f.sha256

    checked = _run_without("verify", str(cache / "model.bin"), "--checksum", f"sha256:{f.sha256}")
    assert checked.returncode == 0, checked.stderr


def test_https_needs_only_httpx(tls_model_server: TlsServer, tmp_path: Path) -> None:
    f, url = serve(tls_model_server.server, 1024 * 1024, seed=42)
    done = _run_without(
        "--cache-dir",
        str(tmp_path),
        "--workers",
        "2",
        url,
        env={"SSL_CERT_FILE": str(tls_model_server.ca)},
    )
    assert done.returncode == 0, done.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_the_blocker_really_blocks() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _WITHOUT.replace("runpy.run_module", "import yaml  #"), "x"],
        env=_env(None),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert probe.returncode != 0 and "not in the image" in probe.stderr
