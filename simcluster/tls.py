"""A self-signed certificate for the simulator's HTTPS listener (kubectl sends tokens only
over TLS), made with the `openssl` command line so no crypto package is needed.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


class TlsError(RuntimeError):
    """The certificate could not be made (no openssl, or openssl failed)."""


@dataclass(frozen=True)
class ServerCert:
    cert_path: Path
    key_path: Path

    @property
    def cert_pem(self) -> bytes:
        return self.cert_path.read_bytes()

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.cert_path), str(self.key_path))
        return ctx


def make_self_signed(directory: Path, days: int = 30, timeout: float = 30.0) -> ServerCert:
    """Write `server.crt`/`server.key` (EC P-256, SAN 127.0.0.1, ::1, localhost) in `directory`.

    The certificate is its own CA (basicConstraints CA:TRUE), so a kubeconfig can carry it as
    `certificate-authority-data` and clients verify the server for real.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TlsError("cannot make a TLS certificate: the openssl command is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "server.crt", directory / "server.key"
    argv = [
        openssl,
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-days",
        str(days),
        "-subj",
        "/CN=simcluster",
        "-addext",
        "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,digitalSignature,keyCertSign",
        "-addext",
        "extendedKeyUsage=serverAuth",
    ]
    try:
        result = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise TlsError(
            f"cannot make a TLS certificate: openssl took longer than {timeout:.0f} s"
        ) from None
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise TlsError(f"cannot make a TLS certificate: openssl failed: {detail[0]}")
    key.chmod(0o600)
    return ServerCert(cert, key)
