"""SEC-1, encryption in transit: ``equipoise serve --tls-cert --tls-key`` serves HTTPS itself (TLS 1.2 or later,
Strict-Transport-Security on every answer), and refuses to start on a certificate it could not serve."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import warnings
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from benchmarks.load_generator import ServerProcess
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import CliResult


def _certificate(directory: Path, name: str, days: int = 30) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "equipoise test server")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=2)).not_valid_after(now + dt.timedelta(days=days))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_the_server_speaks_https_only_with_tls_1_2_or_later(tmp_path: Path):
    cert, key = _certificate(tmp_path, "server")
    server = ServerProcess(f"sqlite:///{tmp_path}/tls.sqlite3", workers=1,
                           env={"EQUIPOISE_TLS_CERT": str(cert), "EQUIPOISE_TLS_KEY": str(key)}).start()
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        assert server.base.startswith("https://")
        health = httpx.get(f"{server.base}/health", verify=trusted, timeout=10)
        assert health.status_code == 200
        assert health.headers["strict-transport-security"] == "max-age=31536000"
        refused = httpx.post(f"{server.base}/api/auth/login", json={"username": "nobody", "password": "x"},
                             verify=trusted, timeout=10)
        assert refused.status_code == 401  # the API answers over TLS, with its own messages
        with pytest.raises(httpx.HTTPError):
            httpx.get(server.base.replace("https://", "http://") + "/health", timeout=10)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.base}/health", timeout=10)  # a client that does not trust the certificate
        old = ssl.create_default_context(cafile=str(cert))
        with warnings.catch_warnings():  # Python deprecates these versions as well
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.base}/health", verify=old, timeout=10)
    finally:
        server.stop()


def test_a_certificate_that_could_not_be_served_stops_the_server_with_the_reason(
        tmp_path: Path, run_cli: Callable[..., CliResult]):
    cert, key = _certificate(tmp_path, "server")
    other_cert, other_key = _certificate(tmp_path, "other")
    expired_cert, expired_key = _certificate(tmp_path, "expired", days=-1)
    db = f"sqlite:///{tmp_path}/never.sqlite3"
    cases = {
        ("--tls-cert", cert): "HTTPS needs both --tls-cert and --tls-key",
        ("--tls-cert", cert, "--tls-key", tmp_path / "missing.key"): f"--tls-key {tmp_path / 'missing.key'}: no such "
                                                                     "file",
        ("--tls-cert", cert, "--tls-key", other_key): "it does not match the certificate",
        ("--tls-cert", expired_cert, "--tls-key", expired_key): "the certificate expired on",
        ("--tls-cert", key, "--tls-key", key): "not a PEM certificate",
    }
    for options, message in cases.items():
        result = run_cli("serve", "--db", db, "--port", "1", *options)
        assert result.code != 0, options
        assert message in result.stderr, (options, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "never.sqlite3").exists()  # refused before anything was opened
    assert other_cert.exists()
