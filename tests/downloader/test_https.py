"""HTTPS, as S3 and CDNs serve models: bodies through httpx (no socket fast path), trust from
SSL_CERT_FILE, a certificate we cannot trust refused once and clearly, a broken trust store
named, and plain HTTP never touching the trust store at all."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from simcluster.modelserver import Faults, ModelServer

from .conftest import TlsServer, finish, run_dl, serve, settled, sha256_of, start_dl, wait_for
from .proxy import TestProxy

MIB = 1 << 20


def test_https_download_with_a_private_ca(tls_model_server: TlsServer, tmp_path: Path) -> None:
    server, ca = tls_model_server.server, tls_model_server.ca
    f, url = serve(server, 6 * MIB, seed=41)
    assert url.startswith("https://")
    args = (url, "--cache-dir", str(tmp_path), "--workers", "4", "--checksum", f"sha256:{f.sha256}")
    res = run_dl(*args, env={"SSL_CERT_FILE": str(ca), "SSL_CERT_DIR": ""})
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256
    (done,) = res.of("done")
    assert done["sha256"] == f.sha256
    stats = settled(server, f.path)
    assert stats.requests >= 1 + 4  # the probe, then ranges on several connections
    assert stats.bytes_sent == f.size + 1  # nothing fetched twice


def test_https_dropped_connections_resume_through_httpx(
    tls_model_server: TlsServer, tmp_path: Path
) -> None:
    server, ca = tls_model_server.server, tls_model_server.ca
    faults = Faults(drop_after=MIB // 2, drop_requests=3)
    f, url = serve(server, 4 * MIB, seed=42, faults=faults)
    args = (url, "--cache-dir", str(tmp_path), "--workers", "2", "--checksum", f"sha256:{f.sha256}")
    res = run_dl(*args, env={"SSL_CERT_FILE": str(ca)})
    assert res.rc == 0, res.stderr
    assert len(res.of("retry")) >= 2
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_https_kill_9_then_resume(tls_model_server: TlsServer, tmp_path: Path) -> None:
    server, ca = tls_model_server.server, tls_model_server.ca
    f, url = serve(server, 16 * MIB, seed=43, faults=Faults(rate_limit=8 * MIB))
    args = (url, "--cache-dir", str(tmp_path), "--workers", "2", "--checksum", f"sha256:{f.sha256}")
    env = {"SSL_CERT_FILE": str(ca)}
    proc = start_dl(*args, env=env)
    wait_for(lambda: server.stats(f.path).bytes_sent >= 6 * MIB, timeout=20)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    sent_before = settled(server, f.path).bytes_sent
    assert (tmp_path / "model.bin.part").exists()
    res = finish(start_dl(*args, env=env))
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256
    (start,) = res.of("start")
    assert start["resumed_from"] > 0
    # The second run fetched what was missing, not the whole file again.
    assert settled(server, f.path).bytes_sent - sent_before < f.size - 4 * MIB


def test_an_untrusted_certificate_is_refused_once_with_advice(
    tls_model_server: TlsServer, tmp_path: Path
) -> None:
    server = tls_model_server.server
    f, url = serve(server, MIB, seed=44)
    secret_url = url + "?X-Amz-Signature=deadbeefsecret&X-Amz-Credential=AKIAEXAMPLE"
    # The machine's own CA bundle (or certifi's) does not know the test's self-signed CA.
    env = {"SSL_CERT_FILE": "", "SSL_CERT_DIR": ""}
    res = run_dl(secret_url, "--cache-dir", str(tmp_path), "--retries", "3", env=env)
    assert res.rc == 4, res.stderr
    assert res.error is not None and res.error["code"] == "http_refused"
    message = res.error["message"]
    assert message.startswith(f"the TLS certificate of 127.0.0.1:{server.port} is not trusted")
    assert "self-signed certificate" in message
    assert "SSL_CERT_FILE" in message
    assert not res.of("retry")  # the same certificate fails the same way: no retries
    for secret in ("deadbeefsecret", "AKIAEXAMPLE"):
        assert secret not in res.stdout and secret not in res.stderr
    assert server.stats(f.path).requests == 0  # no request left the client
    assert not (tmp_path / "model.bin").exists()


def test_a_trust_store_that_cannot_load_is_a_usage_error(
    tls_model_server: TlsServer, tmp_path: Path
) -> None:
    server = tls_model_server.server
    _f, url = serve(server, MIB, seed=45)
    missing = tmp_path / "no-such-bundle.pem"
    res = run_dl(url, "--cache-dir", str(tmp_path / "cache"), env={"SSL_CERT_FILE": str(missing)})
    assert res.rc == 2, res.stderr
    assert res.error is not None and res.error["code"] == "usage"
    assert res.error["message"] == (
        f"cannot load the TLS trust store from SSL_CERT_FILE={missing}: No such file or directory"
    )


def test_plain_http_never_loads_the_trust_store(model_server: ModelServer, tmp_path: Path) -> None:
    # A pod whose SSL_CERT_FILE points nowhere still downloads over plain HTTP.
    f, url = serve(model_server, 2 * MIB, seed=46)
    missing = str(tmp_path / "no-such-bundle.pem")
    res = run_dl(url, "--cache-dir", str(tmp_path / "cache"), env={"SSL_CERT_FILE": missing})
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "cache" / "model.bin") == f.sha256


def test_https_through_a_connect_proxy(tls_model_server: TlsServer, tmp_path: Path) -> None:
    server, ca = tls_model_server.server, tls_model_server.ca
    f, url = serve(server, 6 * MIB, seed=47)
    args = (url, "--cache-dir", str(tmp_path), "--workers", "3", "--checksum", f"sha256:{f.sha256}")
    with TestProxy().running() as proxy:
        env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": "", "SSL_CERT_FILE": str(ca)}
        res = run_dl(*args, env=env)
        seen = proxy.seen()
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256
    # Every connection went through the tunnel: the probe's and each worker's.
    assert len(seen) >= 2 and all(line.startswith("CONNECT 127.0.0.1:") for line in seen), seen
    assert settled(server, f.path).bytes_sent == f.size + 1


def test_plain_http_through_a_forwarding_proxy(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 6 * MIB, seed=48)
    args = (url, "--cache-dir", str(tmp_path), "--workers", "3", "--checksum", f"sha256:{f.sha256}")
    with TestProxy().running() as proxy:
        res = run_dl(*args, env={"HTTP_PROXY": proxy.url, "NO_PROXY": ""})
        seen = proxy.seen()
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256
    assert len(seen) >= 2 and all(line.startswith(f"GET {url} ") for line in seen), seen
